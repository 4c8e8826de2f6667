/* Address classification works on one 16-byte IPv6 form: IPv4 addresses are compared as
 * ::ffff:a.b.c.d, so an IPv4 range and the mapped form of its addresses are one thing, and every
 * IPv4-in-IPv6 encoding is unwrapped before the IPv4 table decides. Unknown IPv6 space (outside
 * 2000::/3) is reserved rather than public: refusing is the safe mistake. */
#include "deliver/ssrf.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"

const char *ssrf_class_name(enum ssrf_class c)
{
    switch (c) {
    case SSRF_PUBLIC:
        return "public";
    case SSRF_LOOPBACK:
        return "loopback";
    case SSRF_PRIVATE:
        return "private";
    case SSRF_LINK_LOCAL:
        return "link-local";
    case SSRF_CGNAT:
        return "carrier-grade NAT";
    case SSRF_MULTICAST:
        return "multicast";
    case SSRF_UNSPECIFIED:
        return "unspecified";
    case SSRF_BROADCAST:
        return "broadcast";
    case SSRF_DOCUMENTATION:
        return "documentation";
    case SSRF_RESERVED:
        return "reserved";
    }
    return "reserved";
}

struct v4_range {
    uint32_t net;
    int prefix_len;
    enum ssrf_class cls;
};

/* First match wins, so the exact 0.0.0.0 and 255.255.255.255 come before their /8 and /4. */
static const struct v4_range v4_table[] = {
    {0x00000000, 32, SSRF_UNSPECIFIED},   /* 0.0.0.0 */
    {0x00000000, 8, SSRF_RESERVED},       /* 0/8 "this network" */
    {0x7f000000, 8, SSRF_LOOPBACK},       /* 127/8 */
    {0x0a000000, 8, SSRF_PRIVATE},        /* 10/8 */
    {0xac100000, 12, SSRF_PRIVATE},       /* 172.16/12 */
    {0xc0a80000, 16, SSRF_PRIVATE},       /* 192.168/16 */
    {0xa9fe0000, 16, SSRF_LINK_LOCAL},    /* 169.254/16 */
    {0x64400000, 10, SSRF_CGNAT},         /* 100.64/10 */
    {0xc0000000, 24, SSRF_RESERVED},      /* 192.0.0/24 IETF protocol assignments */
    {0xc0000200, 24, SSRF_DOCUMENTATION}, /* 192.0.2/24 TEST-NET-1 */
    {0xc6336400, 24, SSRF_DOCUMENTATION}, /* 198.51.100/24 TEST-NET-2 */
    {0xcb007100, 24, SSRF_DOCUMENTATION}, /* 203.0.113/24 TEST-NET-3 */
    {0xc0586300, 24, SSRF_RESERVED},      /* 192.88.99/24 former 6to4 relay anycast */
    {0xc6120000, 15, SSRF_RESERVED},      /* 198.18/15 benchmarking */
    {0xe0000000, 4, SSRF_MULTICAST},      /* 224/4 */
    {0xffffffff, 32, SSRF_BROADCAST},     /* 255.255.255.255 */
    {0xf0000000, 4, SSRF_RESERVED},       /* 240/4 */
};

static enum ssrf_class classify_v4(const uint8_t b[4])
{
    uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    for (size_t i = 0; i < sizeof v4_table / sizeof v4_table[0]; i++) {
        int shift = 32 - v4_table[i].prefix_len;
        if ((uint64_t)(a ^ v4_table[i].net) >> shift == 0)
            return v4_table[i].cls;
    }
    return SSRF_PUBLIC;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i])
            return false;
    }
    return true;
}

static enum ssrf_class classify_v6(const uint8_t b[16])
{
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    if (all_zero(b, 16))
        return SSRF_UNSPECIFIED;
    if (all_zero(b, 15) && b[15] == 1)
        return SSRF_LOOPBACK;
    if (all_zero(b, 10) && b[10] == 0xff && b[11] == 0xff) /* ::ffff:a.b.c.d mapped */
        return classify_v4(b + 12);
    if (all_zero(b, 12)) /* ::a.b.c.d compatible (:: and ::1 handled above) */
        return classify_v4(b + 12);
    if (all_zero(b, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
        return classify_v4(b + 12);          /* ::ffff:0:a.b.c.d translated (SIIT) */
    if (memcmp(b, nat64, sizeof nat64) == 0) /* 64:ff9b::/96 well-known NAT64 */
        return classify_v4(b + 12);
    if (memcmp(b, nat64, 4) == 0 && b[4] == 0 && b[5] == 1) /* 64:ff9b:1::/48 local NAT64 */
        return SSRF_PRIVATE;
    if (b[0] == 0x20 && b[1] == 0x02) /* 2002::/16 6to4 */
        return classify_v4(b + 2);
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) { /* 2001::/32 Teredo */
        uint8_t client[4] = {(uint8_t)~b[12], (uint8_t)~b[13], (uint8_t)~b[14], (uint8_t)~b[15]};
        return classify_v4(client);
    }
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* 2001:db8::/32 */
        return SSRF_DOCUMENTATION;
    if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0) /* 3fff::/20 */
        return SSRF_DOCUMENTATION;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0x02 && b[4] == 0 && b[5] == 0)
        return SSRF_RESERVED; /* 2001:2::/48 benchmarking */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 &&
        ((b[3] & 0xf0) == 0x10 || (b[3] & 0xf0) == 0x20))
        return SSRF_RESERVED; /* 2001:10::/28 ORCHID, 2001:20::/28 ORCHIDv2 */
    if (b[0] == 0x01 && b[1] == 0 && all_zero(b + 2, 6)) /* 100::/64 discard */
        return SSRF_RESERVED;
    if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return SSRF_PRIVATE;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */
        return SSRF_LINK_LOCAL;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10 deprecated site-local */
        return SSRF_PRIVATE;
    if (b[0] == 0xff) /* ff00::/8 */
        return SSRF_MULTICAST;
    if ((b[0] & 0xe0) != 0x20) /* outside 2000::/3 global unicast */
        return SSRF_RESERVED;
    return SSRF_PUBLIC;
}

/* The address of sa as 16 bytes, IPv4 as ::ffff:a.b.c.d. False for other families. */
static bool addr_v6_form(const struct sockaddr *sa, uint8_t out[16])
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

enum ssrf_class ssrf_classify(const struct sockaddr *sa)
{
    uint8_t b[16];
    if (!addr_v6_form(sa, b))
        return SSRF_RESERVED;
    return classify_v6(b);
}

static void clear_host_bits(uint8_t *addr, size_t len, int prefix_len)
{
    for (size_t i = 0; i < len; i++) {
        int bits = prefix_len - (int)i * 8;
        if (bits >= 8)
            continue;
        addr[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
    }
}

enum herald_err ssrf_cidr_parse(const char *s, struct ssrf_cidr *out)
{
    if (!s || !out)
        return HERALD_ERR_INVALID;
    const char *slash = strchr(s, '/');
    size_t addr_len = slash ? (size_t)(slash - s) : strlen(s);
    char text[INET6_ADDRSTRLEN];
    if (addr_len == 0 || addr_len >= sizeof text)
        return HERALD_ERR_INVALID;
    memcpy(text, s, addr_len);
    text[addr_len] = '\0';

    struct ssrf_cidr c;
    memset(&c, 0, sizeof c);
    if (strchr(text, ':')) {
        if (inet_pton(AF_INET6, text, c.addr) != 1)
            return HERALD_ERR_INVALID;
        c.family = AF_INET6;
        c.prefix_len = 128;
    } else {
        if (inet_pton(AF_INET, text, c.addr) != 1)
            return HERALD_ERR_INVALID;
        c.family = AF_INET;
        c.prefix_len = 32;
    }
    if (slash) {
        const char *p = slash + 1;
        size_t digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 3 || p[digits] != '\0')
            return HERALD_ERR_INVALID;
        int v = 0;
        for (size_t i = 0; i < digits; i++)
            v = v * 10 + (p[i] - '0');
        if (v > c.prefix_len)
            return HERALD_ERR_INVALID;
        c.prefix_len = v;
    }
    clear_host_bits(c.addr, c.family == AF_INET ? 4 : 16, c.prefix_len);
    *out = c;
    return HERALD_OK;
}

enum herald_err ssrf_allowlist_add(struct ssrf_allowlist *l, const char *cidr)
{
    struct ssrf_cidr c;
    if (ssrf_cidr_parse(cidr, &c))
        return HERALD_ERR_INVALID;
    l->items = xrealloc(l->items, (l->len + 1) * sizeof *l->items);
    l->items[l->len++] = c;
    return HERALD_OK;
}

void ssrf_allowlist_fini(struct ssrf_allowlist *l)
{
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

/* True when the first prefix_len bits of a and b agree. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, int prefix_len)
{
    int whole = prefix_len / 8, rest = prefix_len % 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

static bool cidr_contains(const struct ssrf_cidr *c, const uint8_t addr[16])
{
    if (c->family == AF_INET) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return memcmp(addr, mapped, sizeof mapped) == 0 &&
               prefix_equal(addr + 12, c->addr, c->prefix_len);
    }
    return prefix_equal(addr, c->addr, c->prefix_len);
}

bool ssrf_addr_allowed(const struct ssrf_allowlist *l, const struct sockaddr *sa)
{
    uint8_t b[16];
    if (!addr_v6_form(sa, b))
        return false;
    if (classify_v6(b) == SSRF_PUBLIC)
        return true;
    for (size_t i = 0; l && i < l->len; i++) {
        if (cidr_contains(&l->items[i], b))
            return true;
    }
    return false;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    uint8_t x[16], y[16];
    return addr_v6_form((const struct sockaddr *)a, x) && addr_v6_form(b, y) &&
           a->ss_family == b->sa_family && memcmp(x, y, 16) == 0;
}

bool ssrf_is_localhost_name(const char *host)
{
    if (!host)
        return false;
    size_t n = strlen(host);
    if (n && host[n - 1] == '.')
        n--; /* the root's dot: "localhost." is "localhost" */
    static const char name[] = "localhost";
    size_t k = sizeof name - 1;
    if (n < k || strncasecmp(host + n - k, name, k) != 0)
        return false;
    return n == k || host[n - k - 1] == '.';
}

enum herald_err ssrf_resolve_check_all(const struct ssrf_allowlist *l, const char *host, int port,
                                       struct sockaddr_storage *pinned, size_t max_addrs,
                                       size_t *n_addrs, const char **why)
{
    if (why)
        *why = NULL;
    if (n_addrs)
        *n_addrs = 0;
    if (!host || !*host || port < 1 || port > 65535)
        return HERALD_ERR_INVALID;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    /* RFC 6761: "localhost." and every name under .localhost are loopback, whatever a name
     * server would answer; they are looked up as "localhost" (the hosts file), so no query for
     * them leaves the machine and they are allowed or refused exactly as "localhost" is. */
    const char *name = ssrf_is_localhost_name(host) ? "localhost" : host;
    int rc = getaddrinfo(name, service, &hints, &res);
    if (rc != 0 || !res) {
        if (why)
            *why = rc ? gai_strerror(rc) : "no addresses";
        if (res)
            freeaddrinfo(res);
        return HERALD_ERR_NET;
    }

    enum herald_err err = HERALD_OK;
    size_t n = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (!ssrf_addr_allowed(l, ai->ai_addr)) {
            if (why)
                *why = ssrf_class_name(ssrf_classify(ai->ai_addr));
            err = HERALD_ERR_DENIED;
            n = 0;
            break;
        }
        if (!pinned || n >= max_addrs || ai->ai_addrlen > sizeof *pinned)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = same_addr(&pinned[i], ai->ai_addr);
        if (seen)
            continue;
        memset(&pinned[n], 0, sizeof pinned[n]);
        memcpy(&pinned[n], ai->ai_addr, ai->ai_addrlen);
        n++;
    }
    freeaddrinfo(res);
    if (n_addrs)
        *n_addrs = n;
    return err;
}

enum herald_err ssrf_resolve_check(const struct ssrf_allowlist *l, const char *host, int port,
                                   struct sockaddr_storage *pinned, const char **why)
{
    struct sockaddr_storage first;
    size_t n = 0;
    enum herald_err err = ssrf_resolve_check_all(l, host, port, &first, 1, &n, why);
    if (!err && pinned)
        *pinned = first;
    return err;
}
