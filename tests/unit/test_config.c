/* Configuration precedence (flags > environment > INI file > defaults) and validation. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "core/zjson.h"

static const char *const *env_table;

static const char *fake_getenv(const char *name)
{
    for (const char *const *e = env_table; e && *e; e += 2) {
        if (strcmp(e[0], name) == 0)
            return e[1];
    }
    return NULL;
}

static int resolve(const char **argv, int argc, const char *const *env, struct config *cfg,
                   char *err)
{
    env_table = env;
    return config_resolve(argc, (char **)argv, fake_getenv, cfg, err, 256);
}

static void defaults_apply_without_flags(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(resolve(NULL, 0, NULL, &cfg, err), 0);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 8080);
    assert_string_equal(cfg.db_path, "./herald.db");
    assert_int_equal(cfg.max_channels, 10000);
    assert_int_equal(cfg.retry.len, 8);
    assert_int_equal(cfg.allow.len, 0);
    assert_null(cfg.api_domain);
    config_fini(&cfg);
}

static void flags_beat_environment_beats_file(void **state)
{
    (void)state;
    char path[] = "/tmp/herald-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char ini[] = "# comment\n[serve]\nlisten = 127.0.0.1:7000\ndb = /tmp/from-file.db\n"
                       "max-channels = 5\ntimezone = UTC\n";
    assert_int_equal(write(fd, ini, sizeof ini - 1), (ssize_t)(sizeof ini - 1));
    close(fd);
    const char *env[] = {"HERALD_DB", "/tmp/from-env.db",     "HERALD_MAX_CHANNELS",
                         "7",         "HERALD_ALLOW_NETWORK", "10.0.0.0/8, 127.0.0.0/8",
                         NULL};
    const char *argv[] = {"--config", path, "--max-channels=9", "--allow-network", "::1/128"};
    struct config cfg;
    char err[256];
    assert_int_equal(resolve(argv, 5, env, &cfg, err), 0);
    assert_int_equal(cfg.listen_port, 7000);              /* file */
    assert_string_equal(cfg.db_path, "/tmp/from-env.db"); /* env beats file */
    assert_int_equal(cfg.max_channels, 9);                /* flag beats env */
    assert_int_equal(cfg.allow.len, 1);                   /* flags replace the env list */
    config_fini(&cfg);
    unlink(path);
}

/* INI keys may be spelled with underscores (retry_schedule), as many INI files spell them. */
static void ini_keys_take_underscores_for_dashes(void **state)
{
    (void)state;
    char path[] = "/tmp/herald-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char ini[] = "retry_schedule = 0s,1s\nmax_channels = 5\napi_domain = http://h:1\n";
    assert_int_equal(write(fd, ini, sizeof ini - 1), (ssize_t)(sizeof ini - 1));
    close(fd);
    const char *argv[] = {"--config", path};
    struct config cfg;
    char err[256];
    int rc = resolve(argv, 2, NULL, &cfg, err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(cfg.max_channels, 5);
    assert_string_equal(cfg.retry_text, "0s,1s");
    assert_string_equal(cfg.api_domain, "http://h:1");
    config_fini(&cfg);
    unlink(path);
}

/* A file saved by a Windows editor starts with a UTF-8 byte order mark: it was read as part of
 * the first key, refused as "unknown key 'listen'" with the mark invisible. Only the first line
 * may carry one; later it is an ordinary (unknown) byte. */
static void a_byte_order_mark_before_the_first_key_is_skipped(void **state)
{
    (void)state;
    char path[] = "/tmp/herald-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char ini[] = "\xEF\xBB\xBFlisten = 127.0.0.1:9001\r\nmax_channels = 6\r\n";
    assert_int_equal(write(fd, ini, sizeof ini - 1), (ssize_t)(sizeof ini - 1));
    close(fd);
    const char *argv[] = {"--config", path};
    struct config cfg;
    char err[256];
    int rc = resolve(argv, 2, NULL, &cfg, err);
    if (rc)
        fail_msg("%s", err);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 9001);
    assert_int_equal(cfg.max_channels, 6);
    config_fini(&cfg);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    const char late[] = "max_channels = 6\n\xEF\xBB\xBFlisten = 127.0.0.1:9001\n";
    assert_int_equal(write(fd, late, sizeof late - 1), (ssize_t)(sizeof late - 1));
    close(fd);
    assert_int_equal(resolve(argv, 2, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, "unknown key"));
    unlink(path);
}

static void repeated_allow_network_flags_accumulate(void **state)
{
    (void)state;
    const char *argv[] = {"--allow-network", "127.0.0.0/8", "--allow-network", "10.0.0.0/8"};
    struct config cfg;
    char err[256];
    assert_int_equal(resolve(argv, 4, NULL, &cfg, err), 0);
    assert_int_equal(cfg.allow.len, 2);
    config_fini(&cfg);
}

/* allow-network repeated in the file kept only its last line's ranges, while the flag repeated
 * adds them all. */
static void repeated_allow_network_lines_in_the_file_accumulate(void **state)
{
    (void)state;
    char path[] = "/tmp/herald-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char ini[] = "allow-network = 127.0.0.0/8\nallow-network = 10.0.0.0/8, ::1/128\n";
    assert_int_equal(write(fd, ini, sizeof ini - 1), (ssize_t)(sizeof ini - 1));
    close(fd);
    const char *argv[] = {"--config", path};
    struct config cfg;
    char err[256];
    assert_int_equal(resolve(argv, 2, NULL, &cfg, err), 0);
    assert_int_equal(cfg.allow.len, 3);
    config_fini(&cfg);
    unlink(path);
}

static void bad_values_name_their_flag(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    const char *a1[] = {"--listen", "localhost"};
    assert_int_equal(resolve(a1, 2, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, "--listen"));
    const char *a2[] = {"--max-channels", "0"};
    assert_int_equal(resolve(a2, 2, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, "--max-channels"));
    const char *a3[] = {"--nope"};
    assert_int_equal(resolve(a3, 1, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, "--nope"));
    const char *a4[] = {"--db"};
    assert_int_equal(resolve(a4, 1, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, "--db"));
    const char *env[] = {"HERALD_RETRY_SCHEDULE", "soon", NULL};
    assert_int_equal(resolve(NULL, 0, env, &cfg, err), 2);
    assert_non_null(strstr(err, "retry-schedule"));
    const char *a5[] = {"--api-domain", "ftp://x"};
    assert_int_equal(resolve(a5, 2, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, "--api-domain"));
    const char *a6[] = {"--api-domain", "https://"};
    assert_int_equal(resolve(a6, 2, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, "--api-domain"));
    /* A port past 65535, or a host that is not one, is no URL a client can use. */
    static const char *const bad[] = {"http://h:99999", "http://h:", "https://us er.com",
                                      "http://a@b.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *a7[] = {"--api-domain", bad[i]};
        if (resolve(a7, 2, NULL, &cfg, err) != 2)
            fail_msg("--api-domain %s was accepted", bad[i]);
        assert_non_null(strstr(err, "--api-domain"));
    }
    const char *a8[] = {"--api-domain", "https://proxy.example.com:8443/zoho"};
    assert_int_equal(resolve(a8, 2, NULL, &cfg, err), 0);
    assert_string_equal(cfg.api_domain, "https://proxy.example.com:8443/zoho");
    config_fini(&cfg);
}

/* A bad value set in the environment or the INI file named only its flag ("--timezone: unknown
 * time zone 'X'"), which the user had not typed: it now names where it was set too. */
static void bad_values_name_where_they_were_set(void **state)
{
    (void)state;
    char path[] = "/tmp/herald-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char ini[] = "listen = nowhere\nmax-channels = 0\n";
    assert_int_equal(write(fd, ini, sizeof ini - 1), (ssize_t)(sizeof ini - 1));
    close(fd);
    struct config cfg;
    char err[256], want[256];
    const char *const env_tz[] = {"HERALD_TIMEZONE", "Mars/Base", NULL};
    assert_int_equal(resolve(NULL, 0, env_tz, &cfg, err), 2);
    assert_string_equal(err, "--timezone (HERALD_TIMEZONE): unknown time zone 'Mars/Base'");
    const char *argv[] = {"--config", path};
    assert_int_equal(resolve(argv, 2, NULL, &cfg, err), 2);
    snprintf(want, sizeof want, "--listen (in %s): invalid address 'nowhere'", path);
    assert_memory_equal(err, want, strlen(want));
    /* The environment's value is the one that is bad once it beats the file's. */
    const char *const env_listen[] = {"HERALD_LISTEN", "127.0.0.1:0", NULL};
    assert_int_equal(resolve(argv, 2, env_listen, &cfg, err), 2);
    snprintf(want, sizeof want, "--max-channels (in %s): invalid number '0'", path);
    assert_memory_equal(err, want, strlen(want));
    const char *const env_max[] = {"HERALD_LISTEN", "127.0.0.1:0", "HERALD_MAX_CHANNELS", "-1",
                                   NULL};
    assert_int_equal(resolve(argv, 2, env_max, &cfg, err), 2);
    assert_memory_equal(err, "--max-channels (HERALD_MAX_CHANNELS): invalid number '-1'", 57);
    /* A flag's value is named by the flag alone, as before. */
    const char *argv2[] = {"--config", path, "--listen", "127.0.0.1:0", "--max-channels", "x"};
    assert_int_equal(resolve(argv2, 6, env_max, &cfg, err), 2);
    assert_memory_equal(err, "--max-channels: invalid number 'x'", 34);
    unlink(path);
}

/* Found by fuzz_config_ini: a line longer than the 4 KiB buffer was read as two lines, so the
 * tail of a long comment could set a key ("db" here) silently. */
static void an_overlong_line_is_refused_not_split(void **state)
{
    (void)state;
    char path[] = "/tmp/herald-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static char ini[8192];
    memset(ini, 'x', 4095);
    ini[0] = '#';
    strcpy(ini + 4095, "db = /tmp/from-a-comment.db\n");
    assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
    close(fd);
    struct config cfg;
    char err[256];
    const char *argv[] = {"--config", path};
    assert_int_equal(resolve(argv, 2, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, ":1: line longer than 4094 bytes"));
    /* A line that just fits (4094 bytes and its newline) is still one line. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    memset(ini, 'x', 4094);
    ini[0] = '#';
    strcpy(ini + 4094, "\ndb = /tmp/h.db\n");
    assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
    close(fd);
    assert_int_equal(resolve(argv, 2, NULL, &cfg, err), 0);
    assert_string_equal(cfg.db_path, "/tmp/h.db");
    config_fini(&cfg);
    unlink(path);
}

/* A section header left open was skipped as a section; it is a typo in the file. */
static void an_unclosed_section_header_is_refused(void **state)
{
    (void)state;
    char path[] = "/tmp/herald-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char ini[] = "[serve]\nlisten = 127.0.0.1:0\n[other\n";
    assert_int_equal(write(fd, ini, sizeof ini - 1), (ssize_t)(sizeof ini - 1));
    close(fd);
    struct config cfg;
    char err[256];
    const char *argv[] = {"--config", path};
    assert_int_equal(resolve(argv, 2, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, ":3: expected '[section]'"));
    unlink(path);
}

/* "--db --listen X": --db's value is missing; it was taken to be "--listen", and the error then
 * blamed X as an unexpected argument, naming no flag. */
static void a_flag_in_place_of_a_value_is_a_missing_value(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    const char *a1[] = {"--db", "--listen", "127.0.0.1:0"};
    assert_int_equal(resolve(a1, 3, NULL, &cfg, err), 2);
    assert_string_equal(err, "--db: missing value");
    /* Such a value can still be given with '='. */
    const char *a2[] = {"--db=--odd.db"};
    assert_int_equal(resolve(a2, 1, NULL, &cfg, err), 0);
    assert_string_equal(cfg.db_path, "--odd.db");
    config_fini(&cfg);
}

/* "--nope" last, or before another flag, was "--nope: missing value": the flag was looked up only
 * after its value was found. */
static void an_unknown_flag_without_a_value_is_an_unknown_flag(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    const char *a1[] = {"--listen", "127.0.0.1:0", "--nope"};
    assert_int_equal(resolve(a1, 3, NULL, &cfg, err), 2);
    assert_string_equal(err, "--nope: unknown flag (see herald serve --help)");
    const char *a2[] = {"--nope", "--db", "x.db"};
    assert_int_equal(resolve(a2, 3, NULL, &cfg, err), 2);
    assert_string_equal(err, "--nope: unknown flag (see herald serve --help)");
    const char *a3[] = {"--config"};
    assert_int_equal(resolve(a3, 1, NULL, &cfg, err), 2);
    assert_string_equal(err, "--config: missing value");
}

static void listen_accepts_ipv6_and_port_zero(void **state)
{
    (void)state;
    char *host;
    int port;
    assert_true(config_parse_listen("[::1]:0", &host, &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    free(host);
    assert_false(config_parse_listen("127.0.0.1:70000", &host, &port));
    assert_false(config_parse_listen(":80", &host, &port));
}

/* A port is decimal digits: strtol() took "+80" and " 80" as port 80, so serve bound a port the
 * flag did not spell. */
static void a_listen_port_is_digits_only(void **state)
{
    (void)state;
    char *host;
    int port;
    static const char *const bad[] = {"127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:-0", "[::1]:+0",
                                      "127.0.0.1:8080 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (config_parse_listen(bad[i], &host, &port))
            fail_msg("'%s' was taken as %s port %d", bad[i], host, port);
    }
    assert_true(config_parse_listen("127.0.0.1:0080", &host, &port));
    assert_int_equal(port, 80);
    free(host);
    struct config cfg;
    char err[256];
    const char *argv[] = {"--listen", "127.0.0.1:+80"};
    assert_int_equal(resolve(argv, 2, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, "--listen"));
}

/* A --config path that opens but cannot be read (a directory: fopen() succeeds, the first read
 * fails with EISDIR) is refused like a missing file; it read as an empty file, and serve started
 * with the defaults, on ./herald.db. The other commands read HERALD_CONFIG the same way. */
static void a_config_that_cannot_be_read_is_refused(void **state)
{
    (void)state;
    char dir[] = "/tmp/herald-config-dir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct config cfg;
    char err[256];
    const char *argv[] = {"--config", dir};
    assert_int_equal(resolve(argv, 2, NULL, &cfg, err), 2);
    assert_non_null(strstr(err, "--config: cannot read"));
    assert_null(strchr(err, '\n'));
    const char *const env[] = {"HERALD_CONFIG", dir, NULL};
    assert_int_equal(resolve(NULL, 0, env, &cfg, err), 2);
    assert_non_null(strstr(err, "--config (HERALD_CONFIG): cannot read"));
    env_table = env;
    assert_null(config_db_default(fake_getenv, err, sizeof err));
    assert_non_null(strstr(err, "cannot read"));
    rmdir(dir);
}

static void api_domain_loses_trailing_slash(void **state)
{
    (void)state;
    const char *argv[] = {"--api-domain", "https://www.zohoapis.com/"};
    struct config cfg;
    char err[256];
    assert_int_equal(resolve(argv, 2, NULL, &cfg, err), 0);
    assert_string_equal(cfg.api_domain, "https://www.zohoapis.com");
    config_fini(&cfg);
    /* A one-letter host is a host: "http://a" was refused as too short for "https://". */
    const char *short_host[] = {"--api-domain", "http://a/"};
    assert_int_equal(resolve(short_host, 2, NULL, &cfg, err), 0);
    assert_string_equal(cfg.api_domain, "http://a");
    config_fini(&cfg);
    /* The scheme in any case (RFC 3986), shown in lowercase; it was refused. */
    const char *upper[] = {"--api-domain", "HTTPS://CRM.Example.com"};
    assert_int_equal(resolve(upper, 2, NULL, &cfg, err), 0);
    assert_string_equal(cfg.api_domain, "https://CRM.Example.com");
    config_fini(&cfg);
}

static void error_envelope_has_zoho_key_order(void **state)
{
    (void)state;
    json_t *e = zjson_error("INVALID_DATA", "invalid data", zjson_field("token", "$.watch[0]"));
    char *s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(s, "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"token\","
                           "\"json_path\":\"$.watch[0]\"},\"message\":\"invalid data\","
                           "\"status\":\"error\"}");
    free(s);
    json_decref(e);
    e = zjson_error("AUTHENTICATION_FAILURE", "Authentication failed", NULL);
    s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(s, "{\"code\":\"AUTHENTICATION_FAILURE\",\"details\":{},\"message\":"
                           "\"Authentication failed\",\"status\":\"error\"}");
    free(s);
    json_decref(e);
}

static void ids_read_from_strings_or_numbers(void **state)
{
    (void)state;
    json_t *s = json_string("1000000068002");
    json_t *n = json_integer(1000000068002LL);
    json_t *bad = json_string("12a");
    json_t *neg = json_integer(-5);
    assert_int_equal(zjson_id_value(s), 1000000068002LL);
    assert_int_equal(zjson_id_value(n), 1000000068002LL);
    assert_int_equal(zjson_id_value(bad), 0);
    assert_int_equal(zjson_id_value(neg), 0);
    json_decref(s);
    json_decref(n);
    json_decref(bad);
    json_decref(neg);
}

/* The other commands' database: HERALD_DB, else the db key of the HERALD_CONFIG file, else
 * ./herald.db; a file serve would refuse is refused (the token went into ./herald.db while the
 * server used the file's database), and a variable set to "" counts as set, as for serve. */
static void other_commands_take_the_db_from_the_environment_then_the_ini(void **state)
{
    (void)state;
    char ini[] = "/tmp/herald-db-ini-XXXXXX";
    int fd = mkstemp(ini);
    assert_true(fd >= 0);
    const char text[] = "# serve's file\nlisten = 127.0.0.1:9000\ndb = /var/lib/herald/h.db\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    char err[256] = "";
    const char *const none[] = {NULL};
    env_table = none;
    assert_string_equal(config_db_default(fake_getenv, err, sizeof err), "./herald.db");
    const char *const with_ini[] = {"HERALD_CONFIG", ini, NULL};
    env_table = with_ini;
    assert_string_equal(config_db_default(fake_getenv, err, sizeof err), "/var/lib/herald/h.db");
    const char *const both[] = {"HERALD_CONFIG", ini, "HERALD_DB", "/tmp/env.db", NULL};
    env_table = both;
    assert_string_equal(config_db_default(fake_getenv, err, sizeof err), "/tmp/env.db");
    const char *const empty_db[] = {"HERALD_CONFIG", ini, "HERALD_DB", "", NULL};
    env_table = empty_db;
    assert_string_equal(config_db_default(fake_getenv, err, sizeof err), "");

    const char *const missing[] = {"HERALD_CONFIG", "/nonexistent/herald.ini", NULL};
    env_table = missing;
    assert_null(config_db_default(fake_getenv, err, sizeof err));
    assert_non_null(strstr(err, "cannot read '/nonexistent/herald.ini'"));
    const char *const empty_ini[] = {"HERALD_CONFIG", "", NULL};
    env_table = empty_ini;
    assert_null(config_db_default(fake_getenv, err, sizeof err));
    fd = open(ini, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "bogus = 1\n", 10), 10);
    close(fd);
    env_table = with_ini;
    assert_null(config_db_default(fake_getenv, err, sizeof err));
    assert_non_null(strstr(err, ":4: unknown key 'bogus'"));
    unlink(ini);
}

/* `herald deliveries` renders times in serve's zone: HERALD_TIMEZONE, else the `timezone` key
 * of the HERALD_CONFIG file, else UTC; each value says where it came from. */
static void other_commands_take_the_timezone_from_the_environment_then_the_ini(void **state)
{
    (void)state;
    char ini[] = "/tmp/herald-tz-ini-XXXXXX";
    int fd = mkstemp(ini);
    assert_true(fd >= 0);
    const char text[] = "db = /var/lib/herald/h.db\ntimezone = Asia/Kolkata\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    char err[256] = "";
    const char *source = NULL;
    const char *const none[] = {NULL};
    env_table = none;
    assert_string_equal(config_cli_value("timezone", fake_getenv, &source, err, sizeof err), "UTC");
    assert_string_equal(source, "default");
    const char *const with_ini[] = {"HERALD_CONFIG", ini, NULL};
    env_table = with_ini;
    assert_string_equal(config_cli_value("timezone", fake_getenv, &source, err, sizeof err),
                        "Asia/Kolkata");
    assert_string_equal(source, "HERALD_CONFIG");
    /* One value per option: asking for the db keeps the zone's. */
    const char *tz = config_cli_value("timezone", fake_getenv, NULL, err, sizeof err);
    assert_string_equal(config_db_default(fake_getenv, err, sizeof err), "/var/lib/herald/h.db");
    assert_string_equal(tz, "Asia/Kolkata");
    const char *const both[] = {"HERALD_CONFIG", ini, "HERALD_TIMEZONE", "+02:00", NULL};
    env_table = both;
    assert_string_equal(config_cli_value("timezone", fake_getenv, &source, err, sizeof err),
                        "+02:00");
    assert_string_equal(source, "HERALD_TIMEZONE");
    const char *const missing[] = {"HERALD_CONFIG", "/nonexistent/herald.ini", NULL};
    env_table = missing;
    assert_null(config_cli_value("timezone", fake_getenv, &source, err, sizeof err));
    assert_non_null(strstr(err, "cannot read '/nonexistent/herald.ini'"));
    assert_null(config_cli_value("nope", fake_getenv, &source, err, sizeof err));
    unlink(ini);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(other_commands_take_the_db_from_the_environment_then_the_ini),
        cmocka_unit_test(other_commands_take_the_timezone_from_the_environment_then_the_ini),
        cmocka_unit_test(defaults_apply_without_flags),
        cmocka_unit_test(flags_beat_environment_beats_file),
        cmocka_unit_test(ini_keys_take_underscores_for_dashes),
        cmocka_unit_test(a_byte_order_mark_before_the_first_key_is_skipped),
        cmocka_unit_test(repeated_allow_network_flags_accumulate),
        cmocka_unit_test(repeated_allow_network_lines_in_the_file_accumulate),
        cmocka_unit_test(bad_values_name_their_flag),
        cmocka_unit_test(bad_values_name_where_they_were_set),
        cmocka_unit_test(an_unclosed_section_header_is_refused),
        cmocka_unit_test(a_flag_in_place_of_a_value_is_a_missing_value),
        cmocka_unit_test(an_unknown_flag_without_a_value_is_an_unknown_flag),
        cmocka_unit_test(listen_accepts_ipv6_and_port_zero),
        cmocka_unit_test(a_listen_port_is_digits_only),
        cmocka_unit_test(a_config_that_cannot_be_read_is_refused),
        cmocka_unit_test(an_overlong_line_is_refused_not_split),
        cmocka_unit_test(api_domain_loses_trailing_slash),
        cmocka_unit_test(error_envelope_has_zoho_key_order),
        cmocka_unit_test(ids_read_from_strings_or_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
