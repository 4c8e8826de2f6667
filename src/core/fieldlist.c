#include "core/fieldlist.h"

#include <string.h>
#include <strings.h>

bool field_list_has(const char *v, const char *tok, bool is_last)
{
    size_t n = strlen(tok);
    bool found = false;
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *end = v;
        while (*end && *end != ',')
            end++;
        const char *e = end;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        bool is_it = (size_t)(e - v) == n && strncasecmp(v, tok, n) == 0;
        if (!is_last && is_it)
            return true;
        if (e > v)
            found = is_it;
        v = end;
    }
    return is_last && found;
}
