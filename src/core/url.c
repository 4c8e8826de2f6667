/* Notify-URL parsing: a deliberately narrow reading of RFC 3986 for http/https only, refusing
 * anything two parsers (ours, the resolver's, curl's) could read differently, because the host
 * found here is the one the SSRF check vets and the address pinned for curl. */
#include "core/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/xmalloc.h"

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* Matches "http://" or "https://" case-insensitively; returns the length consumed or 0. */
static size_t take_scheme(const char *url, struct url_parts *out)
{
    static const char *const schemes[] = {"https", "http"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        size_t j = 0;
        while (j < n && lower(url[j]) == schemes[i][j])
            j++;
        if (j == n && strncmp(url + n, "://", 3) == 0) {
            memcpy(out->scheme, schemes[i], n + 1);
            return n + 3;
        }
    }
    return 0;
}

/* Reads ":port" (already past the colon) spanning [p, end). */
static bool parse_port(const char *p, const char *end, int *port)
{
    if (p == end || end - p > 5)
        return false;
    int v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *port = v;
    return true;
}

enum herald_err url_parse(const char *url, struct url_parts *out)
{
    if (!url || !out || strnlen(url, URL_MAX_LEN + 1) > URL_MAX_LEN)
        return HERALD_ERR_INVALID;
    struct url_parts parts;
    memset(&parts, 0, sizeof parts);
    size_t n = take_scheme(url, &parts);
    if (!n)
        return HERALD_ERR_INVALID;
    const char *auth = url + n;
    const char *end = auth + strcspn(auth, "/?#");
    if (memchr(auth, '@', (size_t)(end - auth)))
        return HERALD_ERR_INVALID;

    const char *host = auth, *host_end, *after;
    if (*auth == '[') {
        const char *close = memchr(auth, ']', (size_t)(end - auth));
        if (!close)
            return HERALD_ERR_INVALID;
        host = auth + 1;
        host_end = close;
        after = close + 1;
        parts.is_ip_literal = true;
    } else {
        host_end = memchr(auth, ':', (size_t)(end - auth));
        if (!host_end)
            host_end = end;
        after = host_end;
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len >= sizeof parts.host)
        return HERALD_ERR_INVALID;
    for (size_t i = 0; i < host_len; i++) {
        char c = host[i];
        if (!(parts.is_ip_literal ? is_hex(c) || c == ':' || c == '.' : host_char_ok(c)))
            return HERALD_ERR_INVALID;
        parts.host[i] = lower(c);
    }
    parts.host[host_len] = '\0';

    if (parts.is_ip_literal) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, parts.host, &a6) != 1)
            return HERALD_ERR_INVALID;
    } else {
        struct in_addr a4;
        if (inet_pton(AF_INET, parts.host, &a4) == 1)
            parts.is_ip_literal = true;
        else if (inet_aton(parts.host, &a4))
            return HERALD_ERR_INVALID; /* "127.1", "0x7f.1", "2130706433" */
        /* An address with the root's dot ("10.0.0.1.", "0x7f.1."): URL parsers (WHATWG, curl)
         * read it as that address, the resolver as a name that never resolves, so the address
         * check passed it as unresolvable. */
        if (host_len > 1 && parts.host[host_len - 1] == '.') {
            parts.host[host_len - 1] = '\0';
            bool is_numeric = inet_aton(parts.host, &a4) != 0;
            parts.host[host_len - 1] = '.';
            if (is_numeric)
                return HERALD_ERR_INVALID;
        }
    }

    parts.port = strcmp(parts.scheme, "https") == 0 ? 443 : 80;
    if (after < end) {
        if (*after != ':' || !parse_port(after + 1, end, &parts.port))
            return HERALD_ERR_INVALID;
    }
    parts.path_and_query = end;
    *out = parts;
    return HERALD_OK;
}

static bool must_encode(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL;
}

char *url_encode_invalid(const char *url)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(url);
    char *out = xmalloc(len * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        bool is_escape = c == '%' && is_hex(url[i + 1]) && is_hex(url[i + 2]);
        if (must_encode(c) || (c == '%' && !is_escape)) {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

int url_hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

char *url_decode(const char *s, size_t n, bool is_form)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = url_hex_digit(s[i + 1])) >= 0 &&
            (lo = url_hex_digit(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (is_form && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}
