/* The small text parsers that read network input: notify URLs (parse, encode, query_params),
 * ISO-8601 date-times, Retry-After values and retry schedules. The first byte picks one. Each
 * case checks the parser's documented promises (ranges, round trips), not just that it does not
 * crash. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/timefmt.h"
#include "core/url.h"
#include "deliver/retry.h"
#include "fuzz.h"
#include "watch/qparams.h"

static bool must_encode(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL;
}

static void check_url(const char *s)
{
    struct url_parts parts;
    if (url_parse(s, &parts) == HERALD_OK) {
        size_t host_len = strlen(parts.host);
        if (host_len == 0 || parts.port < 1 || parts.port > 65535)
            abort();
        for (size_t i = 0; i < host_len; i++) {
            if (parts.host[i] >= 'A' && parts.host[i] <= 'Z')
                abort();
        }
        const char *q = parts.path_and_query;
        if (q < s || q > s + strlen(s) || (*q && !strchr("/?#", *q)))
            abort();
        /* The host the address check vets is read the same way by the resolver: a literal is an
         * address, and a name is not one. */
        unsigned char a[16];
        bool is_addr =
            inet_pton(AF_INET, parts.host, a) == 1 || inet_pton(AF_INET6, parts.host, a) == 1;
        if (parts.is_ip_literal != is_addr)
            abort();
        if (!parts.is_ip_literal) {
            struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM};
            struct addrinfo *res = NULL;
            if (getaddrinfo(parts.host, NULL, &hints, &res) == 0)
                abort();
        }
    }
    char *enc = url_encode_invalid(s);
    for (const char *p = enc; *p; p++) {
        if (must_encode((unsigned char)*p))
            abort();
    }
    char *again = url_encode_invalid(enc);
    if (strcmp(enc, again) != 0)
        abort(); /* encoding is idempotent */
    free(again);
    free(enc);
    char *dec = url_decode(s, strlen(s), true);
    if (strlen(dec) > strlen(s))
        abort();
    free(dec);
}

static void check_qparams(const char *s)
{
    struct buf out;
    buf_init(&out);
    qparams_render(s, &out);
    /* A notify URL comes out of a JSON body, so it is UTF-8; the object is then valid JSON. */
    json_t *text = json_string(s);
    if (text) {
        json_t *obj = json_loadb(out.data, out.len, 0, NULL);
        if (!json_is_object(obj) || (!strchr(s, '?') && json_object_size(obj) != 0))
            abort();
        json_decref(obj);
        json_decref(text);
    }
    buf_fini(&out);
}

static void check_time(const char *s)
{
    int64_t t;
    if (!time_parse_iso8601(s, &t)) {
        /* Whatever parses renders, at any offset, as text that parses back to that instant. */
        static const int offsets[] = {0, 19800, -36000, 23 * 3600 + 59 * 60,
                                      -(23 * 3600 + 59 * 60)};
        for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
            char iso[TIME_ISO_MAX];
            time_format_offset(t, offsets[i], iso);
            int64_t back;
            if (time_parse_iso8601(iso, &back) != HERALD_OK || back != t)
                abort();
        }
    }
    time_date_valid(s);
}

static void check_retry_after(const char *s)
{
    int64_t ms = retry_after_parse_ms(s, 1795750000);
    if (ms != -1 && (ms < RETRY_AFTER_MIN_MS || ms > RETRY_AFTER_MAX_MS))
        abort();
}

static void check_schedule(const char *s)
{
    struct retry_schedule sched = {0};
    if (!retry_schedule_parse(s, &sched)) {
        if (sched.len < 1 || sched.len > RETRY_SCHEDULE_MAX)
            abort();
        for (size_t i = 0; i < sched.len; i++) {
            if (sched.delays_ms[i] < 0 || sched.delays_ms[i] > RETRY_DELAY_MAX_MS)
                abort();
        }
        if (retry_delay_ms(&sched, 1, 0.5) < -1 || retry_delay_ms(&sched, sched.len, 0.5) != -1)
            abort();
    }
    retry_schedule_fini(&sched);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0:
        check_url(s);
        break;
    case 1:
        check_qparams(s);
        break;
    case 2:
        check_time(s);
        break;
    case 3:
        check_retry_after(s);
        break;
    case 4:
        check_schedule(s);
        break;
    }
    free(s);
    return 0;
}
