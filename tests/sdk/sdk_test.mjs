// Drives Herald through the official Zoho CRM Node SDK v8 (@zohocrm/nodejs-sdk-8.0), using only the SDK's
// operations classes. Usage: node sdk_test.mjs  with HERALD_URL and HERALD_TOKEN set (or HERALD_BIN: the
// script then starts its own server in a temporary directory). The callbacks are verified with the official
// Standard Webhooks library (standardwebhooks) when the script starts the server (it reads the secret).
import * as ZOHOCRMSDK from "@zohocrm/nodejs-sdk-8.0";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import path from "node:path";
import crypto from "node:crypto";
import { check, describe, apiError, actionItems, wrapper, isBigInt, detailId, env, heraldCli, callbacks, waitForCallback,
    run, sdkChannel, sdkWatch } from "./harness.mjs";
import { watchAnswers } from "./model.mjs";

const R = ZOHOCRMSDK.Record;
const N = ZOHOCRMSDK.Notifications;
const F = ZOHOCRMSDK.Fields;
// Every JSON answer the SDK parses is checked against the SDK's model of it (model.mjs), at the end of main.
const answers = await watchAnswers("@zohocrm/nodejs-sdk-8.0");

// --- the SDK's set-up ----------------------------------------------------------------------------------------
async function initialize() {
    // A custom environment: API domain = Herald; the accounts URL is never used with an access token.
    const environment = new ZOHOCRMSDK.Environment(env.baseUrl, "http://127.0.0.1:9/oauth/v2/token", env.baseUrl);
    // The access-token flow; findUser stays true, so initialization calls users?type=CurrentUser and org.
    const token = new ZOHOCRMSDK.OAuthBuilder().accessToken(env.accessToken).build();
    const store = new ZOHOCRMSDK.FileStore(path.join(env.work, "sdk_tokens.txt"));
    const logger = new ZOHOCRMSDK.LogBuilder().level(ZOHOCRMSDK.Levels.INFO)
        .filePath(path.join(env.work, "sdk.log")).build();
    const sdkConfig = new ZOHOCRMSDK.SDKConfigBuilder().autoRefreshFields(false).pickListValidation(false).build();
    await (await new ZOHOCRMSDK.InitializeBuilder())
        .environment(environment)
        .token(token)
        .store(store)
        .SDKConfig(sdkConfig)
        .resourcePath(env.work)
        .logger(logger)
        .initialize();
    const init = await ZOHOCRMSDK.Initializer.getInitializer();
    const sig = init.getToken().getUserSignature();
    // getUserName (users?type=CurrentUser, then org) sets the signature "email:zgid"; its failure is only logged.
    check(sig != null && /^[^:]+@[^:]+:\S+$/.test(sig.getName()), "initialization found the current user and org",
        sig ? sig.getName() : "no user signature (see sdk.log)");
}

// --- fields metadata -----------------------------------------------------------------------------------------
async function fields(module) {
    const params = new ZOHOCRMSDK.ParameterMap();
    await params.add(F.GetFieldsParam.MODULE, module);
    const w = wrapper(`fields of ${module}`, await new F.FieldsOperations().getFields(params), F);
    if (!w) return;
    const list = w.getFields() || [];
    const names = list.map((f) => f.getAPIName());
    check(names.includes("Last_Name") && names.includes("Email"), `fields of ${module} list Last_Name and Email`,
        names.join(","));
    const last = list.find((f) => f.getAPIName() === "Last_Name");
    check(last && last.getDataType() === "text", `${module} Last_Name is text`, last && last.getDataType());
    check(list.every((f) => isBigInt(f.getId())), `${module} field ids are BigInt`);
}

// --- records -------------------------------------------------------------------------------------------------
function record(values) {
    const r = new R.Record();
    for (const [k, v] of Object.entries(values)) r.addKeyValue(k, v);
    return r;
}

function body(records) {
    const b = new R.BodyWrapper();
    b.setData(records);
    return b;
}

async function getOne(module, id, what) {
    const w = wrapper(what, await new R.RecordOperations(module).getRecord(id), R);
    if (!w) return null;
    const data = w.getData() || [];
    check(data.length === 1 && data[0].getId() === id, `${what}: the record with the id`,
        describe(data.map((d) => d.getId())));
    return data[0] || null;
}

async function records(module, extra) {
    const ops = new R.RecordOperations(module);
    const stamp = Date.now();
    // create
    let items = actionItems(`${module} create`, await ops.createRecords(body([
        record({ Last_Name: `Sdk ${stamp}`, Email: `sdk${stamp}@example.com`, ...extra }),
    ])), R, "getData");
    const created = items[0];
    if (!created) return null;
    const details = created.getDetails();
    // The SDK models SuccessResponse.details.id of records as a String (json_details); record ids elsewhere are Long.
    const rawId = details.get("id");
    check(typeof rawId === "string" && /^[1-9][0-9]*$/.test(rawId), `${module} create: details.id is a numeric string`,
        describe(rawId));
    const id = BigInt(rawId);
    check(created.getCode().getValue() === "SUCCESS" && created.getStatus().getValue() === "success",
        `${module} create: code SUCCESS, status success`);
    check(details.get("Created_Time") instanceof Date, `${module} create: Created_Time is a Date`,
        describe(details.get("Created_Time")));
    const cb = details.get("Created_By");
    check(cb && isBigInt(cb.getId ? cb.getId() : cb.id), `${module} create: Created_By.id is BigInt`, describe(cb));

    // get
    let got = await getOne(module, id, `${module} get`);
    if (got) {
        check(got.getKeyValue("Last_Name") === `Sdk ${stamp}`, `${module} get: Last_Name reads back`,
            got.getKeyValue("Last_Name"));
        check(got.getKeyValue("Email") === `sdk${stamp}@example.com`, `${module} get: Email reads back`);
        for (const [k, v] of Object.entries(extra))
            check(got.getKeyValue(k) === v, `${module} get: ${k} reads back`, describe(got.getKeyValue(k)));
        check(got.getCreatedTime() instanceof Date, `${module} get: Created_Time is a Date`);
        const owner = got.getKeyValue("Owner");
        check(owner && isBigInt(owner.getId()), `${module} get: Owner.id is BigInt`, describe(owner));
    }

    // update one
    const upd = record({ Last_Name: `Sdk updated ${stamp}` });
    items = actionItems(`${module} update`, await ops.updateRecord(id, body([upd])), R, "getData");
    if (items[0]) check(detailId(items[0]) === id, `${module} update: the same id`);
    got = await getOne(module, id, `${module} get after update`);
    if (got) check(got.getKeyValue("Last_Name") === `Sdk updated ${stamp}`, `${module} update: Last_Name changed`,
        got.getKeyValue("Last_Name"));

    // update many (PUT /Module with ids in the body)
    const upd2 = record({ Last_Name: `Sdk bulk ${stamp}` });
    upd2.setId(id);
    items = actionItems(`${module} update (bulk)`, await ops.updateRecords(body([upd2])), R, "getData");
    if (items[0]) check(detailId(items[0]) === id, `${module} update (bulk): the same id`);

    // upsert: one new (by Email) and one existing
    const header = new ZOHOCRMSDK.HeaderMap();
    const up = new R.BodyWrapper();
    up.setData([
        record({ Last_Name: `Sdk upsert ${stamp}`, Email: `sdk-upsert${stamp}@example.com` }),
        record({ Last_Name: `Sdk upserted ${stamp}`, Email: `sdk${stamp}@example.com` }),
    ]);
    up.setDuplicateCheckFields(["Email"]);
    items = actionItems(`${module} upsert`, await ops.upsertRecords(up, header), R, "getData");
    let upsertedId = null;
    if (items.length === 2) {
        upsertedId = detailId(items[0]);
        check(isBigInt(upsertedId) && upsertedId !== id, `${module} upsert: a new record with a BigInt id`);
        check(detailId(items[1]) === id, `${module} upsert: the duplicate matched the existing record`,
            describe(detailId(items[1])));
        check(items[0].getAction() && items[0].getAction().getValue() === "insert" &&
            items[1].getAction() && items[1].getAction().getValue() === "update", `${module} upsert: actions insert, update`,
            describe([items[0].getAction(), items[1].getAction()]));
    } else {
        check(false, `${module} upsert: two answers`, items.length);
    }
    got = await getOne(module, id, `${module} get after upsert`);
    if (got) check(got.getKeyValue("Last_Name") === `Sdk upserted ${stamp}`, `${module} upsert: Last_Name changed`);

    // getRecords (list) sees both
    const params = new ZOHOCRMSDK.ParameterMap();
    await params.add(R.GetRecordsParam.FIELDS, "Last_Name,Email");
    const list = wrapper(`${module} list`, await ops.getRecords(params), R);
    if (list) {
        const ids = (list.getData() || []).map((r) => r.getId());
        check(ids.includes(id) && ids.includes(upsertedId), `${module} list: both records`, describe(ids));
        check(list.getInfo() && typeof list.getInfo().getMoreRecords() === "boolean", `${module} list: info`);
    }

    // delete one, then the other through the bulk delete
    items = actionItems(`${module} delete`, await ops.deleteRecord(id), R, "getData");
    if (items[0]) check(detailId(items[0]) === id, `${module} delete: the same id`);
    const del = new ZOHOCRMSDK.ParameterMap();
    await del.add(R.DeleteRecordsParam.IDS, String(upsertedId));
    items = actionItems(`${module} delete (bulk)`, await ops.deleteRecords(del), R, "getData");
    const after = await ops.getRecord(id);
    check(after.getObject() instanceof R.APIException || after.getStatusCode() === 204,
        `${module} get after delete: not found`, after.getStatusCode());
    return id;
}

// --- notifications -------------------------------------------------------------------------------------------
const channel = (fields) => sdkChannel(N, fields);
const watch = (list) => sdkWatch(N, list);

async function getChannel(ops, channelId, what) {
    const params = new ZOHOCRMSDK.ParameterMap();
    await params.add(N.GetNotificationsParam.CHANNEL_ID, channelId);
    const response = await ops.getNotifications(params);
    if (response && response.getStatusCode() === 204 && response.getObject() == null) {
        check(true, `${what} (204: no rows)`);
        return [];
    }
    const w = wrapper(what, response, N);
    return w ? w.getWatch() || [] : [];
}

async function notifications(notifyUrl) {
    const ops = new N.NotificationsOperations();
    const a = BigInt(Date.now()) * 1000n + 1n;
    const b = a + 1n;
    const expiry = new Date(Date.now() + 3600 * 1000);
    expiry.setMilliseconds(0);

    // enable: two channels
    let items = actionItems("notifications enable", await ops.enableNotifications(watch([
        channel({ ChannelId: a.toString(), Events: ["Leads.create", "Leads.edit", "Contacts.all"], Token: "tok-a",
            NotifyUrl: notifyUrl + "?k=v", ChannelExpiry: expiry, ReturnAffectedFieldValues: true }),
        channel({ ChannelId: b.toString(), Events: ["Contacts.create"], Token: "tok-b",
            NotifyUrl: notifyUrl, NotifyOnRelatedAction: false }),
    ])), N, "getWatch");
    if (items.length === 2) {
        const d = items[0].getDetails();
        const events = d.get("events") || [];
        check(events.length === 2 && events.every((e) => e instanceof N.Event), "enable: one Event per module",
            describe(events));
        check(events.every((e) => e.getChannelId() === a.toString()), "enable: events carry the channel id",
            describe(events.map((e) => e.getChannelId())));
        check(events.every((e) => e.getChannelExpiry() instanceof Date), "enable: channel_expiry read as a Date");
        const lead = events.find((e) => e.getResourceName() === "Leads");
        check(lead && isBigInt(lead.getResourceId()), "enable: resource_id is BigInt",
            lead && describe(lead.getResourceId()));
        check(lead && lead.getResourceUri() && lead.getResourceUri().endsWith("/Leads"), "enable: resource_uri",
            lead && lead.getResourceUri());
        const exp = events[0] && events[0].getChannelExpiry();
        check(exp && Math.abs(exp.getTime() - expiry.getTime()) < 1000, "enable: channel_expiry as sent",
            exp && exp.toISOString());
        check(items[0].getMessage().getValue() === "Successfully subscribed for actions-watch of the given module",
            "enable: message", items[0].getMessage().getValue());
    }

    // get details
    let got = await getChannel(ops, BigInt(a), "notifications get (channel_id)");
    check(got.length === 2 && got.every((n) => n.getChannelId() === a.toString()), "get: a row per module of channel a",
        describe(got.map((n) => [n.getChannelId(), n.getResourceName()])));
    const row = got.find((n) => n.getResourceName() === "Leads");
    if (row) {
        check(row.getNotifyUrl() === notifyUrl + "?k=v", "get: notify_url", row.getNotifyUrl());
        check(row.getToken() === "tok-a", "get: token");
        check(row.getReturnAffectedFieldValues() === true, "get: return_affected_field_values");
        check(row.getNotifyOnRelatedAction() === true, "get: notify_on_related_action (default)");
        check(row.getChannelExpiry() instanceof Date && Math.abs(row.getChannelExpiry() - expiry) < 1000,
            "get: channel_expiry", describe(row.getChannelExpiry()));
        check((row.getEvents() || []).sort().join(",") === "Leads.create,Leads.edit", "get: events",
            describe(row.getEvents()));
        check(isBigInt(row.getResourceId()), "get: resource_id is BigInt");
    }
    const all = wrapper("notifications get (all)", await ops.getNotifications(), N);
    if (all) {
        const info = all.getInfo();
        check(info && info.getCount() >= 3 && info.getCount() === (all.getWatch() || []).length && typeof info.getMoreRecords() === "boolean", "get (all): info",
            info && describe([info.getCount(), info.getMoreRecords(), info.getPage(), info.getPerPage()]));
    }

    const byModule = new ZOHOCRMSDK.ParameterMap();
    await byModule.add(N.GetNotificationsParam.MODULE, "Contacts");
    await byModule.add(N.GetNotificationsParam.PAGE, 1);
    await byModule.add(N.GetNotificationsParam.PER_PAGE, 1);
    const contacts = wrapper("notifications get (module, page, per_page)", await ops.getNotifications(byModule), N);
    if (contacts) {
        const rows = contacts.getWatch() || [];
        const info = contacts.getInfo();
        check(rows.length === 1 && rows[0].getResourceName() === "Contacts" && info.getPerPage() === 1 &&
            info.getMoreRecords() === true, "get (module=Contacts, per_page=1): one Contacts row, more records",
            describe([rows.map((r) => r.getResourceName()), info]));
    }

    // update (PUT): channel b now watches Contacts.edit with a new token
    items = actionItems("notifications update (PUT)", await ops.updateNotifications(watch([
        channel({ ChannelId: b.toString(), Events: ["Contacts.edit"], Token: "tok-b2", NotifyUrl: notifyUrl,
            ChannelExpiry: expiry }),
    ])), N, "getWatch");
    if (items[0]) check(items[0].getMessage().getValue() === "Successfully subscribed for actions-watch of the given module",
        "update (PUT): message (as enable)", items[0].getMessage().getValue());
    got = await getChannel(ops, b, "get after PUT");
    check(got.length === 1 && got[0].getToken() === "tok-b2" && got[0].getEvents().join() === "Contacts.edit",
        "PUT replaced events and token", describe(got.map((n) => [n.getEvents(), n.getToken()])));

    // update specific information (PATCH): channel b also watches Contacts.delete
    items = actionItems("notifications update info (PATCH)", await ops.updateNotification(watch([
        channel({ ChannelId: b.toString(), Events: ["Contacts.delete"], NotifyUrl: notifyUrl }),
    ])), N, "getWatch");
    got = await getChannel(ops, b, "get after PATCH");
    check(got.length === 1 && (got[0].getEvents() || []).sort().join() === "Contacts.delete,Contacts.edit" &&
        got[0].getToken() === "tok-b2", "PATCH added an event, kept the token",
        describe(got.map((n) => [n.getEvents(), n.getToken()])));

    // disable specific events (_delete_events): channel a stops Contacts.all
    const off = channel({ ChannelId: a.toString(), Events: ["Contacts.all"] });
    off.setDeleteEvents(new ZOHOCRMSDK.Choice(true));
    items = actionItems("notifications disable events (_delete_events)", await ops.disableNotification(watch([off])),
        N, "getWatch");
    got = await getChannel(ops, a, "get after _delete_events");
    check(got.length === 1 && got[0].getResourceName() === "Leads", "_delete_events removed Contacts",
        describe(got.map((n) => [n.getResourceName(), n.getEvents()])));

    return { ops, a, b };
}

async function disable(ops, ids, rows) {
    const params = new ZOHOCRMSDK.ParameterMap();
    for (const id of ids) await params.add(N.DeleteNotificationParam.CHANNEL_IDS, id);
    const items = actionItems("notifications disable (DELETE)", await ops.deleteNotification(params), N, "getWatch");
    check(items.length === rows, "disable: one answer per (channel, module) row", items.length);
    if (items[0]) {
        check(items[0].getMessage().getValue() === "Successfully un-subscribed from actions-watch",
            "disable: message", items[0].getMessage().getValue());
        const cid = items[0].getDetails().get("channel_id");
        check(isBigInt(cid) && ids.includes(cid), "disable: details.channel_id is BigInt", describe(cid));
    }
    for (const id of ids) {
        const got = await getChannel(ops, id, `get after disable ${id}`);
        check(got.length === 0, `channel ${id} is gone`, got.length);
    }
}

// --- users, org, modules -------------------------------------------------------------------------------------
async function usersAndOrg() {
    const U = ZOHOCRMSDK.Users, O = ZOHOCRMSDK.Org, M = ZOHOCRMSDK.Modules;
    const params = new ZOHOCRMSDK.ParameterMap();
    await params.add(U.GetUsersParam.TYPE, "CurrentUser");
    const w = wrapper("users?type=CurrentUser", await new U.UsersOperations().getUsers(params), U);
    if (w) {
        const users = w.getUsers() || [];
        check(users.length === 1 && isBigInt(users[0].getId()) && /@/.test(users[0].getEmail()),
            "current user: one, BigInt id, email", describe(users.map((u) => [u.getId(), u.getEmail()])));
    }
    const all = wrapper("users", await new U.UsersOperations().getUsers(), U);
    if (all) check((all.getUsers() || []).length >= 1 && all.getInfo() != null, "users: a list with info");
    const org = wrapper("org", await new O.OrgOperations().getOrganization(), O);
    if (org) {
        const o = (org.getOrg() || [])[0];
        // The SDK models the org's id and zgid as Strings.
        check(o && /^[1-9][0-9]*$/.test(o.getId()) && o.getZgid() != null, "org: numeric id and zgid",
            o && describe([o.getId(), o.getZgid()]));
    }
    const mods = wrapper("modules", await new M.ModulesOperations().getModules(), M);
    if (mods) {
        const leads = (mods.getModules() || []).find((m) => m.getAPIName() === "Leads");
        check(leads && isBigInt(leads.getId()) && leads.getAPISupported() === true, "modules: Leads with a BigInt id",
            leads && describe([leads.getId(), leads.getAPISupported()]));
    }
    const one = wrapper("modules/Leads", await new M.ModulesOperations().getModuleByAPIName("Leads"), M);
    if (one) check((one.getModules() || []).length === 1, "modules/Leads: one module");
}

// --- typed values: lookups, picklists, dates, numbers, booleans ------------------------------------------------
async function typedValues() {
    const stamp = Date.now();
    const acc = new R.RecordOperations("Accounts");
    let items = actionItems("Accounts create (typed)", await acc.createRecords(body([record({
        Account_Name: `Sdk Account ${stamp}`, Employees: 42, Annual_Revenue: 99.25,
        Account_Type: new ZOHOCRMSDK.Choice("Customer"),
    })])), R, "getData");
    const accountId = items[0] ? detailId(items[0]) : null;
    if (!accountId) return;
    let got = await getOne("Accounts", accountId, "Accounts get (typed)");
    if (got) {
        check(got.getKeyValue("Employees") === 42, "Accounts: Employees (integer)", describe(got.getKeyValue("Employees")));
        check(got.getKeyValue("Annual_Revenue") === 99.25, "Accounts: Annual_Revenue (double)",
            describe(got.getKeyValue("Annual_Revenue")));
        const t = got.getKeyValue("Account_Type");
        check(t instanceof ZOHOCRMSDK.Choice && t.getValue() === "Customer", "Accounts: Account_Type (picklist)",
            describe(t));
    }

    const account = new R.Record();
    account.setId(accountId);
    const con = new R.RecordOperations("Contacts");
    const dob = new Date(Date.UTC(1990, 4, 17));
    items = actionItems("Contacts create (typed)", await con.createRecords(body([record({
        Last_Name: `Sdk Typed ${stamp}`, Account_Name: account, Date_of_Birth: dob, Email_Opt_Out: true,
        Lead_Source: new ZOHOCRMSDK.Choice("Web Research"),
    })])), R, "getData");
    const contactId = items[0] ? detailId(items[0]) : null;
    if (contactId) {
        got = await getOne("Contacts", contactId, "Contacts get (typed)");
        if (got) {
            const a = got.getKeyValue("Account_Name");
            check(a instanceof R.Record && a.getId() === accountId && a.getKeyValue("name") === `Sdk Account ${stamp}`,
                "Contacts: Account_Name lookup reads back as a Record with the BigInt id and name", describe(a));
            const d = got.getKeyValue("Date_of_Birth");
            check(d instanceof Date && d.toISOString().startsWith("1990-05-17"), "Contacts: Date_of_Birth (date)",
                describe(d));
            check(got.getKeyValue("Email_Opt_Out") === true, "Contacts: Email_Opt_Out (boolean)");
            const ls = got.getKeyValue("Lead_Source");
            check(ls instanceof ZOHOCRMSDK.Choice && ls.getValue() === "Web Research", "Contacts: Lead_Source (picklist)",
                describe(ls));
        }
    }

    const deals = new R.RecordOperations("Deals");
    const closing = new Date(Date.UTC(2030, 0, 31));
    items = actionItems("Deals create (typed)", await deals.createRecords(body([record({
        Deal_Name: `Sdk Deal ${stamp}`, Stage: new ZOHOCRMSDK.Choice("Proposal/Price Quote"), Amount: 1000.5,
        Closing_Date: closing, Account_Name: account,
    })])), R, "getData");
    const dealId = items[0] ? detailId(items[0]) : null;
    if (dealId) {
        got = await getOne("Deals", dealId, "Deals get (typed)");
        if (got) {
            check(got.getKeyValue("Probability") === 75, "Deals: Probability follows Stage",
                describe(got.getKeyValue("Probability")));
            check(got.getKeyValue("Amount") === 1000.5, "Deals: Amount", describe(got.getKeyValue("Amount")));
            const c = got.getKeyValue("Closing_Date");
            check(c instanceof Date && c.toISOString().startsWith("2030-01-31"), "Deals: Closing_Date", describe(c));
        }
    }

    const events = new R.RecordOperations("Events");
    const start = new Date(Date.now() + 86400000);
    start.setMilliseconds(0);
    const end = new Date(start.getTime() + 3600000);
    items = actionItems("Events create (datetime)", await events.createRecords(body([record({
        Event_Title: `Sdk Meeting ${stamp}`, Start_DateTime: start, End_DateTime: end,
    })])), R, "getData");
    const eventId = items[0] ? detailId(items[0]) : null;
    if (eventId) {
        got = await getOne("Events", eventId, "Events get (datetime)");
        if (got) {
            const st = got.getKeyValue("Start_DateTime");
            check(st instanceof Date && st.getTime() === start.getTime(), "Events: Start_DateTime (datetime)",
                describe(st));
        }
    }
}

// --- errors are classified as APIException ---------------------------------------------------------------------
async function errors() {
    const ops = new N.NotificationsOperations();
    // PATCH of a channel that does not exist: NOT_SUBSCRIBED in the item.
    let r = await ops.updateNotification(watch([channel({ ChannelId: "424242", Events: ["Leads.edit"],
        NotifyUrl: "http://127.0.0.1:9/x" })]));
    let obj = r.getObject();
    let item = obj instanceof N.ActionWrapper ? (obj.getWatch() || [])[0] : obj;
    check(item instanceof N.APIException && item.getCode().getValue() === "NOT_SUBSCRIBED",
        "PATCH of an unknown channel: APIException NOT_SUBSCRIBED", `status ${r.getStatusCode()} ${describe(item)}`);
    // DELETE of a channel that does not exist.
    const params = new ZOHOCRMSDK.ParameterMap();
    await params.add(N.DeleteNotificationParam.CHANNEL_IDS, 424242n);
    r = await ops.deleteNotification(params);
    obj = r.getObject();
    item = obj instanceof N.ActionWrapper ? (obj.getWatch() || [])[0] : obj;
    check(item instanceof N.APIException && item.getCode().getValue() === "NOT_SUBSCRIBED",
        "DELETE of an unknown channel: APIException NOT_SUBSCRIBED", `status ${r.getStatusCode()} ${describe(item)}`);
    // enable without notify_url: MANDATORY_NOT_FOUND.
    r = await ops.enableNotifications(watch([channel({ ChannelId: "424243", Events: ["Leads.edit"] })]));
    obj = r.getObject();
    item = obj instanceof N.ActionWrapper ? (obj.getWatch() || [])[0] : obj;
    check(item instanceof N.APIException && item.getCode().getValue() === "MANDATORY_NOT_FOUND",
        "enable without notify_url: APIException MANDATORY_NOT_FOUND", `status ${r.getStatusCode()} ${describe(item)}`);
    // a record of an unknown id.
    r = await new R.RecordOperations("Leads").getRecord(4242424242n);
    obj = r.getObject();
    check(obj instanceof R.APIException || (r.getStatusCode() === 204 && obj == null),
        "get of an unknown record: APIException or 204", `status ${r.getStatusCode()} ${describe(obj)}`);
    // a record with an unknown field: INVALID_DATA in data[].
    r = await new R.RecordOperations("Leads").createRecords(body([record({ Last_Name: "x", No_Such_Field: "y" })]));
    obj = r.getObject();
    item = obj instanceof R.ActionWrapper ? (obj.getData() || [])[0] : obj;
    check(item instanceof R.APIException && item.getCode().getValue() === "INVALID_DATA",
        "create with an unknown field: APIException INVALID_DATA", `status ${r.getStatusCode()} ${describe(item)}`);
}

// --- a channel with a notification_condition, written and read through the SDK's classes ---------------------
async function conditions() {
    const ops = new N.NotificationsOperations();
    const id = BigInt(Date.now()) * 1000n + 7n;
    const module = new N.Module();
    module.setAPIName("Deals");
    const stage = new N.Criteria();
    const sf = new N.Field();
    sf.setAPIName("Stage");
    stage.setField(sf);
    const amount = new N.Criteria();
    const af = new N.Field();
    af.setAPIName("Amount");
    amount.setField(af);
    const sel = new N.Criteria();
    sel.setGroupOperator("or");
    sel.setGroup([stage, amount]);
    const cond = new N.NotificationCondition();
    cond.setType("field_selection");
    cond.setModule(module);
    cond.setFieldSelection(sel);
    const items = actionItems("enable with notification_condition", await ops.enableNotifications(watch([
        channel({ ChannelId: id.toString(), Events: ["Deals.edit"], NotifyUrl: "http://127.0.0.1:9/c",
            NotificationCondition: [cond] }),
    ])), N, "getWatch");
    const got = await getChannel(ops, id, "get the conditioned channel");
    const c = got[0] && (got[0].getNotificationCondition() || [])[0];
    check(c instanceof N.NotificationCondition && c.getType() === "field_selection" &&
        c.getModule().getAPIName() === "Deals" && isBigInt(c.getModule().getId()),
        "condition reads back with the module's BigInt id", describe(c));
    const g = c && c.getFieldSelection();
    check(g && g.getGroupOperator() === "or" && (g.getGroup() || []).length === 2 &&
        g.getGroup().every((x) => x.getField() && isBigInt(x.getField().getId())),
        "condition group reads back with BigInt field ids", describe(g));
    if (items.length) await disable(ops, [id], 1);
}

// --- request options the SDK sends: trigger, wf_trigger, paging ------------------------------------------------
async function options() {
    const stamp = Date.now();
    const ops = new R.RecordOperations("Leads");
    const b = body([1, 2, 3].map((i) => record({ Last_Name: `Sdk Page ${stamp} ${i}`, Company: `Page ${stamp}` })));
    b.setTrigger(["workflow", "approval", "blueprint"]);
    const items = actionItems("Leads create with trigger", await ops.createRecords(b), R, "getData");
    const ids = items.map(detailId);
    check(ids.length === 3 && ids.every(isBigInt), "three BigInt ids", describe(ids));
    // page through the list two at a time
    const seen = [];
    for (let page = 1; page <= 50; page++) {
        const params = new ZOHOCRMSDK.ParameterMap();
        await params.add(R.GetRecordsParam.FIELDS, "Last_Name,Company");
        await params.add(R.GetRecordsParam.PAGE, page);
        await params.add(R.GetRecordsParam.PER_PAGE, 2);
        const w = wrapper(`Leads list page ${page}`, await ops.getRecords(params), R);
        if (!w) break;
        const data = w.getData() || [];
        check(data.length <= 2 && w.getInfo().getPerPage() === 2 && w.getInfo().getPage() === page,
            `page ${page}: at most two, info page/per_page`, describe([data.length, w.getInfo()]));
        seen.push(...data.map((r) => r.getId()));
        if (!w.getInfo().getMoreRecords()) break;
    }
    check(ids.every((id) => seen.includes(id)) && new Set(seen).size === seen.length,
        "paging saw each new lead once", describe(seen));
    // delete with wf_trigger
    for (const id of ids) {
        const params = new ZOHOCRMSDK.ParameterMap();
        await params.add(R.DeleteRecordParam.WF_TRIGGER, false);
        actionItems(`Leads delete ${id} with wf_trigger`, await ops.deleteRecord(id, params), R, "getData");
    }
    // upsert without duplicate_check_fields: Email is the system duplicate check of Leads
    const email = `sdk-dup${stamp}@example.com`;
    let first = actionItems("Leads upsert (no duplicate_check_fields) inserts",
        await ops.upsertRecords(body([record({ Last_Name: "Dup A", Email: email })])), R, "getData");
    let second = actionItems("Leads upsert (no duplicate_check_fields) updates",
        await ops.upsertRecords(body([record({ Last_Name: "Dup B", Email: email })])), R, "getData");
    if (first[0] && second[0]) {
        check(detailId(first[0]) === detailId(second[0]) && second[0].getAction().getValue() === "update" &&
            second[0].getDuplicateField() === "Email", "upsert matched by Email",
            describe([detailId(first[0]), detailId(second[0]), second[0].getAction(), second[0].getDuplicateField()]));
        actionItems("Leads delete the upserted", await ops.deleteRecord(detailId(first[0])), R, "getData");
    }
}

// --- users.all and fields on a channel -------------------------------------------------------------------------
async function usersChannel() {
    const ops = new N.NotificationsOperations();
    const id = BigInt(Date.now()) * 1000n + 9n;
    const n = channel({ ChannelId: id.toString(), Events: ["users.all", "Leads.all"], NotifyUrl: "http://127.0.0.1:9/u" });
    n.setFields(new Map([["Leads", ["Last_Name", "Email"]]]));
    const items = actionItems("enable users.all with fields", await ops.enableNotifications(watch([n])), N, "getWatch");
    if (items[0]) {
        const events = items[0].getDetails().get("events") || [];
        check(events.length === 2 && events.every((e) => isBigInt(e.getResourceId()) && e.getResourceName()),
            "users.all: events with BigInt resource ids", describe(events));
    }
    const got = await getChannel(ops, id, "get the users.all channel");
    check(got.length === 2, "users.all channel: two rows", describe(got));
    const leads = got.find((r) => r.getResourceName() === "Leads");
    check(leads && leads.getFields() instanceof Map, "fields echoed as a map", leads && describe(leads.getFields()));
    if (items.length) await disable(ops, [id], 2);
}

// --- callback signatures, verified by the official Standard Webhooks library ---------------------------------
// Webhook.verify(payload, headers) checks webhook-id, webhook-timestamp (within 5 minutes) and any "v1,"
// entry of webhook-signature against HMAC-SHA256 of "id.timestamp.body" keyed by the whsec_ secret's bytes.
function verifies(secret, payload, headers) {
    try {
        new Webhook(secret).verify(payload, headers);
        return "verified";
    } catch (e) {
        if (e instanceof WebhookVerificationError) return e.message;
        throw e;
    }
}


// A new Lead (non-ASCII in its name, so the signed bytes are UTF-8) and the callback channel `id` sends for it.
async function signedCallback(ops, id, what) {
    const items = actionItems(`${what}: create a lead`, await ops.createRecords(body([
        record({ Last_Name: `Signé ✓ ${Date.now()}` }),
    ])), R, "getData");
    const leadId = items[0] && detailId(items[0]);
    if (!leadId) return null;
    const cb = await waitForCallback((c) => c.body && c.body.channel_id === id.toString() &&
        (c.body.ids || []).includes(leadId.toString()), 15000);
    check(cb != null, `${what}: the callback arrived`);
    return cb;
}

// The server rereads the organization's secrets at most a second after they changed: callbacks of new leads
// until one carries `entries` signatures, for at most 5 s; the last one.
async function signedOnceRotated(ops, id, what, entries) {
    const deadline = Date.now() + 5000;
    let cb = null;
    do {
        if (cb) await new Promise((r) => setTimeout(r, 100));
        cb = await signedCallback(ops, id, what);
    } while (cb && (cb.headers["webhook-signature"] || "").split(" ").length < entries && Date.now() < deadline);
    return cb;
}

async function signatures(notifyUrl) {
    if (!env.dbPath) {
        console.log("skip signatures: the server was not started here (its secret is not readable)");
        return;
    }
    const ops = new N.NotificationsOperations();
    const leads = new R.RecordOperations("Leads");
    const id = BigInt(Date.now()) * 1000n + 7n;
    const items = actionItems("enable the signatures channel", await ops.enableNotifications(watch([
        channel({ ChannelId: id.toString(), Events: ["Leads.create"], NotifyUrl: notifyUrl + "?sig=1" }),
    ])), N, "getWatch");
    if (!items.length) return;
    const wrong = "whsec_" + crypto.randomBytes(32).toString("base64");
    const old = heraldCli("secret", "show");
    check(/^whsec_[A-Za-z0-9+/]{43}=$/.test(old), "secret show: whsec_ and 32 bytes in base64", old);

    const cb = await signedCallback(leads, id, "signed callback");
    if (cb) {
        const sig = cb.headers["webhook-signature"] || "";
        check(/^v1,[A-Za-z0-9+/]{43}=$/.test(sig), "webhook-signature: one v1 entry before a rotation", sig);
        check(verifies(old, cb.raw, cb.headers) === "verified", "standardwebhooks verifies the callback",
            verifies(old, cb.raw, cb.headers));
        const parsed = new Webhook(old).verify(cb.raw, cb.headers);
        check(describe(parsed) === describe(cb.body), "verify returns the callback's body", describe(parsed));
        const tampered = Buffer.from(cb.raw.toString("utf8").replace("\"insert\"", "\"delete\""), "utf8");
        check(!tampered.equals(cb.raw) && verifies(old, tampered, cb.headers) !== "verified",
            "a tampered body fails verification");
        check(verifies(wrong, cb.raw, cb.headers) !== "verified", "another secret fails verification");
        const otherId = { ...cb.headers, "webhook-id": cb.headers["webhook-id"] + "0" };
        check(verifies(old, cb.raw, otherId) !== "verified", "another webhook-id fails verification");
    }

    const fresh = heraldCli("secret", "rotate");
    check(/^whsec_/.test(fresh) && fresh !== old, "secret rotate prints a new secret", fresh);
    check(heraldCli("secret", "show") === fresh, "secret show prints the new secret");
    const after = await signedOnceRotated(leads, id, "callback after a rotation", 2);
    if (after) {
        const entries = (after.headers["webhook-signature"] || "").split(" ");
        check(entries.length === 2 && entries.every((e) => /^v1,[A-Za-z0-9+/]{43}=$/.test(e)),
            "webhook-signature: two v1 entries after a rotation", describe(entries));
        check(verifies(fresh, after.raw, after.headers) === "verified", "verifies with the new secret",
            verifies(fresh, after.raw, after.headers));
        check(verifies(old, after.raw, after.headers) === "verified", "verifies with the old secret (24 h overlap)",
            verifies(old, after.raw, after.headers));
        check(verifies(wrong, after.raw, after.headers) !== "verified", "another secret still fails");
        const tampered = Buffer.concat([after.raw, Buffer.from(" ")]);
        check(verifies(fresh, tampered, after.headers) !== "verified" &&
            verifies(old, tampered, after.headers) !== "verified", "a tampered body fails with either secret");
    }

    // A second rotation within the 24 h: the first old secret keeps signing beside the other two.
    const newest = heraldCli("secret", "rotate");
    check(/^whsec_/.test(newest) && newest !== fresh && newest !== old, "a second rotation prints a new secret", newest);
    const third = await signedOnceRotated(leads, id, "callback after a second rotation", 3);
    if (third) {
        const entries = (third.headers["webhook-signature"] || "").split(" ");
        check(entries.length === 3 && entries.every((e) => /^v1,[A-Za-z0-9+/]{43}=$/.test(e)),
            "webhook-signature: three v1 entries after two rotations", describe(entries));
        for (const [name, secret] of [["newest", newest], ["previous", fresh], ["first", old]])
            check(verifies(secret, third.raw, third.headers) === "verified", `verifies with the ${name} secret`,
                verifies(secret, third.raw, third.headers));
        check(verifies(wrong, third.raw, third.headers) !== "verified", "another secret still fails after two rotations");
    }
    await disable(ops, [id], 1);
}

// --- main ----------------------------------------------------------------------------------------------------
async function main(notifyUrl) {
    await initialize();
    await fields("Leads");
    await fields("Contacts");
    await usersAndOrg();
    const { ops, a, b } = await notifications(notifyUrl);

    const leadId = await records("Leads", { Company: "Sdk Co", Annual_Revenue: 1234.5 });
    const contactId = await records("Contacts", { First_Name: "Ada" });

    // The callback for the Lead created through the SDK (channel a watches Leads.create).
    if (leadId) {
        const cb = await waitForCallback((c) => c.body && c.body.operation === "insert" &&
            (c.body.ids || []).includes(leadId.toString()), 15000);
        check(cb != null, "callback for the SDK-created lead arrived", describe(callbacks.map((c) => c.body)));
        if (cb) {
            check(cb.method === "POST" && cb.url === "/hook?k=v", "callback: POST to the notify_url", cb.url);
            check(cb.body.channel_id === a.toString() && cb.body.token === "tok-a" && cb.body.module === "Leads",
                "callback: channel, token, module", describe(cb.body));
            check(cb.body.query_params && cb.body.query_params["?k"] === "v", "callback: query_params",
                describe(cb.body.query_params));
        }
        const ed = await waitForCallback((c) => c.body && c.body.operation === "update" &&
            (c.body.ids || []).includes(leadId.toString()), 15000);
        const changed = ed && (ed.body.affected_fields || [])[0];
        check(ed && Array.isArray(ed.body.affected_values) && changed &&
            (changed[leadId.toString()] || []).includes("Last_Name"),
            "callback for the SDK update, with affected fields and values", ed && describe(ed.body));
    }
    // Channel b (no query string, Contacts.edit and Contacts.delete) saw the Contact's update and delete.
    if (contactId) {
        for (const op of ["update", "delete"]) {
            const cb = await waitForCallback((c) => c.body && c.body.operation === op && c.body.module === "Contacts" &&
                (c.body.ids || []).includes(contactId.toString()), 15000);
            check(cb && cb.url === "/hook" && cb.body.channel_id === b.toString() && cb.body.token === "tok-b2" &&
                cb.body.query_params && Object.keys(cb.body.query_params).length === 0,
                `callback for the SDK's Contacts ${op} on channel b`, cb ? describe(cb.body) : "none");
        }
    }
    // Contacts.create is not among channel b's events after the PUT: no insert callback for the Contact.
    check(!callbacks.some((c) => c.body && c.body.operation === "insert" && c.body.module === "Contacts"),
        "no Contacts insert callback after the PUT replaced the events");

    await disable(ops, [a, b], 2);
    await signatures(notifyUrl);
    await typedValues();
    await conditions();
    await options();
    await usersChannel();
    await errors();
    check(answers.answers > 50 && answers.problems.length === 0,
        `each of the ${answers.answers} JSON answers the SDK parsed has the types of its model`,
        answers.problems.slice(0, 20).join("; "));
}

await run("herald-sdk", main, 90000);
