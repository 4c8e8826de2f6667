/* The token cache: a fixed pool of entries chained in a hash table on the first bytes of the
 * SHA-256 (uniform already), under one mutex held only to look up or copy one entry. Eviction is
 * first in, first out over the pool, which is enough for a set that only ever holds live tokens.
 * It does not cache unknown tokens, so network input cannot fill it, and it never asks the store
 * itself: api/auth.c reads the marker and the store around it. */
#include "api/token_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"

struct entry {
    uint8_t key[32];
    int64_t org_id;
    int64_t user_id;
    int64_t token_id;
    char *scopes; /* owned */
    int64_t stored_ms;
    int32_t next; /* the next entry of the same bucket, or -1 */
};

struct token_cache {
    pthread_mutex_t mu;
    struct store_token_mark mark; /* every entry was read from the store under this mark */
    bool is_off;                  /* the last mark was unknown (logged once per change) */
    int64_t max_age_ms;
    struct entry *entries; /* [max]; [0, used) hold entries */
    size_t max, used;
    size_t hand;      /* the next entry to evict once the pool is full */
    int32_t *buckets; /* [mask + 1] entry indexes or -1 */
    size_t mask;
};

static size_t bucket_of(const struct token_cache *c, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & c->mask;
}

struct token_cache *token_cache_new(size_t max_entries, int64_t max_age_ms)
{
    struct token_cache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->max = max_entries ? max_entries : 1;
    c->max_age_ms = max_age_ms;
    c->entries = xcalloc(c->max, sizeof *c->entries);
    size_t n = 2;
    while (n < 2 * c->max)
        n *= 2;
    c->mask = n - 1;
    c->buckets = xmalloc(n * sizeof *c->buckets);
    memset(c->buckets, 0xff, n * sizeof *c->buckets); /* every bucket -1 */
    return c;
}

static void clear(struct token_cache *c)
{
    for (size_t i = 0; i < c->used; i++) {
        free(c->entries[i].scopes);
        c->entries[i].scopes = NULL;
    }
    c->used = 0;
    c->hand = 0;
    memset(c->buckets, 0xff, (c->mask + 1) * sizeof *c->buckets);
}

void token_cache_free(struct token_cache *c)
{
    if (!c)
        return;
    clear(c);
    free(c->entries);
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static struct entry *find(struct token_cache *c, const uint8_t key[32])
{
    for (int32_t i = c->buckets[bucket_of(c, key)]; i >= 0; i = c->entries[i].next) {
        if (memcmp(c->entries[i].key, key, 32) == 0)
            return &c->entries[i];
    }
    return NULL;
}

/* Drops every entry unless they were read under `mark`. Returns +1 when caching just turned
 * off (the marker became unreadable), -1 when it turned back on, 0 otherwise, for logging
 * outside the lock. */
static int adopt(struct token_cache *c, const struct store_token_mark *mark)
{
    if (store_token_mark_equal(&c->mark, mark))
        return 0;
    if (!mark->is_known && !c->mark.is_known && c->is_off)
        return 0; /* still off, and nothing is stored while off */
    clear(c);
    c->mark = *mark;
    if (mark->is_known == !c->is_off)
        return 0;
    c->is_off = !mark->is_known;
    return c->is_off ? 1 : -1;
}

static void log_change(int change)
{
    if (change > 0)
        log_warn("msg=\"token cache off: the revocation marker cannot be read, every request "
                 "reads its token from the database\"");
    else if (change < 0)
        log_info("msg=\"token cache on: the revocation marker is readable again\"");
}

bool token_cache_get(struct token_cache *c, const struct store_token_mark *mark,
                     const uint8_t key[32], int64_t now_ms, struct http_identity *who)
{
    bool is_hit = false;
    pthread_mutex_lock(&c->mu);
    int change = adopt(c, mark);
    struct entry *e = c->mark.is_known ? find(c, key) : NULL;
    if (e && now_ms - e->stored_ms < c->max_age_ms) {
        who->org_id = e->org_id;
        who->user_id = e->user_id;
        who->token_id = e->token_id;
        who->scopes = xstrdup(e->scopes);
        is_hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    log_change(change);
    return is_hit;
}

/* Takes the next free entry, or evicts the one under the hand: unlinks it from its bucket. */
static struct entry *take(struct token_cache *c)
{
    if (c->used < c->max)
        return &c->entries[c->used++];
    struct entry *e = &c->entries[c->hand];
    c->hand = (c->hand + 1) % c->max;
    int32_t idx = (int32_t)(e - c->entries);
    for (int32_t *p = &c->buckets[bucket_of(c, e->key)]; *p >= 0; p = &c->entries[*p].next) {
        if (*p == idx) {
            *p = e->next;
            break;
        }
    }
    free(e->scopes);
    e->scopes = NULL;
    return e;
}

void token_cache_put(struct token_cache *c, const struct store_token_mark *mark,
                     const uint8_t key[32], int64_t now_ms, const struct store_token *t)
{
    char *scopes = xstrdup(t->scopes ? t->scopes : "");
    pthread_mutex_lock(&c->mu);
    if (!mark->is_known || !store_token_mark_equal(&c->mark, mark)) {
        pthread_mutex_unlock(&c->mu);
        free(scopes);
        return;
    }
    struct entry *e = find(c, key);
    if (!e) {
        e = take(c);
        memcpy(e->key, key, 32);
        size_t b = bucket_of(c, key);
        e->next = c->buckets[b];
        c->buckets[b] = (int32_t)(e - c->entries);
    }
    free(e->scopes);
    e->scopes = scopes;
    e->org_id = t->org_id;
    e->user_id = t->user_id;
    e->token_id = t->id;
    e->stored_ms = now_ms;
    pthread_mutex_unlock(&c->mu);
}

size_t token_cache_count(struct token_cache *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->used;
    pthread_mutex_unlock(&c->mu);
    return n;
}
