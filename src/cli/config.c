/* Option table, INI file reading and layered resolution for `herald serve`. Every option is one
 * row: its flag, its variable, its default. Values are strings until validated once at the end. */
#include "cli/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/timefmt.h"
#include "core/url.h"
#include "core/xmalloc.h"
#include "deliver/prune.h"

enum opt_id {
    OPT_LISTEN,
    OPT_DB,
    OPT_ALLOW,
    OPT_RETRY,
    OPT_TZ,
    OPT_DOMAIN,
    OPT_MAXCH,
    OPT_RETENTION,
    OPT__N
};

static const struct {
    const char *flag;
    const char *env;
    const char *def;
} opts[OPT__N] = {
    [OPT_LISTEN] = {"listen", "HERALD_LISTEN", "127.0.0.1:8080"},
    [OPT_DB] = {"db", "HERALD_DB", "./herald.db"},
    [OPT_ALLOW] = {"allow-network", "HERALD_ALLOW_NETWORK", ""},
    [OPT_RETRY] = {"retry-schedule", "HERALD_RETRY_SCHEDULE", "0s,5s,5m,30m,2h,5h,10h,10h"},
    [OPT_TZ] = {"timezone", "HERALD_TIMEZONE", "UTC"},
    [OPT_DOMAIN] = {"api-domain", "HERALD_API_DOMAIN", NULL},
    [OPT_MAXCH] = {"max-channels", "HERALD_MAX_CHANNELS", "10000"},
    [OPT_RETENTION] = {"retention", "HERALD_RETENTION", PRUNE_RETENTION_DEFAULT},
};

const char config_serve_usage[] =
    "usage: herald serve [options]\n"
    "\n"
    "Serves Zoho CRM's records, metadata and notification (actions/watch) APIs and delivers\n"
    "callbacks. Flags beat environment variables, which beat the --config file.\n"
    "\n"
    "  --listen HOST:PORT       address to serve (HERALD_LISTEN, default 127.0.0.1:8080);\n"
    "                           port 0 picks a free port, logged as 'listening on http://...'\n"
    "  --db PATH                SQLite database, created on first use\n"
    "                           (HERALD_DB, default ./herald.db)\n"
    "  --allow-network CIDR     let notify URLs reach this private/loopback range; repeatable\n"
    "                           (HERALD_ALLOW_NETWORK, comma list; default none)\n"
    "  --retry-schedule LIST    delay before each delivery attempt, units ms s m h\n"
    "                           (HERALD_RETRY_SCHEDULE, default 0s,5s,5m,30m,2h,5h,10h,10h)\n"
    "  --timezone TZ            zone for rendered date-times: UTC, an IANA name or +05:30\n"
    "                           (HERALD_TIMEZONE, default UTC)\n"
    "  --api-domain URL         base of resource_uri (HERALD_API_DOMAIN, default http://LISTEN)\n"
    "  --max-channels N         live channels per organization (HERALD_MAX_CHANNELS, default "
    "10000)\n"
    "  --retention DURATION     keep delivered notifications this long, units s m h d; failed\n"
    "                           ones are kept until resent (HERALD_RETENTION, default 7d)\n"
    "  --config FILE            INI file whose keys are these flags without the leading\n"
    "                           dashes, e.g. 'listen = 127.0.0.1:9000', 'retry-schedule' or\n"
    "                           'retry_schedule = 0s,5s' (HERALD_CONFIG, default none)\n"
    "  -h, --help               this help\n"
    "\n"
    "Fixed limits: a request head of 32 KiB (URL 8 KiB, 100 fields) and a body of 16 MiB;\n"
    "10,000 client connections, closed after 30 s without progress on a request or 120 s idle.\n"
    "Callbacks: 5 s to connect (then the next address) and 15 s in all per attempt, 128 in\n"
    "flight per destination, kept-alive connections reused for 60 s of idleness;\n"
    "after 5 failures in a row a destination rests 5 s (doubling up to 5 min; both cut to\n"
    "the retry schedule's first and longest delay): callbacks due meanwhile count as failed\n"
    "attempts without being sent, and once it answers again its backlog goes at once;\n"
    "64 MiB of callback bodies held in memory, the rest waiting in the database.\n";

static void set(char **slot, const char *v)
{
    free(*slot);
    *slot = xstrdup(v);
}

/* A repeatable option (--allow-network, as a flag or as lines of the file): each occurrence
 * adds its comma list to what the slot holds. */
static void add_to_list(char **slot, const char *v)
{
    if (!*slot) {
        *slot = xstrdup(v);
        return;
    }
    size_t len = strlen(*slot) + strlen(v) + 2;
    char *list = xmalloc(len);
    snprintf(list, len, "%s,%s", *slot, v);
    free(*slot);
    *slot = list;
}

static int find_opt(const char *name, size_t len)
{
    for (int i = 0; i < OPT__N; i++) {
        if (strlen(opts[i].flag) == len && memcmp(opts[i].flag, name, len) == 0)
            return i;
    }
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Reads the INI file at path into vals, marking in from_file (if not NULL) the options it sets.
 * Errors start with label: "--config", or "--config (HERALD_CONFIG)" when the variable named the
 * file. */
static int load_ini(const char *path, const char *label, char **vals, bool *from_file, char *err,
                    size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "%s: cannot read '%s': %s", label, path, strerror(errno));
        return 2;
    }
    char line[4096];
    int lineno = 0;
    bool has_allow = false;
    /* fopen() opens a directory for reading; only the first read fails (EISDIR). A read error
     * must not pass for an empty file, which would serve with the defaults. */
    for (;;) {
        line[sizeof line - 1] = '!'; /* fgets writes a NUL here only when the line filled it */
        if (!fgets(line, sizeof line, f) && !ferror(f))
            break;
        if (ferror(f)) {
            snprintf(err, err_len, "%s: cannot read '%s': %s", label, path, strerror(errno));
            fclose(f);
            return 2;
        }
        lineno++;
        /* Editors on Windows start a UTF-8 file with a byte order mark; it was read as part of
         * the first key ("unknown key 'listen'", the mark invisible). */
        char *s = line;
        if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3;
        /* A longer line would be read as two, its tail taken for a line of its own: the end of
         * a long comment could set a key. */
        if (line[sizeof line - 1] == '\0' && line[sizeof line - 2] != '\n') {
            snprintf(err, err_len, "%s: %s:%d: line longer than %zu bytes", label, path, lineno,
                     sizeof line - 2);
            fclose(f);
            return 2;
        }
        s = trim(s);
        if (!*s || *s == '#' || *s == ';')
            continue;
        /* Sections are allowed and ignored (every key is serve's); a header left open ("[serve")
         * is a typo, not a section. */
        if (*s == '[') {
            if (s[strlen(s) - 1] == ']')
                continue;
            snprintf(err, err_len, "%s: %s:%d: expected '[section]'", label, path, lineno);
            fclose(f);
            return 2;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, err_len, "%s: %s:%d: expected 'key = value'", label, path, lineno);
            fclose(f);
            return 2;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        /* retry_schedule as well as retry-schedule: INI files often spell keys so. */
        for (char *k = key; *k; k++)
            if (*k == '_')
                *k = '-';
        int o = find_opt(key, strlen(key));
        if (o < 0) {
            snprintf(err, err_len, "%s: %s:%d: unknown key '%s'", label, path, lineno, key);
            fclose(f);
            return 2;
        }
        if (o == OPT_ALLOW && has_allow)
            add_to_list(&vals[o], value); /* repeatable, as the flag is */
        else
            set(&vals[o], value);
        has_allow = has_allow || o == OPT_ALLOW;
        if (from_file)
            from_file[o] = true;
    }
    fclose(f);
    return 0;
}

bool config_parse_listen(const char *s, char **host_out, int *port_out)
{
    const char *colon;
    const char *host = s;
    size_t host_len;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        host = s + 1;
        host_len = (size_t)(close - s - 1);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        host_len = (size_t)(colon - s);
    }
    if (host_len == 0 || !colon[1])
        return false;
    /* Digits only: strtol() also takes leading blanks and a sign ("127.0.0.1:+80"). */
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 0 || port > 65535)
        return false;
    *host_out = xstrndup(host, host_len);
    *port_out = (int)port;
    return true;
}

/* What a bad value's message starts with: the flag, and where the value came from when it was
 * not the flag ("--timezone (HERALD_TIMEZONE)", "--listen (in /etc/herald.ini)"), so a value set
 * in a unit file's environment or in the INI file is found where it was written. */
#define LABEL_MAX 640

static int validate(char **vals, char (*label)[LABEL_MAX], struct config *cfg, char *err,
                    size_t err_len)
{
    if (!config_parse_listen(vals[OPT_LISTEN], &cfg->listen_host, &cfg->listen_port)) {
        snprintf(err, err_len, "%s: invalid address '%s' (expected HOST:PORT)", label[OPT_LISTEN],
                 vals[OPT_LISTEN]);
        return 2;
    }
    if (!vals[OPT_DB][0]) {
        snprintf(err, err_len, "%s: the path is empty", label[OPT_DB]);
        return 2;
    }
    cfg->db_path = xstrdup(vals[OPT_DB]);
    cfg->allow_text = xstrdup(vals[OPT_ALLOW]);
    char *list = xstrdup(vals[OPT_ALLOW]);
    for (char *save = NULL, *item = strtok_r(list, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *cidr = trim(item);
        if (!*cidr)
            continue;
        if (ssrf_allowlist_add(&cfg->allow, cidr)) {
            snprintf(err, err_len, "%s: invalid CIDR '%s' (expected e.g. 127.0.0.0/8)",
                     label[OPT_ALLOW], cidr);
            free(list);
            return 2;
        }
    }
    free(list);
    if (retry_schedule_parse(vals[OPT_RETRY], &cfg->retry)) {
        snprintf(err, err_len,
                 "%s: invalid schedule '%s' (expected e.g. 0s,5s,5m with units ms s m h)",
                 label[OPT_RETRY], vals[OPT_RETRY]);
        return 2;
    }
    cfg->retry_text = xstrdup(vals[OPT_RETRY]);
    if (time_zone_set(vals[OPT_TZ])) {
        snprintf(err, err_len, "%s: unknown time zone '%s'", label[OPT_TZ], vals[OPT_TZ]);
        return 2;
    }
    cfg->timezone = xstrdup(vals[OPT_TZ]);
    if (vals[OPT_DOMAIN]) {
        const char *d = vals[OPT_DOMAIN];
        size_t n = strlen(d);
        while (n && d[n - 1] == '/')
            n--;
        /* A host must follow the scheme: "http://a" names one, "https://" alone does not, and
         * a port must be one (url_parse: 1..65535). The scheme's case does not matter (RFC
         * 3986); resource_uri shows it in lowercase. */
        size_t scheme_len = strncasecmp(d, "https://", 8) == 0  ? 8
                            : strncasecmp(d, "http://", 7) == 0 ? 7
                                                                : 0;
        struct url_parts parts;
        if (!scheme_len || n <= scheme_len || strchr(d, ' ') || strchr(d, '?') ||
            url_parse(d, &parts) != HERALD_OK) {
            snprintf(err, err_len, "%s: invalid URL '%s' (expected e.g. https://www.zohoapis.com)",
                     label[OPT_DOMAIN], d);
            return 2;
        }
        cfg->api_domain = xstrndup(d, n);
        for (size_t i = 0; i < scheme_len; i++)
            cfg->api_domain[i] = (char)tolower((unsigned char)cfg->api_domain[i]);
    }
    char *end;
    errno = 0;
    long n = strtol(vals[OPT_MAXCH], &end, 10);
    if (errno || *end || !vals[OPT_MAXCH][0] || n < 1 || n > 100000000) {
        snprintf(err, err_len, "%s: invalid number '%s' (expected 1..100000000)", label[OPT_MAXCH],
                 vals[OPT_MAXCH]);
        return 2;
    }
    cfg->max_channels = n;
    if (prune_retention_parse(vals[OPT_RETENTION], &cfg->retention_ms)) {
        snprintf(err, err_len, "%s: invalid duration '%s' (expected e.g. 7d, 36h, 90m, 30s)",
                 label[OPT_RETENTION], vals[OPT_RETENTION]);
        return 2;
    }
    cfg->retention_text = xstrdup(vals[OPT_RETENTION]);
    return 0;
}

int config_resolve(int argc, char **argv, config_getenv_fn *getenv_fn, struct config *cfg,
                   char *err, size_t err_len)
{
    memset(cfg, 0, sizeof *cfg);
    char *vals[OPT__N] = {0};
    char *flag_vals[OPT__N] = {0};
    int rc = 0;
    for (int i = 0; i < OPT__N; i++) {
        if (opts[i].def)
            vals[i] = xstrdup(opts[i].def);
    }
    /* Flags first, remembered aside, so --config is known before the file is read. */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cfg->is_help = true;
            goto out;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, err_len, "unexpected argument '%s' (see herald serve --help)", a);
            rc = 2;
            goto out;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        /* The flag is known before its value is looked for: "--nope" last, or before another
         * flag, is an unknown flag, not a missing value. */
        bool is_config = name_len == 6 && memcmp(name, "config", 6) == 0;
        int o = is_config ? -1 : find_opt(name, name_len);
        if (!is_config && o < 0) {
            snprintf(err, err_len, "--%.*s: unknown flag (see herald serve --help)", (int)name_len,
                     name);
            rc = 2;
            goto out;
        }
        const char *value;
        /* A flag where the value should be means the value is missing ("--db --listen X"):
         * taking it as the value would blame the argument after it, or name a file "--listen".
         * A value that starts with "--" can still be given as --flag=VALUE. */
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            value = argv[++i];
        } else {
            snprintf(err, err_len, "--%.*s: missing value", (int)name_len, name);
            rc = 2;
            goto out;
        }
        if (is_config) {
            set(&cfg->config_path, value);
            continue;
        }
        if (o == OPT_ALLOW)
            add_to_list(&flag_vals[o], value); /* repeatable */
        else
            set(&flag_vals[o], value);
    }
    bool config_from_flag = cfg->config_path != NULL;
    if (!cfg->config_path && getenv_fn("HERALD_CONFIG"))
        cfg->config_path = xstrdup(getenv_fn("HERALD_CONFIG"));
    char label[OPT__N][LABEL_MAX];
    for (int i = 0; i < OPT__N; i++)
        snprintf(label[i], sizeof label[i], "--%s", opts[i].flag);
    if (cfg->config_path) {
        bool from_file[OPT__N] = {0};
        rc = load_ini(cfg->config_path, config_from_flag ? "--config" : "--config (HERALD_CONFIG)",
                      vals, from_file, err, err_len);
        if (rc)
            goto out;
        for (int i = 0; i < OPT__N; i++) {
            if (from_file[i])
                snprintf(label[i], sizeof label[i], "--%s (in %.500s)", opts[i].flag,
                         cfg->config_path);
        }
    }
    for (int i = 0; i < OPT__N; i++) {
        const char *e = getenv_fn(opts[i].env);
        if (e) {
            set(&vals[i], e);
            snprintf(label[i], sizeof label[i], "--%s (%s)", opts[i].flag, opts[i].env);
        }
    }
    for (int i = 0; i < OPT__N; i++) {
        if (flag_vals[i]) {
            set(&vals[i], flag_vals[i]);
            snprintf(label[i], sizeof label[i], "--%s", opts[i].flag);
        }
    }
    rc = validate(vals, label, cfg, err, err_len);
out:
    for (int i = 0; i < OPT__N; i++) {
        free(vals[i]);
        free(flag_vals[i]);
    }
    if (rc)
        config_fini(cfg);
    return rc;
}

const char *config_getenv(const char *name)
{
    return getenv(name);
}

const char *config_cli_value(const char *key, config_getenv_fn *getenv_fn, const char **source,
                             char *err, size_t err_len)
{
    static char values[OPT__N][4096];
    int o = find_opt(key, strlen(key));
    if (o < 0) {
        snprintf(err, err_len, "--%s: unknown option", key);
        return NULL;
    }
    /* Read as serve reads them: a variable set to "" is set (an empty path, a file that cannot
     * be read), and a config file serve would refuse is refused here too, rather than a token
     * going into ./herald.db while the server uses another database. */
    const char *env = getenv_fn(opts[o].env);
    if (source)
        *source = opts[o].env;
    if (env)
        return env;
    const char *ini = getenv_fn("HERALD_CONFIG");
    const char *value = opts[o].def;
    if (source)
        *source = "default";
    if (ini) {
        char *vals[OPT__N] = {0};
        bool is_ok = load_ini(ini, "HERALD_CONFIG", vals, NULL, err, err_len) == 0;
        if (is_ok && vals[o]) {
            snprintf(values[o], sizeof values[o], "%s", vals[o]);
            value = values[o];
            if (source)
                *source = "HERALD_CONFIG";
        }
        for (size_t i = 0; i < OPT__N; i++)
            free(vals[i]);
        if (!is_ok)
            return NULL;
    }
    if (!value)
        snprintf(err, err_len, "--%s: no default", key);
    return value;
}

const char *config_db_default(config_getenv_fn *getenv_fn, char *err, size_t err_len)
{
    return config_cli_value("db", getenv_fn, NULL, err, err_len);
}

/* Whether a file may be opened as a database: empty (SQLite makes a new database of it) or
 * starting with SQLite's header. Any other file SQLite refuses with "file is not a database"
 * only once opened, which serve logged as two lines naming no flag. A file that cannot be read
 * here passes: opening it reports why. */
static bool is_sqlite_file(const char *path, const struct stat *st)
{
    static const char magic[16] = "SQLite format 3";
    if (st->st_size == 0 || !S_ISREG(st->st_mode))
        return true;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    char head[sizeof magic];
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    return n == (ssize_t)sizeof head && memcmp(head, magic, sizeof magic) == 0;
}

bool config_db_path_usable(const char *path, char *err, size_t err_len)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, err_len, "--db: '%s' is a directory (expected a file's path)", path);
            return false;
        }
        if (is_sqlite_file(path, &st))
            return true;
        snprintf(err, err_len, "--db: '%s' is not a SQLite database", path);
        return false;
    }
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, strlen(dir) + 1, ".");
    else if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    bool is_ok = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!is_ok)
        snprintf(err, err_len, "--db: cannot create '%s': '%s' is not a directory", path, dir);
    free(dir);
    return is_ok;
}

void config_fini(struct config *cfg)
{
    free(cfg->listen_host);
    free(cfg->db_path);
    ssrf_allowlist_fini(&cfg->allow);
    free(cfg->allow_text);
    retry_schedule_fini(&cfg->retry);
    free(cfg->retry_text);
    free(cfg->timezone);
    free(cfg->api_domain);
    free(cfg->config_path);
    free(cfg->retention_text);
    bool is_help = cfg->is_help;
    memset(cfg, 0, sizeof *cfg);
    cfg->is_help = is_help;
}
