/* Forwards the outbox API to the backend's ops table. */
#include "store/outbox.h"

#include <stdlib.h>

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

enum herald_err store_outbox_claim(struct store *s, int64_t now_ms, int64_t lease_ms, size_t limit,
                                   const int64_t *exclude, size_t exclude_count,
                                   struct store_claim **out, size_t *count)
{
    return s->ops->outbox->claim(s, now_ms, lease_ms, limit, exclude, exclude_count, out, count);
}

void store_claims_free(struct store_claim *claims, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(claims[i].url);
        free(claims[i].body);
    }
    free(claims);
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

enum herald_err store_outbox_count(struct store *s, int64_t org_id, enum store_ntf_status status,
                                   int64_t *count)
{
    return s->ops->outbox->count(s, org_id, status, count);
}
