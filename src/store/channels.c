/* Forwards the channels API to the backend's ops table. */
#include "store/channels.h"

#include <stdlib.h>

#include "store/store_int.h"

void store_channel_fini(struct store_channel *c)
{
    if (!c)
        return;
    free(c->notify_url);
    free(c->token);
    free(c->condition);
    free(c->fields);
    c->notify_url = c->token = c->condition = c->fields = NULL;
}

void store_channels_free(struct store_channel *rows, size_t count)
{
    if (!rows)
        return;
    for (size_t i = 0; i < count; i++)
        store_channel_fini(&rows[i]);
    free(rows);
}

enum herald_err store_txn_channel_rows(struct store_txn *t, int64_t org_id, int64_t channel_id,
                                       int64_t now_s, struct store_channel **out, size_t *count)
{
    return t->ops->channels->rows(t, org_id, channel_id, now_s, out, count);
}

enum herald_err store_txn_channel_put(struct store_txn *t, const struct store_channel *row)
{
    return t->ops->channels->put(t, row);
}

enum herald_err store_txn_channel_remove(struct store_txn *t, int64_t org_id, int64_t channel_id,
                                         size_t *removed)
{
    return t->ops->channels->remove(t, org_id, channel_id, removed);
}

enum herald_err store_txn_channel_each(struct store_txn *t, int64_t now_s,
                                       store_channel_each_fn *fn, void *arg)
{
    return t->ops->channels->each(t, now_s, fn, arg);
}

enum herald_err store_channel_each(struct store *s, int64_t now_s, store_channel_each_fn *fn,
                                   void *arg)
{
    return s->ops->channels->each_read(s, now_s, fn, arg);
}

enum herald_err store_txn_channel_purge(struct store_txn *t, int64_t now_s, size_t *removed)
{
    return t->ops->channels->purge(t, now_s, removed);
}

enum herald_err store_channel_list(struct store *s, int64_t org_id, int64_t channel_id,
                                   int64_t module_id, int64_t now_s, size_t offset, size_t limit,
                                   struct store_channel **out, size_t *count)
{
    return s->ops->channels->list(s, org_id, channel_id, module_id, now_s, offset, limit, out,
                                  count);
}
