/* Standard Webhooks signing (https://www.standardwebhooks.com): organization secrets
 * "whsec_<base64>", the "v1,<base64 HMAC-SHA256>" signature over "id.timestamp.body", and the
 * random tokens and SHA-256 digests the API keys use. OpenSSL stays inside this file's .c. */
#ifndef HERALD_DELIVER_SIGN_H
#define HERALD_DELIVER_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define SIGN_KEY_MAX 64

/* A new secret: "whsec_" + base64 (with padding) of 32 random bytes, 50 characters. Caller frees
 * with free(). Aborts if the system has no randomness (RAND_bytes fails) or on out-of-memory. */
char *sign_secret_new(void);

/* Decodes the key bytes of "whsec_<base64>"; the base64 alone (no prefix) is accepted too. The
 * base64 must be standard (+ and /), padded, without spaces, and decode to 1..SIGN_KEY_MAX
 * bytes. Returns HERALD_OK with key[0..*key_len) set, or HERALD_ERR_INVALID. */
enum herald_err sign_secret_decode(const char *secret, uint8_t key[SIGN_KEY_MAX], size_t *key_len);

/* Appends "v1," + base64(HMAC-SHA256(key, msg_id + "." + timestamp_s + "." + body)) to out,
 * where key is sign_secret_decode(secret) and timestamp_s is rendered in decimal. The body is
 * body_len bytes, borrowed, not copied. Returns HERALD_OK; HERALD_ERR_INVALID for a malformed
 * secret or NULL msg_id (out untouched); HERALD_ERR_INTERNAL if OpenSSL fails (logged). */
enum herald_err sign_webhook(const char *secret, const char *msg_id, int64_t timestamp_s,
                             const char *body, size_t body_len, struct buf *out);

/* A secret's key made ready for many signatures (the HMAC key schedule done once): what the
 * dispatcher keeps per organization. NULL (logged when OpenSSL fails) for a malformed secret.
 * sign_key_webhook appends what sign_webhook would for that secret. */
struct sign_key;
struct sign_key *sign_key_new(const char *secret);
void sign_key_free(struct sign_key *k);
enum herald_err sign_key_webhook(const struct sign_key *k, const char *msg_id, int64_t timestamp_s,
                                 const char *body, size_t body_len, struct buf *out);

/* SHA-256 of data[0..len): the 32 bytes of the digest into out. Aborts if libcrypto fails. */
void sign_sha256(const char *data, size_t len, uint8_t out[32]);
/* SHA-256 of data[0..len) as 64 lowercase hex digits and a NUL in out. */
void sign_sha256_hex(const char *data, size_t len, char out[65]);
/* data[0..len) as 2 * len lowercase hex digits and a NUL in out (2 * len + 1 bytes). */
void sign_hex(const uint8_t *data, size_t len, char *out);

/* A new random token: prefix (NULL = "") + unpadded base64url of 32 random bytes (43 characters
 * of [A-Za-z0-9_-]). Caller frees with free(). Aborts if RAND_bytes fails or out-of-memory. */
char *sign_random_token(const char *prefix);

/* True when a and b are equal strings, compared in time that depends only on their lengths, for
 * checking secrets and signatures. NULL equals nothing. */
bool sign_equal(const char *a, const char *b);

#endif
