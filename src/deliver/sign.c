/* Webhook signatures with OpenSSL 3 (EVP_MAC HMAC, streamed so the body is never copied) and a
 * strict base64 decoder of our own: EVP_DecodeBlock skips whitespace and does not report the
 * padding it consumed, and a secret must decode to exactly the bytes it names. OpenSSL errors are
 * logged here and leave as HERALD_ERR_INTERNAL or, for randomness, an abort. */
#include "deliver/sign.h"

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"

#define SECRET_PREFIX "whsec_"
#define SECRET_BYTES 32
#define TOKEN_BYTES 32

static void log_openssl(const char *what)
{
    char detail[256] = "";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, detail, sizeof detail);
    ERR_clear_error();
    log_error("msg=\"%s failed\" detail=\"%s\"", what, detail);
}

static void random_bytes(uint8_t *out, size_t n)
{
    if (RAND_bytes(out, (int)n) != 1) {
        log_openssl("RAND_bytes");
        abort();
    }
}

/* Standard base64 with padding of n bytes into out, which holds 4 * ((n + 2) / 3) + 1 bytes. */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict padded standard base64; returns the decoded length or -1. out holds max bytes. */
static long b64_decode(const char *in, size_t len, uint8_t *out, size_t max)
{
    if (len == 0 || len % 4 != 0)
        return -1;
    size_t pad = in[len - 1] == '=' ? (in[len - 2] == '=' ? 2 : 1) : 0;
    size_t out_len = len / 4 * 3 - pad;
    if (out_len > max)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool is_last = i + 4 == len;
        int v[4];
        for (size_t j = 0; j < 4; j++) {
            bool is_pad = is_last && j >= 4 - pad;
            v[j] = is_pad ? 0 : b64_value(in[i + j]);
            if (v[j] < 0)
                return -1;
        }
        uint32_t group =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        uint8_t bytes[3] = {(uint8_t)(group >> 16), (uint8_t)(group >> 8), (uint8_t)group};
        size_t take = is_last ? 3 - pad : 3;
        /* Bits under the padding must be zero, or two texts would name one key. */
        if (is_last && pad && (group & ((1u << (8 * pad)) - 1)) != 0)
            return -1;
        memcpy(out + o, bytes, take);
        o += take;
    }
    return (long)o;
}

char *sign_secret_new(void)
{
    uint8_t key[SECRET_BYTES];
    random_bytes(key, sizeof key);
    size_t prefix_len = strlen(SECRET_PREFIX);
    char *s = xmalloc(prefix_len + 4 * ((sizeof key + 2) / 3) + 1);
    memcpy(s, SECRET_PREFIX, prefix_len);
    b64_encode(key, sizeof key, s + prefix_len);
    OPENSSL_cleanse(key, sizeof key);
    return s;
}

enum herald_err sign_secret_decode(const char *secret, uint8_t key[SIGN_KEY_MAX], size_t *key_len)
{
    if (!secret)
        return HERALD_ERR_INVALID;
    size_t prefix_len = strlen(SECRET_PREFIX);
    if (strncmp(secret, SECRET_PREFIX, prefix_len) == 0)
        secret += prefix_len;
    size_t len = strnlen(secret, 4 * ((SIGN_KEY_MAX + 2) / 3) + 1);
    long n = b64_decode(secret, len, key, SIGN_KEY_MAX);
    if (n <= 0 || secret[len] != '\0')
        return HERALD_ERR_INVALID;
    *key_len = (size_t)n;
    return HERALD_OK;
}

/* The key schedule (HMAC's inner and outer pads) lives in a MAC context initialized once;
 * each signature works on a copy of it. */
struct sign_key {
    EVP_MAC_CTX *ctx;
};

struct sign_key *sign_key_new(const char *secret)
{
    uint8_t key[SIGN_KEY_MAX];
    size_t key_len = 0;
    if (sign_secret_decode(secret, key, &key_len))
        return NULL;
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac); /* the context holds its own reference */
    bool is_ok = ctx && EVP_MAC_init(ctx, key, key_len, params);
    OPENSSL_cleanse(key, sizeof key);
    if (!is_ok) {
        log_openssl("HMAC-SHA256 key");
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    struct sign_key *k = xmalloc(sizeof *k);
    k->ctx = ctx;
    return k;
}

void sign_key_free(struct sign_key *k)
{
    if (!k)
        return;
    EVP_MAC_CTX_free(k->ctx);
    free(k);
}

enum herald_err sign_key_webhook(const struct sign_key *k, const char *msg_id, int64_t timestamp_s,
                                 const char *body, size_t body_len, struct buf *out)
{
    if (!k || !msg_id || (!body && body_len))
        return HERALD_ERR_INVALID;
    char ts[24];
    size_t ts_len = fmt_i64(ts, timestamp_s);
    uint8_t mac_out[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->ctx);
    bool is_ok = ctx && EVP_MAC_update(ctx, (const unsigned char *)msg_id, strlen(msg_id)) &&
                 EVP_MAC_update(ctx, (const unsigned char *)".", 1) &&
                 EVP_MAC_update(ctx, (const unsigned char *)ts, ts_len) &&
                 EVP_MAC_update(ctx, (const unsigned char *)".", 1) &&
                 (!body_len || EVP_MAC_update(ctx, (const unsigned char *)body, body_len)) &&
                 EVP_MAC_final(ctx, mac_out, &mac_len, sizeof mac_out);
    EVP_MAC_CTX_free(ctx);
    if (!is_ok) {
        log_openssl("HMAC-SHA256");
        return HERALD_ERR_INTERNAL;
    }
    char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    b64_encode(mac_out, mac_len, b64);
    buf_puts(out, "v1,");
    buf_puts(out, b64);
    return HERALD_OK;
}

enum herald_err sign_webhook(const char *secret, const char *msg_id, int64_t timestamp_s,
                             const char *body, size_t body_len, struct buf *out)
{
    if (!msg_id || (!body && body_len))
        return HERALD_ERR_INVALID;
    uint8_t key[SIGN_KEY_MAX];
    size_t key_len = 0;
    if (sign_secret_decode(secret, key, &key_len))
        return HERALD_ERR_INVALID;
    OPENSSL_cleanse(key, sizeof key);
    struct sign_key *k = sign_key_new(secret);
    if (!k)
        return HERALD_ERR_INTERNAL;
    enum herald_err err = sign_key_webhook(k, msg_id, timestamp_s, body, body_len, out);
    sign_key_free(k);
    return err;
}

/* EVP_sha256() makes every EVP_Digest look the algorithm up in the provider tables again (a
 * lock and a hash lookup, about half of the cost for a token-sized input); the digest fetched
 * once is immutable and may be shared by every thread. */
static EVP_MD *sha256_md;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void sign_sha256(const char *data, size_t len, uint8_t out[32])
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sha256_fetch);
    unsigned int md_len = 0;
    const EVP_MD *md = sha256_md ? sha256_md : EVP_sha256();
    if (!EVP_Digest(data, len, out, &md_len, md, NULL) || md_len != 32) {
        log_openssl("SHA-256");
        abort(); /* a broken libcrypto: no hash is safe to return */
    }
}

void sign_hex(const uint8_t *data, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[data[i] >> 4];
        out[2 * i + 1] = hex[data[i] & 15];
    }
    out[2 * len] = '\0';
}

void sign_sha256_hex(const char *data, size_t len, char out[65])
{
    uint8_t md[32];
    sign_sha256(data, len, md);
    sign_hex(md, sizeof md, out);
}

char *sign_random_token(const char *prefix)
{
    if (!prefix)
        prefix = "";
    uint8_t raw[TOKEN_BYTES];
    random_bytes(raw, sizeof raw);
    char b64[4 * ((TOKEN_BYTES + 2) / 3) + 1];
    b64_encode(raw, sizeof raw, b64);
    OPENSSL_cleanse(raw, sizeof raw);
    size_t n = 0;
    for (size_t i = 0; b64[i] && b64[i] != '='; i++, n++) {
        if (b64[i] == '+')
            b64[i] = '-';
        else if (b64[i] == '/')
            b64[i] = '_';
    }
    size_t prefix_len = strlen(prefix);
    char *s = xmalloc(prefix_len + n + 1);
    memcpy(s, prefix, prefix_len);
    memcpy(s + prefix_len, b64, n);
    s[prefix_len + n] = '\0';
    OPENSSL_cleanse(b64, sizeof b64);
    return s;
}

bool sign_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t len = strlen(a);
    if (strlen(b) != len)
        return false;
    return CRYPTO_memcmp(a, b, len) == 0;
}
