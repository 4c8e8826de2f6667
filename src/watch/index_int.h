/* The index's layout, shared by index.c (which maintains it) and match.c (which walks it). */
#ifndef HERALD_WATCH_INDEX_INT_H
#define HERALD_WATCH_INDEX_INT_H

#include <stdint.h>

#include "watch/cond.h"
#include "watch/index.h"

/* Operations, as positions in ix_module.ops: a change's op maps to the watched event. */
enum ix_op { IX_CREATE = 0, IX_EDIT = 1, IX_DELETE = 2, IX_OPS = 3 };

struct ix_channel;

struct ix_row {
    struct ix_channel *ch;
    const struct meta_module *module;
    struct watch_cond *cond; /* owned, NULL when none */
    uint32_t pos[IX_OPS];    /* position in the module's list of each watched op */
    uint8_t events;          /* WATCH_EV_* bits */
};

struct ix_channel {
    int64_t id;
    int64_t expiry_s;
    char *url;          /* owned */
    char *query_params; /* owned: the callbacks' query_params, rendered once */
    char *token;        /* owned, NULL when unset */
    bool notify_on_related;
    bool return_values;
    uint32_t row_count;
    struct ix_row rows[]; /* row_count entries */
};

/* Rows watching one operation of one module, in no particular order. */
struct ix_list {
    struct ix_row **v;
    uint32_t len, cap;
};

struct ix_module {
    const struct meta_module *module;
    struct ix_list ops[IX_OPS];
};

/* A slot of the channel table: the id beside the pointer, so a probe reads no channel. */
struct ix_slot {
    int64_t id;
    struct ix_channel *ch; /* NULL: empty */
};

struct ix_org {
    int64_t id;
    /* Open addressing on channel id, linear probing, power-of-two capacity, at most half full;
     * deletion shifts back, so there are no tombstones. */
    struct ix_slot *slots;
    size_t cap, used;
    struct ix_module *mods; /* modules anyone in the organization watches (or once watched) */
    size_t mod_count, mod_cap;
    int64_t min_expiry_s; /* lower bound of every held channel's expiry */
};

struct watch_index {
    struct ix_org *orgs;
    size_t count, cap;
};

/* The organization's entry, or NULL. */
const struct ix_org *ix_org_find(const struct watch_index *ix, int64_t org_id);
/* The module's entry in the organization, or NULL. */
const struct ix_module *ix_module_find(const struct ix_org *org, const struct meta_module *m);

#endif
