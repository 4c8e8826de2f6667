/* Small internal allocations that abort on out-of-memory, so callers need no NULL checks.
 * Sizes that come from the network are limited before they reach these. */
#ifndef HERALD_CORE_XMALLOC_H
#define HERALD_CORE_XMALLOC_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* Copies of `s`; caller frees with free(). xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);

/* Gives memory this thread's allocator holds free back to the system, at most once a second
 * per thread (`now_ms` any monotonic clock). Does something only under mimalloc, which the
 * release build links: it keeps freed blocks until their thread allocates again, and blocks
 * another thread freed until their owner collects, so a burst of big callback bodies rendered
 * on the writer and freed by the dispatcher stayed resident. Call where a thread goes idle. */
void xmalloc_collect(int64_t now_ms);

#endif
