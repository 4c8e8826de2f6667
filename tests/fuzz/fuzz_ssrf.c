/* The address check of notify URLs. The first byte picks: 0, an address as raw bytes (4: IPv4,
 * else the first 16: IPv6), classified directly and in every IPv4-in-IPv6 encoding, against an
 * independent reading of the ranges that must never be public; 1, an --allow-network CIDR as
 * text, parsed and written back; 2, an address as text, through the same resolve-then-check the
 * server runs (numeric, so no DNS), and the localhost name rule. */
#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deliver/ssrf.h"
#include "fuzz.h"

static enum ssrf_class classify4(const uint8_t a[4])
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    memcpy(&in.sin_addr, a, 4);
    return ssrf_classify((const struct sockaddr *)&in);
}

static enum ssrf_class classify6(const uint8_t a[16])
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    memcpy(&in6.sin6_addr, a, 16);
    return ssrf_classify((const struct sockaddr *)&in6);
}

/* IPv4 space that is never public, read from the RFCs rather than from ssrf.c's table. */
static bool v4_never_public(const uint8_t a[4])
{
    return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 169 && a[1] == 254) ||
           (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 100 && (a[1] & 0xc0) == 64) || a[0] >= 224;
}

static void check_raw(const uint8_t *d, size_t n)
{
    uint8_t v4[4] = {0}, v6[16] = {0};
    memcpy(v4, d, n < 4 ? n : 4);
    memcpy(v6, d, n < 16 ? n : 16);
    enum ssrf_class c4 = classify4(v4);
    if (v4_never_public(v4) && c4 == SSRF_PUBLIC)
        abort();
    if (v4[0] == 127 && c4 != SSRF_LOOPBACK)
        abort();
    /* Each embedding of the IPv4 address is judged as that address. */
    uint8_t e[16];
    memset(e, 0, 16);
    e[10] = e[11] = 0xff;
    memcpy(e + 12, v4, 4); /* ::ffff:a.b.c.d */
    if (classify6(e) != c4)
        abort();
    memset(e, 0, 16);
    e[8] = e[9] = 0xff;
    memcpy(e + 12, v4, 4); /* ::ffff:0:a.b.c.d */
    if (classify6(e) != c4)
        abort();
    memset(e, 0, 16);
    e[1] = 0x64, e[2] = 0xff, e[3] = 0x9b;
    memcpy(e + 12, v4, 4); /* 64:ff9b::a.b.c.d */
    if (classify6(e) != c4)
        abort();
    memcpy(e, v6, 16);
    e[0] = 0x20, e[1] = 0x02;
    memcpy(e + 2, v4, 4); /* 2002:a.b.c.d::/48 */
    if (classify6(e) != c4)
        abort();
    memcpy(e, v6, 16);
    e[0] = 0x20, e[1] = 0x01, e[2] = 0, e[3] = 0;
    for (int i = 0; i < 4; i++)
        e[12 + i] = (uint8_t)~v4[i]; /* Teredo client */
    if (classify6(e) != c4)
        abort();

    enum ssrf_class c6 = classify6(v6);
    static const uint8_t loopback6[16] = {[15] = 1};
    if (memcmp(v6, loopback6, 16) == 0 && c6 != SSRF_LOOPBACK)
        abort();
    /* Outside 2000::/3 only the IPv4 embeddings (judged as their IPv4 address above) may be
     * public: ::/96 compatible, ::ffff:0:0/96 mapped, ::ffff:0:0:0/96 translated, 64:ff9b::/96. */
    static const uint8_t zero[12] = {0}, nat64[12] = {0, 0x64, 0xff, 0x9b};
    bool is_embedding = memcmp(v6, zero, 12) == 0 ||
                        (memcmp(v6, zero, 10) == 0 && v6[10] == 0xff && v6[11] == 0xff) ||
                        (memcmp(v6, zero, 8) == 0 && v6[8] == 0xff && v6[9] == 0xff &&
                         v6[10] == 0 && v6[11] == 0) ||
                        memcmp(v6, nat64, 12) == 0;
    bool never6 = (v6[0] & 0xfe) == 0xfc || (v6[0] == 0xfe && (v6[1] & 0x80) == 0x80) ||
                  v6[0] == 0xff || ((v6[0] & 0xe0) != 0x20 && !is_embedding);
    if (never6 && c6 == SSRF_PUBLIC)
        abort();
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    memcpy(&in6.sin6_addr, v6, 16);
    if (ssrf_addr_allowed(NULL, (const struct sockaddr *)&in6) != (c6 == SSRF_PUBLIC))
        abort();
    if (!ssrf_class_name(c6) || !ssrf_class_name(c4))
        abort();
}

static void check_cidr(const char *s)
{
    struct ssrf_cidr c;
    if (ssrf_cidr_parse(s, &c) != HERALD_OK)
        return;
    size_t len = c.family == AF_INET ? 4 : 16;
    if ((c.family != AF_INET && c.family != AF_INET6) || c.prefix_len < 0 ||
        c.prefix_len > (int)len * 8)
        abort();
    for (int bit = c.prefix_len; bit < (int)len * 8; bit++) {
        if (c.addr[bit / 8] >> (7 - bit % 8) & 1)
            abort(); /* host bits are cleared */
    }
    char text[INET6_ADDRSTRLEN + 8];
    if (!inet_ntop(c.family, c.addr, text, INET6_ADDRSTRLEN))
        abort();
    size_t tl = strlen(text);
    text[tl] = '/';
    snprintf(text + tl + 1, 5, "%d", c.prefix_len);
    struct ssrf_cidr back;
    if (ssrf_cidr_parse(text, &back) != HERALD_OK || memcmp(&back, &c, sizeof c) != 0)
        abort();
    /* A range allows its own network address. */
    struct ssrf_allowlist l = {0};
    if (ssrf_allowlist_add(&l, s) != HERALD_OK)
        abort();
    struct sockaddr_storage ss = {0};
    if (c.family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, c.addr, 4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, c.addr, 16);
    }
    if (!ssrf_addr_allowed(&l, (const struct sockaddr *)&ss))
        abort();
    ssrf_allowlist_fini(&l);
}

static void check_text(const char *s)
{
    uint8_t a[16];
    int family = inet_pton(AF_INET, s, a) == 1    ? AF_INET
                 : inet_pton(AF_INET6, s, a) == 1 ? AF_INET6
                                                  : 0;
    if (family) {
        enum ssrf_class c = family == AF_INET ? classify4(a) : classify6(a);
        struct sockaddr_storage pinned;
        const char *why = NULL;
        enum herald_err err = ssrf_resolve_check(NULL, s, 443, &pinned, &why);
        if ((err == HERALD_OK) != (c == SSRF_PUBLIC))
            abort();
        if (err && (!why || strcmp(why, ssrf_class_name(c)) != 0))
            abort();
        if (!err && pinned.ss_family != family)
            abort();
    }
    if (ssrf_is_localhost_name(s)) {
        size_t n = strlen(s);
        if (n && s[n - 1] == '.')
            n--;
        if (n < 9 || strncasecmp(s + n - 9, "localhost", 9) != 0 || (n > 9 && s[n - 10] != '.'))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 512)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        check_raw(data + 1, size - 1);
        break;
    case 1:
        check_cidr(s);
        break;
    case 2:
        check_text(s);
        break;
    }
    free(s);
    return 0;
}
