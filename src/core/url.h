/* Absolute http/https URLs as notify URLs use them: splitting out scheme, host and port for the
 * address check, and percent-encoding the bytes a stored URL may hold that are not valid on the
 * wire; and percent-decoding, for the server's request paths and queries. It does not normalise
 * paths or resolve names. */
#ifndef HERALD_CORE_URL_H
#define HERALD_CORE_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* Longest URL url_parse accepts, in bytes. */
#define URL_MAX_LEN 2048

struct url_parts {
    char scheme[8];             /* "http" | "https", lowercase */
    char host[256];             /* lowercase; without brackets for IPv6 */
    int port;                   /* explicit, or 80/443 */
    bool is_ip_literal;         /* host is a dotted-quad IPv4 or a bracketed IPv6 address */
    const char *path_and_query; /* borrowed from the input: from the first '/', '?', '#' after
                                   the authority, or its end (then "") */
};

/* Splits an absolute http/https URL (scheme case-insensitive, then "://"). Refuses, with
 * HERALD_ERR_INVALID: NULL, more than URL_MAX_LEN bytes, another scheme, an empty host, userinfo
 * ("user@host"), host bytes other than letters, digits, '-', '.', '_', a host over 255 bytes,
 * an unbracketed IPv6 address or a bracketed one inet_pton does not accept (zone ids included),
 * numeric IPv4 forms that are not dotted quads ("127.1", "0x7f.0.0.1", "2130706433": resolvers
 * and curl read them differently), and a port that is empty, not decimal or outside 1..65535.
 * Path and query are not checked: bytes not valid in a URL there are percent-encoded later by
 * url_encode_invalid. Returns HERALD_OK with *out filled; out->path_and_query points into url. */
enum herald_err url_parse(const char *url, struct url_parts *out);

/* Returns a copy of url (caller frees with free()) in which every byte that is not valid in a
 * URL is percent-encoded as %XX (uppercase hex): controls, space, DEL, non-ASCII bytes, and
 * " < > \ ^ ` { | }. A '%' followed by two hex digits is kept; any other '%' becomes %25.
 * Aborts on out-of-memory (xmalloc). url must not be NULL. */
char *url_encode_invalid(const char *url);

/* The value of the hex digit ch (either case), or -1. */
int url_hex_digit(char ch);
/* Decodes the %XX escapes of s[0..n) (and '+' as a space when is_form, as query strings have
 * it) into a new NUL-terminated string (caller frees); a '%' without two hex digits after it
 * stays as it is. An escaped NUL ends the C string early: callers that care look for "%00". */
char *url_decode(const char *s, size_t n, bool is_form);

#endif
