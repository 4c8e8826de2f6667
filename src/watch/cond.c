/* Condition trees: parsed once (at subscribe time or when the index loads a stored channel),
 * evaluated many times. A tree is a flat array of nodes in preorder; each node records the size
 * of its subtree, so evaluation walks the array without pointers or allocation. */
/* JSON paths are built into fixed buffers; nesting is capped (WATCH_COND_MAX_NODES), so they fit,
 * and were one ever cut, only the reported json_path would be shorter. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include "watch/cond.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"
#include "core/zjson.h"
#include "watch/watch_int.h"

enum node_kind { NODE_LEAF, NODE_AND, NODE_OR };

struct cond_node {
    const struct meta_field *field; /* leaves only */
    uint8_t kind;
    uint8_t count; /* entries of a group */
    uint8_t size;  /* nodes in this subtree, itself included */
};

struct watch_cond {
    const struct meta_module *module;
    uint8_t leaves;
    uint8_t nodes;
    struct cond_node node[]; /* nodes entries */
};

struct parser {
    const struct meta_module *module;
    struct cond_node node[WATCH_COND_MAX_NODES];
    size_t nodes;
    size_t leaves;
    const char *selection_path; /* "...field_selection", for the 10-field limit */
};

static const char *const operators[] = {"or", "and", NULL};

static bool is_given(const json_t *v)
{
    return v && !json_is_null(v);
}

static json_t *parse_group(struct parser *p, const json_t *obj, const char *path);

/* One entry of a `group` array: a field leaf or a nested group. */
static json_t *parse_entry(struct parser *p, const json_t *entry, const char *path)
{
    if (!json_is_object(entry))
        return werr_type("group", "jsonobject", path);
    const json_t *field = json_object_get(entry, "field");
    char sub[WATCH_PATH_MAX];
    if (!is_given(field)) {
        if (is_given(json_object_get(entry, "group")) ||
            is_given(json_object_get(entry, "group_operator")))
            return parse_group(p, entry, path);
        snprintf(sub, sizeof sub, "%s.field", path);
        return werr_mandatory("field", sub);
    }
    snprintf(sub, sizeof sub, "%s.field", path);
    if (is_given(json_object_get(entry, "group")) ||
        is_given(json_object_get(entry, "group_operator"))) {
        /* An entry is either a field or a group, never both. */
        char gpath[WATCH_PATH_MAX];
        snprintf(gpath, sizeof gpath, "%s.group", path);
        return werr_invalid("group", gpath);
    }
    if (!json_is_object(field))
        return werr_type("field", "jsonobject", sub);
    if (p->leaves == WATCH_COND_MAX_LEAVES)
        return werr_max("field_selection", p->selection_path, WATCH_COND_MAX_LEAVES);
    if (p->nodes == WATCH_COND_MAX_NODES)
        return werr_max("field_selection", p->selection_path, WATCH_COND_MAX_LEAVES);
    const struct meta_field *f = NULL;
    char ipath[WATCH_PATH_MAX + 16];
    switch (watch_ref_field(p->module, field, &f)) {
    case WREF_OK:
        /* A field Zoho's callbacks ignore (Product_Details, Participants) is never among an
         * update's changed fields, so a condition on it could never hold: refused as a field
         * that cannot be watched, rather than accepted and silently never met. */
        if (!meta_field_is_notified(f))
            return werr_invalid("field", sub);
        break;
    case WREF_NONE:
        return werr_expected_name_or_id(sub);
    case WREF_BAD_TYPE_NAME:
        snprintf(ipath, sizeof ipath, "%s.api_name", sub);
        return werr_type("api_name", "string", ipath);
    case WREF_BAD_TYPE_ID:
        snprintf(ipath, sizeof ipath, "%s.id", sub);
        return werr_type("id", "long", ipath);
    case WREF_UNKNOWN:
        return werr_invalid("field", sub);
    case WREF_CONFLICT:
        return werr_ambiguous_name_id(sub);
    }
    p->node[p->nodes++] = (struct cond_node){.field = f, .kind = NODE_LEAF, .size = 1};
    p->leaves++;
    return NULL;
}

/* {"group_operator":"and"|"or","group":[entries]} at `path`. */
static json_t *parse_group(struct parser *p, const json_t *obj, const char *path)
{
    char sub[WATCH_PATH_MAX];
    const json_t *op = json_object_get(obj, "group_operator");
    const json_t *group = json_object_get(obj, "group");
    snprintf(sub, sizeof sub, "%s.group_operator", path);
    if (!is_given(op))
        return werr_mandatory("group_operator", sub);
    if (!json_is_string(op))
        return werr_type("group_operator", "string", sub);
    enum node_kind kind;
    if (strcasecmp(json_string_value(op), "and") == 0)
        kind = NODE_AND;
    else if (strcasecmp(json_string_value(op), "or") == 0)
        kind = NODE_OR;
    else
        return werr_supported("group_operator", sub, operators);
    snprintf(sub, sizeof sub, "%s.group", path);
    if (!is_given(group))
        return werr_mandatory("group", sub);
    if (!json_is_array(group))
        return werr_type("group", "jsonarray", sub);
    size_t n = json_array_size(group);
    if (n == 0)
        return werr_invalid("group", sub);
    if (n > WATCH_COND_MAX_GROUP)
        return werr_max("group", sub, WATCH_COND_MAX_GROUP);
    if (p->nodes == WATCH_COND_MAX_NODES)
        return werr_max("field_selection", p->selection_path, WATCH_COND_MAX_LEAVES);
    size_t self = p->nodes++;
    for (size_t i = 0; i < n; i++) {
        char epath[WATCH_PATH_MAX];
        int len = snprintf(epath, sizeof epath, "%s[%zu]", sub, i);
        if (len < 0 || (size_t)len >= sizeof epath - 40)
            return werr_max("field_selection", p->selection_path, WATCH_COND_MAX_LEAVES);
        json_t *err = parse_entry(p, json_array_get(group, i), epath);
        if (err)
            return err;
    }
    p->node[self] = (struct cond_node){
        .kind = (uint8_t)kind, .count = (uint8_t)n, .size = (uint8_t)(p->nodes - self)};
    return NULL;
}

static json_t *parse_module(const json_t *module, const char *path, const struct meta_module **out)
{
    char sub[WATCH_PATH_MAX + 16];
    if (!json_is_object(module))
        return werr_type("module", "jsonobject", path);
    switch (watch_ref_module(module, out)) {
    case WREF_OK:
        return NULL;
    case WREF_NONE:
        return werr_expected_name_or_id(path);
    case WREF_BAD_TYPE_NAME:
        snprintf(sub, sizeof sub, "%s.api_name", path);
        return werr_type("api_name", "string", sub);
    case WREF_BAD_TYPE_ID:
        snprintf(sub, sizeof sub, "%s.id", path);
        return werr_type("id", "long", sub);
    case WREF_UNKNOWN:
        /* Zoho's documented body for this case carries this message (sic). */
        return zjson_error("INVALID_DATA", "required field not found", zjson_field("module", path));
    case WREF_CONFLICT:
        return werr_ambiguous_name_id(path);
    }
    return werr_invalid("module", path);
}

json_t *watch_cond_parse(const json_t *elem, const char *path, struct watch_cond **out)
{
    *out = NULL;
    if (!json_is_object(elem))
        return werr_type("notification_condition", "jsonobject", path);
    const json_t *type = json_object_get(elem, "type");
    const json_t *module = json_object_get(elem, "module");
    const json_t *selection = json_object_get(elem, "field_selection");
    char type_path[WATCH_PATH_MAX], module_path[WATCH_PATH_MAX], sel_path[WATCH_PATH_MAX];
    snprintf(type_path, sizeof type_path, "%s.type", path);
    snprintf(module_path, sizeof module_path, "%s.module", path);
    snprintf(sel_path, sizeof sel_path, "%s.field_selection", path);
    if (is_given(selection) && !is_given(type)) {
        json_t *d =
            json_pack("{s:s, s:s, s:{s:s, s:s}}", "api_name", "field_selection", "json_path",
                      sel_path, "dependee", "api_name", "type", "json_path", type_path);
        return zjson_error("DEPENDENT_FIELD_MISSING", "DEPENDENT_FIELD_MISSING", d);
    }
    if (!is_given(type))
        return werr_mandatory("type", type_path);
    if (!is_given(module))
        return werr_mandatory("module", module_path);
    if (!is_given(selection))
        return werr_mandatory("field_selection", sel_path);
    if (!json_is_string(type))
        return werr_type("type", "string", type_path);
    if (strcmp(json_string_value(type), "field_selection") != 0) {
        static const char *const types[] = {"field_selection", NULL};
        return werr_supported("type", type_path, types);
    }
    struct parser p = {.selection_path = sel_path};
    json_t *err = parse_module(module, module_path, &p.module);
    if (err)
        return err;
    if (!json_is_object(selection))
        return werr_type("field_selection", "jsonobject", sel_path);
    /* One watched field may stand alone, without a group: {"field":{...}}. AMP's connector,
     * which runs against Zoho, sends a single field so; GET echoes it as a leaf. */
    bool is_leaf = is_given(json_object_get(selection, "field")) &&
                   !is_given(json_object_get(selection, "group")) &&
                   !is_given(json_object_get(selection, "group_operator"));
    err = is_leaf ? parse_entry(&p, selection, sel_path) : parse_group(&p, selection, sel_path);
    if (err)
        return err;
    struct watch_cond *c = xmalloc(sizeof *c + p.nodes * sizeof c->node[0]);
    c->module = p.module;
    c->leaves = (uint8_t)p.leaves;
    c->nodes = (uint8_t)p.nodes;
    memcpy(c->node, p.node, p.nodes * sizeof c->node[0]);
    *out = c;
    return NULL;
}

const struct meta_module *watch_cond_module(const struct watch_cond *c)
{
    return c->module;
}

size_t watch_cond_leaf_count(const struct watch_cond *c)
{
    return c->leaves;
}

static bool eval_at(const struct watch_cond *c, size_t i, const struct meta_field *const *changed,
                    size_t count)
{
    const struct cond_node *n = &c->node[i];
    if (n->kind == NODE_LEAF) {
        for (size_t k = 0; k < count; k++) {
            if (changed[k] == n->field)
                return true;
        }
        return false;
    }
    bool is_and = n->kind == NODE_AND;
    size_t child = i + 1;
    for (uint8_t k = 0; k < n->count; k++) {
        bool v = eval_at(c, child, changed, count);
        if (is_and && !v)
            return false;
        if (!is_and && v)
            return true;
        child += c->node[child].size;
    }
    return is_and;
}

bool watch_cond_eval(const struct watch_cond *c, const struct meta_field *const *changed,
                     size_t count)
{
    return eval_at(c, 0, changed, count);
}

static json_t *ref_json(const char *api_name, const char *id)
{
    return json_pack("{s:s, s:s}", "api_name", api_name, "id", id);
}

static json_t *render_at(const struct watch_cond *c, size_t i)
{
    const struct cond_node *n = &c->node[i];
    if (n->kind == NODE_LEAF)
        return json_pack("{s:o, s:n, s:n}", "field", ref_json(n->field->api_name, n->field->id),
                         "group_operator", "group");
    json_t *group = json_array();
    size_t child = i + 1;
    for (uint8_t k = 0; k < n->count; k++) {
        json_array_append_new(group, render_at(c, child));
        child += c->node[child].size;
    }
    return json_pack("{s:s, s:o}", "group_operator", n->kind == NODE_AND ? "and" : "or", "group",
                     group);
}

json_t *watch_cond_render(const struct watch_cond *c)
{
    return json_pack("{s:o, s:o, s:s}", "field_selection", render_at(c, 0), "module",
                     ref_json(c->module->api_name, c->module->id), "type", "field_selection");
}

void watch_cond_free(struct watch_cond *c)
{
    free(c);
}
