/* Token authentication for the HTTP layer, and the scope vocabulary. Tokens are looked up by
 * their SHA-256 on every request, so a revocation by another process applies at once. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/xmalloc.h"
#include "deliver/sign.h"

const char api_all_scopes[] = "ZohoCRM.notifications.ALL,ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,"
                              "ZohoCRM.users.ALL,ZohoCRM.org.ALL,Herald.deliveries.ALL";

enum herald_err api_authenticate(void *app_ptr, const char *token, struct http_identity *who)
{
    struct app *app = app_ptr;
    char hash[65];
    sign_sha256_hex(token, strlen(token), hash);
    struct store_token t;
    enum herald_err err = store_token_find(app->store, hash, &t);
    if (err)
        return err;
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
    static const char *const families[] = {"ZohoCRM.notifications.", "ZohoCRM.users.", NULL};
    for (const char *const *f = families; *f; f++) {
        size_t n = strlen(*f);
        if (strncasecmp(scope, *f, n) == 0)
            return in_list(scope + n, strlen(scope + n), ops);
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
