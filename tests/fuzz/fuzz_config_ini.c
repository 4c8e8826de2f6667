/* The --config INI file of herald serve, read through config_resolve as the server reads it (no
 * environment). The first byte picks: 0, the file as given; 1, the file with every line turned
 * into a comment, which must resolve to exactly the defaults whatever the lines held (or be
 * refused as too long). An error is one non-empty line within the buffer given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/config.h"
#include "fuzz.h"

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    bool is_commented = data[0] % 2 == 1;
    int fd = memfd_create("herald.ini", 0);
    if (fd < 0)
        abort();
    char *text = malloc(2 * size);
    size_t n = 0;
    if (is_commented)
        text[n++] = '#';
    for (size_t i = 1; i < size; i++) {
        text[n++] = (char)data[i];
        if (is_commented && data[i] == '\n')
            text[n++] = '#';
    }
    if (write(fd, text, n) != (ssize_t)n)
        abort();
    free(text);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char flag[] = "--config";
    char *argv[] = {flag, path};
    struct config cfg;
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = config_resolve(2, argv, no_env, &cfg, err, sizeof err);
    close(fd);
    if (rc == 0) {
        if (is_commented &&
            (strcmp(cfg.db_path, "./herald.db") != 0 || cfg.listen_port != 8080 ||
             strcmp(cfg.listen_host, "127.0.0.1") != 0 || cfg.allow.len != 0 ||
             strcmp(cfg.timezone, "UTC") != 0 || cfg.api_domain || cfg.max_channels != 10000))
            abort();
        config_fini(&cfg);
    } else {
        if (rc != 2 || !memchr(err, '\0', sizeof err) || !err[0] || strchr(err, '\n'))
            abort();
        if (is_commented && !strstr(err, "line longer than"))
            abort(); /* a comment is refused only for its length */
    }
    return 0;
}
