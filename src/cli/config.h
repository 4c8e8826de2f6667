/* `herald serve` configuration: flags beat environment, environment beats the --config INI file,
 * which beats defaults. Resolution is pure apart from reading the INI file; errors name the flag.
 */
#ifndef HERALD_CLI_CONFIG_H
#define HERALD_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver/retry.h"
#include "deliver/ssrf.h"

struct config {
    char *listen_host;
    int listen_port;
    char *db_path;
    struct ssrf_allowlist allow;
    char *allow_text; /* as given, for the start-up log */
    struct retry_schedule retry;
    char *retry_text;
    char *timezone;
    char *api_domain; /* NULL until known: defaults to http://HOST:PORT after binding */
    long max_channels;
    int64_t retention_ms; /* delivered notifications older than this are pruned */
    char *retention_text;
    char *config_path;
    bool is_help;
};

/* Looks a variable up in the environment (getenv in production, a table in tests). */
typedef const char *config_getenv_fn(const char *name);
/* getenv, as a config_getenv_fn. */
const char *config_getenv(const char *name);

/* Resolves the serve configuration from argv (after "serve"), the environment and the INI file.
 * Returns 0 and fills *cfg (free with config_fini), or 2 with one line in err naming the flag
 * or variable at fault. --help sets cfg->is_help and returns 0. */
int config_resolve(int argc, char **argv, config_getenv_fn *getenv_fn, struct config *cfg,
                   char *err, size_t err_len);
void config_fini(struct config *cfg);
/* The database the other commands (token, secret, deliveries) use without --db: HERALD_DB, else
 * the `db` key of the INI file HERALD_CONFIG names (as serve reads it), else ./herald.db. The
 * string is static, until the next call. NULL, with the reason in err, when the INI file cannot
 * be used (serve would refuse it too). */
const char *config_db_default(config_getenv_fn *getenv_fn, char *err, size_t err_len);
/* The same for any of serve's options, named by its INI key ("db", "timezone"): its variable
 * (HERALD_DB, HERALD_TIMEZONE, ...), else that key of the HERALD_CONFIG file, else serve's
 * default. *source (when not NULL) says which: the variable's name, "HERALD_CONFIG" or
 * "default" (static strings). The value is static storage, one per option, until the next call
 * for that option. NULL, with the reason in err, when the INI file cannot be used, `key` is no
 * option, or it has neither a value nor a default. */
const char *config_cli_value(const char *key, config_getenv_fn *getenv_fn, const char **source,
                             char *err, size_t err_len);
/* Splits "HOST:PORT" or "[V6]:PORT". Returns false when malformed. host_out is a new string. */
bool config_parse_listen(const char *s, char **host_out, int *port_out);

/* Whether the database path can name a file: its directory exists, it is not a directory
 * itself, and a file already there is an SQLite database (or empty). False with one line in err
 * naming --db: a path no command can open is a bad value (status 2), told before anything is
 * opened. */
bool config_db_path_usable(const char *path, char *err, size_t err_len);

/* The serve options, for --help. */
extern const char config_serve_usage[];

#endif
