/* The token cache: what a live token grants (organization, user, token id, scopes), keyed by the
 * token's SHA-256, so a request that repeats a token skips the database. It caches only tokens
 * the store found live, never unknown ones, and holds at most a fixed number of entries. Invariant:
 * an entry is used only while the store's revocation marker reads as it did before the entry was
 * read from the store, and for at most max_age_ms; otherwise the whole cache is dropped or the
 * entry is read again. See docs/internals/auth.md. */
#ifndef HERALD_API_TOKEN_CACHE_H
#define HERALD_API_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "store/store.h"

/* `herald serve`'s sizes: entries beyond this many evict older ones; an entry older than this is
 * read again, which bounds how long a revocation made behind the store's back (an SQL shell)
 * can go unnoticed. */
#define TOKEN_CACHE_MAX_ENTRIES 1024
#define TOKEN_CACHE_MAX_AGE_MS 30000

struct token_cache;

/* A cache of at most max_entries (at least 1) entries, each usable for max_age_ms after it was
 * stored. Free with token_cache_free. Safe to use from any number of threads. */
struct token_cache *token_cache_new(size_t max_entries, int64_t max_age_ms);
/* NULL is a no-op. */
void token_cache_free(struct token_cache *c);

/* Looks up the token whose SHA-256 is `key`, with `mark` read just before (store_token_mark_read)
 * and `now_ms` a monotonic time. When `mark` differs from the one the cache holds entries for,
 * drops every entry and adopts `mark` (an unknown mark empties the cache and keeps it empty).
 * On a hit fills *who (who->scopes is a new string, the caller's) and returns true; returns false
 * on a miss or an expired entry. */
bool token_cache_get(struct token_cache *c, const struct store_token_mark *mark,
                     const uint8_t key[32], int64_t now_ms, struct http_identity *who);

/* Stores what the live token `t` grants under `key`. `mark` must be the one read before `t` was
 * read from the store: when the cache has adopted another mark since (a revocation may have been
 * announced after `t` was read), or `mark` is unknown, nothing is stored. When full, evicts the
 * oldest-inserted entry. Copies t->scopes; the caller keeps `t`. */
void token_cache_put(struct token_cache *c, const struct store_token_mark *mark,
                     const uint8_t key[32], int64_t now_ms, const struct store_token *t);

/* The number of entries held (for tests and logs). */
size_t token_cache_count(struct token_cache *c);

#endif
