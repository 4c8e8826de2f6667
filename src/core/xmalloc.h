/* Small internal allocations that abort on out-of-memory, so callers need no NULL checks.
 * Sizes that come from the network are limited before they reach these. */
#ifndef HERALD_CORE_XMALLOC_H
#define HERALD_CORE_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* Copies of `s`; caller frees with free(). xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);

#endif
