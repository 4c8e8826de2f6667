/* Matching the change events of one API request against the index. The work is proportional to
 * the rows listed under (organization, module, operation) and, for related actions, under
 * (organization, looked-up module, edit): a module nobody watches costs one short scan of the
 * organization's watched modules. Conditions see the changed fields as metadata pointers,
 * resolved once per record and only when some conditioned row is reached. */
#include "watch/match.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "watch/index_int.h"
#include "watch/payload.h"

/* The records of the request's events that look up records of one module: related actions
 * (contract §4.8) name those looked-up records, each once, in request order. */
struct related {
    const struct meta_module *module;
    size_t event; /* the first event that named one of them */
    int64_t *ids;
    size_t count, cap;
};

struct matcher {
    const struct change_event *evs; /* every event of the request */
    size_t ev_count;
    const struct change_event *ev; /* the event being matched directly */
    size_t ev_index;
    int64_t now_s;
    const char *api_domain;
    watch_emit_fn *emit;
    void *emit_arg;
    enum herald_err err; /* the first emit's failure: no delivery is rendered after it */
    /* Per record, its changed fields as metadata (resolved on first need). */
    const struct meta_field ***changed;
    size_t *changed_count;
    bool is_changed_resolved;
    struct related *related;
    size_t related_count;
    /* Scratch for one delivery's records. */
    struct watch_payload_record *recs;
    size_t recs_cap;
};

static enum ix_op op_of(enum change_op op)
{
    switch (op) {
    case CHANGE_INSERT:
        return IX_CREATE;
    case CHANGE_UPDATE:
        return IX_EDIT;
    case CHANGE_DELETE:
        return IX_DELETE;
    }
    return IX_EDIT;
}

/* The full name of Leads and Contacts (full_name of users) is derived from the first and last
 * names, whose values are never empty strings (they are null then), so it changes exactly when
 * one of them does. It is never among an event's values, which say what the request changed,
 * but a condition on it is about its value (contract §4.7), as in Zoho's own sample condition
 * "Last_Name and Full_Name". */
static const struct meta_field *full_name_changed(const struct meta_module *module,
                                                  const json_t *values)
{
    static const char *const names[][3] = {
        {"Full_Name", "First_Name", "Last_Name"},
        {"full_name", "first_name", "last_name"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const struct meta_field *f = meta_field_by_name(module, names[k][0]);
        if (f && (json_object_get(values, names[k][1]) || json_object_get(values, names[k][2])))
            return f;
    }
    return NULL;
}

static void resolve_changed(struct matcher *m)
{
    if (m->is_changed_resolved)
        return;
    const struct change_event *ev = m->ev;
    m->changed = xcalloc(ev->count ? ev->count : 1, sizeof *m->changed);
    m->changed_count = xcalloc(ev->count ? ev->count : 1, sizeof *m->changed_count);
    for (size_t i = 0; i < ev->count; i++) {
        const json_t *values = ev->records[i].values;
        size_t n = json_is_object(values) ? json_object_size(values) : 0;
        m->changed[i] = xcalloc(n + 1, sizeof *m->changed[i]);
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)values, key, value)
        {
            (void)value;
            const struct meta_field *f = meta_field_by_name(ev->module, key);
            if (f)
                m->changed[i][m->changed_count[i]++] = f;
        }
        const struct meta_field *full_name = full_name_changed(ev->module, values);
        if (full_name)
            m->changed[i][m->changed_count[i]++] = full_name;
    }
    m->is_changed_resolved = true;
}

/* Forgets the changed fields resolved for the current event. */
static void changed_fini(struct matcher *m)
{
    if (m->changed) {
        for (size_t i = 0; i < m->ev->count; i++)
            free(m->changed[i]);
    }
    free(m->changed);
    free(m->changed_count);
    m->changed = NULL;
    m->changed_count = NULL;
    m->is_changed_resolved = false;
}

/* Whether the request deletes record `id` of `module`: a record it deletes gets no related
 * action (an update callback for a record that is gone), whichever of the two came first in
 * the request. */
static bool is_deleted_by_request(const struct matcher *m, const struct meta_module *module,
                                  int64_t id)
{
    for (size_t e = 0; e < m->ev_count; e++) {
        const struct change_event *ev = &m->evs[e];
        if (ev->op != CHANGE_DELETE || ev->module != module)
            continue;
        for (size_t r = 0; r < ev->count; r++) {
            if (ev->records[r].id == id)
                return true;
        }
    }
    return false;
}

/* The looked-up records of every event, in request order: each event's records are in request
 * order already, so the events are merged by request_index. */
static void collect_related(struct matcher *m)
{
    size_t next[WATCH_MATCH_MAX_EVENTS] = {0};
    size_t n_evs = m->ev_count;
    for (;;) {
        size_t e = n_evs;
        for (size_t k = 0; k < n_evs; k++) {
            if (next[k] < m->evs[k].count &&
                (e == n_evs || m->evs[k].records[next[k]].request_index <
                                   m->evs[e].records[next[e]].request_index))
                e = k;
        }
        if (e == n_evs)
            break;
        const struct change_record *r = &m->evs[e].records[next[e]++];
        for (size_t k = 0; k < r->lookup_count; k++) {
            const struct change_lookup *lk = &r->lookups[k];
            if (!lk->module || lk->id <= 0 || is_deleted_by_request(m, lk->module, lk->id))
                continue;
            struct related *g = NULL;
            for (size_t j = 0; j < m->related_count; j++) {
                if (m->related[j].module == lk->module)
                    g = &m->related[j];
            }
            if (!g) {
                m->related = xrealloc(m->related, (m->related_count + 1) * sizeof *m->related);
                g = &m->related[m->related_count++];
                memset(g, 0, sizeof *g);
                g->module = lk->module;
                g->event = e;
            }
            bool is_dup = false;
            for (size_t j = 0; j < g->count && !is_dup; j++)
                is_dup = g->ids[j] == lk->id;
            if (is_dup)
                continue;
            if (g->count == g->cap) {
                g->cap = g->cap ? g->cap * 2 : 4;
                g->ids = xrealloc(g->ids, g->cap * sizeof *g->ids);
            }
            g->ids[g->count++] = lk->id;
        }
    }
}

static const struct related *related_for(const struct matcher *m, const struct meta_module *mod)
{
    for (size_t j = 0; j < m->related_count; j++) {
        if (m->related[j].module == mod)
            return &m->related[j];
    }
    return NULL;
}

static void recs_push(struct matcher *m, size_t *n, int64_t id, const json_t *values)
{
    if (*n == m->recs_cap) {
        m->recs_cap = m->recs_cap ? m->recs_cap * 2 : 16;
        m->recs = xrealloc(m->recs, m->recs_cap * sizeof *m->recs);
    }
    m->recs[(*n)++] = (struct watch_payload_record){.id = id, .values = values};
}

static void deliver(struct matcher *m, const struct ix_row *row, enum change_op op, size_t n,
                    size_t event)
{
    if (m->err)
        return;
    const struct ix_channel *ch = row->ch;
    struct watch_payload p = {
        .notify_url = ch->url,
        .query_params = ch->query_params,
        .module = row->module->api_name,
        .api_domain = m->api_domain,
        .op = op,
        .channel_id = ch->id,
        .token = ch->token,
        .has_values = ch->return_values,
        .records = m->recs,
        .count = n,
    };
    struct buf body;
    buf_init(&body);
    watch_payload_render(&p, &body);
    struct watch_delivery d = {
        .channel_id = ch->id,
        .module_id = row->module->id_num,
        .operation = change_op_name(op),
        .event = event,
        .url = ch->url,
        .body = body.data,
        .body_len = body.len,
    };
    m->err = m->emit(m->emit_arg, &d);
    buf_fini(&body);
}

/* Rows watching the event's own module and operation. On an update, a channel that would also
 * get a related action on this module gets it in the same callback (one per channel, module,
 * operation and request), the related ids after the changed ones. */
static void match_direct(struct matcher *m, const struct ix_org *org)
{
    const struct change_event *ev = m->ev;
    const struct ix_module *mod = ix_module_find(org, ev->module);
    if (!mod)
        return;
    const struct ix_list *list = &mod->ops[op_of(ev->op)];
    const struct related *rel = ev->op == CHANGE_UPDATE ? related_for(m, ev->module) : NULL;
    for (uint32_t i = 0; i < list->len; i++) {
        const struct ix_row *row = list->v[i];
        if (row->ch->expiry_s <= m->now_s)
            continue;
        bool is_filtered = ev->op == CHANGE_UPDATE && row->cond;
        if (is_filtered)
            resolve_changed(m);
        size_t n = 0;
        for (size_t r = 0; r < ev->count; r++) {
            if (is_filtered && !watch_cond_eval(row->cond, m->changed[r], m->changed_count[r]))
                continue;
            recs_push(m, &n, ev->records[r].id, ev->records[r].values);
        }
        if (rel && row->ch->notify_on_related && !row->cond) {
            size_t direct = n;
            for (size_t k = 0; k < rel->count; k++) {
                bool is_dup = false;
                for (size_t j = 0; j < direct && !is_dup; j++)
                    is_dup = m->recs[j].id == rel->ids[k];
                if (!is_dup)
                    recs_push(m, &n, rel->ids[k], NULL);
            }
        }
        if (n)
            deliver(m, row, ev->op, n, m->ev_index);
    }
}

/* Related actions on every other looked-up module (and on the request's own module when it
 * updated nothing): an update callback naming the looked-up records. */
static void match_related(struct matcher *m, const struct ix_org *org)
{
    bool has_update = false;
    for (size_t e = 0; e < m->ev_count; e++)
        has_update = has_update || m->evs[e].op == CHANGE_UPDATE;
    for (size_t g = 0; g < m->related_count; g++) {
        const struct related *rel = &m->related[g];
        if (rel->module == m->evs[0].module && has_update)
            continue; /* merged into the update's direct callbacks */
        const struct ix_module *mod = ix_module_find(org, rel->module);
        if (!mod)
            continue;
        const struct ix_list *list = &mod->ops[IX_EDIT];
        for (uint32_t i = 0; i < list->len; i++) {
            const struct ix_row *row = list->v[i];
            if (row->ch->expiry_s <= m->now_s || !row->ch->notify_on_related || row->cond)
                continue;
            size_t n = 0;
            for (size_t k = 0; k < rel->count; k++)
                recs_push(m, &n, rel->ids[k], NULL);
            deliver(m, row, CHANGE_UPDATE, n, rel->event);
        }
    }
}

static void matcher_fini(struct matcher *m)
{
    for (size_t j = 0; j < m->related_count; j++)
        free(m->related[j].ids);
    free(m->related);
    free(m->recs);
}

enum herald_err watch_match_each(const struct watch_index *ix, const struct change_event *evs,
                                 size_t ev_count, int64_t now_s, const char *api_domain,
                                 watch_emit_fn *emit, void *emit_arg)
{
    assert(ev_count <= WATCH_MATCH_MAX_EVENTS);
    const struct ix_org *org = ix && ev_count ? ix_org_find(ix, evs[0].org_id) : NULL;
    if (!org || !evs[0].module)
        return HERALD_OK;
    struct matcher m = {.evs = evs,
                        .ev_count = ev_count,
                        .now_s = now_s,
                        .api_domain = api_domain,
                        .emit = emit,
                        .emit_arg = emit_arg};
    collect_related(&m);
    for (size_t e = 0; e < ev_count; e++) {
        m.ev = &evs[e];
        m.ev_index = e;
        match_direct(&m, org);
        changed_fini(&m);
    }
    match_related(&m, org);
    matcher_fini(&m);
    return m.err;
}

struct collected {
    struct watch_delivery *v;
    size_t count, cap;
};

static enum herald_err collect(void *arg, const struct watch_delivery *d)
{
    struct collected *c = arg;
    if (c->count == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->v = xrealloc(c->v, c->cap * sizeof *c->v);
    }
    struct watch_delivery *copy = &c->v[c->count++];
    *copy = *d;
    copy->url = xstrdup(d->url);
    copy->body = xstrndup(d->body, d->body_len);
    return HERALD_OK;
}

enum herald_err watch_match(const struct watch_index *ix, const struct change_event *evs,
                            size_t ev_count, int64_t now_s, const char *api_domain,
                            struct watch_delivery **out, size_t *count)
{
    struct collected c = {0};
    enum herald_err err = watch_match_each(ix, evs, ev_count, now_s, api_domain, collect, &c);
    *out = c.v;
    *count = c.count;
    return err;
}

void watch_deliveries_free(struct watch_delivery *d, size_t count)
{
    if (!d)
        return;
    for (size_t i = 0; i < count; i++) {
        free((char *)d[i].url);
        free((char *)d[i].body);
    }
    free(d);
}
