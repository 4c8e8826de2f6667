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

#endif
