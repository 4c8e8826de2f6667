/* query_params rendering. Pieces are byte ranges into the URL, never copies; duplicates are
 * merged into the first occurrence's slot so the output keeps first-seen key order. */
#include "watch/qparams.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

struct qparam {
    struct strview key;
    struct strview value;
};

static bool view_equal(struct strview a, struct strview b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

void qparams_render(const char *notify_url, struct buf *out)
{
    const char *query = notify_url ? strchr(notify_url, '?') : NULL;
    if (!query) {
        buf_puts(out, "{}");
        return;
    }
    size_t max_pieces = 1;
    for (const char *p = query; *p; p++)
        max_pieces += *p == '&';
    struct qparam *params = xmalloc(max_pieces * sizeof *params);
    size_t n = 0;

    for (const char *piece = query; piece;) {
        const char *amp = strchr(piece, '&');
        size_t len = amp ? (size_t)(amp - piece) : strlen(piece);
        bool is_lone_question = piece == query && len == 1;
        if (len > 0 && !is_lone_question) {
            const char *eq = memchr(piece, '=', len);
            struct qparam qp = {
                .key = {piece, eq ? (size_t)(eq - piece) : len},
                .value = {eq ? eq + 1 : "", eq ? len - (size_t)(eq - piece) - 1 : 0},
            };
            size_t i = 0;
            while (i < n && !view_equal(params[i].key, qp.key))
                i++;
            if (i < n)
                params[i].value = qp.value;
            else
                params[n++] = qp;
        }
        piece = amp ? amp + 1 : NULL;
    }

    buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(out, ',');
        buf_put_json_str(out, params[i].key.ptr, params[i].key.len);
        buf_putc(out, ':');
        buf_put_json_str(out, params[i].value.ptr, params[i].value.len);
    }
    buf_putc(out, '}');
    free(params);
}
