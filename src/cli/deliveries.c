/* `herald deliveries list|show|resend`: the delivery history on the database file, the same
 * data as /herald/v1/deliveries, safe to run while a server uses the database (reads never wait
 * for its writer; a resent notification is due at once and the server's dispatcher claims it). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "cli/config.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/zjson.h"
#include "deliver/prune.h"
#include "meta/meta.h"
#include "store/outbox.h"
#include "store/store.h"

const char cli_deliveries_usage[] =
    "usage: herald deliveries list [--channel ID] [--status pending|delivered|failed]\n"
    "                              [--since T] [--until T] [--limit N] [--before ID] [--json]\n"
    "                              [--timezone TZ]\n"
    "       herald deliveries show ID [--json] [--timezone TZ]\n"
    "       herald deliveries resend ID\n"
    "       herald deliveries resend --channel ID --since T\n"
    "       (every form also takes --db PATH)\n"
    "\n"
    "The delivery history: each notification Herald committed for a channel, its status\n"
    "(pending, delivered, failed) and every attempt to deliver it. Safe to run while a server\n"
    "uses the database; the server picks resent notifications up within about a second.\n"
    "\n"
    "list    newest first, one line each. --since/--until bound the creation time; --limit N\n"
    "        (1..1000, default 50); when more remain, stderr names the --before ID that pages\n"
    "        on. STATUS shows 'sending' for a pending one with an attempt in flight.\n"
    "show    one notification: its fields, the callback payload and every attempt.\n"
    "resend  makes a notification pending and due now with the whole retry schedule again;\n"
    "        its earlier attempts stay in the history and its webhook-id stays the same. With\n"
    "        --channel and --since instead of an ID: every failed notification of the channel\n"
    "        created at or after T. A notification with an attempt in flight is not resent.\n"
    "\n"
    "T is an ISO-8601 date-time with an offset (2026-11-27T10:15:00+05:30, or ...Z), or a\n"
    "duration meaning that long ago (90s, 30m, 2h, 7d). --json prints the JSON of the admin API\n"
    "(GET /herald/v1/deliveries).\n"
    "--timezone TZ (UTC, an IANA name or +05:30): the zone times are shown in; as for serve it\n"
    "defaults to $HERALD_TIMEZONE, else the timezone of the $HERALD_CONFIG file, else UTC.\n"
    "--db PATH defaults to $HERALD_DB, else the db of the $HERALD_CONFIG file, else ./herald.db.\n"
    "Delivered notifications are pruned after `herald serve --retention` (default 7d).\n";

#define LIST_DEFAULT 50
#define LIST_MAX 1000 /* one more is read to know whether more remain */

struct dlv_args {
    const char *cmd; /* "deliveries list", for messages */
    const char *db;
    const char *timezone; /* --timezone, or NULL */
    const char *positional;
    int64_t channel_id;
    bool has_status;
    enum store_ntf_status status;
    bool has_since;
    int64_t since_ms;
    bool has_until;
    int64_t until_ms;
    int64_t before_id;
    long limit;
    bool is_json;
    bool is_help;
};

enum flag_id { F_DB, F_CHANNEL, F_STATUS, F_SINCE, F_UNTIL, F_LIMIT, F_BEFORE, F_JSON, F_TZ, F__N };

static const char *const flag_names[F__N] = {
    [F_DB] = "--db",         [F_CHANNEL] = "--channel", [F_STATUS] = "--status",
    [F_SINCE] = "--since",   [F_UNTIL] = "--until",     [F_LIMIT] = "--limit",
    [F_BEFORE] = "--before", [F_JSON] = "--json",       [F_TZ] = "--timezone",
};

/* Parses T: ISO-8601 with offset, or a duration ago. */
static bool parse_when(const char *v, int64_t *ms_out)
{
    if (!api_delivery_time_parse(v, ms_out))
        return true;
    int64_t ago_ms;
    if (prune_retention_parse(v, &ago_ms))
        return false;
    *ms_out = time_now_ms() - ago_ms;
    return true;
}

static int usage_error(const struct dlv_args *a, const char *flag, const char *what, const char *v)
{
    if (v)
        fprintf(stderr, "herald %s: %s: %s '%s'\n", a->cmd, flag, what, v);
    else
        fprintf(stderr, "herald %s: %s: %s\n", a->cmd, flag, what);
    return 2;
}

/* Applies one flag's value. Returns 0 or 2 (after the message). */
static int take_value(struct dlv_args *a, enum flag_id f, const char *v)
{
    const char *name = flag_names[f];
    switch (f) {
    case F_DB:
        a->db = v;
        if (!*v)
            return usage_error(a, name, "the path is empty", NULL);
        return 0;
    case F_CHANNEL:
        a->channel_id = zjson_long_parse(v, strlen(v));
        return a->channel_id ? 0 : usage_error(a, name, "expected a channel id, got", v);
    case F_STATUS:
        a->has_status = api_delivery_status_parse(v, &a->status);
        return a->has_status
                   ? 0
                   : usage_error(a, name, "expected pending, delivered or failed, got", v);
    case F_SINCE:
        a->has_since = parse_when(v, &a->since_ms);
        return a->has_since
                   ? 0
                   : usage_error(a, name, "expected an ISO-8601 time or a duration, got", v);
    case F_UNTIL:
        a->has_until = parse_when(v, &a->until_ms);
        return a->has_until
                   ? 0
                   : usage_error(a, name, "expected an ISO-8601 time or a duration, got", v);
    case F_LIMIT: {
        char *end = NULL;
        errno = 0;
        a->limit = strtol(v, &end, 10);
        if (errno || !*v || *end || a->limit < 1 || a->limit > LIST_MAX)
            return usage_error(a, name, "expected a number from 1 to 1000, got", v);
        return 0;
    }
    case F_BEFORE:
        a->before_id = api_delivery_id_parse(v);
        return a->before_id ? 0 : usage_error(a, name, "expected a notification id, got", v);
    case F_TZ:
        a->timezone = v;
        return 0;
    case F_JSON:
    case F__N:
        break;
    }
    return 0;
}

/* Parses argv after the subcommand; `allowed` is a bit set of the flags this form takes. */
static int parse_args(int argc, char **argv, unsigned allowed, struct dlv_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->is_help = true;
            return 0;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            if (a->positional) {
                fprintf(stderr, "herald %s: unexpected argument '%s'\n", a->cmd, arg);
                return 2;
            }
            a->positional = arg;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        int f = 0;
        while (f < F__N &&
               (strlen(flag_names[f]) != name_len || strncmp(flag_names[f], arg, name_len) != 0))
            f++;
        if (f == F__N || !(allowed & (1u << f))) {
            fprintf(stderr, "herald %s: %.*s: unknown flag (see herald help deliveries)\n", a->cmd,
                    (int)name_len, arg);
            return 2;
        }
        if (f == F_JSON) {
            if (eq)
                return usage_error(a, flag_names[f], "takes no value", NULL);
            a->is_json = true;
            continue;
        }
        /* A flag where the value belongs means the value is missing (as for serve). */
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            v = argv[++i];
        } else {
            return usage_error(a, flag_names[f], "missing value", NULL);
        }
        int rc = take_value(a, (enum flag_id)f, v);
        if (rc)
            return rc;
    }
    return 0;
}

static int open_store(const char *path, struct store **out)
{
    log_set_level(LOG_WARN);
    if (store_open(path, out)) {
        fprintf(stderr, "herald: cannot open the database '%s'\n", path);
        return 1;
    }
    /* Module names only; without them the module id is shown. */
    if (meta_init())
        fprintf(stderr, "herald: module definitions unavailable\n");
    return 0;
}

static void print_json(json_t *root)
{
    char *text = zjson_dumps_indented(root); /* 0.1 as 0.1, as the API shows it */
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(root);
}

static const char *module_name(const struct store_ntf *n, char buf[24])
{
    const struct meta_module *m = meta_module_by_id_num(n->module_id);
    if (m)
        return m->api_name;
    snprintf(buf, 24, "%lld", (long long)n->module_id);
    return buf;
}

static void format_ms(int64_t ms, char out[TIME_ISO_MAX])
{
    time_format_local(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000), out);
}

/* "200", "500 Internal error", "- connection refused", or "-" when never attempted. */
static void format_outcome(int http_status, const char *error, char *out, size_t len)
{
    if (http_status)
        snprintf(out, len, "%d%s%s", http_status, error ? " " : "", error ? error : "");
    else
        snprintf(out, len, "-%s%s", error ? " " : "", error ? error : "");
}

static int do_list(struct store *store, const struct dlv_args *a)
{
    struct store_ntf_filter f = {
        .org_id = store_default_org(store),
        .channel_id = a->channel_id,
        .has_status = a->has_status,
        .status = a->status,
        .since_ms = a->has_since ? a->since_ms : INT64_MIN,
        .until_ms = a->has_until ? a->until_ms : INT64_MAX,
        .before_id = a->before_id,
        .limit = (size_t)a->limit + 1,
    };
    struct store_ntf *rows = NULL;
    size_t n = 0;
    enum herald_err err = store_outbox_list(store, &f, &rows, &n);
    if (err) {
        fprintf(stderr, "herald %s: %s\n", a->cmd, herald_err_message(err));
        return 1;
    }
    bool has_more = n > (size_t)a->limit;
    size_t shown = has_more ? (size_t)a->limit : n;
    if (a->is_json) {
        json_t *list = json_array();
        for (size_t i = 0; i < shown; i++)
            json_array_append_new(list, api_delivery_json(&rows[i], false));
        print_json(json_pack("{s:o, s:{s:i, s:I, s:b, s:o}}", "deliveries", list, "info",
                             "per_page", (int)a->limit, "count", (json_int_t)shown, "more_records",
                             has_more, "next_before",
                             has_more ? zjson_id(rows[shown - 1].id) : json_null()));
    } else {
        printf("%-19s %-19s %-14s %-9s %-9s %5s  %-25s %s\n", "ID", "CHANNEL", "MODULE", "OP",
               "STATUS", "TRIES", "CREATED", "LAST");
        for (size_t i = 0; i < shown; i++) {
            const struct store_ntf *r = &rows[i];
            char module[24], created[TIME_ISO_MAX], last[160];
            format_ms(r->created_at_ms, created);
            format_outcome(r->last_status, r->last_error, last, sizeof last);
            printf("%-19lld %-19lld %-14s %-9s %-9s %5zu  %-25s %s\n", (long long)r->id,
                   (long long)r->channel_id, module_name(r, module),
                   r->operation ? r->operation : "-",
                   r->is_in_flight ? "sending" : api_delivery_status_name(r->status),
                   r->attempt_count, created, r->attempt_count ? last : "-");
        }
    }
    if (has_more)
        fprintf(stderr, "more: add --before %lld\n", (long long)rows[shown - 1].id);
    store_ntf_list_free(rows, n);
    return 0;
}

static int do_show(struct store *store, const struct dlv_args *a, int64_t id)
{
    struct store_ntf n;
    enum herald_err err = store_outbox_get(store, store_default_org(store), id, &n);
    if (err == HERALD_ERR_NOT_FOUND) {
        fprintf(stderr, "herald %s: no notification with ID %lld\n", a->cmd, (long long)id);
        return 1;
    }
    if (err) {
        fprintf(stderr, "herald %s: %s\n", a->cmd, herald_err_message(err));
        return 1;
    }
    if (a->is_json) {
        print_json(json_pack("{s:[o]}", "deliveries", api_delivery_json(&n, true)));
        store_ntf_fini(&n);
        return 0;
    }
    char module[24], t[TIME_ISO_MAX], outcome[400];
    printf("id          %lld\n", (long long)n.id);
    printf("channel     %lld\n", (long long)n.channel_id);
    printf("module      %s\n", module_name(&n, module));
    printf("operation   %s\n", n.operation ? n.operation : "-");
    printf("status      %s%s\n", api_delivery_status_name(n.status),
           n.is_in_flight ? " (an attempt is in flight)" : "");
    printf("notify_url  %s\n", n.url ? n.url : "-");
    format_ms(n.created_at_ms, t);
    printf("created     %s\n", t);
    format_ms(n.updated_at_ms, t);
    printf("updated     %s\n", t);
    if (n.status == STORE_NTF_PENDING && !n.is_in_flight) {
        format_ms(n.next_at_ms, t);
        printf("next        %s\n", t);
    }
    printf("change      %lld\n", (long long)n.change_id);
    printf("payload     {%s\n", n.body ? n.body : "}");
    printf("attempts    %zu\n", n.attempt_count);
    for (size_t i = 0; i < n.attempt_count; i++) {
        const struct store_ntf_attempt *at = &n.attempts[i];
        format_ms(at->started_at_ms, t);
        format_outcome(at->http_status, at->error, outcome, sizeof outcome);
        printf("  %2zu  %s  %6lldms  %s", i + 1, t, (long long)at->duration_ms, outcome);
        if (at->response && *at->response) {
            /* One line per attempt: the response prefix with its line breaks flattened. */
            fputs("  response: ", stdout);
            for (const char *p = at->response; *p; p++)
                putchar(*p == '\n' || *p == '\r' ? ' ' : *p);
        }
        putchar('\n');
    }
    store_ntf_fini(&n);
    return 0;
}

struct resend_job {
    int64_t org_id;
    int64_t id;
    int64_t channel_id;
    int64_t since_ms;
    int64_t started_ms;
    size_t last;
};

static enum herald_err resend_run(struct store_txn *txn, void *arg)
{
    struct resend_job *j = arg;
    if (j->id) {
        j->last = 1;
        return store_txn_notification_resend(txn, j->org_id, j->id, time_now_ms());
    }
    return store_txn_notifications_resend_failed(txn, j->org_id, j->channel_id, j->since_ms,
                                                 j->started_ms, time_now_ms(),
                                                 API_DELIVERIES_RESEND_BATCH, &j->last);
}

static int do_resend(struct store *store, const struct dlv_args *a, int64_t id)
{
    struct resend_job j = {
        .org_id = store_default_org(store),
        .id = id,
        .channel_id = a->channel_id,
        .since_ms = a->since_ms,
        .started_ms = time_now_ms(),
    };
    size_t total = 0;
    enum herald_err err;
    do {
        err = store_exec(store, resend_run, &j);
        if (!err)
            total += j.last;
    } while (!err && !id && j.last == API_DELIVERIES_RESEND_BATCH);
    if (err == HERALD_ERR_NOT_FOUND) {
        fprintf(stderr, "herald %s: no notification with ID %lld\n", a->cmd, (long long)id);
        return 1;
    }
    if (err == HERALD_ERR_DENIED) {
        fprintf(stderr,
                "herald %s: an attempt to deliver %lld is in flight; resend it after the "
                "attempt ends\n",
                a->cmd, (long long)id);
        return 1;
    }
    if (err) {
        fprintf(stderr, "herald %s: %s (%zu resent before the failure)\n", a->cmd,
                herald_err_message(err), total);
        return 1;
    }
    if (id)
        printf("resent %lld\n", (long long)id);
    else
        printf("resent %zu failed notification%s of channel %lld\n", total, total == 1 ? "" : "s",
               (long long)a->channel_id);
    return 0;
}

/* Times render in the zone serve would use with the same flags, environment and config file:
 * --timezone, else HERALD_TIMEZONE, else the file's `timezone`, else UTC. Returns 0 or 2 (after
 * the message, naming where the bad zone came from). */
static int set_zone(const struct dlv_args *a)
{
    const char *source = "--timezone";
    const char *tz = a->timezone;
    char err[512];
    if (!tz && !(tz = config_cli_value("timezone", config_getenv, &source, err, sizeof err))) {
        fprintf(stderr, "herald %s: %s\n", a->cmd, err);
        return 2;
    }
    if (!time_zone_set(tz))
        return 0;
    if (strcmp(source, "HERALD_CONFIG") == 0)
        fprintf(stderr,
                "herald %s: timezone (in the $HERALD_CONFIG file): unknown time zone '%s'\n",
                a->cmd, tz);
    else
        fprintf(stderr, "herald %s: %s: unknown time zone '%s'\n", a->cmd, source, tz);
    return 2;
}

#define FLAG(f) (1u << (f))

int cli_deliveries(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(cli_deliveries_usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *sub = argv[0];
    unsigned allowed;
    if (strcmp(sub, "list") == 0)
        allowed = FLAG(F_DB) | FLAG(F_CHANNEL) | FLAG(F_STATUS) | FLAG(F_SINCE) | FLAG(F_UNTIL) |
                  FLAG(F_LIMIT) | FLAG(F_BEFORE) | FLAG(F_JSON) | FLAG(F_TZ);
    else if (strcmp(sub, "show") == 0)
        allowed = FLAG(F_DB) | FLAG(F_JSON) | FLAG(F_TZ);
    else if (strcmp(sub, "resend") == 0)
        allowed = FLAG(F_DB) | FLAG(F_CHANNEL) | FLAG(F_SINCE);
    else {
        fprintf(stderr, "herald deliveries: unknown subcommand '%s' (list, show, resend)\n", sub);
        return 2;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "deliveries %s", sub);
    struct dlv_args a = {
        .cmd = cmd,
        .limit = LIST_DEFAULT,
    };
    int rc = parse_args(argc - 1, argv + 1, allowed, &a);
    if (rc)
        return rc;
    if (a.is_help) {
        fputs(cli_deliveries_usage, stdout);
        return 0;
    }
    rc = cli_db_check(cmd, &a.db);
    if (rc)
        return rc;
    int64_t id = 0;
    bool is_list = strcmp(sub, "list") == 0;
    if (is_list && a.positional) {
        fprintf(stderr, "herald %s: unexpected argument '%s'\n", cmd, a.positional);
        return 2;
    }
    if (!is_list && a.positional && !(id = api_delivery_id_parse(a.positional))) {
        fprintf(stderr, "herald %s: expected a notification ID, got '%s'\n", cmd, a.positional);
        return 2;
    }
    if (strcmp(sub, "show") == 0 && !id) {
        fprintf(stderr, "herald %s: expected a notification ID (see herald deliveries list)\n",
                cmd);
        return 2;
    }
    if (strcmp(sub, "resend") == 0) {
        if (id && (a.channel_id || a.has_since)) {
            fprintf(stderr, "herald %s: %s: give either an ID or --channel with --since\n", cmd,
                    a.channel_id ? "--channel" : "--since");
            return 2;
        }
        if (!id && !a.channel_id) {
            fprintf(stderr,
                    "herald %s: --channel: required without an ID (resend ID, or "
                    "resend --channel ID --since T)\n",
                    cmd);
            return 2;
        }
        if (!id && !a.has_since) {
            fprintf(stderr, "herald %s: --since: required with --channel (e.g. --since 24h)\n",
                    cmd);
            return 2;
        }
    }
    rc = set_zone(&a);
    if (rc)
        return rc;
    struct store *store;
    if (open_store(a.db, &store))
        return 1;
    if (is_list)
        rc = do_list(store, &a);
    else if (strcmp(sub, "show") == 0)
        rc = do_show(store, &a, id);
    else
        rc = do_resend(store, &a, id);
    store_free(store);
    meta_fini();
    return rc;
}
