/* The durable store: organizations, tokens, users, records, channels and the notification outbox.
 * Writes go through one writer thread that commits every queued job in one transaction (group
 * commit: one fsync per batch, each job in its own savepoint so one failing job rolls back alone).
 * Reads use pooled reader connections and never wait for the writer. The backend is an ops
 * table (struct store_ops); SQLite is the one backend today. Foreign errors stay in here. */
#ifndef HERALD_STORE_STORE_H
#define HERALD_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct store;
struct store_txn;

/* A unit of work run on the writer thread inside the batch transaction. It may only use the
 * store_txn_* functions. Returning non-zero rolls back this job's writes alone. */
typedef enum herald_err store_job_fn(struct store_txn *txn, void *arg);
/* Called on the writer thread after the batch committed (err = the job's result) or failed
 * (err = HERALD_ERR_STORE). Must not block. */
typedef void store_done_fn(void *arg, enum herald_err err);
/* Called on the writer thread after each committed batch. */
typedef void store_commit_fn(void *arg);

/* How many retired secrets an organization keeps signing with at most: the newest ones. Each is
 * one more HMAC over every callback body and 48 more bytes of webhook-signature; ten cover a
 * rotation every 2.4 hours for a day, and a receiver that missed ten rotations in a row is not
 * waiting for the eleventh-newest secret. */
#define STORE_RETIRED_SECRETS_MAX 10

/* A secret replaced by a rotation, still signing callbacks until until_s (Unix seconds). */
struct store_retired_secret {
    char *secret;
    int64_t until_s;
};

struct store_org {
    int64_t id;
    char *name;
    char *secret; /* current "whsec_..." signing secret */
    /* The retired secrets whose until_s had not passed when read, newest first, at most
     * STORE_RETIRED_SECRETS_MAX; NULL when none. */
    struct store_retired_secret *retired;
    size_t retired_count;
    int64_t admin_user_id;
    int64_t created_at_s;
};

struct store_token {
    int64_t id;
    int64_t org_id;
    int64_t user_id;
    char *name;
    char *scopes; /* comma-separated */
    int64_t created_at_s;
    int64_t revoked_at_s; /* 0 when live */
};

/* Opens (creating and migrating when needed) the database at `path` and starts the writer.
 * Returns HERALD_OK and *out (free with store_free), or HERALD_ERR_STORE (details logged). */
enum herald_err store_open(const char *path, struct store **out);
/* Drains the writer queue, stops the writer, closes every connection. NULL is a no-op. */
void store_free(struct store *s);

/* Queues a job; `done` runs after its batch commits. Never blocks on I/O. After store_free has
 * begun, the job is not run and done gets HERALD_ERR_SHUTDOWN. */
void store_submit(struct store *s, store_job_fn *fn, void *arg, store_done_fn *done);
/* As store_submit, for a job that fails only when the store does (I/O, a full disk, a broken
 * database): it runs without a savepoint of its own, and its failure rolls back its whole
 * batch, every job of which then fails (as when the batch's commit fails). Other jobs each get
 * a savepoint, so one refused job leaves its neighbours committed; a savepoint copies every
 * page the job touches to the statement journal, which for a record create was about 5 µs of
 * its 60 µs of CPU. */
void store_submit_plain(struct store *s, store_job_fn *fn, void *arg, store_done_fn *done);
/* Queues a job and waits for its commit. Returns the job's error, or HERALD_ERR_STORE. */
enum herald_err store_exec(struct store *s, store_job_fn *fn, void *arg);
/* Registers the hook run after each committed batch (the dispatcher's wake-up). */
void store_on_commit(struct store *s, store_commit_fn *fn, void *arg);

/* The organization every new database gets on first open; its id. */
int64_t store_default_org(struct store *s);
/* Reads an organization. Caller frees with store_org_fini. HERALD_ERR_NOT_FOUND, ERR_STORE. */
enum herald_err store_org_get(struct store *s, int64_t org_id, struct store_org *out);
void store_org_fini(struct store_org *o);
/* Replaces the signing secret; the old one keeps signing for `grace_s` seconds, and so do the
 * secrets retired before it until their own ends, but only the STORE_RETIRED_SECRETS_MAX newest:
 * *cut_out (may be NULL) gets how many older ones stopped before their end because of that
 * bound. Expired ones are deleted. Once committed, the rotation is announced through the
 * revocation marker (store_token_mark_read), which servers read before signing.
 * HERALD_ERR_NOT_FOUND for an unknown organization, or HERALD_ERR_STORE. */
enum herald_err store_org_rotate_secret(struct store *s, int64_t org_id, int64_t grace_s,
                                        size_t *cut_out);

/* Stores a token by its SHA-256 hex; scopes is copied. *id_out gets its id. */
enum herald_err store_token_create(struct store *s, int64_t org_id, const char *name,
                                   const char *scopes, const char *hash_hex, int64_t *id_out);
/* Finds a live (not revoked) token by SHA-256 hex. Caller frees with store_token_fini.
 * HERALD_ERR_NOT_FOUND when unknown or revoked. */
enum herald_err store_token_find(struct store *s, const char *hash_hex, struct store_token *out);
/* Every token of the organization, oldest first; caller frees with store_token_list_free. */
enum herald_err store_token_list(struct store *s, int64_t org_id, struct store_token **out,
                                 size_t *count);
void store_token_list_free(struct store_token *list, size_t count);
void store_token_fini(struct store_token *t);
/* Marks a token revoked, then announces the revocation to every process that caches tokens
 * (store_token_mark_read) before returning. HERALD_ERR_NOT_FOUND when no live token has that id;
 * HERALD_ERR_STORE when the revocation failed, or committed but could not be announced (logged:
 * running servers may then accept the token until their cache entries expire). */
enum herald_err store_token_revoke(struct store *s, int64_t org_id, int64_t token_id);

/* A snapshot of the revocation marker, which every revocation changes after it commits (for
 * SQLite, a file beside the database that grows by one byte per revocation; the fields are its
 * stat() identity, size and modification time). A token read from the store after reading mark
 * `m` may be reused while the marker still reads equal to `m`: no revocation was announced in
 * between. is_known false means the marker could not be read, and then nothing may be reused. */
struct store_token_mark {
    bool is_known;
    uint64_t dev, ino;
    int64_t size, mtime_s, mtime_ns;
};
/* Reads the marker: one fstat() of it held open (a stat() of its path once a second, or when
 * it was deleted or replaced), no database access, safe from any thread. */
void store_token_mark_read(struct store *s, struct store_token_mark *out);
/* True when both marks are known and equal. */
bool store_token_mark_equal(const struct store_token_mark *a, const struct store_token_mark *b);

/* A user as stored: the JSON text of the user object (Zoho's shape). */
struct store_user {
    int64_t id;
    char *json; /* owned */
};
/* Reads a user's JSON. Caller frees out->json. HERALD_ERR_NOT_FOUND. */
enum herald_err store_user_get(struct store *s, int64_t org_id, int64_t user_id,
                               struct store_user *out);
/* Lists users, `offset`, `limit`; caller frees each json and the array. */
enum herald_err store_user_list(struct store *s, int64_t org_id, size_t offset, size_t limit,
                                struct store_user **out, size_t *count);

/* Allocates a new id: a decimal of 19 digits, unique in this installation and increasing. */
int64_t store_id_next(struct store *s);

#endif
