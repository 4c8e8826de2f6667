/* Allocation wrappers that abort with a message instead of returning NULL. */
#include "core/xmalloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size)
{
    fprintf(stderr, "herald: out of memory allocating %zu bytes\n", size);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        oom(size);
    return q;
}

char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* mimalloc's, when it is in the process; NULL under glibc's malloc (the sanitized tests). */
extern void mi_collect(bool force) __attribute__((weak));

void xmalloc_collect(int64_t now_ms)
{
    static _Thread_local int64_t last_ms = INT64_MIN;
    if (!mi_collect || (last_ms != INT64_MIN && now_ms - last_ms < 1000))
        return;
    last_ms = now_ms;
    mi_collect(true);
}
