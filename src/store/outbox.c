/* Forwards the outbox API to the backend's ops table. */
#include "store/outbox.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

enum herald_err store_txn_change_add(struct store_txn *t, int64_t org_id, int64_t module_id,
                                     const char *operation, const char *request_id,
                                     const char *records_json, int64_t at_ms, int64_t *id_out)
{
    return t->ops->outbox->change_add(t, org_id, module_id, operation, request_id, records_json,
                                      at_ms, id_out);
}

enum herald_err store_txn_notification_add(struct store_txn *t, const struct store_outbox_row *row,
                                           int64_t *id_out)
{
    return t->ops->outbox->notification_add(t, row, id_out);
}

void store_outbox_claim(struct store *s, int64_t now_ms, int64_t lease_ms, size_t limit,
                        size_t max_bytes, bool may_exceed, const int64_t *exclude,
                        size_t exclude_count, store_claim_done_fn *done, void *arg)
{
    s->ops->outbox->claim(s, now_ms, lease_ms, limit, max_bytes, may_exceed, exclude, exclude_count,
                          done, arg);
}

/* Small bodies may fill the whole budget; bigger ones leave it a 16th for the small. */
#define SMALL_DIV 1024
#define BIG_DIV 16

bool store_budget_is_small(const struct store_budget *b, size_t bytes)
{
    return bytes <= b->max_bytes / SMALL_DIV;
}

static size_t cap_for(const struct store_budget *b, size_t bytes)
{
    return store_budget_is_small(b, bytes) ? b->max_bytes : b->max_bytes - b->max_bytes / BIG_DIV;
}

static bool fits(const struct store_budget *b, size_t used, size_t bytes)
{
    size_t cap = cap_for(b, bytes);
    return used == 0 || (bytes <= cap && used <= cap - bytes);
}

bool store_budget_fits(struct store_budget *b, size_t bytes)
{
    return fits(b, atomic_load_explicit(&b->used_bytes, memory_order_relaxed), bytes);
}

bool store_budget_take(struct store_budget *b, size_t bytes)
{
    size_t used = atomic_load_explicit(&b->used_bytes, memory_order_relaxed);
    do {
        if (!fits(b, used, bytes))
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&b->used_bytes, &used, used + bytes,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

void store_budget_add(struct store_budget *b, size_t bytes)
{
    atomic_fetch_add_explicit(&b->used_bytes, bytes, memory_order_relaxed);
}

void store_budget_give(struct store_budget *b, size_t bytes)
{
    atomic_fetch_sub_explicit(&b->used_bytes, bytes, memory_order_relaxed);
}

size_t store_budget_take_rest(struct store_budget *b, bool *was_empty)
{
    size_t cap = b->max_bytes - b->max_bytes / BIG_DIV;
    size_t used = atomic_load_explicit(&b->used_bytes, memory_order_relaxed);
    size_t rest;
    do {
        rest = used < cap ? cap - used : 0;
    } while (rest &&
             !atomic_compare_exchange_weak_explicit(&b->used_bytes, &used, used + rest,
                                                    memory_order_relaxed, memory_order_relaxed));
    *was_empty = used == 0;
    return rest;
}

void store_claim_fini(struct store_claim *c)
{
    free(c->url);
    free(c->body);
    c->url = c->body = NULL;
}

void store_claims_free(struct store_claim *claims, size_t count)
{
    for (size_t i = 0; i < count; i++)
        store_claim_fini(&claims[i]);
    free(claims);
}

void store_outbox_claim_ids(struct store *s, const int64_t *ids, size_t count, int64_t now_ms,
                            int64_t lease_ms, store_claim_done_fn *done, void *arg)
{
    s->ops->outbox->claim_ids(s, ids, count, now_ms, lease_ms, done, arg);
}

void store_outbox_defer(struct store *s, const struct store_channel_url *chs, size_t count,
                        int64_t now_ms, int64_t until_ms)
{
    s->ops->outbox->defer(s, chs, count, now_ms, until_ms);
}

void store_outbox_hasten(struct store *s, const struct store_channel_url *chs, size_t count,
                         int64_t now_ms, bool is_first_only)
{
    s->ops->outbox->hasten(s, chs, count, now_ms, is_first_only);
}

void store_outbox_handoff(struct store *s, store_handoff_fn *fn, void *arg, int64_t lease_ms,
                          struct store_budget *budget)
{
    s->ops->outbox->handoff(s, fn, arg, lease_ms, budget);
}

void store_outbox_record(struct store *s, const struct store_attempt *attempts, size_t count,
                         store_done_fn *done, void *arg)
{
    s->ops->outbox->record(s, attempts, count, done, arg);
}

int64_t store_outbox_next_due(struct store *s)
{
    return s->ops->outbox->next_due(s);
}

enum herald_err store_outbox_list(struct store *s, const struct store_ntf_filter *f,
                                  struct store_ntf **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (f->limit == 0 || f->limit > STORE_NTF_LIST_MAX)
        return HERALD_ERR_INVALID;
    return s->ops->outbox->list(s, f, out, count);
}

enum herald_err store_outbox_get(struct store *s, int64_t org_id, int64_t id, struct store_ntf *out)
{
    return s->ops->outbox->get(s, org_id, id, out);
}

void store_ntf_fini(struct store_ntf *n)
{
    if (!n)
        return;
    free(n->operation);
    free(n->url);
    free(n->body);
    free(n->last_error);
    for (size_t i = 0; i < n->attempt_count; i++) {
        free(n->attempts[i].error);
        free(n->attempts[i].response);
    }
    free(n->attempts);
    memset(n, 0, sizeof *n);
}

void store_ntf_list_free(struct store_ntf *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        store_ntf_fini(&list[i]);
    free(list);
}

enum herald_err store_txn_notification_resend(struct store_txn *t, int64_t org_id, int64_t id,
                                              int64_t now_ms)
{
    return t->ops->outbox->resend(t, org_id, id, now_ms);
}

enum herald_err store_txn_notifications_resend_failed(struct store_txn *t, int64_t org_id,
                                                      int64_t channel_id, int64_t since_ms,
                                                      int64_t failed_before_ms, int64_t now_ms,
                                                      size_t limit, size_t *count)
{
    return t->ops->outbox->resend_failed(t, org_id, channel_id, since_ms, failed_before_ms, now_ms,
                                         limit, count);
}

enum herald_err store_outbox_prune(struct store *s, int64_t before_ms, size_t limit,
                                   size_t *deleted, bool *has_more)
{
    *deleted = 0;
    *has_more = false;
    if (limit == 0)
        return HERALD_OK;
    return s->ops->outbox->prune(s, before_ms, limit, deleted, has_more);
}

enum herald_err store_outbox_leases_void(struct store *s)
{
    return s->ops->outbox->leases_void(s);
}
