/* Forwards the public store API to the backend's ops table, and holds what is the same for every
 * backend (the synchronous wrapper around store_submit). */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>

enum herald_err store_open(const char *path, struct store **out)
{
    return store_sqlite_open(path, out);
}

void store_free(struct store *s)
{
    if (s)
        s->ops->free(s);
}

void store_submit(struct store *s, store_job_fn *fn, void *arg, store_done_fn *done)
{
    s->ops->submit(s, fn, arg, done, false);
}

void store_submit_plain(struct store *s, store_job_fn *fn, void *arg, store_done_fn *done)
{
    s->ops->submit(s, fn, arg, done, true);
}

struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_done;
    enum herald_err err;
};

static void sync_done(void *arg, enum herald_err err)
{
    struct sync_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    w->err = err;
    w->is_done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

struct sync_job {
    store_job_fn *fn;
    void *arg;
    struct sync_wait wait;
};

static enum herald_err sync_run(struct store_txn *txn, void *arg)
{
    struct sync_job *j = arg;
    return j->fn(txn, j->arg);
}

static void sync_job_done(void *arg, enum herald_err err)
{
    struct sync_job *j = arg;
    sync_done(&j->wait, err);
}

enum herald_err store_exec(struct store *s, store_job_fn *fn, void *arg)
{
    struct sync_job j = {.fn = fn, .arg = arg};
    pthread_mutex_init(&j.wait.mu, NULL);
    pthread_cond_init(&j.wait.cv, NULL);
    s->ops->submit(s, sync_run, &j, sync_job_done, false);
    pthread_mutex_lock(&j.wait.mu);
    while (!j.wait.is_done)
        pthread_cond_wait(&j.wait.cv, &j.wait.mu);
    pthread_mutex_unlock(&j.wait.mu);
    pthread_mutex_destroy(&j.wait.mu);
    pthread_cond_destroy(&j.wait.cv);
    return j.wait.err;
}

void store_on_commit(struct store *s, store_commit_fn *fn, void *arg)
{
    s->ops->on_commit(s, fn, arg);
}

int64_t store_id_next(struct store *s)
{
    return s->ops->id_next(s);
}

int64_t store_default_org(struct store *s)
{
    return s->ops->default_org(s);
}

enum herald_err store_org_get(struct store *s, int64_t org_id, struct store_org *out)
{
    return s->ops->org_get(s, org_id, out);
}

void store_org_fini(struct store_org *o)
{
    free(o->name);
    free(o->secret);
    for (size_t i = 0; i < o->retired_count; i++)
        free(o->retired[i].secret);
    free(o->retired);
    o->name = o->secret = NULL;
    o->retired = NULL;
    o->retired_count = 0;
}

enum herald_err store_org_rotate_secret(struct store *s, int64_t org_id, int64_t grace_s,
                                        size_t *cut_out)
{
    size_t cut = 0;
    enum herald_err err = s->ops->org_rotate_secret(s, org_id, grace_s, &cut);
    if (cut_out)
        *cut_out = err ? 0 : cut;
    return err;
}

enum herald_err store_token_create(struct store *s, int64_t org_id, const char *name,
                                   const char *scopes, const char *hash_hex, int64_t *id_out)
{
    return s->ops->token_create(s, org_id, name, scopes, hash_hex, id_out);
}

enum herald_err store_token_find(struct store *s, const char *hash_hex, struct store_token *out)
{
    return s->ops->token_find(s, hash_hex, out);
}

enum herald_err store_token_list(struct store *s, int64_t org_id, struct store_token **out,
                                 size_t *count)
{
    return s->ops->token_list(s, org_id, out, count);
}

void store_token_fini(struct store_token *t)
{
    free(t->name);
    free(t->scopes);
    t->name = t->scopes = NULL;
}

void store_token_list_free(struct store_token *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        store_token_fini(&list[i]);
    free(list);
}

enum herald_err store_token_revoke(struct store *s, int64_t org_id, int64_t token_id)
{
    return s->ops->token_revoke(s, org_id, token_id);
}

void store_token_mark_read(struct store *s, struct store_token_mark *out)
{
    s->ops->token_mark(s, out);
}

bool store_token_mark_equal(const struct store_token_mark *a, const struct store_token_mark *b)
{
    return a->is_known && b->is_known && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns;
}

enum herald_err store_user_get(struct store *s, int64_t org_id, int64_t user_id,
                               struct store_user *out)
{
    return s->ops->user_get(s, org_id, user_id, out);
}

enum herald_err store_user_list(struct store *s, int64_t org_id, size_t offset, size_t limit,
                                struct store_user **out, size_t *count)
{
    return s->ops->user_list(s, org_id, offset, limit, out, count);
}
