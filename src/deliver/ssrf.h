/* Which addresses a notify URL may reach: classification of IPv4 and IPv6 addresses (every
 * IPv4-in-IPv6 form is judged by its IPv4 address), the --allow-network ranges, and the
 * resolve-then-check step whose vetted address is pinned for the connection so DNS cannot
 * change it afterwards. Only SSRF_PUBLIC is reachable without an allowing range. */
#ifndef HERALD_DELIVER_SSRF_H
#define HERALD_DELIVER_SSRF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/error.h"

enum ssrf_class {
    SSRF_PUBLIC,
    SSRF_LOOPBACK,      /* 127/8, ::1 */
    SSRF_PRIVATE,       /* RFC 1918, fc00::/7, fec0::/10, 64:ff9b:1::/48 */
    SSRF_LINK_LOCAL,    /* 169.254/16, fe80::/10 */
    SSRF_CGNAT,         /* 100.64/10 */
    SSRF_MULTICAST,     /* 224/4, ff00::/8 */
    SSRF_UNSPECIFIED,   /* 0.0.0.0, :: */
    SSRF_BROADCAST,     /* 255.255.255.255 */
    SSRF_DOCUMENTATION, /* 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20 */
    SSRF_RESERVED,      /* 0/8, 240/4, 192.0.0/24, 192.88.99/24, 198.18/15 benchmarking, 100::/64
                           discard, 2001:2::/48, ORCHID, IPv6 outside 2000::/3, unknown family */
};

/* Name of the class for messages ("loopback", "link-local", "carrier-grade NAT"); static
 * storage, never NULL. */
const char *ssrf_class_name(enum ssrf_class c);

/* Classifies a socket address (AF_INET or AF_INET6; only the address is read, `sa` is
 * borrowed). IPv4-mapped ::ffff:a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d, IPv4-compatible
 * ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16 and Teredo 2001::/32 (client address) are
 * classified by their embedded IPv4 address. NULL or another family is SSRF_RESERVED. */
enum ssrf_class ssrf_classify(const struct sockaddr *sa);

struct ssrf_cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes; host bits cleared */
    int prefix_len;   /* 0..32 or 0..128 */
};

struct ssrf_allowlist {
    struct ssrf_cidr *items; /* owned; freed by ssrf_allowlist_fini */
    size_t len;
};

/* Parses "127.0.0.0/8", "10.0.0.0/8", "::1/128", or a bare address (= /32 or /128). Host bits
 * are tolerated and cleared. Returns HERALD_OK, or HERALD_ERR_INVALID for anything else
 * (NULL, surrounding spaces, a bad address, a prefix that is empty, not decimal or too long).
 * `s` is borrowed. */
enum herald_err ssrf_cidr_parse(const char *s, struct ssrf_cidr *out);

/* Parses `cidr` and appends a copy to the list (a zeroed list is an empty one). Returns
 * HERALD_OK or HERALD_ERR_INVALID (list unchanged). Aborts on out-of-memory. */
enum herald_err ssrf_allowlist_add(struct ssrf_allowlist *l, const char *cidr);

/* Frees the ranges and leaves an empty list. */
void ssrf_allowlist_fini(struct ssrf_allowlist *l);

/* True when the address may be contacted: SSRF_PUBLIC, or inside an allowed range. An IPv4 range
 * also matches the IPv4-mapped form (::ffff:a.b.c.d) of its addresses and an ::ffff:0:0/96
 * range matches plain IPv4; no other cross-family matching (127.0.0.0/8 does not cover ::1).
 * `l` may be NULL (empty); both are borrowed. */
bool ssrf_addr_allowed(const struct ssrf_allowlist *l, const struct sockaddr *sa);

/* True for the names RFC 6761 reserves for loopback: "localhost" and the names under it
 * ("api.localhost"), with or without the root's trailing dot, in any letter case. NULL is not. */
bool ssrf_is_localhost_name(const char *host);

/* Resolves host (getaddrinfo, AF_UNSPEC, TCP; numeric literals without DNS) and checks every
 * address. A localhost name (ssrf_is_localhost_name) is looked up as "localhost", so
 * "localhost." and "x.localhost" get the addresses "localhost" has (the hosts file's) and never
 * reach a name server. Returns HERALD_OK with the first address (resolver order, port set) copied
 * to *pinned, only if ALL addresses are allowed; HERALD_ERR_DENIED if any is not, with *why the
 * class name of the first refused one; HERALD_ERR_NET when the name does not resolve, with *why
 * the resolver's message; HERALD_ERR_INVALID for a NULL/empty host or a port outside 1..65535.
 * *why is static text (left NULL on success); pinned and why may be NULL. Blocks on DNS. */
enum herald_err ssrf_resolve_check(const struct ssrf_allowlist *l, const char *host, int port,
                                   struct sockaddr_storage *pinned, const char **why);

/* As ssrf_resolve_check, but copies up to max_addrs vetted addresses (resolver order, duplicates
 * removed) to pinned[] and sets *n_addrs, so a caller can pin several (e.g. both 127.0.0.1 and
 * ::1 for "localhost") and let the connection fall back between them. */
enum herald_err ssrf_resolve_check_all(const struct ssrf_allowlist *l, const char *host, int port,
                                       struct sockaddr_storage *pinned, size_t max_addrs,
                                       size_t *n_addrs, const char **why);

#endif
