/* Token authentication for the HTTP layer, and the scope vocabulary. A token is hashed
 * (SHA-256) on every request and looked up in the token cache (api/token_cache.h); only on a miss
 * is it read from the store. Before using the cache, every request reads the store's revocation
 * marker (one fstat()), which any process that revokes a token changes after its commit: a
 * revocation by another process therefore applies from the next request on. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/token_cache.h"
#include "core/timefmt.h"
#include "core/xmalloc.h"
#include "deliver/sign.h"

const char api_all_scopes[] = "ZohoCRM.notifications.ALL,ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,"
                              "ZohoCRM.users.ALL,ZohoCRM.org.ALL,Herald.deliveries.ALL";

/* The SHA-256 of a token, remembered for the last token each thread saw: a client sends the
 * same token with every request, and hashing it cost 3,400 instructions, 7% of what a create
 * costs its request thread. The comparison takes the same time however much of the token
 * matches, so timing it tells a caller nothing about another caller's token. */
#define TOKEN_MEMO_MAX 256
static _Thread_local char memo_token[TOKEN_MEMO_MAX];
static _Thread_local size_t memo_len; /* 0: nothing remembered */
static _Thread_local uint8_t memo_key[32];

static void token_key(const char *token, uint8_t key[32])
{
    size_t len = strlen(token);
    if (len && len == memo_len && CRYPTO_memcmp(token, memo_token, len) == 0) {
        memcpy(key, memo_key, 32);
        return;
    }
    sign_sha256(token, len, key);
    if (len && len <= TOKEN_MEMO_MAX) {
        memcpy(memo_token, token, len);
        memcpy(memo_key, key, 32);
        memo_len = len;
    }
}

enum herald_err api_authenticate(void *app_ptr, const char *token, struct http_identity *who)
{
    struct app *app = app_ptr;
    uint8_t key[32];
    token_key(token, key);
    /* The marker is read before the cache and before the store: an entry read from the store
     * under this mark is stored only if no revocation was announced meanwhile. */
    struct store_token_mark mark;
    int64_t now_ms = 0;
    if (app->tokens) {
        store_token_mark_read(app->store, &mark);
        now_ms = time_mono_ms();
        if (token_cache_get(app->tokens, &mark, key, now_ms, who))
            return HERALD_OK;
    }
    char hash[65];
    sign_hex(key, sizeof key, hash);
    struct store_token t;
    enum herald_err err = store_token_find(app->store, hash, &t);
    if (err)
        return err;
    if (app->tokens)
        token_cache_put(app->tokens, &mark, key, now_ms, &t);
    who->org_id = t.org_id;
    who->user_id = t.user_id;
    who->token_id = t.id;
    who->scopes = t.scopes;
    t.scopes = NULL;
    store_token_fini(&t);
    return HERALD_OK;
}

static bool in_list(const char *word, size_t len, const char *const *list)
{
    for (; *list; list++) {
        if (strlen(*list) == len && strncasecmp(*list, word, len) == 0)
            return true;
    }
    return false;
}

bool api_scope_known(const char *scope)
{
    static const char *const ops[] = {"ALL", "READ", "WRITE", "CREATE", "UPDATE", "DELETE", NULL};
    static const char *const fixed[] = {"ZohoCRM.settings.ALL",
                                        "ZohoCRM.settings.READ",
                                        "ZohoCRM.settings.modules.READ",
                                        "ZohoCRM.settings.modules.ALL",
                                        "ZohoCRM.settings.fields.READ",
                                        "ZohoCRM.settings.fields.ALL",
                                        "ZohoCRM.org.ALL",
                                        "ZohoCRM.org.READ",
                                        "ZohoCRM.modules.ALL",
                                        "Herald.deliveries.ALL",
                                        "Herald.deliveries.READ",
                                        NULL};
    if (in_list(scope, strlen(scope), fixed))
        return true;
    static const char *const families[] = {"ZohoCRM.notifications.", "ZohoCRM.users.",
                                           "ZohoCRM.modules.", NULL};
    for (const char *const *f = families; *f; f++) {
        size_t n = strlen(*f);
        if (strncasecmp(scope, *f, n) == 0 && in_list(scope + n, strlen(scope + n), ops))
            return true;
    }
    /* ZohoCRM.modules.{module}.{op} */
    const char *prefix = "ZohoCRM.modules.";
    size_t n = strlen(prefix);
    if (strncasecmp(scope, prefix, n) != 0)
        return false;
    const char *module = scope + n;
    const char *dot = strrchr(module, '.');
    if (!dot || dot == module)
        return false;
    for (const char *p = module; p < dot; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    }
    return in_list(dot + 1, strlen(dot + 1), ops);
}
