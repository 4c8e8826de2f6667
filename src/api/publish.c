/* Publishing a change inside the writer's transaction: the change row, then one outbox row per
 * channel the matcher picks. Nothing here blocks or touches the network. */
#include "api/publish.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/zjson.h"
#include "core/log.h"
#include "store/outbox.h"
#include "watch/match.h"

/* The stored form of the event's records: [{"id","values","lookups":[{"module","id"}]}]. */
static void render_records(const struct change_event *ev, struct buf *out)
{
    buf_putc(out, '[');
    for (size_t i = 0; i < ev->count; i++) {
        const struct change_record *r = &ev->records[i];
        if (i)
            buf_putc(out, ',');
        buf_puts(out, "{\"id\":");
        zjson_put_id(out, r->id);
        buf_puts(out, ",\"values\":");
        if (json_is_object(r->values))
            zjson_dump(out, r->values);
        else
            buf_puts(out, "{}");
        buf_puts(out, ",\"lookups\":[");
        for (size_t j = 0; j < r->lookup_count; j++) {
            if (j)
                buf_putc(out, ',');
            buf_puts(out, "{\"module\":");
            zjson_put_str(out, r->lookups[j].module->api_name);
            buf_puts(out, ",\"id\":");
            zjson_put_id(out, r->lookups[j].id);
            buf_putc(out, '}');
        }
        buf_puts(out, "]}");
    }
    buf_putc(out, ']');
}

struct outbox_emit {
    struct store_txn *txn;
    const struct change_event *list;
    int64_t first_delay;
    size_t count;
};

/* One matched callback becomes its outbox row, in the change's transaction. */
static enum herald_err outbox_add(void *arg, const struct watch_delivery *d)
{
    struct outbox_emit *e = arg;
    const struct change_event *ev = &e->list[d->event];
    struct store_outbox_row row = {
        .org_id = ev->org_id,
        .channel_id = d->channel_id,
        .module_id = d->module_id,
        .operation = d->operation,
        .change_id = ev->change_id,
        .url = d->url,
        .body = d->body,
        .created_at_ms = ev->at_ms,
        .next_at_ms = ev->at_ms + e->first_delay,
        .is_due_now = e->first_delay <= 0,
    };
    e->count++;
    return store_txn_notification_add(e->txn, &row, NULL);
}

enum herald_err api_publish_changes(struct store_txn *txn, struct app *app,
                                    struct change_event *evs, size_t ev_count)
{
    assert(ev_count <= WATCH_MATCH_MAX_EVENTS);
    enum herald_err err = HERALD_OK;
    struct change_event list[WATCH_MATCH_MAX_EVENTS]; /* the non-empty ones, change_id set */
    size_t n_list = 0;
    for (size_t e = 0; e < ev_count && !err; e++) {
        struct change_event *ev = &evs[e];
        if (ev->count == 0)
            continue;
        struct buf records;
        buf_init(&records);
        render_records(ev, &records);
        err = store_txn_change_add(txn, ev->org_id, ev->module->id_num, change_op_name(ev->op),
                                   ev->request_id, records.data, ev->at_ms, &ev->change_id);
        buf_fini(&records);
        list[n_list++] = *ev;
    }
    if (err || !app->watch || n_list == 0)
        return err;

    /* One match for the whole request: a record looked up from several of its events gets one
     * related-action callback per channel. Each callback's row is inserted as it is rendered. */
    struct outbox_emit e = {
        .txn = txn,
        .list = list,
        .first_delay = app->retry && app->retry->len ? app->retry->delays_ms[0] : 0,
    };
    err = watch_match_each(app->watch, list, n_list, list[0].at_ms / 1000, app->api_domain,
                           outbox_add, &e);
    /* Rows due at once are handed to the dispatcher after the commit; the others (a first
     * delay in the retry schedule) wait for a claim, which the wake-up starts. */
    if (e.count && !err && e.first_delay > 0)
        atomic_store(&app->has_new_notifications, true);
    return err;
}

enum herald_err api_publish_change(struct store_txn *txn, struct app *app, struct change_event *ev)
{
    return api_publish_changes(txn, app, ev, 1);
}
