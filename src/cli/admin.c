/* `herald token ...` and `herald secret ...`: administration on the database file, safe to run
 * while a server uses it (SQLite serializes the writers; a revocation changes the marker the
 * server checks before using a cached token, so it applies from its next request on). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "cli/cli.h"
#include "cli/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "deliver/sign.h"
#include "store/store.h"

const char cli_token_usage[] =
    "usage: herald token create --scopes S1,S2,... [--name NAME] [--db PATH]\n"
    "       herald token list [--db PATH]\n"
    "       herald token revoke ID [--db PATH]\n"
    "\n"
    "create  prints a new token alone on stdout, once; only its SHA-256 is stored.\n"
    "        Scopes follow Zoho (case-insensitive): ZohoCRM.notifications.{ALL,READ,WRITE,\n"
    "        CREATE,UPDATE,DELETE}, ZohoCRM.modules.{ALL,READ,CREATE,WRITE,UPDATE,DELETE},\n"
    "        ZohoCRM.modules.{Module}.{ALL,READ,CREATE,WRITE,UPDATE,DELETE} (Leads, or Zoho's\n"
    "        spelling: salesorders), ZohoCRM.settings.{ALL,READ}, ZohoCRM.settings.{modules,\n"
    "        fields}.{ALL,READ}, ZohoCRM.users.{ALL,READ,WRITE,CREATE,UPDATE,DELETE},\n"
    "        ZohoCRM.org.{ALL,READ}, Herald.deliveries.{ALL,READ}. --scopes all grants every\n"
    "        scope.\n"
    "list    prints each token's id, name, created and revoked times and scopes, one a line.\n"
    "revoke  stops a token at once, also for a running server.\n"
    "\n"
    "--db PATH defaults to $HERALD_DB, else the db of the $HERALD_CONFIG file, else ./herald.db.\n";

const char cli_secret_usage[] =
    "usage: herald secret show [--db PATH]\n"
    "       herald secret rotate [--db PATH]\n"
    "\n"
    "show    prints the organization's callback signing secret (whsec_...) alone on stdout;\n"
    "        on stderr, each retired secret still signing, newest first, with its end.\n"
    "rotate  makes a new secret and prints it as show does. Callbacks carry a signature with\n"
    "        it and one with each secret retired in the last 24 hours (the 10 newest).\n";

struct admin_args {
    const char *db;
    const char *scopes;
    const char *name;
    const char *positional;
    bool is_help;
};

int cli_db_check(const char *cmd, const char **db)
{
    char err[512];
    if (!*db && !(*db = config_db_default(config_getenv, err, sizeof err))) {
        fprintf(stderr, "herald %s: %s\n", cmd, err);
        return 2;
    }
    if (!**db) {
        fprintf(stderr, "herald %s: --db: the path is empty\n", cmd);
        return 2;
    }
    if (!config_db_path_usable(*db, err, sizeof err)) {
        fprintf(stderr, "herald %s: %s\n", cmd, err);
        return 2;
    }
    return 0;
}

static int parse_admin(int argc, char **argv, const char *cmd, bool want_scopes,
                       struct admin_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->is_help = true;
            return 0;
        }
        const char **slot = NULL;
        const char *flag = arg;
        if (strcmp(arg, "--db") == 0 || strncmp(arg, "--db=", 5) == 0)
            slot = &a->db;
        else if (want_scopes && (strcmp(arg, "--scopes") == 0 || strncmp(arg, "--scopes=", 9) == 0))
            slot = &a->scopes;
        else if (want_scopes && (strcmp(arg, "--name") == 0 || strncmp(arg, "--name=", 7) == 0))
            slot = &a->name;
        if (slot) {
            /* A flag where the value belongs means the value is missing (as for serve). */
            const char *eq = strchr(arg, '=');
            if (eq) {
                *slot = eq + 1;
            } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                *slot = argv[++i];
            } else {
                fprintf(stderr, "herald %s: %s: missing value\n", cmd, flag);
                return 2;
            }
            continue;
        }
        if (strncmp(arg, "-", 1) == 0) {
            fprintf(stderr, "herald %s: %s: unknown flag (see herald help %s)\n", cmd, arg,
                    strncmp(cmd, "token", 5) == 0 ? "token" : "secret");
            return 2;
        }
        if (a->positional) {
            fprintf(stderr, "herald %s: unexpected argument '%s'\n", cmd, arg);
            return 2;
        }
        a->positional = arg;
    }
    return cli_db_check(cmd, &a->db);
}

static int open_store(const char *path, struct store **out)
{
    log_set_level(LOG_WARN);
    if (store_open(path, out)) {
        fprintf(stderr, "herald: cannot open the database '%s'\n", path);
        return 1;
    }
    return 0;
}

static void format_time(int64_t s, char out[32])
{
    if (!s) {
        snprintf(out, 32, "-");
        return;
    }
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int token_create(struct admin_args *a)
{
    if (!a->scopes || !*a->scopes) {
        fprintf(stderr, "herald token create: --scopes: required (e.g. --scopes "
                        "ZohoCRM.notifications.ALL,ZohoCRM.modules.ALL, or all)\n");
        return 2;
    }
    const char *scopes = strcasecmp(a->scopes, "all") == 0 ? api_all_scopes : a->scopes;
    char *copy = xstrdup(scopes);
    size_t count = 0;
    for (char *save = NULL, *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        while (*s == ' ')
            s++;
        size_t len = strlen(s);
        while (len && s[len - 1] == ' ')
            s[--len] = '\0';
        if (!*s)
            continue; /* "a,,b" or a trailing comma */
        if (!api_scope_known(s)) {
            fprintf(stderr, "herald token create: --scopes: unknown scope '%s'\n", s);
            free(copy);
            return 2;
        }
        count++;
    }
    free(copy);
    /* A list of commas and blanks names no scope: the token would be refused everything. */
    if (!count) {
        fprintf(stderr,
                "herald token create: --scopes: no scope in '%s' (e.g. --scopes "
                "ZohoCRM.notifications.ALL,ZohoCRM.modules.ALL, or all)\n",
                a->scopes);
        return 2;
    }
    struct store *store;
    if (open_store(a->db, &store))
        return 1;
    char *token = sign_random_token("1000.");
    char hash[65];
    sign_sha256_hex(token, strlen(token), hash);
    int64_t id = 0;
    enum herald_err err = store_token_create(store, store_default_org(store),
                                             a->name ? a->name : "", scopes, hash, &id);
    if (err) {
        store_free(store);
        fprintf(stderr, "herald token create: %s\n", herald_err_message(err));
        free(token);
        return 1;
    }
    /* The token is shown once, here: when it cannot be written (a full disk, a closed pipe in
     * `TOKEN=$(herald token create ...)`), nobody will ever hold it, so it is revoked rather
     * than left live, and the command fails. It exited 0 with nothing shown. */
    printf("%s\n", token);
    free(token);
    int rc = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int write_errno = errno;
        err = store_token_revoke(store, store_default_org(store), id);
        fprintf(stderr,
                "herald token create: cannot write the token to stdout (%s); token %lld %s\n",
                strerror(write_errno), (long long)id,
                err ? "is live: revoke it with herald token revoke" : "revoked");
        rc = 1;
    }
    store_free(store);
    return rc;
}

static int token_list(struct admin_args *a)
{
    struct store *store;
    if (open_store(a->db, &store))
        return 1;
    struct store_token *list = NULL;
    size_t n = 0;
    enum herald_err err = store_token_list(store, store_default_org(store), &list, &n);
    store_free(store);
    if (err) {
        fprintf(stderr, "herald token list: %s\n", herald_err_message(err));
        return 1;
    }
    printf("%-6s %-20s %-21s %-21s %s\n", "ID", "NAME", "CREATED", "REVOKED", "SCOPES");
    for (size_t i = 0; i < n; i++) {
        char created[32], revoked[32];
        format_time(list[i].created_at_s, created);
        format_time(list[i].revoked_at_s, revoked);
        printf("%-6lld %-20s %-21s %-21s %s\n", (long long)list[i].id,
               list[i].name[0] ? list[i].name : "-", created, revoked, list[i].scopes);
    }
    store_token_list_free(list, n);
    return 0;
}

static int token_revoke(struct admin_args *a)
{
    char *end = NULL;
    errno = 0;
    long long id = a->positional ? strtoll(a->positional, &end, 10) : 0;
    /* Past LLONG_MAX strtoll() saturates: the ID is not one, not the largest. */
    if (!a->positional || *end || errno == ERANGE || id <= 0) {
        fprintf(stderr, "herald token revoke: expected a token ID (see herald token list)\n");
        return 2;
    }
    struct store *store;
    if (open_store(a->db, &store))
        return 1;
    enum herald_err err = store_token_revoke(store, store_default_org(store), id);
    store_free(store);
    if (err == HERALD_ERR_NOT_FOUND) {
        fprintf(stderr, "herald token revoke: no live token with ID %lld\n", id);
        return 1;
    }
    if (err) {
        fprintf(stderr, "herald token revoke: %s\n", herald_err_message(err));
        return 1;
    }
    printf("revoked %lld\n", id);
    return 0;
}

int cli_token(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(cli_token_usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *sub = argv[0];
    bool is_create = strcmp(sub, "create") == 0;
    if (!is_create && strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0) {
        fprintf(stderr, "herald token: unknown subcommand '%s' (create, list, revoke)\n", sub);
        return 2;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "token %s", sub);
    struct admin_args a;
    int rc = parse_admin(argc - 1, argv + 1, cmd, is_create, &a);
    if (rc)
        return rc;
    if (a.is_help) {
        fputs(cli_token_usage, stdout);
        return 0;
    }
    if (is_create || strcmp(sub, "list") == 0) {
        if (a.positional) {
            fprintf(stderr, "herald %s: unexpected argument '%s'\n", cmd, a.positional);
            return 2;
        }
        return is_create ? token_create(&a) : token_list(&a);
    }
    return token_revoke(&a);
}

/* How long a retired secret keeps signing: the contract's 24 hours. Test hook, not a setting:
 * HERALD_TEST_SECRET_GRACE_S shortens it, so the tests see a retired secret expire. */
static int64_t rotate_grace_s(void)
{
    const int64_t grace_s = 24 * 3600;
    const char *text = getenv("HERALD_TEST_SECRET_GRACE_S");
    if (!text)
        return grace_s;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || v < 0 || v >= grace_s)
        return grace_s;
    log_warn("msg=\"retired secret signs for less than 24 hours, for a test\" grace_s=%lld", v);
    return (int64_t)v;
}

int cli_secret(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(cli_secret_usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *sub = argv[0];
    bool is_rotate = strcmp(sub, "rotate") == 0;
    if (!is_rotate && strcmp(sub, "show") != 0) {
        fprintf(stderr, "herald secret: unknown subcommand '%s' (show, rotate)\n", sub);
        return 2;
    }
    struct admin_args a;
    int rc =
        parse_admin(argc - 1, argv + 1, is_rotate ? "secret rotate" : "secret show", false, &a);
    if (rc)
        return rc;
    if (a.is_help) {
        fputs(cli_secret_usage, stdout);
        return 0;
    }
    if (a.positional) {
        fprintf(stderr, "herald secret %s: unexpected argument '%s'\n", sub, a.positional);
        return 2;
    }
    struct store *store;
    if (open_store(a.db, &store))
        return 1;
    int64_t org_id = store_default_org(store);
    enum herald_err err = HERALD_OK;
    size_t cut = 0;
    if (is_rotate)
        err = store_org_rotate_secret(store, org_id, rotate_grace_s(), &cut);
    struct store_org org = {0};
    if (!err)
        err = store_org_get(store, org_id, &org);
    store_free(store);
    if (err) {
        fprintf(stderr, "herald secret %s: %s\n", sub, herald_err_message(err));
        return 1;
    }
    printf("%s\n", org.secret);
    for (size_t i = 0; i < org.retired_count; i++) {
        char until[32];
        format_time(org.retired[i].until_s, until);
        fprintf(stderr, "previous secret %s is also used for signatures until %s\n",
                org.retired[i].secret, until);
    }
    if (cut)
        fprintf(stderr,
                "herald secret rotate: %zu retired secret%s stopped signing before %s end: at "
                "most the %d newest retired secrets sign\n",
                cut, cut == 1 ? "" : "s", cut == 1 ? "its" : "their", STORE_RETIRED_SECRETS_MAX);
    store_org_fini(&org);
    return 0;
}
