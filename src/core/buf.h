/* A growable byte buffer, always NUL-terminated, for building responses and payloads.
 * Growth aborts on out-of-memory (through xrealloc); callers limit what comes from the network. */
#ifndef HERALD_CORE_BUF_H
#define HERALD_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data; /* owned; NUL-terminated when len > 0 or after buf_init */
    size_t len;
    size_t cap;
};

/* A read-only byte range; the bytes are borrowed. */
struct strview {
    const char *ptr;
    size_t len;
};

void buf_init(struct buf *b);
void buf_fini(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_put_i64(struct buf *b, int64_t v);
/* Writes v in decimal at out (at least 21 bytes), without a NUL; returns the length. */
size_t fmt_i64(char *out, int64_t v);
/* Copies len bytes of s to *at and moves *at past them, as many as fit before `end`: text
 * assembled in a fixed buffer without printf, on hot paths. */
void fmt_put(char **at, const char *end, const char *s, size_t len);
/* Appends `s` (len bytes) as a JSON string literal with quotes, escaped as jansson escapes:
 * `"` and `\\`, \b \f \n \r \t, other bytes below 0x20 as \u00XX (upper-case hex). */
void buf_put_json_str(struct buf *b, const char *s, size_t len);
/* Takes the bytes out of the buffer; the caller frees them with free(). The buffer is reset. */
char *buf_steal(struct buf *b, size_t *len);

#endif
