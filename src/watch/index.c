/* Maintaining the channel index: a hash of channels per organization and, per watched module,
 * one array of rows per operation. Adding or removing a row touches only its own slots (a row
 * remembers its positions and removal swaps the last entry in), so patching costs O(rows of
 * the channel) whatever the number of channels. See index.h for the threading rule. */
#include "watch/index.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "watch/index_int.h"
#include "watch/payload.h"

static const uint8_t op_bit[IX_OPS] = {WATCH_EV_CREATE, WATCH_EV_EDIT, WATCH_EV_DELETE};

static uint64_t mix(int64_t key)
{
    uint64_t z = (uint64_t)key + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct watch_index *watch_index_new(void)
{
    return xcalloc(1, sizeof(struct watch_index));
}

static void channel_free(struct ix_channel *ch)
{
    if (!ch)
        return;
    for (uint32_t i = 0; i < ch->row_count; i++)
        watch_cond_free(ch->rows[i].cond);
    free(ch->url);
    free(ch->query_params);
    free(ch->token);
    free(ch);
}

static void org_fini(struct ix_org *org)
{
    for (size_t i = 0; i < org->cap; i++)
        channel_free(org->slots[i].ch);
    free(org->slots);
    for (size_t i = 0; i < org->mod_count; i++) {
        for (int op = 0; op < IX_OPS; op++)
            free(org->mods[i].ops[op].v);
    }
    free(org->mods);
}

void watch_index_clear(struct watch_index *ix)
{
    for (size_t i = 0; i < ix->count; i++)
        org_fini(&ix->orgs[i]);
    free(ix->orgs);
    ix->orgs = NULL;
    ix->count = ix->cap = 0;
}

void watch_index_free(struct watch_index *ix)
{
    if (!ix)
        return;
    watch_index_clear(ix);
    free(ix);
}

const struct ix_org *ix_org_find(const struct watch_index *ix, int64_t org_id)
{
    for (size_t i = 0; i < ix->count; i++) {
        if (ix->orgs[i].id == org_id)
            return &ix->orgs[i];
    }
    return NULL;
}

static struct ix_org *org_get(struct watch_index *ix, int64_t org_id, bool is_create)
{
    struct ix_org *org = (struct ix_org *)ix_org_find(ix, org_id);
    if (org || !is_create)
        return org;
    if (ix->count == ix->cap) {
        ix->cap = ix->cap ? ix->cap * 2 : 4;
        ix->orgs = xrealloc(ix->orgs, ix->cap * sizeof *ix->orgs);
    }
    org = &ix->orgs[ix->count++];
    memset(org, 0, sizeof *org);
    org->id = org_id;
    org->min_expiry_s = INT64_MAX;
    return org;
}

const struct ix_module *ix_module_find(const struct ix_org *org, const struct meta_module *m)
{
    for (size_t i = 0; i < org->mod_count; i++) {
        if (org->mods[i].module == m)
            return &org->mods[i];
    }
    return NULL;
}

static struct ix_module *module_get(struct ix_org *org, const struct meta_module *m)
{
    struct ix_module *mod = (struct ix_module *)ix_module_find(org, m);
    if (mod)
        return mod;
    if (org->mod_count == org->mod_cap) {
        org->mod_cap = org->mod_cap ? org->mod_cap * 2 : 8;
        org->mods = xrealloc(org->mods, org->mod_cap * sizeof *org->mods);
    }
    mod = &org->mods[org->mod_count++];
    memset(mod, 0, sizeof *mod);
    mod->module = m;
    return mod;
}

/* Hash table of channels. */

static size_t slot_of(const struct ix_org *org, int64_t id)
{
    size_t mask = org->cap - 1;
    size_t i = (size_t)mix(id) & mask;
    while (org->slots[i].ch && org->slots[i].id != id)
        i = (i + 1) & mask;
    return i;
}

static struct ix_channel *channel_find(const struct ix_org *org, int64_t id)
{
    if (!org || org->cap == 0)
        return NULL;
    return org->slots[slot_of(org, id)].ch;
}

static void table_insert(struct ix_org *org, struct ix_channel *ch);

static void table_grow(struct ix_org *org)
{
    struct ix_slot *old = org->slots;
    size_t old_cap = org->cap;
    org->cap = old_cap ? old_cap * 2 : 16;
    org->slots = xcalloc(org->cap, sizeof *org->slots);
    org->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].ch)
            table_insert(org, old[i].ch);
    }
    free(old);
}

static void table_insert(struct ix_org *org, struct ix_channel *ch)
{
    if ((org->used + 1) * 2 > org->cap)
        table_grow(org);
    org->slots[slot_of(org, ch->id)] = (struct ix_slot){.id = ch->id, .ch = ch};
    org->used++;
}

/* Removes the entry at slot i, shifting later entries of its probe run back. */
static void table_delete_at(struct ix_org *org, size_t i)
{
    size_t mask = org->cap - 1;
    org->slots[i] = (struct ix_slot){0};
    org->used--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        struct ix_slot slot = org->slots[j];
        if (!slot.ch)
            return;
        size_t home = (size_t)mix(slot.id) & mask;
        /* ch may move to i when i lies cyclically in [home, j). */
        bool can_move = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (can_move) {
            org->slots[i] = slot;
            org->slots[j] = (struct ix_slot){0};
            i = j;
        }
    }
}

/* Module lists. */

static void list_add(struct ix_list *l, struct ix_row *row, int op)
{
    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    row->pos[op] = l->len;
    l->v[l->len++] = row;
}

static void list_remove(struct ix_list *l, struct ix_row *row, int op)
{
    uint32_t at = row->pos[op];
    struct ix_row *last = l->v[--l->len];
    l->v[at] = last;
    last->pos[op] = at;
}

static void channel_unlink(struct ix_org *org, struct ix_channel *ch)
{
    for (uint32_t r = 0; r < ch->row_count; r++) {
        struct ix_row *row = &ch->rows[r];
        struct ix_module *mod = (struct ix_module *)ix_module_find(org, row->module);
        for (int op = 0; op < IX_OPS; op++) {
            if (row->events & op_bit[op])
                list_remove(&mod->ops[op], row, op);
        }
    }
}

static void org_remove(struct ix_org *org, int64_t channel_id)
{
    if (!org || org->cap == 0)
        return;
    size_t i = slot_of(org, channel_id);
    struct ix_channel *ch = org->slots[i].ch;
    if (!ch)
        return;
    channel_unlink(org, ch);
    table_delete_at(org, i);
    channel_free(ch);
}

void watch_index_remove(struct watch_index *ix, int64_t org_id, int64_t channel_id)
{
    org_remove(org_get(ix, org_id, false), channel_id);
}

void watch_index_put(struct watch_index *ix, const struct watch_index_channel *in)
{
    struct ix_org *org = org_get(ix, in->org_id, true);
    org_remove(org, in->channel_id);
    struct ix_channel *ch = xcalloc(1, sizeof *ch + in->row_count * sizeof ch->rows[0]);
    ch->id = in->channel_id;
    ch->expiry_s = in->expiry_s;
    ch->notify_on_related = in->notify_on_related;
    ch->return_values = in->return_values;
    for (size_t i = 0; i < in->row_count; i++) {
        const struct watch_index_row *src = &in->rows[i];
        unsigned events = src->events & WATCH_EV_ALL;
        if (!src->module || !events)
            continue;
        struct watch_cond *cond = NULL;
        if (src->condition) {
            json_t *parsed = json_loads(src->condition, 0, NULL);
            json_t *err = parsed ? watch_cond_parse(parsed, "$", &cond) : NULL;
            json_decref(parsed);
            if (!parsed || err) {
                log_warn("msg=\"stored condition no longer valid; row skipped\" channel_id=%lld "
                         "module=%s",
                         (long long)in->channel_id, src->module->api_name);
                json_decref(err);
                continue;
            }
        }
        struct ix_row *row = &ch->rows[ch->row_count++];
        row->ch = ch;
        row->module = src->module;
        row->cond = cond;
        row->events = (uint8_t)events;
    }
    if (ch->row_count == 0) {
        channel_free(ch);
        return;
    }
    ch->url = xstrdup(in->notify_url);
    ch->token = xstrdup(in->token);
    struct buf qp;
    buf_init(&qp);
    watch_payload_query_params(ch->url, &qp);
    ch->query_params = buf_steal(&qp, NULL);
    buf_fini(&qp);
    for (uint32_t r = 0; r < ch->row_count; r++) {
        struct ix_row *row = &ch->rows[r];
        struct ix_module *mod = module_get(org, row->module);
        for (int op = 0; op < IX_OPS; op++) {
            if (row->events & op_bit[op])
                list_add(&mod->ops[op], row, op);
        }
    }
    table_insert(org, ch);
    if (ch->expiry_s < org->min_expiry_s)
        org->min_expiry_s = ch->expiry_s;
}

bool watch_index_has(const struct watch_index *ix, int64_t org_id, int64_t channel_id,
                     int64_t now_s)
{
    const struct ix_channel *ch = channel_find(ix_org_find(ix, org_id), channel_id);
    return ch && ch->expiry_s > now_s;
}

/* Drops the organization's expired channels and recomputes its earliest expiry. */
static size_t org_prune(struct ix_org *org, int64_t now_s)
{
    if (org->min_expiry_s > now_s)
        return 0;
    int64_t *expired = NULL;
    size_t n = 0, cap = 0;
    int64_t min = INT64_MAX;
    for (size_t i = 0; i < org->cap; i++) {
        const struct ix_channel *ch = org->slots[i].ch;
        if (!ch)
            continue;
        if (ch->expiry_s > now_s) {
            if (ch->expiry_s < min)
                min = ch->expiry_s;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            expired = xrealloc(expired, cap * sizeof *expired);
        }
        expired[n++] = ch->id;
    }
    for (size_t i = 0; i < n; i++)
        org_remove(org, expired[i]);
    free(expired);
    org->min_expiry_s = min;
    return n;
}

size_t watch_index_live_count(struct watch_index *ix, int64_t org_id, int64_t now_s)
{
    struct ix_org *org = org_get(ix, org_id, false);
    if (!org)
        return 0;
    org_prune(org, now_s);
    return org->used;
}

size_t watch_index_purge(struct watch_index *ix, int64_t now_s)
{
    size_t n = 0;
    for (size_t i = 0; i < ix->count; i++)
        n += org_prune(&ix->orgs[i], now_s);
    return n;
}

size_t watch_index_size(const struct watch_index *ix)
{
    size_t n = 0;
    for (size_t i = 0; i < ix->count; i++)
        n += ix->orgs[i].used;
    return n;
}
