/* Forwards the records API to the backend's ops table, and frees what the reads return. */
#include "store/records.h"

#include <stdlib.h>

#include "store/store_int.h"

void store_record_fini(struct store_record *r)
{
    if (!r)
        return;
    free(r->data);
    free(r->name);
    free(r->owner_name);
    free(r->owner_email);
    free(r->created_by_name);
    free(r->modified_by_name);
    r->data = r->name = r->owner_name = r->owner_email = NULL;
    r->created_by_name = r->modified_by_name = NULL;
}

void store_record_list_free(struct store_record *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        store_record_fini(&list[i]);
    free(list);
}

void store_user_ref_fini(struct store_user_ref *u)
{
    if (!u)
        return;
    free(u->name);
    free(u->email);
    u->name = u->email = NULL;
}

enum herald_err store_record_get(struct store *s, int64_t org_id, int64_t module_id, int64_t id,
                                 struct store_record *out)
{
    return s->ops->records->get(s, org_id, module_id, id, out);
}

enum herald_err store_record_list(struct store *s, int64_t org_id, int64_t module_id,
                                  const struct store_record_query *q, struct store_record **out,
                                  size_t *count)
{
    return s->ops->records->list(s, org_id, module_id, q, out, count);
}

enum herald_err store_record_name(struct store *s, int64_t org_id, int64_t id, char **name_out)
{
    return s->ops->records->name(s, org_id, id, name_out);
}

enum herald_err store_txn_record_get(struct store_txn *t, int64_t org_id, int64_t module_id,
                                     int64_t id, struct store_record *out)
{
    return t->ops->records->txn_get(t, org_id, module_id, id, out);
}

enum herald_err store_txn_record_find(struct store_txn *t, int64_t org_id, int64_t module_id,
                                      const char *api_name, const char *value_json,
                                      struct store_record *out)
{
    return t->ops->records->txn_find(t, org_id, module_id, api_name, value_json, out);
}

enum herald_err store_txn_record_name(struct store_txn *t, int64_t org_id, int64_t module_id,
                                      int64_t id, char **name_out)
{
    return t->ops->records->txn_name(t, org_id, module_id, id, name_out);
}

enum herald_err store_txn_record_insert(struct store_txn *t, const struct store_record *r)
{
    return t->ops->records->txn_insert(t, r);
}

enum herald_err store_txn_record_update(struct store_txn *t, const struct store_record *r)
{
    return t->ops->records->txn_update(t, r);
}

enum herald_err store_txn_record_delete(struct store_txn *t, int64_t org_id, int64_t module_id,
                                        int64_t id)
{
    return t->ops->records->txn_delete(t, org_id, module_id, id);
}

enum herald_err store_txn_user_ref(struct store_txn *t, int64_t org_id, int64_t user_id,
                                   struct store_user_ref *out)
{
    return t->ops->records->txn_user_ref(t, org_id, user_id, out);
}

enum herald_err store_txn_user_get(struct store_txn *t, int64_t org_id, int64_t user_id,
                                   struct store_user *out)
{
    return t->ops->records->txn_user_get(t, org_id, user_id, out);
}

enum herald_err store_txn_user_by_email(struct store_txn *t, int64_t org_id, const char *email,
                                        int64_t *id_out)
{
    return t->ops->records->txn_user_by_email(t, org_id, email, id_out);
}

enum herald_err store_txn_user_put(struct store_txn *t, int64_t org_id, int64_t user_id,
                                   const char *email, const char *json, int64_t at_s, bool is_new)
{
    return t->ops->records->txn_user_put(t, org_id, user_id, email, json, at_s, is_new);
}

enum herald_err store_txn_user_delete(struct store_txn *t, int64_t org_id, int64_t user_id)
{
    return t->ops->records->txn_user_delete(t, org_id, user_id);
}
