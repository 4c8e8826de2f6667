// Drives Herald through the official Zoho CRM Node SDKs of the oldest API versions, each on its own version:
// @zohocrm/nodejs-sdk-2.0 (CommonJS, /crm/v2) and @zohocrm/nodejs-sdk-2.1 (ES modules, /crm/v2.1), using only
// their operations classes, and checks every answer they parse against what v2 and v2.1 differ in: a watch
// request whose every item fails is 202 (400 from v3 on), a channel_expiry more than a day ahead is now + 1
// hour (a week from v4 on), PATCH needs only channel_id, a record list needs no `fields` (v3 on do), DELETE
// of channels also takes ZohoCRM.notifications.WRITE, and a lookup field names its module by API name (an
// object from v3 on). Both SDKs run in one process against one server: each package keeps its own
// initializer. Usage as sdk_test.mjs: HERALD_URL and HERALD_TOKEN, or HERALD_BIN.
import * as SDK21 from "@zohocrm/nodejs-sdk-2.1";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { check, describe, apiError, actionItems, wrapper, isBigInt, detailId, env, heraldCli, waitForCallback,
    run, channel, watch, seconds, NOT_SUBSCRIBED_CHANNEL, NOT_SUBSCRIBED_MODULE } from "./harness.mjs";

const require = createRequire(import.meta.url);

// The v2 SDK has no index: its classes are files under core/com/zoho/crm/api/<package>/ and routes/. One
// namespace per package, as the v2.1 SDK exports them (every class a file exports, under its own name).
function v2Sdk() {
    const root = path.dirname(require.resolve("@zohocrm/nodejs-sdk-2.0/package.json"));
    const ns = (dir) => {
        const out = {};
        for (const f of fs.readdirSync(path.join(root, "core/com/zoho/crm/api", dir)).filter((f) => f.endsWith(".js"))) {
            const m = require(path.join(root, "core/com/zoho/crm/api", dir, f));
            for (const [k, v] of Object.entries(m)) if (k !== "MasterModel") out[k] = v;
        }
        return out;
    };
    const r = (f, name) => require(path.join(root, f))[name];
    return {
        version: "v2",
        package: "@zohocrm/nodejs-sdk-2.0",
        InitializeBuilder: r("routes/initialize_builder", "InitializeBuilder"),
        Initializer: r("routes/initializer", "Initializer"),
        UserSignature: r("routes/user_signature", "UserSignature"),
        Environment: r("routes/dc/environment", "Environment"),
        OAuthBuilder: r("models/authenticator/oauth_builder", "OAuthBuilder"),
        FileStore: r("models/authenticator/store/file_store", "FileStore"),
        LogBuilder: r("routes/logger/log_builder", "LogBuilder"),
        Levels: r("routes/logger/logger", "Levels"),
        SDKConfigBuilder: r("routes/sdk_config_builder", "SDKConfigBuilder"),
        ParameterMap: r("routes/parameter_map", "ParameterMap"),
        HeaderMap: r("routes/header_map", "HeaderMap"),
        Choice: r("utils/util/choice", "Choice"),
        Records: ns("record"),
        Notifications: ns("notification"),
        Users: ns("users"),
        Org: ns("org"),
        Fields: ns("fields"),
        Modules: ns("modules"),
    };
}

function v21Sdk() {
    return { ...SDK21, version: "v2.1", package: "@zohocrm/nodejs-sdk-2.1", Org: SDK21.Orgs };
}

// Zoho's NOT_SUBSCRIBED messages, as the v2 and v2.1 SDKs enumerate them.

// --- the SDK's set-up ----------------------------------------------------------------------------------------
// Both SDKs need a UserSignature (they do not look the user up) and take the access-token flow; the
// environment's API domain is Herald (the accounts URL is never used with an access token). `how` is
// "initialize" or "switchUser" (another token, the same user and environment). Neither returns the SDK's
// asynchronous set-up, so this waits until the SDK's initializer holds the token (bounded).
async function initialize(S, accessToken, dir, how) {
    fs.mkdirSync(dir, { recursive: true });
    const token = new S.OAuthBuilder().accessToken(accessToken).build();
    const builder = (await new S.InitializeBuilder())
        .user(new S.UserSignature("sdk@example.com"))
        .environment(new S.Environment(env.baseUrl, "http://127.0.0.1:9/oauth/v2/token", env.baseUrl, "herald"))
        .token(token)
        .store(new S.FileStore(path.join(dir, "sdk_tokens.txt")))
        .SDKConfig(new S.SDKConfigBuilder().autoRefreshFields(false).pickListValidation(false).build())
        .resourcePath(dir)
        .logger(new S.LogBuilder().level(S.Levels.INFO).filePath(path.join(dir, "sdk.log")).build());
    builder[how]();
    for (let i = 0; i < 1000; i++) {
        const init = await S.Initializer.getInitializer();
        if (init && init.getToken() === token) return;
        await new Promise((r) => setTimeout(r, 1));
    }
    throw new Error(`${S.package}: ${how} did not take the token`);
}

async function usersAndOrg(S, V) {
    const U = S.Users;
    const params = new S.ParameterMap();
    await params.add(U.GetUsersParam.TYPE, "CurrentUser");
    const w = wrapper(`${V} users?type=CurrentUser`, await new U.UsersOperations().getUsers(params), U);
    if (w) {
        const users = w.getUsers() || [];
        check(users.length === 1 && isBigInt(users[0].getId()) && /@/.test(users[0].getEmail()),
            `${V} current user: one, BigInt id, email`, describe(users.map((u) => [u.getId(), u.getEmail()])));
    }
    const org = wrapper(`${V} org`, await new S.Org.OrgOperations().getOrganization(), S.Org);
    if (org) {
        const o = (org.getOrg() || [])[0];
        // The v2 and v2.1 SDKs model the org's id as a Long.
        check(o && isBigInt(o.getId()) && o.getZgid() != null, `${V} org: BigInt id and zgid`,
            o && describe([o.getId(), o.getZgid()]));
    }
    const f = wrapper(`${V} fields of Leads`, await new S.Fields.FieldsOperations("Leads").getFields(), S.Fields);
    if (f) {
        const last = (f.getFields() || []).find((x) => x.getAPIName() === "Last_Name");
        check(last && isBigInt(last.getId()) && last.getDataType() === "text", `${V} Leads Last_Name: text, BigInt id`,
            last && describe([last.getId(), last.getDataType()]));
    }
    const c = wrapper(`${V} fields of Contacts`, await new S.Fields.FieldsOperations("Contacts").getFields(), S.Fields);
    if (c) {
        // v2 and v2.1 name a lookup's module (the SDKs then fetch that module's fields with the name).
        const account = (c.getFields() || []).find((x) => x.getAPIName() === "Account_Name");
        const lookup = account && account.getLookup();
        check(lookup && lookup.getModule() === "Accounts" && lookup.getDisplayLabel() === "Account Name",
            `${V} Contacts Account_Name: lookup module "Accounts"`, lookup && describe(lookup.getModule()));
    }
    const mods = wrapper(`${V} modules`, await new S.Modules.ModulesOperations().getModules(), S.Modules);
    if (mods) {
        const leads = (mods.getModules() || []).find((m) => m.getAPIName() === "Leads");
        check(leads && isBigInt(leads.getId()) && leads.getAPISupported() === true, `${V} modules: Leads`,
            leads && describe([leads.getId(), leads.getAPISupported()]));
    }
}

// --- records -------------------------------------------------------------------------------------------------
function record(S, values) {
    const r = new S.Records.Record();
    for (const [k, v] of Object.entries(values)) r.addKeyValue(k, v);
    return r;
}

function body(S, records) {
    const b = new S.Records.BodyWrapper();
    b.setData(records);
    return b;
}

async function getOne(S, module, id, what) {
    const R = S.Records;
    const w = wrapper(what, await new R.RecordOperations().getRecord(id, module), R);
    if (!w) return null;
    const data = w.getData() || [];
    check(data.length === 1 && data[0].getId() === id, `${what}: the record with the id`,
        describe(data.map((d) => d.getId())));
    return data[0] || null;
}

// Insert, get, update (one and bulk), upsert, list (without `fields`: v3 on need it), delete (one and bulk).
async function records(S, V, module, extra) {
    const R = S.Records;
    const ops = new R.RecordOperations();
    const stamp = `${V} ${Date.now()}`;
    const email = `sdk${Date.now()}${V.replace(".", "")}@example.com`;
    let items = actionItems(`${V} ${module} create`, await ops.createRecords(module, body(S, [
        record(S, { Last_Name: `Sdk ${stamp}`, Email: email, ...extra }),
    ])), R, "getData");
    const id = items[0] ? detailId(items[0]) : null;
    if (!id) return null;
    const created = items[0];
    check(created.getCode().getValue() === "SUCCESS" && created.getMessage().getValue() === "record added",
        `${V} ${module} create: SUCCESS, record added`, describe(created.getMessage()));
    check(created.getDetails().get("Created_Time") instanceof Date, `${V} ${module} create: Created_Time is a Date`);

    let got = await getOne(S, module, id, `${V} ${module} get`);
    if (got) {
        check(got.getKeyValue("Last_Name") === `Sdk ${stamp}` && got.getKeyValue("Email") === email,
            `${V} ${module} get: Last_Name and Email read back`, describe([got.getKeyValue("Last_Name")]));
        for (const [k, v] of Object.entries(extra))
            check(got.getKeyValue(k) === v, `${V} ${module} get: ${k} reads back`, describe(got.getKeyValue(k)));
        const owner = got.getKeyValue("Owner");
        check(owner && isBigInt(owner.getId()), `${V} ${module} get: Owner.id is BigInt`, describe(owner));
    }

    items = actionItems(`${V} ${module} update`, await ops.updateRecord(id, module,
        body(S, [record(S, { Last_Name: `Sdk updated ${stamp}` })])), R, "getData");
    if (items[0]) check(detailId(items[0]) === id && items[0].getMessage().getValue() === "record updated",
        `${V} ${module} update: the same id, record updated`);
    got = await getOne(S, module, id, `${V} ${module} get after update`);
    if (got) check(got.getKeyValue("Last_Name") === `Sdk updated ${stamp}`, `${V} ${module} update: Last_Name changed`);

    const bulk = record(S, { Last_Name: `Sdk bulk ${stamp}` });
    bulk.setId(id);
    items = actionItems(`${V} ${module} update (bulk)`, await ops.updateRecords(module, body(S, [bulk])), R, "getData");
    if (items[0]) check(detailId(items[0]) === id, `${V} ${module} update (bulk): the same id`);

    const up = body(S, [
        record(S, { Last_Name: `Sdk upsert ${stamp}`, Email: `up-${email}` }),
        record(S, { Last_Name: `Sdk upserted ${stamp}`, Email: email }),
    ]);
    up.setDuplicateCheckFields(["Email"]);
    items = actionItems(`${V} ${module} upsert`, await ops.upsertRecords(module, up), R, "getData");
    let upsertedId = null;
    if (items.length === 2) {
        upsertedId = detailId(items[0]);
        check(isBigInt(upsertedId) && upsertedId !== id && detailId(items[1]) === id &&
            items[0].getAction().getValue() === "insert" && items[1].getAction().getValue() === "update",
            `${V} ${module} upsert: a new record, then the duplicate by Email`,
            describe([upsertedId, detailId(items[1]), items[0].getAction(), items[1].getAction()]));
    }

    const list = wrapper(`${V} ${module} list without fields`, await ops.getRecords(module), R);
    if (list) {
        const ids = (list.getData() || []).map((r) => r.getId());
        check(ids.includes(id) && ids.includes(upsertedId), `${V} ${module} list: both records`, describe(ids));
        check(list.getInfo() && list.getInfo().getMoreRecords() === false, `${V} ${module} list: info`);
    }

    items = actionItems(`${V} ${module} delete`, await ops.deleteRecord(id, module), R, "getData");
    if (items[0]) check(detailId(items[0]) === id && items[0].getMessage().getValue() === "record deleted",
        `${V} ${module} delete: the same id, record deleted`);
    if (upsertedId) {
        const del = new S.ParameterMap();
        await del.add(R.DeleteRecordsParam.IDS, String(upsertedId));
        actionItems(`${V} ${module} delete (bulk)`, await ops.deleteRecords(module, del), R, "getData");
    }
    const after = await ops.getRecord(id, module);
    check(after.getObject() instanceof R.APIException || after.getStatusCode() === 204,
        `${V} ${module} get after delete: not found`, after.getStatusCode());

    // Every record failing is 400 on every version (only watch requests answer 202 on v2 and v2.1).
    const r = await ops.createRecords(module, body(S, [record(S, { Last_Name: "x", No_Such_Field: "y" })]));
    const obj = r.getObject();
    const item = obj instanceof R.ActionWrapper ? (obj.getData() || [])[0] : obj;
    check(r.getStatusCode() === 400 && item instanceof R.APIException && item.getCode().getValue() === "INVALID_DATA",
        `${V} ${module} create with an unknown field: 400, APIException INVALID_DATA`,
        `status ${r.getStatusCode()} ${describe(item)}`);
    return id;
}

// Typed values through the SDK's field metadata: integer, double, picklist, lookup, date, boolean, datetime.
async function typedValues(S, V) {
    const R = S.Records;
    const ops = new R.RecordOperations();
    const stamp = `${V} ${Date.now()}`;
    let items = actionItems(`${V} Accounts create (typed)`, await ops.createRecords("Accounts", body(S, [record(S, {
        Account_Name: `Sdk Account ${stamp}`, Employees: 42, Annual_Revenue: 99.25,
        Account_Type: new S.Choice("Customer"),
    })])), R, "getData");
    const accountId = items[0] ? detailId(items[0]) : null;
    if (!accountId) return;
    let got = await getOne(S, "Accounts", accountId, `${V} Accounts get (typed)`);
    if (got) {
        const t = got.getKeyValue("Account_Type");
        check(got.getKeyValue("Employees") === 42 && got.getKeyValue("Annual_Revenue") === 99.25 &&
            t instanceof S.Choice && t.getValue() === "Customer", `${V} Accounts: integer, double, picklist`,
            describe([got.getKeyValue("Employees"), got.getKeyValue("Annual_Revenue"), t]));
    }
    const account = new R.Record();
    account.setId(accountId);
    const dob = new Date(Date.UTC(1990, 4, 17));
    items = actionItems(`${V} Contacts create (typed)`, await ops.createRecords("Contacts", body(S, [record(S, {
        Last_Name: `Sdk Typed ${stamp}`, Account_Name: account, Date_of_Birth: dob, Email_Opt_Out: true,
        Lead_Source: new S.Choice("Web Research"),
    })])), R, "getData");
    const contactId = items[0] ? detailId(items[0]) : null;
    if (contactId) {
        got = await getOne(S, "Contacts", contactId, `${V} Contacts get (typed)`);
        if (got) {
            const a = got.getKeyValue("Account_Name");
            check(a instanceof R.Record && a.getId() === accountId && a.getKeyValue("name") === `Sdk Account ${stamp}`,
                `${V} Contacts: Account_Name reads back as a Record with the BigInt id and name`, describe(a));
            const d = got.getKeyValue("Date_of_Birth");
            check(d instanceof Date && d.toISOString().startsWith("1990-05-17") && got.getKeyValue("Email_Opt_Out") === true,
                `${V} Contacts: date and boolean`, describe([d, got.getKeyValue("Email_Opt_Out")]));
            const ls = got.getKeyValue("Lead_Source");
            check(ls instanceof S.Choice && ls.getValue() === "Web Research", `${V} Contacts: Lead_Source (picklist)`,
                describe(ls));
        }
    }
    const start = new Date((Math.floor(Date.now() / 1000) + 86400) * 1000);
    items = actionItems(`${V} Events create (datetime)`, await ops.createRecords("Events", body(S, [record(S, {
        Event_Title: `Sdk Meeting ${stamp}`, Start_DateTime: start, End_DateTime: new Date(start.getTime() + 3600000),
    })])), R, "getData");
    const eventId = items[0] ? detailId(items[0]) : null;
    if (eventId) {
        got = await getOne(S, "Events", eventId, `${V} Events get (datetime)`);
        if (got) {
            const st = got.getKeyValue("Start_DateTime");
            check(st instanceof Date && st.getTime() === start.getTime(), `${V} Events: Start_DateTime`, describe(st));
        }
    }
}

// --- notifications -------------------------------------------------------------------------------------------
async function getChannel(S, ops, channelId, what) {
    const params = new S.ParameterMap();
    await params.add(S.Notifications.GetNotificationDetailsParam.CHANNEL_ID, channelId);
    const response = await ops.getNotificationDetails(params);
    if (response && response.getStatusCode() === 204 && response.getObject() == null) {
        check(true, `${what} (204: no rows)`);
        return [];
    }
    const w = wrapper(what, response, S.Notifications);
    return w ? w.getWatch() || [] : [];
}

// The items of a watch answer that must have failed as a whole: the v2 and v2.1 status 202, each item an
// APIException. Returns the items.
function failedItems(S, V, what, response, status) {
    const N = S.Notifications;
    const obj = response && response.getObject();
    const items = obj instanceof N.ActionWrapper ? obj.getWatch() || [] : [];
    check(response && response.getStatusCode() === status && items.length > 0 &&
        items.every((i) => i instanceof N.APIException), `${V} ${what}: ${status}, every item an APIException`,
        response && `status ${response.getStatusCode()} ${describe(obj)}`);
    return items;
}

const hoursAhead = (h) => new Date((Math.floor(Date.now() / 1000) + h * 3600) * 1000);

async function notifications(S, V, notifyUrl) {
    const N = S.Notifications;
    const ops = new N.NotificationOperations();
    const a = BigInt(Date.now()) * 1000n + (V === "v2" ? 11n : 21n);
    const b = a + 1n;
    const within = hoursAhead(24); // exactly the 1-day limit of v2 and v2.1: kept
    const beyond = hoursAhead(25); // past it: now + 1 hour
    const before = Math.floor(Date.now() / 1000);

    // enable: channel a (a query string in its URL, an expiry kept) and b (an expiry past the limit)
    let items = actionItems(`${V} notifications enable`, await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: a, Events: ["Leads.create", "Leads.edit", "Contacts.all"], Token: "tok-a",
            NotifyUrl: notifyUrl + "?k=v", ChannelExpiry: within }),
        channel(S, { ChannelId: b, Events: ["Contacts.create"], Token: "tok-b", NotifyUrl: notifyUrl,
            ChannelExpiry: beyond, NotifyOnRelatedAction: false }),
    ])), N, "getWatch");
    if (items.length === 2) {
        check(items.every((i) => i.getMessage().getValue() === "Successfully subscribed for actions-watch of the given module"),
            `${V} enable: message`, describe(items.map((i) => i.getMessage())));
        const events = items[0].getDetails().get("events") || [];
        check(events.length === 2 && events.every((e) => e instanceof N.Notification && e.getChannelId() === a),
            `${V} enable: one event per module, with the channel id as a BigInt`, describe(events));
        const lead = events.find((e) => e.getResourceName() === "Leads");
        // The v2 and v2.1 SDKs model resource_id as a String.
        check(lead && /^[1-9][0-9]*$/.test(lead.getResourceId()) && lead.getResourceUri().endsWith("/crm/v2/Leads"),
            `${V} enable: resource_id and resource_uri`, lead && describe([lead.getResourceId(), lead.getResourceUri()]));
        check(lead && lead.getChannelExpiry() instanceof Date && seconds(lead.getChannelExpiry()) === seconds(within),
            `${V} enable: a channel_expiry 24 h ahead (the limit) is kept`, lead && describe(lead.getChannelExpiry()));
        const bx = (items[1].getDetails().get("events") || [])[0];
        const bs = bx && bx.getChannelExpiry() instanceof Date ? seconds(bx.getChannelExpiry()) : null;
        check(bs !== null && bs >= before + 3600 && bs <= Math.floor(Date.now() / 1000) + 3600,
            `${V} enable: a channel_expiry 25 h ahead is now + 1 h (the 1-day limit of ${V})`,
            bx && describe(bx.getChannelExpiry()));
    }

    // get details
    let got = await getChannel(S, ops, a, `${V} notifications get (channel_id)`);
    check(got.length === 2 && got.every((n) => n.getChannelId() === a), `${V} get: a row per module of channel a`,
        describe(got.map((n) => [n.getChannelId(), n.getResourceName()])));
    const row = got.find((n) => n.getResourceName() === "Leads");
    if (row) {
        check(row.getNotifyUrl() === notifyUrl + "?k=v" && row.getToken() === "tok-a", `${V} get: notify_url, token`);
        check(row.getNotifyOnRelatedAction() === true, `${V} get: notify_on_related_action (default)`);
        check(row.getChannelExpiry() instanceof Date && seconds(row.getChannelExpiry()) === seconds(within),
            `${V} get: channel_expiry`, describe(row.getChannelExpiry()));
        check((row.getEvents() || []).sort().join() === "Leads.create,Leads.edit", `${V} get: events`,
            describe(row.getEvents()));
        check(row.getResourceUri().endsWith("/crm/v2/Leads"), `${V} get: resource_uri`, row.getResourceUri());
    }
    const contactsRow = got.find((n) => n.getResourceName() === "Contacts");
    check(contactsRow && (contactsRow.getEvents() || []).join() === "Contacts.edit,Contacts.create,Contacts.delete",
        `${V} get: Contacts.all expanded to edit, create, delete`, contactsRow && describe(contactsRow.getEvents()));
    const all = wrapper(`${V} notifications get (all)`, await ops.getNotificationDetails(), N);
    if (all) {
        const info = all.getInfo();
        check(info && info.getCount() === (all.getWatch() || []).length && info.getCount() >= 3 &&
            info.getPage() === 1 && info.getPerPage() === 200 && info.getMoreRecords() === false, `${V} get (all): info`,
            info && describe([info.getCount(), info.getPage(), info.getPerPage(), info.getMoreRecords()]));
    }
    const byModule = new S.ParameterMap();
    await byModule.add(N.GetNotificationDetailsParam.MODULE, "Contacts");
    await byModule.add(N.GetNotificationDetailsParam.PAGE, 1);
    await byModule.add(N.GetNotificationDetailsParam.PER_PAGE, 1);
    const contacts = wrapper(`${V} notifications get (module, page, per_page)`, await ops.getNotificationDetails(byModule), N);
    if (contacts) {
        const rows = contacts.getWatch() || [];
        check(rows.length === 1 && rows[0].getResourceName() === "Contacts" && contacts.getInfo().getMoreRecords() === true,
            `${V} get (module=Contacts, per_page=1): one Contacts row, more records`, describe(rows.length));
    }

    // update (PUT): channel b watches Contacts.edit with a new token
    items = actionItems(`${V} notifications update (PUT)`, await ops.updateNotifications(watch(S, [
        channel(S, { ChannelId: b, Events: ["Contacts.edit"], Token: "tok-b2", NotifyUrl: notifyUrl }),
    ])), N, "getWatch");
    if (items[0]) check(items[0].getMessage().getValue() === "Successfully subscribed for actions-watch of the given module",
        `${V} update (PUT): message (as enable)`, describe(items[0].getMessage()));
    got = await getChannel(S, ops, b, `${V} get after PUT`);
    check(got.length === 1 && got[0].getToken() === "tok-b2" && got[0].getEvents().join() === "Contacts.edit" &&
        got[0].getNotifyOnRelatedAction() === true, `${V} PUT replaced events, token and the flag`,
        describe(got.map((n) => [n.getEvents(), n.getToken(), n.getNotifyOnRelatedAction()])));

    // update specific information (PATCH): on v2 and v2.1 only channel_id is mandatory, so no notify_url
    items = actionItems(`${V} notifications update info (PATCH, no notify_url)`, await ops.updateNotification(watch(S, [
        channel(S, { ChannelId: b, Events: ["Contacts.delete"] }),
    ])), N, "getWatch");
    if (items[0]) {
        check(items[0].getMessage().getValue() === "Successfully updated the subscribe details", `${V} PATCH: message`,
            describe(items[0].getMessage()));
        const ev = items[0].getDetails().get("events") || [];
        check(ev.length === 1 && ev[0].getResourceName() === "Contacts" && ev[0].getChannelExpiry() instanceof Date,
            `${V} PATCH: details.events for Contacts`, describe(ev));
    }
    got = await getChannel(S, ops, b, `${V} get after PATCH`);
    check(got.length === 1 && (got[0].getEvents() || []).sort().join() === "Contacts.delete,Contacts.edit" &&
        got[0].getToken() === "tok-b2" && got[0].getNotifyUrl() === notifyUrl,
        `${V} PATCH added an event, kept the token and notify_url`,
        describe(got.map((n) => [n.getEvents(), n.getToken(), n.getNotifyUrl()])));

    // disable specific events (_delete_events): channel a stops Contacts.all
    const off = channel(S, { ChannelId: a, Events: ["Contacts.all"] });
    off.setDeleteevents(true);
    items = actionItems(`${V} notifications disable events (_delete_events)`, await ops.disableNotification(watch(S, [off])),
        N, "getWatch");
    if (items[0]) {
        check(items[0].getMessage().getValue() === "Successfully removed the subscribe details",
            `${V} _delete_events: message`, describe(items[0].getMessage()));
        const ev = items[0].getDetails().get("events") || [];
        check(ev.length === 1 && ev[0].getResourceName() === "Contacts" && ev[0].getChannelExpiry() == null,
            `${V} _delete_events: details.events for Contacts, without channel_expiry`, describe(ev));
    }
    got = await getChannel(S, ops, a, `${V} get after _delete_events`);
    check(got.length === 1 && got[0].getResourceName() === "Leads", `${V} _delete_events removed Contacts`,
        describe(got.map((n) => [n.getResourceName(), n.getEvents()])));
    return { ops, a, b };
}

async function disable(S, V, ops, ids, rows) {
    const N = S.Notifications;
    const params = new S.ParameterMap();
    for (const id of ids) await params.add(N.DisableNotificationsParam.CHANNEL_IDS, id);
    const items = actionItems(`${V} notifications disable (DELETE)`, await ops.disableNotifications(params), N, "getWatch");
    check(items.length === rows, `${V} disable: one answer per (channel, module) row`, items.length);
    if (items[0]) {
        check(items[0].getMessage().getValue() === "Successfully un-subscribed from actions-watch",
            `${V} disable: message`, describe(items[0].getMessage()));
        const d = items[0].getDetails();
        check(ids.includes(d.get("channel_id")) && /^[1-9][0-9]*$/.test(d.get("resource_id")) &&
            d.get("resource_uri").includes("/crm/v2/"), `${V} disable: details channel_id (BigInt), resource_id, resource_uri`,
            describe(Object.fromEntries(d)));
    }
    for (const id of ids) {
        const got = await getChannel(S, ops, id, `${V} get after disable ${id}`);
        check(got.length === 0, `${V} channel ${id} is gone`, got.length);
    }
}

// What v2 and v2.1 answer differently: every item failing is 202; NOT_SUBSCRIBED carries Zoho's messages.
async function versionErrors(S, V, notifyUrl) {
    const N = S.Notifications;
    const ops = new N.NotificationOperations();
    const id = BigInt(Date.now()) * 1000n + (V === "v2" ? 31n : 41n);
    let items = failedItems(S, V, "enable with an unknown module", await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: id, Events: ["No_Such_Module.create"], NotifyUrl: notifyUrl }),
    ])), 202);
    check(items[0] && items[0].getCode().getValue() === "INVALID_DATA" && items[0].getDetails().get("api_name") === "events",
        `${V} unknown module: INVALID_DATA on events`, describe(items[0]));
    items = failedItems(S, V, "enable with a channel_expiry in the past", await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: id, Events: ["Leads.create"], NotifyUrl: notifyUrl, ChannelExpiry: hoursAhead(-1) }),
    ])), 202);
    check(items[0] && items[0].getCode().getValue() === "INVALID_DATA" &&
        items[0].getDetails().get("api_name") === "channel_expiry", `${V} past expiry: INVALID_DATA on channel_expiry`,
        describe(items[0]));

    // one item of two failing: 207
    const r = await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: id, Events: ["Leads.delete"], NotifyUrl: notifyUrl }),
        channel(S, { ChannelId: id + 1n, Events: ["Leads.nope"], NotifyUrl: notifyUrl }),
    ]));
    const mixed = r.getObject() instanceof N.ActionWrapper ? r.getObject().getWatch() || [] : [];
    check(r.getStatusCode() === 207 && mixed.length === 2 && mixed[0] instanceof N.SuccessResponse &&
        mixed[1] instanceof N.APIException, `${V} one item of two failing: 207, success then APIException`,
        `status ${r.getStatusCode()} ${describe(r.getObject())}`);

    items = failedItems(S, V, "PATCH of an unknown channel", await ops.updateNotification(watch(S, [
        channel(S, { ChannelId: 424242n, Events: ["Leads.edit"] }),
    ])), 202);
    check(items[0] && items[0].getCode().getValue() === "NOT_SUBSCRIBED" &&
        items[0].getMessage().getValue() === NOT_SUBSCRIBED_CHANNEL, `${V} PATCH of an unknown channel: NOT_SUBSCRIBED`,
        items[0] && apiError(items[0]));
    const off = channel(S, { ChannelId: id, Events: ["Contacts.edit"] });
    off.setDeleteevents(true);
    items = failedItems(S, V, "_delete_events of a module the channel lacks", await ops.disableNotification(watch(S, [off])),
        202);
    check(items[0] && items[0].getCode().getValue() === "NOT_SUBSCRIBED" &&
        items[0].getMessage().getValue() === NOT_SUBSCRIBED_MODULE,
        `${V} _delete_events of a module the channel lacks: NOT_SUBSCRIBED`, items[0] && apiError(items[0]));
    const params = new S.ParameterMap();
    await params.add(N.DisableNotificationsParam.CHANNEL_IDS, 424242n);
    items = failedItems(S, V, "DELETE of an unknown channel", await ops.disableNotifications(params), 202);
    check(items[0] && items[0].getCode().getValue() === "NOT_SUBSCRIBED" &&
        items[0].getMessage().getValue() === NOT_SUBSCRIBED_CHANNEL, `${V} DELETE of an unknown channel: NOT_SUBSCRIBED`,
        items[0] && apiError(items[0]));
    await disable(S, V, ops, [id], 1);
}

// On v2 and v2.1, DELETE of channels also takes ZohoCRM.notifications.WRITE (their documentation lists it):
// the SDK switches to a token with only that scope, enables a channel and disables it; GET (READ) is refused.
async function writeScopeDeletes(S, V, notifyUrl) {
    if (!env.dbPath) {
        console.log(`skip ${V} WRITE-scope DELETE: the server was not started here (no token can be made)`);
        return;
    }
    const N = S.Notifications;
    const token = heraldCli("token", "create", "--scopes", "ZohoCRM.notifications.WRITE");
    await initialize(S, token, path.join(env.work, `${V}-write`), "switchUser");
    const ops = new N.NotificationOperations();
    const id = BigInt(Date.now()) * 1000n + (V === "v2" ? 51n : 61n);
    actionItems(`${V} enable with the WRITE scope`, await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: id, Events: ["Deals.edit"], NotifyUrl: notifyUrl }),
    ])), N, "getWatch");
    const params = new S.ParameterMap();
    await params.add(N.DisableNotificationsParam.CHANNEL_IDS, id);
    const items = actionItems(`${V} DELETE with the WRITE scope`, await ops.disableNotifications(params), N, "getWatch");
    check(items.length === 1, `${V} DELETE with the WRITE scope: one row`, items.length);
    const read = await ops.getNotificationDetails();
    check(read.getObject() instanceof N.APIException && read.getObject().getCode().getValue() === "OAUTH_SCOPE_MISMATCH",
        `${V} GET with the WRITE scope alone: OAUTH_SCOPE_MISMATCH`, `status ${read.getStatusCode()}`);
}

// --- one SDK from start to end -------------------------------------------------------------------------------
async function drive(S, notifyUrl) {
    const V = S.version;
    console.log(`--- ${S.package} on /crm/${V}`);
    await initialize(S, env.accessToken, path.join(env.work, V), "initialize");
    await usersAndOrg(S, V);
    const { ops, a, b } = await notifications(S, V, notifyUrl);
    const leadId = await records(S, V, "Leads", { Company: `Sdk Co ${V}` });
    const contactId = await records(S, V, "Contacts", { First_Name: "Ada" });

    // Channel a (Leads.create, Leads.edit; ?k=v in its URL) saw the SDK's lead inserted and updated.
    if (leadId) {
        const id = leadId.toString();
        const cb = await waitForCallback((c) => c.body && c.body.operation === "insert" && (c.body.ids || []).includes(id),
            15000);
        check(cb && cb.method === "POST" && cb.url === "/hook?k=v" && cb.body.channel_id === a.toString() &&
            cb.body.token === "tok-a" && cb.body.module === "Leads" && cb.body.resource_uri.endsWith("/crm/v2/Leads") &&
            cb.body.query_params && cb.body.query_params["?k"] === "v" && Array.isArray(cb.body.affected_fields) &&
            cb.body.affected_fields.length === 0 && !("affected_values" in cb.body),
            `${V} callback for the SDK-created lead on channel a`, cb ? describe(cb.body) : "none");
        const ed = await waitForCallback((c) => c.body && c.body.operation === "update" && (c.body.ids || []).includes(id),
            15000);
        const changed = ed && (ed.body.affected_fields || [])[0];
        check(changed && (changed[id] || []).includes("Last_Name"), `${V} callback for the SDK's update of the lead`,
            ed ? describe(ed.body) : "none");
    }
    // Channel b (after the PUT and the PATCH: Contacts.edit and Contacts.delete) saw the contact's update and delete.
    if (contactId) {
        for (const op of ["update", "delete"]) {
            const cb = await waitForCallback((c) => c.body && c.body.operation === op && c.body.module === "Contacts" &&
                (c.body.ids || []).includes(contactId.toString()), 15000);
            check(cb && cb.url === "/hook" && cb.body.channel_id === b.toString() && cb.body.token === "tok-b2",
                `${V} callback for the SDK's Contacts ${op} on channel b`, cb ? describe(cb.body) : "none");
        }
    }
    await disable(S, V, ops, [a, b], 2);
    await typedValues(S, V);
    await versionErrors(S, V, notifyUrl);
    await writeScopeDeletes(S, V, notifyUrl);
    // The SDK logs what it could not do without failing the call (a fields request for a lookup's module that
    // came back an error, say): nothing.
    const log = fs.readFileSync(path.join(env.work, V, "sdk.log"), "utf8");
    const errors = log.split("\n").filter((l) => /level: 'error'|"level":"error"/.test(l));
    check(errors.length === 0, `${V} the SDK logged no error`, errors.join(" | ").slice(0, 2000));
}

await run("herald-oldsdk", async (notifyUrl) => {
    await drive(v2Sdk(), notifyUrl);
    await drive(v21Sdk(), notifyUrl);
}, 60000);
