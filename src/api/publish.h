/* Publishing a change: stores the change event and, through the matcher, one outbox row per
 * matching channel, all inside the caller's writer transaction (the transactional outbox). */
#ifndef HERALD_API_PUBLISH_H
#define HERALD_API_PUBLISH_H

#include "api/api.h"
#include "watch/change.h"

/* Call from a store job after the records changed, with ev fully filled but change_id. Sets
 * ev->change_id. An event with no records stores nothing. Returns HERALD_OK or ERR_STORE (the
 * job must then fail so the record change rolls back with it). */
enum herald_err api_publish_change(struct store_txn *txn, struct app *app, struct change_event *ev);
/* The same for every event of one API request (at most WATCH_MATCH_MAX_EVENTS, one per
 * operation, same organization and module; an upsert has an insert and an update), matched
 * together so that each (channel, module, operation) gets one callback for the request. Sets
 * each non-empty event's change_id; empty events store nothing. */
enum herald_err api_publish_changes(struct store_txn *txn, struct app *app,
                                    struct change_event *evs, size_t ev_count);

#endif
