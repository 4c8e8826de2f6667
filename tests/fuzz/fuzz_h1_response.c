/* The own client's response reader (deliver/h1.c) on any bytes a subscriber may send: the first
 * byte picks the size of the pieces fed, the rest is the answer; the peer then closes. Checks
 * the reader's promises, not just that it does not crash. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "deliver/h1.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t step, n;
    const char *p;
    if (!fuzz_pieces(data, size, &step, &p, &n))
        return 0;
    struct buf body;
    buf_init(&body);
    struct h1_response r;
    h1_response_init(&r, &body, 16, 512);
    size_t at = 0;
    while (at < n && r.state != H1_DONE && r.state != H1_ERROR) {
        size_t take = n - at < step ? n - at : step;
        size_t used = h1_response_feed(&r, p + at, take);
        if (used > take)
            abort();
        at += used;
        if (used < take && r.state != H1_DONE && r.state != H1_ERROR)
            abort(); /* it stops short only at the end of a response */
    }
    h1_response_eof(&r);
    if (r.state != H1_DONE && r.state != H1_ERROR)
        abort();
    if (body.len > 16 || r.body_read > 512)
        abort();
    if (r.state == H1_DONE && (!r.has_headers || r.status < 200 || r.status > 599))
        abort();
    if (r.is_keep_alive && (r.is_cut || r.state != H1_DONE))
        abort();
    if (r.state == H1_ERROR && !r.error)
        abort();
    buf_fini(&body);
    return 0;
}
