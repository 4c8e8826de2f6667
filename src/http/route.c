/* Route matching and scope checks: pure functions over the route table and the token's scopes. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"
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

/* The route table compiled once: each pattern split into its segments, and its specificity
 * (literal segments, "{v}" included) known before any request. A create used to compare its path
 * against every pattern's text, about 6,900 instructions of the 50,000 its request thread spends;
 * now only the patterns with as many segments, no less specific than the best so far, are
 * compared, segment by segment. */
enum seg_kind { SEG_LITERAL, SEG_ANY, SEG_VERSION };

struct pattern_seg {
    const char *text; /* into the pattern; not terminated */
    size_t len;
    enum seg_kind kind;
};

struct compiled_route {
    const struct http_route *route;
    size_t seg_count;
    int literals;
    struct pattern_seg segs[HTTP_MAX_SEGS];
};

struct http_routes {
    struct compiled_route *routes;
    size_t count;
};

struct http_routes *http_routes_compile(const struct http_route *table)
{
    struct http_routes *rt = xcalloc(1, sizeof *rt);
    size_t n = 0;
    while (table[n].pattern)
        n++;
    rt->routes = xcalloc(n ? n : 1, sizeof *rt->routes);
    for (size_t i = 0; i < n; i++) {
        struct compiled_route *cr = &rt->routes[rt->count];
        cr->route = &table[i];
        bool is_valid = true;
        for (const char *p = table[i].pattern; is_valid;) {
            const char *end = strchr(p, '/');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (cr->seg_count == HTTP_MAX_SEGS) {
                is_valid = false; /* no request has more segments: it could never match */
                break;
            }
            struct pattern_seg *ps = &cr->segs[cr->seg_count++];
            *ps = (struct pattern_seg){.text = p, .len = len, .kind = SEG_LITERAL};
            if (len == 1 && p[0] == '*')
                ps->kind = SEG_ANY;
            else if (len == 3 && memcmp(p, "{v}", 3) == 0)
                ps->kind = SEG_VERSION;
            cr->literals += ps->kind != SEG_ANY;
            if (!end)
                break;
            p = end + 1;
        }
        if (is_valid)
            rt->count++;
    }
    return rt;
}

void http_routes_free(struct http_routes *rt)
{
    if (!rt)
        return;
    free(rt->routes);
    free(rt);
}

static bool route_match(const struct compiled_route *cr, char *const *segs, const size_t *lens,
                        signed char *is_version)
{
    for (size_t i = 0; i < cr->seg_count; i++) {
        const struct pattern_seg *ps = &cr->segs[i];
        if (ps->kind == SEG_ANY)
            continue;
        if (ps->kind == SEG_VERSION) {
            /* worked out at most once per request: every pattern starts with "crm/{v}/" */
            if (!is_version[i])
                is_version[i] = http_version_valid(segs[i]) ? 1 : -1;
            if (is_version[i] < 0)
                return false;
        } else if (lens[i] != ps->len || memcmp(segs[i], ps->text, ps->len) != 0) {
            return false;
        }
    }
    return true;
}

enum http_match http_routes_find(const struct http_routes *rt, const char *method,
                                 char *const *segs, size_t seg_count, const struct http_route **out)
{
    if (seg_count > HTTP_MAX_SEGS)
        return HTTP_MATCH_NO_PATH;
    size_t lens[HTTP_MAX_SEGS];
    for (size_t i = 0; i < seg_count; i++)
        lens[i] = strlen(segs[i]);
    signed char is_version[HTTP_MAX_SEGS] = {0};
    /* One pass: the most specific pattern, and the first route with that score and method. */
    int best = -1;
    const struct http_route *found = NULL;
    for (size_t k = 0; k < rt->count; k++) {
        const struct compiled_route *cr = &rt->routes[k];
        if (cr->seg_count != seg_count || cr->literals < best ||
            !route_match(cr, segs, lens, is_version))
            continue;
        bool is_method = strcmp(cr->route->method, method) == 0;
        if (cr->literals > best) {
            best = cr->literals;
            found = is_method ? cr->route : NULL;
        } else if (is_method && !found) {
            found = cr->route;
        }
    }
    if (best < 0)
        return HTTP_MATCH_NO_PATH;
    if (!found)
        return HTTP_MATCH_NO_METHOD;
    *out = found;
    return HTTP_MATCH_OK;
}

/* Lower case without underscores, into out (cap bytes); false when it does not fit. */
static bool scope_module_fold(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_')
            continue;
        if (n + 1 >= cap)
            return false;
        out[n++] = (char)tolower((unsigned char)s[i]);
    }
    out[n] = '\0';
    return true;
}

/* Whether a held scope's module part names the request's module. Zoho spells module scopes in
 * lower case without underscores (ZohoCRM.modules.salesorders.READ, .pricebooks., .purchaseorders.;
 * its scopes page lists them so), so case and underscores are ignored, and so is the "__s" of a
 * system module's API name (Appointments__s, Services__s). */
static bool scope_module_equal(const char *held, size_t held_len, const char *module)
{
    size_t mlen = strlen(module);
    if (held_len == mlen && strncasecmp(held, module, mlen) == 0)
        return true;
    char h[128], m[128];
    if (!scope_module_fold(held, held_len, h, sizeof h) ||
        !scope_module_fold(module, mlen, m, sizeof m))
        return false;
    if (strcmp(h, m) == 0)
        return true;
    if (mlen > 3 && memcmp(module + mlen - 3, "__s", 3) == 0 &&
        scope_module_fold(module, mlen - 3, m, sizeof m))
        return strcmp(h, m) == 0;
    return false;
}

/* Compares one accepted scope (with "{M}" standing for module) to a held one, ignoring case. */
static bool scope_equal(const char *acc, size_t acc_len, const char *have, size_t have_len,
                        const char *module)
{
    size_t i = 0, j = 0;
    while (i < acc_len) {
        if (module && acc_len - i >= 3 && memcmp(acc + i, "{M}", 3) == 0) {
            /* The held module part is what is left once the rest of the accepted scope
             * (".READ") is set aside. */
            size_t rest = acc_len - i - 3;
            if (have_len - j < rest + 1 ||
                !scope_module_equal(have + j, have_len - j - rest, module))
                return false;
            i += 3;
            j = have_len - rest;
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
