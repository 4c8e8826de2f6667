/* HTTP field values that are comma-separated lists of tokens (Connection, Transfer-Encoding),
 * read by the server's request reader and the delivery client's response reader alike. */
#ifndef HERALD_CORE_FIELDLIST_H
#define HERALD_CORE_FIELDLIST_H

#include <stdbool.h>

/* True when the comma list `v` holds the token `tok` (case-insensitive, whitespace around
 * elements ignored), or, with is_last, when its last element is `tok`. */
bool field_list_has(const char *v, const char *tok, bool is_last);

#endif
