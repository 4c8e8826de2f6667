/* Every route Herald answers, as data. Patterns: "{v}" an API version, "*" one segment; the
 * most specific pattern wins, and a path known under another method answers
 * 400 INVALID_REQUEST_METHOD, as Zoho does. */
#include "api/api.h"

#define SCOPES_ORG "ZohoCRM.org.ALL,ZohoCRM.org.READ"
#define SCOPES_USERS_READ "ZohoCRM.users.ALL,ZohoCRM.users.READ"
#define SCOPES_WATCH_READ "ZohoCRM.notifications.ALL,ZohoCRM.notifications.READ"
#define SCOPES_WATCH_CREATE \
    "ZohoCRM.notifications.ALL,ZohoCRM.notifications.WRITE,ZohoCRM.notifications.CREATE"
#define SCOPES_WATCH_UPDATE \
    "ZohoCRM.notifications.ALL,ZohoCRM.notifications.WRITE,ZohoCRM.notifications.UPDATE"
#define SCOPES_WATCH_DELETE "ZohoCRM.notifications.ALL,ZohoCRM.notifications.DELETE"
/* users.WRITE, which token create accepts as it does notifications.WRITE, covers the writes. */
#define SCOPES_USERS_CREATE "ZohoCRM.users.ALL,ZohoCRM.users.WRITE,ZohoCRM.users.CREATE"
#define SCOPES_USERS_UPDATE "ZohoCRM.users.ALL,ZohoCRM.users.WRITE,ZohoCRM.users.UPDATE"
#define SCOPES_USERS_DELETE "ZohoCRM.users.ALL,ZohoCRM.users.WRITE,ZohoCRM.users.DELETE"
/* Every settings scope a token may hold that covers reading modules or fields: Zoho names each
 * settings area with ALL and READ, and settings.READ reads them all. */
#define SCOPES_SETTINGS_MODULES                                                \
    "ZohoCRM.settings.ALL,ZohoCRM.settings.READ,ZohoCRM.settings.modules.ALL," \
    "ZohoCRM.settings.modules.READ"
#define SCOPES_SETTINGS_FIELDS                                                \
    "ZohoCRM.settings.ALL,ZohoCRM.settings.READ,ZohoCRM.settings.fields.ALL," \
    "ZohoCRM.settings.fields.READ"
/* Record routes: "{M}" is the module segment. WRITE covers create, update and delete. An
 * operation without a module (ZohoCRM.modules.READ, which integrations commonly ask Zoho for)
 * covers every module, as ZohoCRM.modules.ALL does. */
#define SCOPES_REC(op) \
    "ZohoCRM.modules.ALL,ZohoCRM.modules." op ",ZohoCRM.modules.{M}.ALL,ZohoCRM.modules.{M}." op
#define SCOPES_REC_WRITE(op) SCOPES_REC("WRITE") ",ZohoCRM.modules." op ",ZohoCRM.modules.{M}." op
#define SCOPES_REC_READ SCOPES_REC("READ")
#define SCOPES_REC_CREATE SCOPES_REC_WRITE("CREATE")
#define SCOPES_REC_UPDATE SCOPES_REC_WRITE("UPDATE")
#define SCOPES_REC_DELETE SCOPES_REC_WRITE("DELETE")
/* Herald's delivery history: reading it, and resending, which is a write. */
#define SCOPES_DELIVERIES_READ "Herald.deliveries.ALL,Herald.deliveries.READ"
#define SCOPES_DELIVERIES_RESEND "Herald.deliveries.ALL"
/* The v2 documentation also lets WRITE disable notifications. */
#define SCOPES_WATCH_DELETE_V2 SCOPES_WATCH_DELETE ",ZohoCRM.notifications.WRITE"

const struct http_route api_routes[] = {
    {"GET", "herald/v1/health", api_health, NULL},
    {"GET", "herald/v1/deliveries", api_deliveries_list, SCOPES_DELIVERIES_READ},
    {"GET", "herald/v1/deliveries/*", api_delivery_get, SCOPES_DELIVERIES_READ},
    {"POST", "herald/v1/deliveries/resend", api_deliveries_resend, SCOPES_DELIVERIES_RESEND},
    {"POST", "herald/v1/deliveries/*/resend", api_delivery_resend, SCOPES_DELIVERIES_RESEND},
    {"GET", "crm/{v}/org", api_org_get, SCOPES_ORG},
    {"GET", "crm/{v}/users", api_users_get, SCOPES_USERS_READ},
    {"DELETE", "crm/v2/actions/watch", api_watch_delete, SCOPES_WATCH_DELETE_V2},
    {"DELETE", "crm/v2.1/actions/watch", api_watch_delete, SCOPES_WATCH_DELETE_V2},
    {"GET", "crm/{v}/actions/watch", api_watch_get, SCOPES_WATCH_READ},
    {"POST", "crm/{v}/actions/watch", api_watch_post, SCOPES_WATCH_CREATE},
    {"PUT", "crm/{v}/actions/watch", api_watch_put, SCOPES_WATCH_UPDATE},
    {"PATCH", "crm/{v}/actions/watch", api_watch_patch, SCOPES_WATCH_UPDATE},
    {"DELETE", "crm/{v}/actions/watch", api_watch_delete, SCOPES_WATCH_DELETE},
    {"GET", "crm/{v}/users/*", api_user_get, SCOPES_USERS_READ},
    {"POST", "crm/{v}/users", api_users_create, SCOPES_USERS_CREATE},
    {"PUT", "crm/{v}/users", api_users_update, SCOPES_USERS_UPDATE},
    {"PUT", "crm/{v}/users/*", api_user_update, SCOPES_USERS_UPDATE},
    {"DELETE", "crm/{v}/users/*", api_user_delete, SCOPES_USERS_DELETE},
    {"GET", "crm/{v}/settings/modules", api_modules_list, SCOPES_SETTINGS_MODULES},
    {"GET", "crm/{v}/settings/modules/*", api_module_get, SCOPES_SETTINGS_MODULES},
    {"GET", "crm/{v}/settings/fields", api_fields_list, SCOPES_SETTINGS_FIELDS},
    {"GET", "crm/{v}/settings/fields/*", api_field_get, SCOPES_SETTINGS_FIELDS},
    {"GET", "crm/{v}/*", api_records_list, SCOPES_REC_READ},
    {"POST", "crm/{v}/*", api_records_insert, SCOPES_REC_CREATE},
    {"PUT", "crm/{v}/*", api_records_update, SCOPES_REC_UPDATE},
    {"DELETE", "crm/{v}/*", api_records_delete, SCOPES_REC_DELETE},
    {"POST", "crm/{v}/*/upsert", api_records_upsert, SCOPES_REC_CREATE},
    {"GET", "crm/{v}/*/*", api_record_get, SCOPES_REC_READ},
    {"PUT", "crm/{v}/*/*", api_record_update, SCOPES_REC_UPDATE},
    {"DELETE", "crm/{v}/*/*", api_record_delete, SCOPES_REC_DELETE},
    {0},
};
