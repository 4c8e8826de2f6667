/* The callback payload's `query_params` object, built from the notify URL exactly as Zoho's
 * documented sample does (reference §5.3): the first key keeps its leading '?', nothing is
 * percent-decoded. It renders JSON text only; it does not validate the URL. */
#ifndef HERALD_WATCH_QPARAMS_H
#define HERALD_WATCH_QPARAMS_H

#include "core/buf.h"

/* Appends the query_params JSON object for notify_url to out. Takes the substring from the first
 * '?' (inclusive) to the end, splits it on '&', and splits each piece at its first '='; a piece
 * without '=' has the value "". Empty pieces are skipped, and so is a lone leading "?" (so
 * "...cb?" and "...cb?&a=1" do not produce a "?" key). Values are not percent-decoded and a '#'
 * is ordinary data. A repeated key keeps its first position and takes its last value. Keys are
 * in URL order; keys and values are JSON-escaped. No '?' (or a NULL url) gives {}. notify_url
 * is borrowed. The work is quadratic in the number of pieces, which url_parse bounds by its
 * 2048-byte limit. */
void qparams_render(const char *notify_url, struct buf *out);

#endif
