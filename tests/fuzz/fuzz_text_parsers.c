/* The small text parsers that read network input: notify URLs (parse, encode, query_params),
 * ISO-8601 date-times, Retry-After values and retry schedules. The first byte picks one. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/timefmt.h"
#include "core/url.h"
#include "deliver/retry.h"
#include "fuzz.h"
#include "watch/qparams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0: {
        struct url_parts parts;
        url_parse(s, &parts);
        char *enc = url_encode_invalid(s);
        free(enc);
        break;
    }
    case 1: {
        struct buf out;
        buf_init(&out);
        qparams_render(s, &out);
        buf_fini(&out);
        break;
    }
    case 2: {
        int64_t t;
        if (!time_parse_iso8601(s, &t)) {
            char iso[TIME_ISO_MAX];
            time_format_offset(t, 19800, iso);
        }
        time_date_valid(s);
        break;
    }
    case 3:
        retry_after_parse_ms(s, 1795750000);
        break;
    case 4: {
        struct retry_schedule sched = {0};
        if (!retry_schedule_parse(s, &sched))
            retry_delay_ms(&sched, 1, 0.5);
        retry_schedule_fini(&sched);
        break;
    }
    }
    free(s);
    return 0;
}
