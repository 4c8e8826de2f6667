// What an integrator does with the official Zoho CRM Node SDK v8 (@zohocrm/nodejs-sdk-8.0), with the SDK's
// default configuration (picklist validation on) and automatic field refresh on (so the SDK reads the
// modules list and the fields of every module before its first record call): metadata, users and org;
// records of Leads and Deals (create, get, list by page, update, upsert, delete); every watch operation; and
// the callback of a record the SDK created, parsed as the reference's §5.2 describes. Besides the SDK's own
// parsed objects, every answer's JSON is checked against the SDK's model of it (config/json_details.json):
// the SDK converts without complaint a "false" it expected as a boolean (to true), a "5" it expected as an
// integer, a date it cannot read (to Invalid Date); such a value is a failure here.
// Usage as sdk_test.mjs: HERALD_URL and HERALD_TOKEN, or HERALD_BIN.
import * as Z from "@zohocrm/nodejs-sdk-8.0";
import fs from "node:fs";
import path from "node:path";
import { check, describe, apiError, actionItems, wrapper, isBigInt, detailId, env, callbacks, waitForCallback, run,
    sdkChannel, sdkWatch } from "./harness.mjs";
import { sdkDetails, shape, value, watchAnswers } from "./model.mjs";

const R = Z.Record;
const N = Z.Notifications;
const U = Z.Users;
const M = Z.Modules;
const F = Z.Fields;
const O = Z.Org;

// --- the SDK's model of each answer ----------------------------------------------------------------------------
const PKG = "@zohocrm/nodejs-sdk-8.0";
const details = sdkDetails(PKG);
const answers = await watchAnswers(PKG);
const snake = (name) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();

// The JSON of an SDK answer checked against the SDK's class for it (the parsed object's class).
function modelled(what, response, dir) {
    const json = response && response.getResponseJSON ? response.getResponseJSON() : null;
    const obj = response && response.getObject();
    if (!json || !obj) return;
    const cls = `core/com/zoho/crm/api/${dir}/${snake(obj.constructor.name)}`;
    const bad = shape(details, json, cls);
    check(bad.length === 0, `${what}: every value has the type the SDK's model gives it`, bad.join("; "));
}

// A record's values against the types the SDK derived from the module's fields (its resources file).
function fieldTypes(module) {
    const dir = path.join(env.work, "resources");
    const file = fs.readdirSync(dir).find((f) => f.endsWith(".json"));
    const all = file ? JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) : {};
    return all[module.toLowerCase()] || {};
}

function recordShape(what, module, rows) {
    const types = fieldTypes(module);
    const out = [];
    rows.forEach((row, i) => {
        for (const [k, v] of Object.entries(row)) {
            const t = types[k];
            if (!t || v == null) continue;
            const at = `$.data[${i}].${k}`;
            if (t.lookup || t.structure_name) {
                if (typeof v !== "object" || !/^[1-9][0-9]*$/.test(String(v.id)))
                    out.push(`${at}: expected a lookup {id}, got ${describe(v)}`);
            } else if (t.type === "utils/util/choice") {
                if (typeof v !== "string" || (t.values && !t.values.includes(v)))
                    out.push(`${at}: expected one of the picklist's values, got ${describe(v)}`);
            } else {
                value(details, v, t, at, out);
            }
        }
    });
    check(out.length === 0, `${what}: every value has the type of its field in ${module}'s metadata`, out.join("; "));
}

// --- set-up: the SDK's defaults, automatic field refresh on ----------------------------------------------------
async function initialize() {
    const environment = new Z.Environment(env.baseUrl, "http://127.0.0.1:9/oauth/v2/token", env.baseUrl);
    const token = new Z.OAuthBuilder().accessToken(env.accessToken).build();
    const logger = new Z.LogBuilder().level(Z.Levels.INFO).filePath(path.join(env.work, "sdk.log")).build();
    const sdkConfig = new Z.SDKConfigBuilder().autoRefreshFields(true).build();
    check(sdkConfig.getPickListValidation() === true, "the SDK's default: picklist validation on");
    await (await new Z.InitializeBuilder())
        .environment(environment)
        .token(token)
        .store(new Z.FileStore(path.join(env.work, "sdk_tokens.txt")))
        .SDKConfig(sdkConfig)
        .resourcePath(env.work)
        .logger(logger)
        .initialize();
    const sig = (await Z.Initializer.getInitializer()).getToken().getUserSignature();
    check(sig != null && /^[^:]+@[^:]+:\S+$/.test(sig.getName()), "initialization found the current user and org",
        sig ? sig.getName() : "no user signature (see sdk.log)");
}

// --- metadata, users, org --------------------------------------------------------------------------------------
async function metadata() {
    const ops = new M.ModulesOperations();
    let r = await ops.getModules();
    const w = wrapper("modules", r, M);
    modelled("modules", r, "modules");
    const mods = w ? w.getModules() || [] : [];
    const deals = mods.find((m) => m.getAPIName() === "Deals");
    check(mods.length >= 10 && mods.every((m) => isBigInt(m.getId()) && m.getAPISupported() === true &&
        m.getGeneratedType() instanceof Z.Choice && m.getGeneratedType().getValue() === "default"),
        "modules: each with a BigInt id, api_supported and generated_type default", mods.length);
    check(deals && deals.getModuleName() === "Deals" && deals.getCreatable() === true &&
        deals.getDeletable() === true, "modules: Deals creatable and deletable", deals && describe([deals.getModuleName()]));

    r = await ops.getModuleByAPIName("Deals");
    const one = wrapper("modules/Deals", r, M);
    modelled("modules/Deals", r, "modules");
    check(one && (one.getModules() || []).length === 1 && one.getModules()[0].getId() === deals.getId(),
        "modules/Deals: the module of the list");
    if (deals) {
        r = await ops.getModule(deals.getId());
        const byId = wrapper("modules/{id} (getModule)", r, M);
        check(byId && byId.getModules()[0].getAPIName() === "Deals", "modules/{id}: Deals");
    }

    const params = new Z.ParameterMap();
    await params.add(F.GetFieldsParam.MODULE, "Deals");
    r = await new F.FieldsOperations().getFields(params);
    const fw = wrapper("fields of Deals", r, F);
    modelled("fields of Deals", r, "fields");
    const fields = fw ? fw.getFields() || [] : [];
    const stage = fields.find((f) => f.getAPIName() === "Stage");
    check(stage && stage.getDataType() === "picklist" && stage.getSystemMandatory() === true &&
        (stage.getPickListValues() || []).some((p) => p.getDisplayValue() === "Closed Won" &&
            p.getActualValue() === "Closed Won"), "fields of Deals: Stage, a mandatory picklist with Closed Won",
        stage && describe([stage.getDataType(), stage.getSystemMandatory()]));
    const account = fields.find((f) => f.getAPIName() === "Account_Name");
    check(account && account.getDataType() === "lookup" && account.getLookup() &&
        account.getLookup().getModule().getAPIName() === "Accounts" && isBigInt(account.getLookup().getModule().getId()),
        "fields of Deals: Account_Name looks up Accounts");
    if (stage) {
        const p = new Z.ParameterMap();
        await p.add(F.GetFieldParam.MODULE, "Deals");
        r = await new F.FieldsOperations().getField(stage.getId(), p);
        const fone = wrapper("fields/{id} of Deals (getField)", r, F);
        check(fone && (fone.getFields() || []).length === 1 && fone.getFields()[0].getAPIName() === "Stage",
            "fields/{id}: Stage");
    }
    return { deals };
}

async function usersAndOrg() {
    const ops = new U.UsersOperations();
    const params = new Z.ParameterMap();
    await params.add(U.GetUsersParam.TYPE, "ActiveUsers"); // the v8 SDK refuses AllUsers
    await params.add(U.GetUsersParam.PAGE, 1);
    await params.add(U.GetUsersParam.PER_PAGE, 200);
    let r = await ops.getUsers(params);
    const w = wrapper("users?type=ActiveUsers&page&per_page", r, U);
    modelled("users", r, "users");
    const users = w ? w.getUsers() || [] : [];
    const info = w && w.getInfo();
    check(users.length >= 1 && users.every((u) => isBigInt(u.getId()) && /@/.test(u.getEmail())) && info &&
        info.getPage() === 1 && info.getPerPage() === 200 && info.getCount() === users.length &&
        info.getMoreRecords() === false, "users: BigInt ids, emails, info", describe(info));
    if (users[0]) {
        r = await ops.getUser(users[0].getId());
        const one = wrapper("users/{id} (getUser)", r, U);
        modelled("users/{id}", r, "users");
        const u = one && (one.getUsers() || [])[0];
        check(u && u.getId() === users[0].getId() && u.getEmail() === users[0].getEmail(), "users/{id}: the same user",
            u && describe([u.getId(), u.getEmail()]));
    }
    r = await new O.OrgOperations().getOrganization();
    const org = wrapper("org", r, O);
    modelled("org", r, "org");
    const o = org && (org.getOrg() || [])[0];
    check(o && o.getCompanyName() && o.getPrimaryEmail() && o.getZgid(), "org: company name, primary email, zgid",
        o && describe([o.getCompanyName(), o.getPrimaryEmail(), o.getZgid()]));
    return users[0] || null;
}

// --- records ---------------------------------------------------------------------------------------------------
function record(values) {
    const r = new R.Record();
    for (const [k, v] of Object.entries(values)) r.addKeyValue(k, v);
    return r;
}

function body(records, dup) {
    const b = new R.BodyWrapper();
    b.setData(records);
    if (dup) b.setDuplicateCheckFields(dup);
    return b;
}

const text = (x) => (x instanceof Z.Choice ? x.getValue() : x);

// An action's items, each checked: SUCCESS, success, the message, a numeric details.id; and the JSON modelled.
function acted(what, response, message, count) {
    const items = actionItems(what, response, R, "getData");
    modelled(what, response, "record");
    check(items.length === count && items.every((i) => i.getCode().getValue() === "SUCCESS" &&
        i.getStatus().getValue() === "success" && text(i.getMessage()) === message && detailId(i) !== null),
        `${what}: ${count} × SUCCESS "${message}"`, describe(items.map((i) => [text(i.getMessage()), i.getDetails().get("id")])));
    return items;
}

async function getOne(ops, module, id, what) {
    const r = await ops.getRecord(id);
    const w = wrapper(what, r, R);
    modelled(what, r, "record");
    if (!w) return null;
    recordShape(what, module, r.getResponseJSON().data || []);
    const data = w.getData() || [];
    check(data.length === 1 && data[0].getId() === id, `${what}: the record`, describe(data.map((d) => d.getId())));
    return data[0] || null;
}

// Every page of `per` records with `fields`; the ids seen.
async function pages(ops, module, fields, per) {
    const seen = [];
    for (let page = 1; page <= 100; page++) {
        const params = new Z.ParameterMap();
        await params.add(R.GetRecordsParam.FIELDS, fields);
        await params.add(R.GetRecordsParam.PAGE, page);
        await params.add(R.GetRecordsParam.PER_PAGE, per);
        const r = await ops.getRecords(params);
        if (r.getStatusCode() === 204 && page > 1) break;
        const w = wrapper(`${module} list page ${page} (per_page ${per})`, r, R);
        if (!w) break;
        modelled(`${module} list page ${page}`, r, "record");
        recordShape(`${module} list page ${page}`, module, r.getResponseJSON().data || []);
        const data = w.getData() || [];
        const info = w.getInfo();
        check(data.length <= per && info.getPage() === page && info.getPerPage() === per &&
            info.getCount() === data.length && typeof info.getMoreRecords() === "boolean",
            `${module} list page ${page}: info page, per_page, count, more_records`, describe(info));
        seen.push(...data.map((d) => d.getId()));
        if (!info.getMoreRecords()) break;
    }
    return seen;
}

// create three, get one, list by pages, update one and two, upsert one new and one existing, delete one and two.
async function records(module, make, change, dupField) {
    const ops = new R.RecordOperations(module);
    const stamp = Date.now();
    let r = await ops.createRecords(body([0, 1, 2].map((i) => record(make(`${stamp} ${i}`)))));
    check(r.getStatusCode() === 201, `${module} create: 201`, r.getStatusCode());
    let items = acted(`${module} create`, r, "record added", 3);
    const ids = items.map(detailId);
    if (ids.length !== 3) return [];
    for (const i of items) {
        const d = i.getDetails();
        check(d.get("Created_Time") instanceof Date && d.get("Modified_Time") instanceof Date &&
            isBigInt(d.get("Created_By").getId()), `${module} create: details' times and Created_By`,
            describe([...d.keys()]));
    }
    const got = await getOne(ops, module, ids[0], `${module} get`);
    if (got) {
        for (const [k, v] of Object.entries(make(`${stamp} 0`))) {
            const back = got.getKeyValue(k);
            const same = v instanceof Z.Choice ? back instanceof Z.Choice && back.getValue() === v.getValue()
                : v instanceof Date ? back instanceof Date && back.getTime() === v.getTime() : back === v;
            check(same, `${module} get: ${k} reads back`, describe(back));
        }
        check(got.getCreatedTime() instanceof Date && got.getModifiedTime() instanceof Date &&
            isBigInt(got.getCreatedBy().getId()) && isBigInt(got.getKeyValue("Owner").getId()),
            `${module} get: times, Created_By and Owner`);
    }
    const seen = await pages(ops, module, Object.keys(make("x")).join(","), 2);
    check(ids.every((id) => seen.filter((s) => s === id).length === 1), `${module} pages: each new record once`,
        describe(seen));

    r = await ops.updateRecord(ids[0], body([record(change(`${stamp} one`))]));
    check(r.getStatusCode() === 200, `${module} update one: 200`, r.getStatusCode());
    items = acted(`${module} update one`, r, "record updated", 1);
    check(items[0] && detailId(items[0]) === ids[0], `${module} update one: the same id`);
    const both = [1, 2].map((i) => {
        const rec = record(change(`${stamp} bulk ${i}`));
        rec.setId(ids[i]);
        return rec;
    });
    items = acted(`${module} update two`, await ops.updateRecords(body(both)), "record updated", 2);
    check(items.map(detailId).join() === [ids[1], ids[2]].join(), `${module} update two: the ids in order`);
    const after = await getOne(ops, module, ids[2], `${module} get after update`);
    const [ck, cv] = Object.entries(change(`${stamp} bulk 2`))[0];
    if (after) check(after.getKeyValue(ck) === cv, `${module} update: ${ck} changed`, describe(after.getKeyValue(ck)));

    // upsert: a new record, and one whose duplicate check field matches ids[0]
    const fresh = make(`${stamp} upsert`);
    const existing = { ...make(`${stamp} 0`), ...change(`${stamp} upserted`) };
    if (dupField === "Deal_Name") existing.Deal_Name = (got && got.getKeyValue("Deal_Name")) || existing.Deal_Name;
    r = await ops.upsertRecords(body([record(fresh), record(existing)], [dupField]));
    items = actionItems(`${module} upsert`, r, R, "getData");
    modelled(`${module} upsert`, r, "record");
    let upserted = null;
    if (items.length === 2) {
        upserted = detailId(items[0]);
        check(items[0].getAction().getValue() === "insert" && text(items[0].getMessage()) === "record added" &&
            !ids.includes(upserted), `${module} upsert: insert, record added`, describe([items[0].getAction()]));
        check(items[1].getAction().getValue() === "update" && text(items[1].getMessage()) === "record updated" &&
            detailId(items[1]) === ids[0] && items[1].getDuplicateField() === dupField,
            `${module} upsert: update of the duplicate by ${dupField}`,
            describe([items[1].getAction(), detailId(items[1]), items[1].getDuplicateField()]));
    } else {
        check(false, `${module} upsert: two answers`, items.length);
    }

    items = acted(`${module} delete one`, await ops.deleteRecord(ids[0]), "record deleted", 1);
    const del = new Z.ParameterMap();
    // The SDK models ids as a String here (the caller joins them) and adds each one of repeated adds.
    await del.add(R.DeleteRecordsParam.IDS, [ids[1], ids[2], ...(upserted ? [upserted] : [])].join(","));
    items = acted(`${module} delete three`, await ops.deleteRecords(del), "record deleted", upserted ? 3 : 2);
    r = await ops.getRecord(ids[0]);
    check(r.getStatusCode() === 204 && r.getObject() == null, `${module} get after delete: 204`, r.getStatusCode());
    return ids;
}

// --- watch ------------------------------------------------------------------------------------------------------
const channel = (fields) => sdkChannel(N, fields);
const watch = (list) => sdkWatch(N, list);

const SUBSCRIBED = "Successfully subscribed for actions-watch of the given module";

// The items of a watch action: SuccessResponse each with the message; details.events as N.Event.
function watched(what, response, message, count) {
    const items = actionItems(what, response, N, "getWatch");
    modelled(what, response, "notifications");
    check(items.length === count && items.every((i) => i.getCode().getValue() === "SUCCESS" &&
        i.getStatus().getValue() === "success" && i.getMessage().getValue() === message),
        `${what}: ${count} × SUCCESS "${message}"`, describe(items.map((i) => i.getMessage())));
    return items;
}

async function get(ops, what, args) {
    const params = new Z.ParameterMap();
    for (const [k, v] of Object.entries(args)) await params.add(N.GetNotificationsParam[k], v);
    const r = await ops.getNotifications(params);
    if (r.getStatusCode() === 204) return { rows: [], info: null, status: 204 };
    const w = wrapper(what, r, N);
    modelled(what, r, "notifications");
    return { rows: w ? w.getWatch() || [] : [], info: w && w.getInfo(), status: r.getStatusCode() };
}

async function notifications(notifyUrl, dealsId) {
    const ops = new N.NotificationsOperations();
    const a = BigInt(Date.now()) * 1000n + 11n;
    const b = a + 1n;
    const expiry = new Date(Date.now() + 6 * 3600 * 1000);
    expiry.setMilliseconds(0);

    // enable
    let r = await ops.enableNotifications(watch([
        channel({ ChannelId: a.toString(), Events: ["Leads.create", "Deals.all"], Token: "tok-int",
            NotifyUrl: `${notifyUrl}?src=sdk&n=1`, ChannelExpiry: expiry, ReturnAffectedFieldValues: true }),
        channel({ ChannelId: b.toString(), Events: ["Deals.edit"], NotifyUrl: notifyUrl }),
    ]));
    check(r.getStatusCode() === 201, "enable: 201", r.getStatusCode());
    let items = watched("enable", r, SUBSCRIBED, 2);
    if (items[0]) {
        const events = items[0].getDetails().get("events") || [];
        const deals = events.find((e) => e.getResourceName() === "Deals");
        check(events.length === 2 && events.every((e) => e instanceof N.Event && e.getChannelId() === a.toString() &&
            e.getChannelExpiry() instanceof Date && e.getChannelExpiry().getTime() === expiry.getTime()),
            "enable: an Event per module with the channel and its expiry", describe(events));
        check(deals && deals.getResourceId() === dealsId && deals.getResourceUri().endsWith("/crm/v2/Deals"),
            "enable: Deals' resource_id is the module's id, resource_uri …/crm/v2/Deals",
            deals && describe([deals.getResourceId(), deals.getResourceUri()]));
    }

    // get: all, by module, by channel, by module and channel
    let g = await get(ops, "get (all)", {});
    check(g.rows.filter((n) => [a.toString(), b.toString()].includes(n.getChannelId())).length === 3 && g.info &&
        g.info.getCount() === g.rows.length && g.info.getPage() === 1 && g.info.getPerPage() === 200 &&
        g.info.getMoreRecords() === false, "get (all): three rows, info", describe(g.info));
    g = await get(ops, "get (module=Deals)", { MODULE: "Deals" });
    check(g.rows.length === 2 && g.rows.every((n) => n.getResourceName() === "Deals" && n.getResourceId() === dealsId),
        "get (module=Deals): the two Deals rows", describe(g.rows.map((n) => [n.getChannelId(), n.getResourceName()])));
    g = await get(ops, "get (channel_id)", { CHANNEL_ID: a });
    const leads = g.rows.find((n) => n.getResourceName() === "Leads");
    check(g.rows.length === 2 && leads && leads.getToken() === "tok-int" &&
        leads.getNotifyUrl() === `${notifyUrl}?src=sdk&n=1` && leads.getReturnAffectedFieldValues() === true &&
        leads.getNotifyOnRelatedAction() === true && leads.getChannelExpiry().getTime() === expiry.getTime() &&
        describe(leads.getEvents()) === describe(["Leads.create"]), "get (channel_id): channel a as enabled",
        describe(g.rows.map((n) => [n.getResourceName(), n.getEvents(), n.getToken()])));
    g = await get(ops, "get (module and channel_id)", { MODULE: "Deals", CHANNEL_ID: a });
    check(g.rows.length === 1 && g.rows[0].getResourceName() === "Deals" &&
        (g.rows[0].getEvents() || []).sort().join() === "Deals.create,Deals.delete,Deals.edit",
        "get (module and channel_id): Deals.all as its three events", describe(g.rows.map((n) => n.getEvents())));

    // update (PUT): channel b's events and token replaced
    r = await ops.updateNotifications(watch([channel({ ChannelId: b.toString(), Events: ["Deals.create", "Deals.edit"],
        Token: "tok-b", NotifyUrl: notifyUrl, ChannelExpiry: expiry })]));
    check(r.getStatusCode() === 200, "update (PUT): 200", r.getStatusCode());
    items = watched("update (PUT)", r, SUBSCRIBED, 1);
    g = await get(ops, "get after PUT", { CHANNEL_ID: b });
    check(g.rows.length === 1 && g.rows[0].getToken() === "tok-b" &&
        (g.rows[0].getEvents() || []).sort().join() === "Deals.create,Deals.edit", "PUT replaced events and token",
        describe(g.rows.map((n) => [n.getEvents(), n.getToken()])));

    // update specific information (PATCH): channel b also watches Leads.edit
    r = await ops.updateNotification(watch([channel({ ChannelId: b.toString(), Events: ["Leads.edit"],
        NotifyUrl: notifyUrl })]));
    items = watched("update info (PATCH)", r, "Successfully updated the subscribe details", 1);
    if (items[0]) {
        const events = items[0].getDetails().get("events") || [];
        check(events.length >= 1 && events.every((e) => e instanceof N.Event && isBigInt(e.getResourceId())),
            "PATCH: details.events as Events", describe(events));
    }
    g = await get(ops, "get after PATCH", { CHANNEL_ID: b });
    check(g.rows.length === 2 && g.rows.every((n) => n.getToken() === "tok-b"), "PATCH added Leads, kept the token",
        describe(g.rows.map((n) => [n.getResourceName(), n.getEvents(), n.getToken()])));

    // disable specific events (_delete_events): channel b stops Leads.edit
    const off = channel({ ChannelId: b.toString(), Events: ["Leads.edit"] });
    off.setDeleteEvents(new Z.Choice(true));
    r = await ops.disableNotification(watch([off]));
    items = watched("disable events (_delete_events)", r, "Successfully removed the subscribe details", 1);
    if (items[0]) {
        const events = items[0].getDetails().get("events") || [];
        check(events.length === 1 && events[0].getResourceName() === "Leads" && events[0].getChannelExpiry() == null,
            "_delete_events: details.events names Leads, without channel_expiry", describe(events));
    }
    g = await get(ops, "get after _delete_events", { CHANNEL_ID: b });
    check(g.rows.length === 1 && g.rows[0].getResourceName() === "Deals", "_delete_events removed the Leads row",
        describe(g.rows.map((n) => n.getResourceName())));
    return { ops, a, b };
}

async function disable(ops, ids, rows) {
    const params = new Z.ParameterMap();
    for (const id of ids) await params.add(N.DeleteNotificationParam.CHANNEL_IDS, id);
    const r = await ops.deleteNotification(params);
    check(r.getStatusCode() === 200, "disable (DELETE): 200", r.getStatusCode());
    const items = watched("disable (DELETE)", r, "Successfully un-subscribed from actions-watch", rows);
    check(items.every((i) => ids.includes(i.getDetails().get("channel_id")) &&
        /\/crm\/v2\/\w+$/.test(i.getDetails().get("resource_uri"))), "disable: details channel_id and resource_uri",
        describe(items.map((i) => [...i.getDetails().entries()])));
    for (const id of ids) {
        const g = await get(ops, `get after disable ${id}`, { CHANNEL_ID: id });
        check(g.status === 204 && g.rows.length === 0, `channel ${id}: 204 after disable`, g.status);
    }
}

// --- the callback of a record the SDK created, parsed as the reference §5.2 describes ---------------------------
const ORDER = ["server_time", "affected_values", "query_params", "module", "resource_uri", "ids", "affected_fields",
    "operation", "channel_id", "token"];

async function callback(a, before) {
    const ops = new R.RecordOperations("Deals");
    const stamp = Date.now();
    const closing = new Date(Date.UTC(2031, 5, 30));
    const items = actionItems("Deals create (for the callback)", await ops.createRecords(body([record({
        Deal_Name: `Sdk Callback ${stamp}`, Stage: new Z.Choice("Negotiation/Review"), Amount: 250.75,
        Closing_Date: closing })])), R, "getData");
    const id = items[0] && detailId(items[0]);
    if (!id) return;
    const cb = await waitForCallback((c) => c.body && c.body.channel_id === a.toString() && c.body.module === "Deals" &&
        (c.body.ids || []).includes(id.toString()), 10000);
    check(cb != null, "the callback of the Deal the SDK created arrived");
    if (!cb) return;
    check(cb.method === "POST" && cb.url === "/hook?src=sdk&n=1", "callback: POST to the notify_url as given", cb.url);
    check(/^application\/json/.test(cb.headers["content-type"] || ""), "callback: Content-Type application/json",
        cb.headers["content-type"]);
    const sent = JSON.parse(cb.raw.toString("utf8"));
    check(describe(Object.keys(sent)) === describe(ORDER), "callback: the §5.2 keys in their order",
        describe(Object.keys(sent)));
    check(Number.isInteger(sent.server_time) && sent.server_time >= before && sent.server_time <= Date.now(),
        "callback: server_time is epoch milliseconds of the send", sent.server_time);
    check(describe(sent.query_params) === describe({ "?src": "sdk", n: "1" }),
        "callback: query_params from the notify_url's query (§5.3, first key keeps its ?)", describe(sent.query_params));
    check(sent.module === "Deals" && sent.operation === "insert" && sent.resource_uri.endsWith("/crm/v2/Deals") &&
        /^https?:\/\//.test(sent.resource_uri), "callback: module Deals, operation insert, resource_uri …/crm/v2/Deals",
        describe([sent.module, sent.operation, sent.resource_uri]));
    check(describe(sent.ids) === describe([id.toString()]) && typeof sent.channel_id === "string" &&
        sent.token === "tok-int", "callback: ids as strings, channel_id a string, the token", describe(sent));
    check(Array.isArray(sent.affected_fields) && sent.affected_fields.length === 0, "callback: affected_fields [] on insert",
        describe(sent.affected_fields));
    const values = (sent.affected_values || [])[0];
    check(sent.affected_values.length === 1 && values.record_id === id.toString() &&
        values.values.Deal_Name === `Sdk Callback ${stamp}` && values.values.Stage === "Negotiation/Review" &&
        values.values.Amount === 250.75 && values.values.Closing_Date === "2031-06-30" && values.values.Probability === 90,
        "callback: affected_values of the insert (what the SDK set, and Probability)", describe(sent.affected_values));
    await ops.deleteRecord(id);
}

// --- main --------------------------------------------------------------------------------------------------------
await run("herald-sdk-integrator", async (notifyUrl) => {
    const started = Date.now();
    await initialize();
    const { deals } = await metadata();
    await usersAndOrg();
    const { ops, a, b } = await notifications(notifyUrl, deals ? deals.getId() : null);
    await records("Leads", (s) => ({ Last_Name: `Int ${s}`, Email: `int${s.replace(/ /g, ".")}@example.com`,
        Company: "Integrator Co", Lead_Source: new Z.Choice("Web Download"), No_of_Employees: 12 }),
    (s) => ({ Last_Name: `Int changed ${s}` }), "Email");
    await records("Deals", (s) => ({ Deal_Name: `Int Deal ${s}`, Stage: new Z.Choice("Qualification"), Amount: 1200.5,
        Closing_Date: new Date(Date.UTC(2030, 11, 31)) }),
    (s) => ({ Next_Step: `call back ${s}` }), "Deal_Name");
    await callback(a, started);
    await disable(ops, [a, b], 3);
    // The SDK refreshed the fields of every module before the first record call; nothing it logged is an error.
    const mods = Object.keys(JSON.parse(fs.readFileSync(path.join(env.work, "resources",
        fs.readdirSync(path.join(env.work, "resources")).find((f) => f.endsWith(".json"))), "utf8")));
    check(mods.includes("leads") && mods.includes("deals") && mods.length >= 10,
        "the SDK's field cache holds every module", describe(mods));
    check(answers.answers > 50 && answers.problems.length === 0,
        `each of the ${answers.answers} JSON answers the SDK parsed has the types of its model`,
        answers.problems.slice(0, 20).join("; "));
    const log = fs.readFileSync(path.join(env.work, "sdk.log"), "utf8");
    const errors = log.split("\n").filter((l) => /level: 'error'|"level":"error"/.test(l));
    check(errors.length === 0, "the SDK logged no error", errors.join(" | ").slice(0, 2000));
}, 45000);
