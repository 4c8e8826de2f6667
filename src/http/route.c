/* Route matching and scope checks: pure functions over the route table and the token's scopes. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

static const char *const versions[] = {"v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"};

bool http_version_valid(const char *v)
{
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        if (strcmp(v, versions[i]) == 0)
            return true;
    }
    return false;
}

/* Matches one pattern against the segments; returns -1 for no match, else the number of literal
 * segments (its specificity). */
/* Whether each segment is an API version, worked out at most once per request: every route's
 * pattern starts with "crm/{v}/", so checking it per route cost eight string compares each. */
struct seg_versions {
    signed char known[16]; /* 0: not yet, 1: a version, -1: not */
};

static bool seg_is_version(struct seg_versions *sv, char *const *segs, size_t i)
{
    if (i >= sizeof sv->known)
        return http_version_valid(segs[i]);
    if (!sv->known[i])
        sv->known[i] = http_version_valid(segs[i]) ? 1 : -1;
    return sv->known[i] > 0;
}

static int pattern_match(const char *pattern, char *const *segs, size_t seg_count,
                         struct seg_versions *sv)
{
    /* Most patterns have another number of segments: rejected in one pass over the pattern,
     * before any segment is compared (a create looked at 60 routes, 6,500 instructions). */
    size_t slashes = 0;
    for (const char *s = pattern; *s; s++)
        slashes += *s == '/';
    if (slashes + 1 != seg_count)
        return -1;
    size_t i = 0;
    int literals = 0;
    const char *p = pattern;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i >= seg_count)
            return -1;
        if (len == 1 && p[0] == '*') {
            /* any one segment */
        } else if (len == 3 && memcmp(p, "{v}", 3) == 0) {
            if (!seg_is_version(sv, segs, i))
                return -1;
            literals++;
        } else if (strlen(segs[i]) != len || memcmp(segs[i], p, len) != 0) {
            return -1;
        } else {
            literals++;
        }
        i++;
        p = end ? end + 1 : p + len;
    }
    return i == seg_count ? literals : -1;
}

enum http_match http_route_find(const struct http_route *routes, const char *method,
                                char *const *segs, size_t seg_count, const struct http_route **out)
{
    /* One pass: the most specific pattern, and the first route with that score and method. */
    int best = -1;
    const struct http_route *found = NULL;
    struct seg_versions sv = {{0}};
    for (const struct http_route *r = routes; r->pattern; r++) {
        int score = pattern_match(r->pattern, segs, seg_count, &sv);
        if (score < 0 || score < best)
            continue;
        bool is_method = strcmp(r->method, method) == 0;
        if (score > best) {
            best = score;
            found = is_method ? r : NULL;
        } else if (is_method && !found) {
            found = r;
        }
    }
    if (best < 0)
        return HTTP_MATCH_NO_PATH;
    if (!found)
        return HTTP_MATCH_NO_METHOD;
    *out = found;
    return HTTP_MATCH_OK;
}

/* Compares one accepted scope (with "{M}" standing for module) to a held one, ignoring case. */
static bool scope_equal(const char *acc, size_t acc_len, const char *have, size_t have_len,
                        const char *module)
{
    size_t mlen = module ? strlen(module) : 0;
    size_t i = 0, j = 0;
    while (i < acc_len) {
        if (module && acc_len - i >= 3 && memcmp(acc + i, "{M}", 3) == 0) {
            if (have_len - j < mlen || strncasecmp(have + j, module, mlen) != 0)
                return false;
            i += 3;
            j += mlen;
            continue;
        }
        if (j >= have_len || tolower((unsigned char)acc[i]) != tolower((unsigned char)have[j]))
            return false;
        i++;
        j++;
    }
    return j == have_len;
}

static void trim(const char **s, size_t *len)
{
    while (*len && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

bool http_scope_allows(const char *have, const char *accept, const char *module)
{
    if (!have || !accept)
        return false;
    for (const char *a = accept; *a;) {
        const char *a_end = strchr(a, ',');
        size_t a_len = a_end ? (size_t)(a_end - a) : strlen(a);
        const char *acc = a;
        size_t acc_len = a_len;
        trim(&acc, &acc_len);
        for (const char *h = have; *h && acc_len;) {
            const char *h_end = strchr(h, ',');
            size_t h_len = h_end ? (size_t)(h_end - h) : strlen(h);
            const char *held = h;
            size_t held_len = h_len;
            trim(&held, &held_len);
            if (held_len && scope_equal(acc, acc_len, held, held_len, module))
                return true;
            h = h_end ? h_end + 1 : h + h_len;
        }
        a = a_end ? a_end + 1 : a + a_len;
    }
    return false;
}
