/* /crm/{v}/{Module}: insert, update, upsert, delete, get one and list, in Zoho's shapes. A
 * mutation is checked in the request thread, then applied by ONE writer job that also publishes
 * its change events in the same transaction; the job's done callback answers the request, so no
 * HTTP thread ever waits for the writer. Reads use the store's reader pool directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/publish.h"
#include "api/records_logic.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/xmalloc.h"
#include "core/zjson.h"
#include "meta/meta.h"
#include "store/records.h"
#include "watch/change.h"

#define MAX_RECORDS 100  /* per insert, update, upsert or delete request */
#define MAX_DUP_FIELDS 8 /* duplicate_check_fields entries */
#define USER_CACHE 16    /* users a job resolves (actor, owners, creators) */
#define MAX_CHANGE_LOOKUPS (2 * RECORDS_MAX_LOOKUPS)

enum rec_op { OP_INSERT, OP_UPDATE, OP_UPSERT, OP_DELETE };

/* One data[] element (or one id of a delete) and what became of it. */
struct row {
    json_t *error; /* per-record error, owned; NULL while the row is fine */
    struct records_input in;
    int64_t id; /* target (update, delete) or new id (insert) */
    bool is_insert;
    const char *duplicate_field; /* upsert's match, static (metadata) */
    int64_t created_by, modified_by, created_at_s, modified_at_s;
    char *created_by_name, *modified_by_name;
    bool has_change;
    bool is_probability_derived; /* Deals: Probability came from Stage, not from the request */
    json_t *change_values;       /* owned */
    struct change_lookup lookups[MAX_CHANGE_LOOKUPS];
    size_t lookup_count;
};

struct rec_job {
    struct http_req *req;
    struct app *app;
    const struct meta_module *module;
    enum rec_op op;
    bool is_by_path; /* DELETE /{Module}/{id}: the record is named by the URL */
    int64_t org_id;
    int64_t user_id;
    int64_t now_s;
    int64_t at_ms;
    char request_id[24];
    const struct meta_field *dup_fields[MAX_DUP_FIELDS];
    size_t dup_count;
    struct row *rows;
    size_t count;
    int64_t user_ids[USER_CACHE];
    struct store_user_ref users[USER_CACHE];
    size_t user_count;
};

static const char invalid_module_msg[] = "the module name given seems to be invalid";

static void respond_internal(struct http_req *req)
{
    http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
}

/* The module named by the path, or NULL after answering INVALID_MODULE. */
static const struct meta_module *module_of(struct http_req *req)
{
    const struct meta_module *m = req->seg_count > 2 ? meta_module_by_name(req->segs[2]) : NULL;
    if (!m || !m->is_api_supported) {
        http_respond_error(req, 400, "INVALID_MODULE", invalid_module_msg,
                           json_pack("{s:i}", "resource_path_index", 0));
        return NULL;
    }
    return m;
}

/* The record id of a /{Module}/{id} path, or 0 after answering INVALID_DATA. */
static int64_t path_id(struct http_req *req)
{
    json_t *v = json_string(req->segs[3]);
    int64_t id = v ? zjson_id_value(v) : 0;
    json_decref(v);
    if (!id)
        http_respond_error(req, 400, "INVALID_DATA", "invalid record id",
                           json_pack("{s:i}", "resource_path_index", 0));
    return id;
}

static void param_missing(struct http_req *req, const char *name)
{
    http_respond_error(req, 400, "REQUIRED_PARAM_MISSING",
                       "One of the expected parameter is missing",
                       json_pack("{s:s}", "param_name", name));
}

static struct rec_job *job_new(struct http_req *req, const struct meta_module *m, enum rec_op op,
                               size_t count)
{
    struct rec_job *job = xcalloc(1, sizeof *job);
    struct app *app = req->app;
    job->req = req;
    job->app = app;
    job->module = m;
    job->op = op;
    job->org_id = req->who.org_id;
    job->user_id = req->who.user_id;
    job->rows = xcalloc(count ? count : 1, sizeof *job->rows);
    job->count = count;
    job->request_id[fmt_i64(job->request_id, store_id_next(app->store))] = '\0';
    return job;
}

static void job_free(struct rec_job *job)
{
    for (size_t i = 0; i < job->count; i++) {
        struct row *r = &job->rows[i];
        json_decref(r->error);
        records_input_fini(&r->in);
        json_decref(r->change_values);
        free(r->created_by_name);
        free(r->modified_by_name);
    }
    for (size_t i = 0; i < job->user_count; i++)
        store_user_ref_fini(&job->users[i]);
    free(job->rows);
    free(job);
}

/* ---- inside the writer job ---- */

/* A user's name and email, read once per job. *out is borrowed from the job until the next call.
 * Returns HERALD_OK,
 * HERALD_ERR_NOT_FOUND or HERALD_ERR_STORE. */
static enum herald_err user_ref(struct store_txn *txn, struct rec_job *job, int64_t id,
                                const struct store_user_ref **out)
{
    for (size_t i = 0; i < job->user_count; i++) {
        if (job->user_ids[i] == id) {
            *out = &job->users[i];
            return HERALD_OK;
        }
    }
    struct store_user_ref u = {0};
    enum herald_err err = store_txn_user_ref(txn, job->org_id, id, &u);
    if (err)
        return err;
    size_t slot = job->user_count;
    if (slot < USER_CACHE) {
        job->user_count++;
    } else {
        slot = USER_CACHE - 1; /* a job naming this many users just reads some twice */
        store_user_ref_fini(&job->users[slot]);
    }
    job->users[slot] = u;
    job->user_ids[slot] = id;
    *out = &job->users[slot];
    return HERALD_OK;
}

static char *user_name_copy(struct store_txn *txn, struct rec_job *job, int64_t id,
                            enum herald_err *err)
{
    const struct store_user_ref *u = NULL;
    *err = user_ref(txn, job, id, &u);
    if (*err == HERALD_ERR_NOT_FOUND) {
        *err = HERALD_OK; /* a deleted user still names nobody */
        return NULL;
    }
    return *err ? NULL : xstrdup(u->name);
}

/* Checks that every lookup of the row exists and replaces its value with {"name","id"} (owners:
 * {"name","id","email"}). A missing target sets row->error. */
static enum herald_err resolve_lookups(struct store_txn *txn, struct rec_job *job, struct row *r,
                                       size_t index)
{
    for (size_t i = 0; i < r->in.lookup_count; i++) {
        const struct records_lookup_ref *ref = &r->in.lookups[i];
        json_t *value = NULL;
        if (ref->field->type == META_OWNERLOOKUP) {
            const struct store_user_ref *u = NULL;
            enum herald_err err = user_ref(txn, job, ref->id, &u);
            if (err && err != HERALD_ERR_NOT_FOUND)
                return err;
            if (!err) {
                value = json_pack("{s:s, s:o}", "name", u->name, "id", zjson_id(ref->id));
                if (strcmp(ref->field->api_name, "Owner") == 0)
                    json_object_set_new(value, "email", json_string(u->email));
            }
        } else {
            char *name = NULL;
            enum herald_err err =
                store_txn_record_name(txn, job->org_id, ref->target->id_num, ref->id, &name);
            if (err)
                return err;
            if (name)
                value = json_pack("{s:s, s:o}", "name", name, "id", zjson_id(ref->id));
            free(name);
        }
        if (!value) {
            r->error = records_invalid_error(ref->field->api_name, index);
            return HERALD_OK;
        }
        json_object_set_new(r->in.values, ref->field->api_name, value);
    }
    return HERALD_OK;
}

/* The id of the record that field f of `data` looks up; 0 when f is no record lookup or holds
 * none. */
static int64_t looked_up_id(const struct meta_field *f, const json_t *data)
{
    if (f->type != META_LOOKUP || !f->lookup)
        return 0;
    const json_t *v = json_object_get(data, f->api_name);
    return json_is_object(v) ? zjson_id_value(json_object_get(v, "id")) : 0;
}

/* Adds the record lookups held in `data` to the row's change lookups, without duplicates. */
static void collect_lookups(const struct meta_module *m, const json_t *data, struct row *r)
{
    for (size_t i = 0; i < m->field_count; i++) {
        const struct meta_field *f = &m->fields[i];
        int64_t id = looked_up_id(f, data);
        if (!id)
            continue;
        const struct meta_module *target = records_lookup_module(f, data);
        bool seen = false;
        for (size_t j = 0; j < r->lookup_count && !seen; j++)
            seen = r->lookups[j].id == id && r->lookups[j].module == target;
        if (!seen && r->lookup_count < MAX_CHANGE_LOOKUPS) {
            r->lookups[r->lookup_count].module = target;
            r->lookups[r->lookup_count].id = id;
            r->lookup_count++;
        }
    }
}

/* Removes from a stored record's `data` the lookups whose target (for What_Id the module its
 * $se_module names) has been deleted since, What_Id with its $se_module: GET
 * shows them as null, so they are null to the change too. Otherwise an update or a delete of the
 * record sent a related action (an `update` callback) for the deleted record, and clearing the
 * lookup listed it in affected_fields although it showed null already. One primary-key read per
 * lookup that holds a value. */
static enum herald_err forget_deleted_lookups(struct store_txn *txn, const struct rec_job *job,
                                              json_t *data)
{
    for (size_t i = 0; i < job->module->field_count; i++) {
        const struct meta_field *f = &job->module->fields[i];
        int64_t id = looked_up_id(f, data);
        if (!id)
            continue;
        char *name = NULL;
        enum herald_err err = store_txn_record_name(
            txn, job->org_id, records_lookup_module(f, data)->id_num, id, &name);
        if (err)
            return err;
        if (!name) {
            json_object_del(data, f->api_name);
            if (f->has_se_module)
                json_object_del(data, RECORDS_SE_MODULE);
        }
        free(name);
    }
    return HERALD_OK;
}

/* The stored form of a record's fields: Owner lives in its own column. */
static char *data_text(json_t *data)
{
    if (!json_is_object(data))
        return xstrdup("{}");
    struct buf b;
    buf_init(&b);
    zjson_dump_except(&b, data, "Owner");
    return buf_steal(&b, NULL);
}

static enum herald_err do_insert(struct store_txn *txn, struct rec_job *job, struct row *r,
                                 size_t index)
{
    enum herald_err err = resolve_lookups(txn, job, r, index);
    if (err || r->error)
        return err;
    r->id = store_id_next(job->app->store);
    char *text = data_text(r->in.values);
    char *name = records_display_name(job->module, r->in.values);
    struct store_record rec = {
        .id = r->id,
        .org_id = job->org_id,
        .module_id = job->module->id_num,
        .owner_id = r->in.owner_id ? r->in.owner_id : job->user_id,
        .created_by = job->user_id,
        .modified_by = job->user_id,
        .created_at_s = job->now_s,
        .modified_at_s = job->now_s,
        .data = text,
        .name = name,
    };
    err = store_txn_record_insert(txn, &rec);
    free(text);
    free(name);
    if (err)
        return err == HERALD_ERR_EXISTS ? HERALD_ERR_STORE : err;
    r->is_insert = true;
    r->created_by = r->modified_by = job->user_id;
    r->created_at_s = r->modified_at_s = job->now_s;
    r->created_by_name = user_name_copy(txn, job, job->user_id, &err);
    r->modified_by_name = r->created_by_name ? xstrdup(r->created_by_name) : NULL;
    r->has_change = true;
    r->change_values = records_notified(job->module, r->in.values);
    collect_lookups(job->module, r->in.values, r);
    return err;
}

/* Applies the row to the existing record `old` (update, or upsert's match). */
static enum herald_err do_update(struct store_txn *txn, struct rec_job *job, struct row *r,
                                 size_t index, const struct store_record *old)
{
    enum herald_err err = resolve_lookups(txn, job, r, index);
    if (err || r->error)
        return err;
    json_t *old_data = json_loads(old->data, 0, NULL);
    if (!json_is_object(old_data)) {
        json_decref(old_data);
        old_data = json_object();
    }
    err = forget_deleted_lookups(txn, job, old_data);
    if (err) {
        json_decref(old_data);
        return err;
    }
    records_rezone(job->module, old_data);
    json_object_set_new(old_data, "Owner", json_pack("{s:o}", "id", zjson_id(old->owner_id)));
    json_t *changed = records_changed(old_data, r->in.values);
    /* The contract: a request that sets Stage without Probability also sets Probability, and
     * both count as changed fields, also when the new stage maps to the old probability
     * (Closed Lost → Closed Lost to Competition). */
    if (r->is_probability_derived && json_object_get(changed, "Stage") &&
        !json_object_get(changed, "Probability"))
        json_object_set(changed, "Probability", json_object_get(r->in.values, "Probability"));
    json_t *now_data = old_data;
    r->id = old->id;
    r->created_by = old->created_by;
    r->created_at_s = old->created_at_s;
    r->modified_by = old->modified_by;
    r->modified_at_s = old->modified_at_s;
    if (json_object_size(changed)) {
        now_data = records_merge(old_data, changed);
        json_t *owner = json_object_get(now_data, "Owner");
        int64_t owner_id = json_is_object(owner) ? zjson_id_value(json_object_get(owner, "id")) : 0;
        char *text = data_text(now_data);
        char *name = records_display_name(job->module, now_data);
        struct store_record rec = {
            .id = old->id,
            .org_id = job->org_id,
            .module_id = job->module->id_num,
            .owner_id = owner_id ? owner_id : old->owner_id,
            .modified_by = job->user_id,
            .modified_at_s = job->now_s,
            .data = text,
            .name = name,
        };
        err = store_txn_record_update(txn, &rec);
        free(text);
        free(name);
        r->modified_by = job->user_id;
        r->modified_at_s = job->now_s;
    }
    if (!err) {
        r->has_change = true;
        r->change_values = records_notified(job->module, changed);
        collect_lookups(job->module, now_data, r);
        collect_lookups(job->module, old_data, r);
        r->created_by_name = user_name_copy(txn, job, r->created_by, &err);
    }
    if (!err)
        r->modified_by_name = user_name_copy(txn, job, r->modified_by, &err);
    if (now_data != old_data)
        json_decref(now_data);
    json_decref(old_data);
    json_decref(changed);
    return err;
}

static enum herald_err run_update(struct store_txn *txn, struct rec_job *job, struct row *r,
                                  size_t index)
{
    struct store_record old = {0};
    enum herald_err err = store_txn_record_get(txn, job->org_id, job->module->id_num, r->id, &old);
    if (err == HERALD_ERR_NOT_FOUND) {
        r->error = records_invalid_error("id", index);
        return HERALD_OK;
    }
    if (!err)
        err = do_update(txn, job, r, index, &old);
    store_record_fini(&old);
    return err;
}

static enum herald_err run_upsert(struct store_txn *txn, struct rec_job *job, struct row *r,
                                  size_t index)
{
    for (size_t i = 0; i < job->dup_count; i++) {
        const struct meta_field *f = job->dup_fields[i];
        json_t *v = json_object_get(r->in.values, f->api_name);
        if (!v || json_is_null(v))
            continue;
        char *value_json = zjson_dumps(v);
        struct store_record old = {0};
        enum herald_err err = store_txn_record_find(txn, job->org_id, job->module->id_num,
                                                    f->api_name, value_json, &old);
        free(value_json);
        if (err == HERALD_ERR_NOT_FOUND)
            continue;
        if (!err) {
            r->duplicate_field = f->api_name;
            records_upsert_as(job->module, r->in.values, true);
            err = do_update(txn, job, r, index, &old);
        }
        store_record_fini(&old);
        return err;
    }
    if (r->in.missing_mandatory) {
        r->error = records_mandatory_error(r->in.missing_mandatory, index);
        return HERALD_OK;
    }
    records_upsert_as(job->module, r->in.values, false);
    if (records_derive(job->module, r->in.values))
        r->is_probability_derived = true;
    return do_insert(txn, job, r, index);
}

static enum herald_err run_delete(struct store_txn *txn, struct rec_job *job, struct row *r)
{
    struct store_record old = {0};
    enum herald_err err = store_txn_record_get(txn, job->org_id, job->module->id_num, r->id, &old);
    if (!err)
        err = store_txn_record_delete(txn, job->org_id, job->module->id_num, r->id);
    if (err == HERALD_ERR_NOT_FOUND) {
        r->error = zjson_error("INVALID_DATA", "record not deleted",
                               json_pack("{s:o}", "id", zjson_id(r->id)));
        err = HERALD_OK;
    } else if (!err) {
        json_t *old_data = json_loads(old.data, 0, NULL);
        if (json_is_object(old_data))
            err = forget_deleted_lookups(txn, job, old_data);
        r->has_change = true;
        r->change_values = json_object();
        collect_lookups(job->module, old_data, r);
        json_decref(old_data);
    }
    store_record_fini(&old);
    return err;
}

/* Publishes one change event per operation the request performed, records in request order,
 * all matched together (one callback per channel, module and operation for the request). */
static enum herald_err publish(struct store_txn *txn, struct rec_job *job)
{
    static const enum change_op ops[] = {CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE};
    struct change_record *recs = xcalloc(job->count ? job->count : 1, sizeof *recs);
    struct change_event evs[3];
    size_t n_evs = 0, n = 0;
    for (size_t k = 0; k < 3; k++) {
        size_t first = n;
        for (size_t i = 0; i < job->count; i++) {
            struct row *r = &job->rows[i];
            if (!r->has_change || r->error)
                continue;
            enum change_op op = job->op == OP_DELETE ? CHANGE_DELETE
                                : r->is_insert       ? CHANGE_INSERT
                                                     : CHANGE_UPDATE;
            if (op != ops[k])
                continue;
            recs[n].id = r->id;
            recs[n].request_index = i;
            recs[n].values = r->change_values;
            recs[n].lookups = r->lookups;
            recs[n].lookup_count = r->lookup_count;
            n++;
        }
        if (n == first)
            continue;
        evs[n_evs++] = (struct change_event){
            .org_id = job->org_id,
            .module = job->module,
            .op = ops[k],
            .request_id = job->request_id,
            .records = recs + first,
            .count = n - first,
            .at_ms = job->at_ms,
        };
    }
    enum herald_err err = api_publish_changes(txn, job->app, evs, n_evs);
    free(recs);
    return err;
}

static enum herald_err job_run(struct store_txn *txn, void *arg)
{
    struct rec_job *job = arg;
    job->at_ms = time_now_ms();
    job->now_s = job->at_ms / 1000;
    for (size_t i = 0; i < job->count; i++) {
        struct row *r = &job->rows[i];
        if (r->error)
            continue;
        enum herald_err err = HERALD_OK;
        switch (job->op) {
        case OP_INSERT:
            err = do_insert(txn, job, r, i);
            break;
        case OP_UPDATE:
            err = run_update(txn, job, r, i);
            break;
        case OP_UPSERT:
            err = run_upsert(txn, job, r, i);
            break;
        case OP_DELETE:
            err = run_delete(txn, job, r);
            break;
        }
        if (err)
            return err;
    }
    return publish(txn, job);
}

/* ---- answering ---- */

static json_t *who_json(int64_t id, const char *name)
{
    return json_pack("{s:o, s:o}", "name", name ? json_string(name) : json_null(), "id",
                     zjson_id(id));
}

/* The answer is written as text, not built as a jansson tree and dumped: a create's answer
 * is on the hot path of every write. The shapes (and key order) are Zoho's. */

static void put_who(struct buf *out, int64_t id, const char *name)
{
    buf_puts(out, "{\"name\":");
    zjson_put_str(out, name);
    buf_puts(out, ",\"id\":");
    zjson_put_id(out, id);
    buf_putc(out, '}');
}

static void put_row_result(struct buf *out, const struct rec_job *job, const struct row *r)
{
    if (r->error) {
        zjson_dump(out, r->error);
        return;
    }
    if (job->op == OP_DELETE) {
        buf_puts(out, "{\"code\":\"SUCCESS\",\"details\":{\"id\":");
        zjson_put_id(out, r->id);
        buf_puts(out, "},\"message\":\"record deleted\",\"status\":\"success\"}");
        return;
    }
    char created[TIME_ISO_MAX], modified[TIME_ISO_MAX];
    time_format_local(r->created_at_s, created);
    time_format_local(r->modified_at_s, modified);
    buf_puts(out, "{\"code\":\"SUCCESS\",");
    if (job->op == OP_UPSERT) {
        buf_puts(out, "\"duplicate_field\":");
        zjson_put_str(out, r->duplicate_field);
        buf_puts(out, r->is_insert ? ",\"action\":\"insert\"," : ",\"action\":\"update\",");
    }
    buf_puts(out, "\"details\":{\"Modified_Time\":");
    zjson_put_str(out, modified);
    buf_puts(out, ",\"Modified_By\":");
    put_who(out, r->modified_by, r->modified_by_name);
    buf_puts(out, ",\"Created_Time\":");
    zjson_put_str(out, created);
    buf_puts(out, ",\"id\":");
    zjson_put_id(out, r->id);
    buf_puts(out, ",\"Created_By\":");
    put_who(out, r->created_by, r->created_by_name);
    /* Zoho's details end with the record's approval state; Herald has no approval processes,
     * so every record it writes is approved. */
    buf_puts(out, ",\"$approval_state\":\"approved\"");
    buf_puts(out,
             r->is_insert ? "},\"message\":\"record added\"" : "},\"message\":\"record updated\"");
    buf_puts(out, ",\"status\":\"success\"}");
}

/* The answer: data[] and Zoho's status: all fine → 201 (insert) or 200, mixed → 207, all
 * failed → 400; a DELETE whose URL names no record is one top-level error, as Zoho documents
 * for the single-record URL. Frees the job. Runs on the connection's thread
 * (http_respond_later). */
static void render_rows(void *arg, struct buf *out, int *status)
{
    struct rec_job *job = arg;
    if (job->is_by_path && job->op == OP_DELETE && job->rows[0].error) {
        *status = 400;
        job_free(job);
        if (out)
            buf_puts(out, "{\"code\":\"INVALID_DATA\",\"details\":{\"resource_path_index\":0},"
                          "\"message\":\"invalid record id\",\"status\":\"error\"}");
        return;
    }
    size_t failed = 0;
    if (out)
        buf_puts(out, "{\"data\":[");
    for (size_t i = 0; i < job->count; i++) {
        if (job->rows[i].error)
            failed++;
        if (out && i)
            buf_putc(out, ',');
        if (out)
            put_row_result(out, job, &job->rows[i]);
    }
    if (out)
        buf_puts(out, "]}");
    *status = failed == job->count ? 400 : failed ? 207 : job->op == OP_INSERT ? 201 : 200;
    job_free(job);
}

static void respond_rows(struct rec_job *job)
{
    http_respond_later(job->req, render_rows, job);
}

static void job_done(void *arg, enum herald_err err)
{
    struct rec_job *job = arg;
    if (err) {
        struct http_req *req = job->req;
        log_error("msg=\"record change failed\" error=%s request_id=%s", herald_err_name(err),
                  job->request_id);
        job_free(job);
        respond_internal(req);
        return;
    }
    respond_rows(job);
}

/* Hands the job to the writer, unless every row already failed. */
static void submit(struct rec_job *job)
{
    bool has_work = false;
    for (size_t i = 0; i < job->count && !has_work; i++)
        has_work = !job->rows[i].error;
    if (!has_work) {
        respond_rows(job);
        return;
    }
    /* Its only failures are the store's: rows a request may not write were set aside above. */
    store_submit_plain(job->app->store, job_run, job, job_done);
}

/* ---- handlers: mutations ---- */

/* Checks every element of data[] into the job's rows. */
static void check_rows(struct rec_job *job, json_t *data, enum records_mode mode)
{
    for (size_t i = 0; i < job->count; i++) {
        struct row *r = &job->rows[i];
        r->error = records_check(job->module, json_array_get(data, i), i, mode, &r->in);
        if (!r->error)
            r->is_probability_derived = records_derive(job->module, r->in.values);
    }
}

void api_records_insert(struct http_req *req)
{
    const struct meta_module *m = module_of(req);
    if (!m)
        return;
    json_t *root = NULL;
    json_t *data = api_body_array(req, "data", MAX_RECORDS, &root);
    if (!data)
        return;
    struct rec_job *job = job_new(req, m, OP_INSERT, json_array_size(data));
    check_rows(job, data, RECORDS_INSERT);
    json_decref(root); /* before the writer thread sees values that share its children */
    submit(job);
}

static void update(struct http_req *req, const struct meta_module *m, int64_t single_id)
{
    json_t *root = NULL;
    json_t *data = api_body_array(req, "data", single_id ? 1 : MAX_RECORDS, &root);
    if (!data)
        return;
    struct rec_job *job = job_new(req, m, OP_UPDATE, json_array_size(data));
    check_rows(job, data, RECORDS_UPDATE);
    for (size_t i = 0; i < job->count; i++) {
        struct row *r = &job->rows[i];
        json_t *id = json_object_get(json_array_get(data, i), "id");
        r->id = single_id ? single_id : zjson_id_value(id);
        if (r->error || r->id)
            continue;
        r->error = id ? records_invalid_error("id", i) : records_mandatory_error("id", i);
    }
    json_decref(root);
    submit(job);
}

void api_records_update(struct http_req *req)
{
    const struct meta_module *m = module_of(req);
    if (m)
        update(req, m, 0);
}

void api_record_update(struct http_req *req)
{
    const struct meta_module *m = module_of(req);
    int64_t id = m ? path_id(req) : 0;
    if (id)
        update(req, m, id);
}

void api_records_upsert(struct http_req *req)
{
    const struct meta_module *m = module_of(req);
    if (!m)
        return;
    json_t *root = NULL;
    json_t *data = api_body_array(req, "data", MAX_RECORDS, &root);
    if (!data)
        return;
    const struct meta_field *dup[MAX_DUP_FIELDS];
    size_t dup_count = 0;
    json_t *given = json_object_get(root, "duplicate_check_fields");
    if (given && !json_is_null(given)) {
        size_t i;
        json_t *v;
        bool is_bad = !json_is_array(given) || json_array_size(given) > MAX_DUP_FIELDS;
        json_array_foreach(is_bad ? NULL : given, i, v)
        {
            const struct meta_field *f =
                json_is_string(v) ? meta_field_by_name(m, json_string_value(v)) : NULL;
            if (!f || f->is_read_only || f->type == META_LOOKUP || f->type == META_OWNERLOOKUP ||
                f->type == META_MULTISELECT || f->type == META_ITEMS) {
                char path[64];
                snprintf(path, sizeof path, "$.duplicate_check_fields[%zu]", i);
                json_decref(root);
                http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                                   json_pack("{s:s, s:s}", "api_name", "duplicate_check_fields",
                                             "json_path", path));
                return;
            }
            dup[dup_count++] = f;
        }
        if (is_bad) {
            json_decref(root);
            http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                               json_pack("{s:s, s:s, s:s}", "api_name", "duplicate_check_fields",
                                         "json_path", "$.duplicate_check_fields",
                                         "expected_data_type", "jsonarray"));
            return;
        }
    }
    /* None given, null, or [] (clients send an empty list by default): the module's own. */
    if (!dup_count && records_default_duplicate_field(m))
        dup[dup_count++] = records_default_duplicate_field(m);
    struct rec_job *job = job_new(req, m, OP_UPSERT, json_array_size(data));
    memcpy(job->dup_fields, dup, dup_count * sizeof dup[0]);
    job->dup_count = dup_count;
    check_rows(job, data, RECORDS_UPSERT);
    json_decref(root);
    submit(job);
}

/* The number of ids in a comma list; empty pieces ("a,,b", a trailing comma) are skipped. */
static size_t id_list_count(const char *p)
{
    size_t count = 0;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        count += len > 0;
        p += len + (p[len] == ',');
    }
    return count;
}

/* The record id the `len` bytes at p spell, 0 if they spell none. */
static int64_t id_of_text(const char *p, size_t len)
{
    char *piece = xstrndup(p, len);
    int64_t id = api_delivery_id_parse(piece);
    free(piece);
    return id;
}

/* Answers 400 LIMIT_EXCEEDED when an ids list holds more than a request may name. */
static bool ids_over_limit(struct http_req *req, size_t count)
{
    if (count <= MAX_RECORDS)
        return false;
    http_respond_error(req, 400, "LIMIT_EXCEEDED", "limit exceeded",
                       json_pack("{s:i, s:s}", "limit", MAX_RECORDS, "param_name", "ids"));
    return true;
}

void api_records_delete(struct http_req *req)
{
    const struct meta_module *m = module_of(req);
    if (!m)
        return;
    const char *ids = http_req_query(req, "ids");
    size_t count = id_list_count(ids);
    if (count == 0) {
        param_missing(req, "ids");
        return;
    }
    if (ids_over_limit(req, count))
        return;
    struct rec_job *job = job_new(req, m, OP_DELETE, count);
    size_t i = 0;
    for (const char *p = ids; *p;) {
        size_t len = strcspn(p, ",");
        if (len) {
            struct row *r = &job->rows[i++];
            r->id = id_of_text(p, len);
            if (!r->id) {
                /* A piece that is not valid JSON string text is named null. */
                char *piece = xstrndup(p, len);
                json_t *named = json_string(piece);
                r->error = zjson_error("INVALID_DATA", "record not deleted",
                                       json_pack("{s:s?}", "id", named ? piece : NULL));
                json_decref(named);
                free(piece);
            }
        }
        p += len + (p[len] == ',');
    }
    submit(job);
}

void api_record_delete(struct http_req *req)
{
    const struct meta_module *m = module_of(req);
    if (!m)
        return;
    int64_t id = path_id(req);
    if (!id)
        return;
    struct rec_job *job = job_new(req, m, OP_DELETE, 1);
    job->is_by_path = true;
    job->rows[0].id = id;
    submit(job);
}

/* ---- handlers: reads ---- */

/* A record as GET shows it: id, then the module's fields in definition order (all of them, null
 * when unset (booleans false), or only those `selected`), lookups with their target's current name.
 */
static json_t *record_json(struct store *s, const struct meta_module *m,
                           const struct store_record *r, const bool *selected)
{
    json_t *data = json_loads(r->data, 0, NULL);
    json_t *out = json_object();
    json_object_set_new(out, "id", zjson_id(r->id));
    for (size_t i = 0; i < m->field_count; i++) {
        const struct meta_field *f = &m->fields[i];
        if (selected && !selected[i])
            continue;
        const char *api = f->api_name;
        json_t *v = NULL;
        char ts[TIME_ISO_MAX];
        if (strcmp(api, "Owner") == 0) {
            v = json_pack("{s:o, s:o, s:o}", "name",
                          r->owner_name ? json_string(r->owner_name) : json_null(), "id",
                          zjson_id(r->owner_id), "email",
                          r->owner_email ? json_string(r->owner_email) : json_null());
        } else if (strcmp(api, "Created_By") == 0) {
            v = who_json(r->created_by, r->created_by_name);
        } else if (strcmp(api, "Modified_By") == 0) {
            v = who_json(r->modified_by, r->modified_by_name);
        } else if (strcmp(api, "Created_Time") == 0) {
            time_format_local(r->created_at_s, ts);
            v = json_string(ts);
        } else if (strcmp(api, "Modified_Time") == 0) {
            time_format_local(r->modified_at_s, ts);
            v = json_string(ts);
        } else if (strcmp(api, "Full_Name") == 0) {
            v = json_string(r->name);
        } else if (f->is_read_only && strcmp(api, "Expected_Revenue") == 0 &&
                   strcmp(m->api_name, "Deals") == 0) {
            v = records_expected_revenue(data); /* computed, as in Zoho */
        } else if (f->type == META_DATETIME) {
            /* Stored rendered in the zone of the write; shown in today's --timezone. */
            json_t *stored = json_object_get(data, api);
            int64_t epoch_s;
            if (json_is_string(stored) &&
                !time_parse_iso8601(json_string_value(stored), &epoch_s)) {
                time_format_local(epoch_s, ts);
                v = json_string(ts);
            } else {
                v = json_incref(stored);
            }
        } else if (f->type == META_LOOKUP) {
            json_t *stored = json_object_get(data, api);
            int64_t id = json_is_object(stored) ? zjson_id_value(json_object_get(stored, "id")) : 0;
            char *name = NULL;
            if (id && !store_record_name(s, r->org_id, id, &name) && name)
                v = json_pack("{s:s, s:o}", "name", name, "id", zjson_id(id));
            free(name);
            /* Zoho shows the module a "Related To" lookup names beside it. */
            if (f->has_se_module) {
                json_object_set_new(out, api, v ? v : json_null());
                api = RECORDS_SE_MODULE;
                v = v ? json_string(records_lookup_module(f, data)->api_name) : NULL;
            }
        } else {
            v = json_incref(json_object_get(data, api));
            if (!v && f->type == META_BOOLEAN)
                v = json_false(); /* a checkbox never set is unchecked, as in Zoho */
        }
        json_object_set_new(out, api, v ? v : json_null());
    }
    json_decref(data);
    return out;
}

/* Parses `fields` (comma list of the module's api names; "id" is always shown) into selected[].
 * False after answering the error. */
static bool parse_fields(struct http_req *req, const struct meta_module *m, const char *fields,
                         bool *selected)
{
    for (const char *p = fields; *p;) {
        size_t len = strcspn(p, ",");
        char name[128];
        if (len && len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            const struct meta_field *f = meta_field_by_name(m, name);
            if (f)
                selected[f->index] = true;
            else if (strcmp(name, "id") != 0)
                len = sizeof name; /* unknown: fall through to the error */
        }
        if (len >= sizeof name) {
            http_respond_error(
                req, 400, "INVALID_DATA", "invalid data",
                json_pack("{s:s, s:s%}", "param_name", "fields", "api_name", p, strcspn(p, ",")));
            return false;
        }
        p += len + (p[len] == ',');
    }
    return true;
}

/* The fields the query's `fields` selects, into *out (caller frees): NULL, every field, when
 * the query has none or an empty one ("fields=" names no field, as a missing one does). False
 * after answering the error. */
static bool select_fields(struct http_req *req, const struct meta_module *m, bool **out)
{
    const char *fields = http_req_query(req, "fields");
    *out = NULL;
    if (!fields || !*fields)
        return true;
    bool *selected = xcalloc(m->field_count ? m->field_count : 1, sizeof *selected);
    if (!parse_fields(req, m, fields, selected)) {
        free(selected);
        return false;
    }
    *out = selected;
    return true;
}

void api_record_get(struct http_req *req)
{
    struct app *app = req->app;
    const struct meta_module *m = module_of(req);
    if (!m)
        return;
    int64_t id = path_id(req);
    if (!id)
        return;
    bool has_since;
    int64_t since_s;
    if (!api_modified_since(req, &has_since, &since_s))
        return;
    /* `fields` selects what is shown, as on the list (Zoho's get-one takes it too: the SDKs'
     * GetRecordParam has it); unlike the list's, it is optional on every version. */
    bool *selected = NULL;
    if (!select_fields(req, m, &selected))
        return;
    struct store_record r = {0};
    enum herald_err err = store_record_get(app->store, req->who.org_id, m->id_num, id, &r);
    if (err == HERALD_ERR_NOT_FOUND) {
        free(selected);
        http_respond_empty(req, 204);
        return;
    }
    if (err) {
        free(selected);
        respond_internal(req);
        return;
    }
    if (has_since && r.modified_at_s < since_s) {
        /* Not modified since (at or after counts, as on the list): no body, as Zoho answers. */
        free(selected);
        store_record_fini(&r);
        http_respond_empty(req, 304);
        return;
    }
    json_t *rec = record_json(app->store, m, &r, selected);
    free(selected);
    store_record_fini(&r);
    http_respond_json(req, 200, json_pack("{s:[o]}", "data", rec));
}

static const char *const sort_names[] = {"id", "Created_Time", "Modified_Time"};

static void param_invalid(struct http_req *req, const char *name, json_t *supported)
{
    json_t *d = json_pack("{s:s}", "param_name", name);
    if (supported)
        json_object_set_new(d, "supported_values", supported);
    http_respond_error(req, 400, "INVALID_DATA", "invalid data", d);
}

/* Reads Zoho's sort_by (id, Created_Time, Modified_Time; default id) and sort_order (asc,
 * desc; default desc, newest first: "desc ... This is the default value" in Zoho's Kaizen #29 on
 * Get Records' parameters, and its OAS sample answers sort_by id, sort_order desc) into q.
 * False after answering the error. */
static bool parse_sort(struct http_req *req, struct store_record_query *q)
{
    const char *by = http_req_query(req, "sort_by");
    const char *order = http_req_query(req, "sort_order");
    q->sort = STORE_SORT_ID;
    if (by && *by) {
        size_t k = 0;
        while (k < 3 && strcmp(by, sort_names[k]) != 0)
            k++;
        if (k == 3) {
            param_invalid(req, "sort_by",
                          json_pack("[s,s,s]", sort_names[0], sort_names[1], sort_names[2]));
            return false;
        }
        q->sort = (enum store_record_sort)k;
    }
    q->is_desc = !order || !*order || strcmp(order, "desc") == 0;
    if (!q->is_desc && strcmp(order, "asc") != 0) {
        param_invalid(req, "sort_order", json_pack("[s,s]", "asc", "desc"));
        return false;
    }
    return true;
}

/* Reads the ids filter (a comma list of at most 100 record ids) into ids[]; *count 0 when
 * absent. False after answering the error. */
static bool parse_ids(struct http_req *req, int64_t *ids, size_t *count)
{
    *count = 0;
    const char *p = http_req_query(req, "ids");
    if (ids_over_limit(req, id_list_count(p)))
        return false;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        if (len && !(ids[(*count)++] = id_of_text(p, len))) {
            param_invalid(req, "ids", NULL);
            return false;
        }
        p += len + (p[len] == ',');
    }
    return true;
}

void api_records_list(struct http_req *req)
{
    struct app *app = req->app;
    const struct meta_module *m = module_of(req);
    if (!m)
        return;
    const char *fields = http_req_query(req, "fields");
    /* Needed from v3 on ("mandatory when fetching all records" on Zoho's v3 to v8 pages); v2
     * and v2.1 list every field without it. An empty one ("fields=") is missing too: it named
     * nothing and listed bare ids. */
    if ((!fields || !*fields) && req->version && !meta_version_is_v2(req->version)) {
        http_respond_error(req, 400, "REQUIRED_PARAM_MISSING", "required param is missing",
                           json_pack("{s:s}", "param_name", "fields"));
        return;
    }
    long page, per_page;
    if (!api_page_params(req, &page, &per_page))
        return;
    int64_t ids[MAX_RECORDS];
    struct store_record_query q = {
        .offset = (size_t)(page - 1) * (size_t)per_page,
        .limit = (size_t)per_page + 1,
        .ids = ids,
    };
    if (!parse_sort(req, &q) || !parse_ids(req, ids, &q.id_count) ||
        !api_modified_since(req, &q.has_modified_since, &q.modified_since_s))
        return;
    bool *selected = NULL;
    if (!select_fields(req, m, &selected))
        return;
    struct store_record *list = NULL;
    size_t n = 0;
    enum herald_err err = store_record_list(app->store, req->who.org_id, m->id_num, &q, &list, &n);
    if (err) {
        free(selected);
        respond_internal(req);
        return;
    }
    bool has_more = n > (size_t)per_page;
    size_t shown = has_more ? (size_t)per_page : n;
    json_t *data = json_array();
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(data, record_json(app->store, m, &list[i], selected));
    store_record_list_free(list, n);
    free(selected);
    if (shown == 0) {
        json_decref(data);
        /* Nothing modified since: Not Modified, as Zoho answers a poll that finds nothing. */
        http_respond_empty(req, q.has_modified_since && page == 1 ? 304 : 204);
        return;
    }
    http_respond_json(req, 200,
                      json_pack("{s:o, s:{s:I, s:I, s:I, s:s, s:s, s:b}}", "data", data, "info",
                                "per_page", (json_int_t)per_page, "count", (json_int_t)shown,
                                "page", (json_int_t)page, "sort_by", sort_names[q.sort],
                                "sort_order", q.is_desc ? "desc" : "asc", "more_records",
                                has_more));
}
