/* One notification_condition element as a client sends it: parsed, rendered in the GET shape,
 * and that rendering parsed again (stored conditions reload so), which must give the same tree;
 * then both are evaluated against a few sets of changed fields chosen by the input. */
#include <jansson.h>
#include <stdlib.h>

#include "fuzz.h"
#include "meta/meta.h"
#include "watch/cond.h"

#define PATH "$.watch[0].notification_condition[0]"

/* The fields of the module whose index bit (i % 8) is set in mask. */
static size_t pick(const struct meta_module *m, uint8_t mask, const struct meta_field **out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->field_count; i++) {
        if (mask >> (i % 8) & 1)
            out[n++] = &m->fields[i];
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    meta_init();
    json_t *elem = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!elem)
        return 0;
    struct watch_cond *c = NULL;
    json_t *err = watch_cond_parse(elem, PATH, &c);
    if (err) {
        if (c || !json_is_object(err))
            abort();
        json_decref(err);
        json_decref(elem);
        return 0;
    }
    size_t leaves = watch_cond_leaf_count(c);
    if (!c || leaves < 1 || leaves > WATCH_COND_MAX_LEAVES)
        abort();
    json_t *shown = watch_cond_render(c);
    struct watch_cond *again = NULL;
    err = watch_cond_parse(shown, PATH, &again);
    if (err || !again || watch_cond_leaf_count(again) != leaves ||
        watch_cond_module(again) != watch_cond_module(c))
        abort();
    json_t *shown_again = watch_cond_render(again);
    if (!json_equal(shown, shown_again))
        abort();

    /* Conditions have no negation: nothing changed never matches, everything changed always
     * does, and the reloaded tree agrees with the original on any set. */
    const struct meta_module *m = watch_cond_module(c);
    const struct meta_field **changed = malloc((m->field_count + 1) * sizeof *changed);
    if (watch_cond_eval(c, changed, 0) || !watch_cond_eval(c, changed, pick(m, 0xff, changed)))
        abort();
    for (size_t i = 0; i < size && i < 8; i++) {
        size_t n = pick(m, data[size - 1 - i], changed);
        if (watch_cond_eval(c, changed, n) != watch_cond_eval(again, changed, n))
            abort();
    }
    free(changed);
    json_decref(shown_again);
    json_decref(shown);
    watch_cond_free(again);
    watch_cond_free(c);
    json_decref(elem);
    return 0;
}
