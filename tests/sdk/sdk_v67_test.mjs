// Drives Herald through the official Zoho CRM Node SDKs of API v6 (@zohocrm/nodejs-sdk-6.0, the version of
// Zoho's "Enable Notifications" page, shared/spec/seed-enable-notifications.txt) and v7
// (@zohocrm/nodejs-sdk-7.0), each on its own /crm/v6 or /crm/v7, using only their operations classes. Both run
// in one process against one server (each package keeps its own initializer). Beyond what sdk_test.mjs does
// on v8, it checks what these versions and SDKs add: the seed's own channel (its nested notification_condition
// with the metadata's ids, its token, its notify_url with a literal space in the query string,
// return_affected_field_values) and its callback for a Deal's Stage edit key for key; conditions that hold
// back edits of other fields; insert, update and delete callbacks with affected_values; related actions; users
// created, updated and deleted through the SDK (the v6 SDK parses those answers) with their users.all
// callbacks; a record list refused without `fields` (v3 on; v2 lists without); Zoho's license_details; the
// 1-week expiry limit; PATCH needing
// notify_url (v6 on; v2 did not); 400 when every watch item fails (202 on v2); DELETE refusing the WRITE
// scope (v2 lists it); and the SDK's own log free of errors. Usage as sdk_test.mjs: HERALD_URL and
// HERALD_TOKEN, or HERALD_BIN.
import * as SDK6 from "@zohocrm/nodejs-sdk-6.0";
import * as SDK7 from "@zohocrm/nodejs-sdk-7.0";
import fs from "node:fs";
import path from "node:path";
import { watchAnswers } from "./model.mjs";
import { check, describe, apiError, actionItems, wrapper, isBigInt, detailId, env, heraldCli, callbacks,
    waitForCallback, run, channel, watch, seconds, NOT_SUBSCRIBED_CHANNEL } from "./harness.mjs";

const SDKS = [
    { ...SDK6, version: "v6", package: "@zohocrm/nodejs-sdk-6.0" },
    { ...SDK7, version: "v7", package: "@zohocrm/nodejs-sdk-7.0" },
];

// The seed's notify_url query (a literal space in the first value) and the query_params Zoho's sample
// callback shows for it, keys in that order.
const SEED_QUERY = "?authorization=Zoho-oauthtoken 1000.23dnsbbbh455jnn&key1=val1&key2=val2";
const SEED_QUERY_PARAMS = { key1: "val1", key2: "val2", "?authorization": "Zoho-oauthtoken 1000.23dnsbbbh455jnn" };
// The keys of Zoho's sample callbacks, in their order.
const PAYLOAD_KEYS = ["server_time", "affected_values", "query_params", "module", "resource_uri", "ids",
    "affected_fields", "operation", "channel_id", "token"];
const SUBSCRIBED = "Successfully subscribed for actions-watch of the given module";

const secondsAhead = (s) => new Date((Math.floor(Date.now() / 1000) + s) * 1000);

// --- the SDK's set-up ----------------------------------------------------------------------------------------
// The access-token flow with findUser (the default): initialization calls users?type=CurrentUser and org on
// the SDK's version. `findUser` false skips them (a token without the users and org scopes).
async function initialize(S, accessToken, dir, how, findUser = true) {
    fs.mkdirSync(dir, { recursive: true });
    const environment = new S.Environment(env.baseUrl, "http://127.0.0.1:9/oauth/v2/token", env.baseUrl);
    const token = new S.OAuthBuilder().accessToken(accessToken).findUser(findUser).build();
    const builder = (await new S.InitializeBuilder())
        .environment(environment)
        .token(token)
        .store(new S.FileStore(path.join(dir, "sdk_tokens.txt")))
        .SDKConfig(new S.SDKConfigBuilder().autoRefreshFields(false).pickListValidation(false).build())
        .resourcePath(dir)
        .logger(new S.LogBuilder().level(S.Levels.INFO).filePath(path.join(dir, "sdk.log")).build());
    if (how === "initialize") await builder.initialize();
    else await builder.switchUser();
    const init = await S.Initializer.getInitializer();
    if (!init || init.getToken() !== token) throw new Error(`${S.package}: ${how} did not take the token`);
    return init;
}

// --- users, org, modules, fields -----------------------------------------------------------------------------
// Returns the metadata ids the seed's condition names: Deals' module id and its fields' ids by API name.
async function metadata(S, V) {
    const U = S.Users, M = S.Modules, F = S.Fields;
    const params = new S.ParameterMap();
    await params.add(U.GetUsersParam.TYPE, "CurrentUser");
    const w = wrapper(`${V} users?type=CurrentUser`, await new U.UsersOperations().getUsers(params), U);
    let me = null;
    if (w) {
        const users = w.getUsers() || [];
        me = users[0] || null;
        check(users.length === 1 && isBigInt(me.getId()) && /@/.test(me.getEmail()) && me.getRole() &&
            isBigInt(me.getRole().getId()), `${V} current user: one, BigInt id, email, role`,
            describe(users.map((u) => [u.getId(), u.getEmail()])));
    }
    const all = wrapper(`${V} users`, await new U.UsersOperations().getUsers(), U);
    if (all) check((all.getUsers() || []).length >= 1 && all.getInfo() && all.getInfo().getPerPage() === 200,
        `${V} users: a list with info`, describe(all.getInfo()));
    const org = wrapper(`${V} org`, await new S.Org.OrgOperations().getOrganization(), S.Org);
    if (org) {
        const o = (org.getOrg() || [])[0];
        // The v6 and v7 SDKs model the org's id as a String (as v8; v2 and v2.1 as a Long).
        check(o && /^[1-9][0-9]*$/.test(o.getId()) && o.getZgid() != null, `${V} org: numeric id and zgid`,
            o && describe([o.getId(), o.getZgid()]));
        // Zoho's license_details keys (the SDK's LicenseDetails reads paid_type).
        const lic = o && o.getLicenseDetails();
        check(lic && lic.getPaidType() === "enterprise" && lic.getPaid() === true &&
            lic.getUsersLicensePurchased() === 1000, `${V} org: license_details paid_type, paid, users_license_purchased`,
            lic && describe([lic.getPaidType(), lic.getPaid(), lic.getUsersLicensePurchased()]));
    }
    const mods = wrapper(`${V} modules`, await new M.ModulesOperations().getModules(), M);
    let deals = null;
    if (mods) {
        const list = mods.getModules() || [];
        const leads = list.find((m) => m.getAPIName() === "Leads");
        deals = list.find((m) => m.getAPIName() === "Deals");
        check(leads && isBigInt(leads.getId()) && leads.getAPISupported() === true && deals && isBigInt(deals.getId()),
            `${V} modules: Leads and Deals with BigInt ids`, leads && describe([leads.getId(), leads.getAPISupported()]));
    }
    const one = wrapper(`${V} modules/Deals`, await new M.ModulesOperations().getModuleByAPIName("Deals"), M);
    if (one) check((one.getModules() || []).length === 1 && deals && one.getModules()[0].getId() === deals.getId(),
        `${V} modules/Deals: one module, the same id`);

    const fields = {};
    for (const module of ["Leads", "Contacts", "Deals"]) {
        const p = new S.ParameterMap();
        await p.add(F.GetFieldsParam.MODULE, module);
        const f = wrapper(`${V} fields of ${module}`, await new F.FieldsOperations().getFields(p), F);
        fields[module] = f ? f.getFields() || [] : [];
        check(fields[module].length > 0 && fields[module].every((x) => isBigInt(x.getId()) && x.getAPIName()),
            `${V} fields of ${module}: BigInt ids and API names`);
    }
    const last = fields.Leads.find((x) => x.getAPIName() === "Last_Name");
    check(last && last.getDataType() === "text" && last.getSystemMandatory() === true,
        `${V} Leads Last_Name: text, system mandatory`, last && describe([last.getDataType(), last.getSystemMandatory()]));
    // From v3 on a lookup names its module as an object {api_name, id} (v2 and v2.1: the API name alone).
    const account = fields.Contacts.find((x) => x.getAPIName() === "Account_Name");
    const lookup = account && account.getLookup();
    check(account && account.getDataType() === "lookup" && lookup && lookup.getModule() &&
        lookup.getModule().getAPIName() === "Accounts" && isBigInt(lookup.getModule().getId()),
        `${V} Contacts Account_Name: lookup module {api_name: "Accounts", id}`, lookup && describe(lookup.getModule()));
    const dealField = (name) => fields.Deals.find((x) => x.getAPIName() === name);
    const stage = dealField("Stage");
    check(stage && stage.getDataType() === "picklist" &&
        (stage.getPickListValues() || []).some((v) => v.getActualValue() === "Proposal/Price Quote"),
        `${V} Deals Stage: a picklist with Proposal/Price Quote`, stage && stage.getDataType());
    return {
        me,
        dealsId: deals ? deals.getId() : null,
        dealFieldId: (name) => (dealField(name) ? dealField(name).getId() : null),
    };
}

// --- records -------------------------------------------------------------------------------------------------
function record(S, values) {
    const r = new S.Record.Record();
    for (const [k, v] of Object.entries(values)) r.addKeyValue(k, v);
    return r;
}

function body(S, records) {
    const b = new S.Record.BodyWrapper();
    b.setData(records);
    return b;
}

async function getOne(S, module, id, what) {
    const R = S.Record;
    const w = wrapper(what, await new R.RecordOperations(module).getRecord(id), R);
    if (!w) return null;
    const data = w.getData() || [];
    check(data.length === 1 && data[0].getId() === id, `${what}: the record with the id`,
        describe(data.map((d) => d.getId())));
    return data[0] || null;
}

const byId = (list, id) => (list || []).find((x) => Object.keys(x)[0] === String(id) || x.record_id === String(id));

// A callback on channel `channel` for `op` on record `id` (bounded wait).
function callbackFor(channel, op, id, ms = 15000) {
    return waitForCallback((c) => c.body && c.body.channel_id === String(channel) && c.body.operation === op &&
        (c.body.ids || []).includes(String(id)), ms);
}

// Insert, get, update (one and bulk), upsert, list (`fields` needed from v3 on), delete (one and bulk),
// each seen by channel b (Leads.all, return_affected_field_values, no token) with affected_fields and values.
async function leads(S, V, b) {
    const R = S.Record;
    const ops = new R.RecordOperations("Leads");
    const stamp = `${V} ${Date.now()}`;
    const email = `sdk${Date.now()}${V}@example.com`;
    let items = actionItems(`${V} Leads create`, await ops.createRecords(body(S, [
        record(S, { Last_Name: `Sdk ${stamp}`, Email: email, Company: `Co ${V}` }),
    ])), R, "getData");
    const id = items[0] ? detailId(items[0]) : null;
    if (!id) return;
    check(items[0].getMessage().getValue() === "record added" && items[0].getDetails().get("Created_Time") instanceof Date,
        `${V} Leads create: record added, Created_Time a Date`, describe(items[0].getMessage()));
    let got = await getOne(S, "Leads", id, `${V} Leads get`);
    if (got) check(got.getKeyValue("Last_Name") === `Sdk ${stamp}` && got.getKeyValue("Email") === email &&
        got.getKeyValue("Company") === `Co ${V}` && isBigInt(got.getKeyValue("Owner").getId()),
        `${V} Leads get: the values, Owner with a BigInt id`);

    // The insert callback: every field the request set in affected_values, affected_fields [], token null.
    let cb = await callbackFor(b, "insert", id);
    const ins = cb && cb.body;
    check(ins && ins.module === "Leads" && ins.token === null && ins.resource_uri.endsWith("/crm/v2/Leads") &&
        describe(ins.query_params) === describe({ "?ch": "b" }) && Array.isArray(ins.affected_fields) &&
        ins.affected_fields.length === 0 && cb.url === "/hook?ch=b",
        `${V} insert callback on channel b: module, token null, resource_uri, query_params, affected_fields []`,
        ins ? describe(ins) : "none");
    const iv = ins && byId(ins.affected_values, id);
    check(iv && describe(Object.keys(iv.values).sort()) === describe(["Company", "Email", "Last_Name"]) &&
        iv.values.Last_Name === `Sdk ${stamp}`, `${V} insert callback: affected_values hold every field set`,
        ins && describe(ins.affected_values));

    items = actionItems(`${V} Leads update`, await ops.updateRecord(id, body(S, [record(S, { Last_Name: `Upd ${stamp}` })])),
        R, "getData");
    if (items[0]) check(detailId(items[0]) === id && items[0].getMessage().getValue() === "record updated",
        `${V} Leads update: the same id, record updated`);
    cb = await callbackFor(b, "update", id);
    const upd = cb && cb.body;
    check(upd && describe(byId(upd.affected_fields, id)) === describe({ [String(id)]: ["Last_Name"] }) &&
        describe(byId(upd.affected_values, id)) === describe({ record_id: String(id), values: { Last_Name: `Upd ${stamp}` } }),
        `${V} update callback: Last_Name alone affected, with its new value`, upd ? describe(upd) : "none");

    const bulk = record(S, { Company: `Bulk ${V}` });
    bulk.setId(id);
    items = actionItems(`${V} Leads update (bulk)`, await ops.updateRecords(body(S, [bulk])), R, "getData");
    if (items[0]) check(detailId(items[0]) === id, `${V} Leads update (bulk): the same id`);

    const up = body(S, [
        record(S, { Last_Name: `Ups ${stamp}`, Email: `up-${email}` }),
        record(S, { Last_Name: `Ups2 ${stamp}`, Email: email }),
    ]);
    up.setDuplicateCheckFields(["Email"]);
    items = actionItems(`${V} Leads upsert`, await ops.upsertRecords(up), R, "getData");
    let upsertedId = null;
    if (items.length === 2) {
        upsertedId = detailId(items[0]);
        check(isBigInt(upsertedId) && upsertedId !== id && detailId(items[1]) === id &&
            items[0].getAction().getValue() === "insert" && items[1].getAction().getValue() === "update" &&
            items[1].getDuplicateField() === "Email", `${V} Leads upsert: a new record, then the duplicate by Email`,
            describe([upsertedId, items[0].getAction(), items[1].getAction(), items[1].getDuplicateField()]));
        const [ci, cu] = await Promise.all([callbackFor(b, "insert", upsertedId), callbackFor(b, "update", id)]);
        check(ci && cu && byId(cu.body.affected_fields, id)[String(id)].join() === "Last_Name",
            `${V} upsert: an insert and an update callback`, describe([ci && ci.body.ids, cu && cu.body.affected_fields]));
    }

    // From v3 on a list needs `fields` (Zoho's v3 to v8 pages: "mandatory when fetching all records").
    const bare = await ops.getRecords();
    check(bare.getStatusCode() === 400 && bare.getObject() instanceof R.APIException &&
        bare.getObject().getCode().getValue() === "REQUIRED_PARAM_MISSING" &&
        bare.getObject().getDetails().get("param_name") === "fields", `${V} Leads list without fields: 400 REQUIRED_PARAM_MISSING`,
    `status ${bare.getStatusCode()} ${describe(bare.getObject())}`);
    const params = new S.ParameterMap();
    await params.add(R.GetRecordsParam.FIELDS, "Last_Name,Email");
    const list = wrapper(`${V} Leads list with fields`, await ops.getRecords(params), R);
    if (list) {
        const ids = (list.getData() || []).map((r) => r.getId());
        check(ids.includes(id) && ids.includes(upsertedId) && list.getInfo().getMoreRecords() === false,
            `${V} Leads list: both records, info`, describe(ids));
    }

    items = actionItems(`${V} Leads delete`, await ops.deleteRecord(id), R, "getData");
    if (items[0]) check(detailId(items[0]) === id && items[0].getMessage().getValue() === "record deleted",
        `${V} Leads delete: the same id, record deleted`);
    cb = await callbackFor(b, "delete", id);
    check(cb && describe(cb.body.affected_fields) === "[]" && describe(cb.body.affected_values) === "[]",
        `${V} delete callback: affected_fields [] and affected_values []`, cb ? describe(cb.body) : "none");
    if (upsertedId) {
        const del = new S.ParameterMap();
        await del.add(R.DeleteRecordsParam.IDS, String(upsertedId));
        actionItems(`${V} Leads delete (bulk)`, await ops.deleteRecords(del), R, "getData");
    }
    const after = await ops.getRecord(id);
    check(after.getObject() instanceof R.APIException || after.getStatusCode() === 204,
        `${V} Leads get after delete: not found`, after.getStatusCode());
    // Every record failing is 400.
    const r = await ops.createRecords(body(S, [record(S, { Last_Name: "x", No_Such_Field: "y" })]));
    const obj = r.getObject();
    const item = obj instanceof R.ActionWrapper ? (obj.getData() || [])[0] : obj;
    check(r.getStatusCode() === 400 && item instanceof R.APIException && item.getCode().getValue() === "INVALID_DATA" &&
        item.getDetails().get("api_name") === "No_Such_Field", `${V} Leads create with an unknown field: 400 INVALID_DATA`,
        `status ${r.getStatusCode()} ${describe(item)}`);
}

// Typed values, a lookup, related actions, and the seed's conditioned channel a on Deals.
async function typedAndConditions(S, V, a, c) {
    const R = S.Record;
    const stamp = `${V} ${Date.now()}`;
    let items = actionItems(`${V} Accounts create (two)`, await new R.RecordOperations("Accounts").createRecords(body(S, [
        record(S, { Account_Name: `Acc ${stamp}`, Employees: 42, Annual_Revenue: 99.25, Account_Type: new S.Choice("Customer") }),
        record(S, { Account_Name: `Acc2 ${stamp}` }),
    ])), R, "getData");
    const [acc1, acc2] = items.map(detailId);
    if (!acc1 || !acc2) return;
    let got = await getOne(S, "Accounts", acc1, `${V} Accounts get (typed)`);
    if (got) {
        const t = got.getKeyValue("Account_Type");
        check(got.getKeyValue("Employees") === 42 && got.getKeyValue("Annual_Revenue") === 99.25 &&
            t instanceof S.Choice && t.getValue() === "Customer", `${V} Accounts: integer, double, picklist`,
            describe([got.getKeyValue("Employees"), got.getKeyValue("Annual_Revenue"), t]));
    }
    const ref = (id) => {
        const r = new R.Record();
        r.setId(id);
        return r;
    };

    // A Contact that looks up account 1: channel c (Contacts.create, Accounts.edit, notify_on_related_action)
    // gets the insert and an update of the account with no affected field.
    const dob = new Date(Date.UTC(1990, 4, 17));
    items = actionItems(`${V} Contacts create (lookup, date, boolean)`, await new R.RecordOperations("Contacts").createRecords(
        body(S, [record(S, { Last_Name: `Con ${stamp}`, Account_Name: ref(acc1), Date_of_Birth: dob, Email_Opt_Out: true })])),
    R, "getData");
    const contactId = items[0] ? detailId(items[0]) : null;
    if (contactId) {
        got = await getOne(S, "Contacts", contactId, `${V} Contacts get (typed)`);
        if (got) {
            const acc = got.getKeyValue("Account_Name");
            const d = got.getKeyValue("Date_of_Birth");
            check(acc instanceof R.Record && acc.getId() === acc1 && acc.getKeyValue("name") === `Acc ${stamp}` &&
                d instanceof Date && d.toISOString().startsWith("1990-05-17") && got.getKeyValue("Email_Opt_Out") === true,
                `${V} Contacts: the lookup as a Record with its id and name, date, boolean`, describe([acc, d]));
        }
        const ins = await callbackFor(c, "insert", contactId);
        check(ins && ins.body.module === "Contacts" && ins.body.token === "tok-c2" && !("affected_values" in ins.body),
            `${V} Contacts insert callback on channel c, without affected_values`, ins ? describe(ins.body) : "none");
        const rel = await callbackFor(c, "update", acc1);
        check(rel && rel.body.module === "Accounts" &&
            describe(rel.body.affected_fields) === describe([{ [String(acc1)]: [] }]),
            `${V} related action: an Accounts update callback for the looked-up account`, rel ? describe(rel.body) : "none");
    }

    // The Deal: channel a (the seed's condition: Stage, or Account_Name and Lead_Source) stays silent for an
    // Amount edit and for Lead_Source alone, and calls back for Stage and for Account_Name with Lead_Source.
    const deals = new R.RecordOperations("Deals");
    items = actionItems(`${V} Deals create`, await deals.createRecords(body(S, [record(S, {
        Deal_Name: `Deal ${stamp}`, Stage: new S.Choice("Qualification"), Amount: 1000.5,
        Closing_Date: new Date(Date.UTC(2030, 0, 31)), Account_Name: ref(acc1),
    })])), R, "getData");
    const dealId = items[0] ? detailId(items[0]) : null;
    if (!dealId) return;
    got = await getOne(S, "Deals", dealId, `${V} Deals get`);
    if (got) {
        const cd = got.getKeyValue("Closing_Date");
        check(got.getKeyValue("Probability") === 10 && got.getKeyValue("Amount") === 1000.5 && cd instanceof Date &&
            cd.toISOString().startsWith("2030-01-31") && got.getKeyValue("Account_Name").getId() === acc1,
            `${V} Deals: Probability from Stage, Amount, Closing_Date, Account_Name`,
            describe([got.getKeyValue("Probability"), cd]));
    }
    const update = async (what, values) => {
        const its = actionItems(`${V} Deals update: ${what}`, await deals.updateRecord(dealId, body(S, [record(S, values)])),
            R, "getData");
        return its.length === 1;
    };
    await update("Amount", { Amount: 2000 });
    await update("Lead_Source alone", { Lead_Source: new S.Choice("Web Research") });
    await update("Stage", { Stage: new S.Choice("Proposal/Price Quote") });
    const stage = await callbackFor(a, "update", dealId);
    if (stage) {
        // Zoho's sample callback for this edit, key for key (server_time and the ids aside).
        const expected = {
            server_time: stage.body.server_time,
            affected_values: [{ record_id: String(dealId), values: { Probability: 75, Stage: "Proposal/Price Quote" } }],
            query_params: SEED_QUERY_PARAMS,
            module: "Deals",
            resource_uri: stage.body.resource_uri,
            ids: [String(dealId)],
            affected_fields: [{ [String(dealId)]: ["Stage", "Probability"] }],
            operation: "update",
            channel_id: String(a),
            token: "deals.all.notif",
        };
        check(JSON.stringify(stage.body) === JSON.stringify(expected) && stage.body.resource_uri.endsWith("/crm/v2/Deals") &&
            Number.isInteger(stage.body.server_time), `${V} the seed's callback for a Stage edit, keys in Zoho's order`,
            describe(stage.body));
        check(describe(Object.keys(stage.body)) === describe(PAYLOAD_KEYS), `${V} callback keys in Zoho's order`,
            describe(Object.keys(stage.body)));
        check(stage.url === "/hook?authorization=Zoho-oauthtoken%201000.23dnsbbbh455jnn&key1=val1&key2=val2",
            `${V} the seed's notify_url requested with its space percent-encoded`, stage.url);
    } else check(false, `${V} the seed's callback for a Stage edit arrived`);
    await update("Account_Name with Lead_Source", { Account_Name: ref(acc2), Lead_Source: new S.Choice("Cold Call") });
    const both = await waitForCallback((x) => x.body && x.body.channel_id === String(a) && x.body.operation === "update" &&
        (x.body.affected_fields || []).some((f) => (f[String(dealId)] || []).includes("Account_Name")), 15000);
    check(both && describe(both.body.affected_fields) === describe([{ [String(dealId)]: ["Account_Name", "Lead_Source"] }]) &&
        both.body.affected_values[0].values.Account_Name.id === String(acc2),
        `${V} the condition's "and" branch: a callback for Account_Name with Lead_Source`, both ? describe(both.body) : "none");
    // The two edits before them matched no branch: channel a called back twice in all, both for these.
    const onA = callbacks.filter((x) => x.body && x.body.channel_id === String(a));
    check(onA.length === 2, `${V} no callback for the Amount edit nor for Lead_Source alone`,
        describe(onA.map((x) => x.body.affected_fields)));

    // A date-time.
    const start = secondsAhead(86400);
    items = actionItems(`${V} Events create (datetime)`, await new R.RecordOperations("Events").createRecords(body(S, [record(S, {
        Event_Title: `Meeting ${stamp}`, Start_DateTime: start, End_DateTime: new Date(start.getTime() + 3600000),
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

// --- users through the SDK, and their users.all callbacks on channel b -----------------------------------------
// The v6 SDK parses the answers of user writes (its users ActionHandler lists ActionWrapper; v7's and v8's
// list only APIException, so they cannot).
async function users(S, V, b, me) {
    const U = S.Users;
    if (V !== "v6" || !me) return;
    const ops = new U.UsersOperations();
    const u = new U.Users();
    u.setLastName(`Sdk ${V}`);
    u.setFirstName("Grace");
    u.setEmail(`sdk-user-${Date.now()}@example.com`);
    const role = new U.Role();
    role.setId(me.getRole().getId());
    u.setRole(role);
    const profile = new U.Profile();
    profile.setId(me.getProfile().getId());
    u.setProfile(profile);
    const bw = new U.BodyWrapper();
    bw.setUsers([u]);
    let items = actionItems(`${V} users create`, await ops.createUsers(bw), U, "getUsers");
    const id = items[0] ? items[0].getDetails().get("id") : null;
    check(isBigInt(id), `${V} users create: details.id is BigInt`, describe(id));
    if (!isBigInt(id)) return;
    let cb = await callbackFor(b, "insert", id);
    check(cb && cb.body.module === "users" && cb.body.resource_uri.endsWith("/crm/v2/users") &&
        cb.body.affected_values[0].values.last_name === `Sdk ${V}`, `${V} users.all: an insert callback for the user`,
        cb ? describe(cb.body) : "none");

    const w = wrapper(`${V} users get`, await ops.getUser(id), U);
    if (w) check((w.getUsers() || [])[0] && w.getUsers()[0].getFullName() === `Grace Sdk ${V}`,
        `${V} users get: full_name derived`, describe(w.getUsers()[0].getFullName()));
    const change = new U.Users();
    change.setLastName(`Sdk ${V} renamed`);
    const cw = new U.BodyWrapper();
    cw.setUsers([change]);
    items = actionItems(`${V} users update`, await ops.updateUser(id, cw), U, "getUsers");
    cb = await callbackFor(b, "update", id);
    check(cb && describe(byId(cb.body.affected_fields, id)) === describe({ [String(id)]: ["last_name"] }),
        `${V} users.all: an update callback with last_name affected`, cb ? describe(cb.body) : "none");
    items = actionItems(`${V} users delete`, await ops.deleteUser(id), U, "getUsers");
    cb = await callbackFor(b, "delete", id);
    check(cb && cb.body.module === "users", `${V} users.all: a delete callback`, cb ? describe(cb.body) : "none");
}

// --- notifications -------------------------------------------------------------------------------------------
async function getChannel(S, ops, channelId, what) {
    const params = new S.ParameterMap();
    await params.add(S.Notifications.GetNotificationsParam.CHANNEL_ID, channelId);
    const response = await ops.getNotifications(params);
    if (response && response.getStatusCode() === 204 && response.getObject() == null) {
        check(true, `${what} (204: no rows)`);
        return [];
    }
    const w = wrapper(what, response, S.Notifications);
    return w ? w.getWatch() || [] : [];
}

// The items of a watch answer that must have failed as a whole (400 from v3 on), each an APIException.
function failedItems(S, V, what, response, status = 400) {
    const N = S.Notifications;
    const obj = response && response.getObject();
    const items = obj instanceof N.ActionWrapper ? obj.getWatch() || [] : [];
    check(response && response.getStatusCode() === status && items.length > 0 &&
        items.every((i) => i instanceof N.APIException), `${V} ${what}: ${status}, every item an APIException`,
        response && `status ${response.getStatusCode()} ${describe(obj)}`);
    return items;
}

// The seed's notification_condition, with the ids the metadata gave.
function seedCondition(S, meta) {
    const N = S.Notifications;
    const field = (name) => {
        const f = new N.Field();
        f.setAPIName(name);
        f.setId(meta.dealFieldId(name));
        const c = new N.Criteria();
        c.setField(f);
        return c;
    };
    const and = new N.Criteria();
    and.setGroupOperator("and");
    and.setGroup([field("Account_Name"), field("Lead_Source")]);
    const or = new N.Criteria();
    or.setGroupOperator("or");
    or.setGroup([field("Stage"), and]);
    const module = new N.Module();
    module.setAPIName("Deals");
    module.setId(meta.dealsId);
    const cond = new N.NotificationCondition();
    cond.setType("field_selection");
    cond.setModule(module);
    cond.setFieldSelection(or);
    return cond;
}

// Channels: a = the seed's (Deals.edit with its condition, token, notify_url, return_affected_field_values,
// an expiry just inside the week); b = Leads.all and users.all with return_affected_field_values, no token, an
// expiry past the week; c = Contacts.create (then edit and delete), Accounts.edit, notify_on_related_action;
// d = Leads.edit and Cases.all, for _delete_events.
async function notifications(S, V, notifyUrl, meta) {
    const N = S.Notifications;
    const ops = new N.NotificationsOperations();
    const a = BigInt(Date.now()) * 1000n + (V === "v6" ? 600n : 700n);
    const [b, c, d] = [a + 1n, a + 2n, a + 3n];
    const week = secondsAhead(7 * 86400 - 60);
    const beyond = secondsAhead(8 * 86400);
    const before = Math.floor(Date.now() / 1000);
    let items = actionItems(`${V} notifications enable (four channels)`, await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: a.toString(), Events: ["Deals.edit"], NotificationCondition: [seedCondition(S, meta)],
            ChannelExpiry: week, Token: "deals.all.notif", ReturnAffectedFieldValues: true, NotifyUrl: notifyUrl + SEED_QUERY }),
        channel(S, { ChannelId: b.toString(), Events: ["Leads.all", "users.all"], NotifyUrl: notifyUrl + "?ch=b",
            ChannelExpiry: beyond, ReturnAffectedFieldValues: true }),
        channel(S, { ChannelId: c.toString(), Events: ["Contacts.create"], Token: "tok-c", NotifyUrl: notifyUrl }),
        channel(S, { ChannelId: d.toString(), Events: ["Leads.edit", "Cases.all"], NotifyUrl: notifyUrl + "?ch=d" }),
    ])), N, "getWatch");
    if (items.length === 4) {
        check(items.every((i) => i.getMessage().getValue() === SUBSCRIBED), `${V} enable: message`);
        const ea = items[0].getDetails().get("events") || [];
        check(ea.length === 1 && ea[0] instanceof N.Event && ea[0].getResourceName() === "Deals" &&
            ea[0].getResourceId() === meta.dealsId && ea[0].getChannelId() === a.toString() &&
            ea[0].getResourceUri().endsWith("/crm/v2/Deals") && seconds(ea[0].getChannelExpiry()) === seconds(week),
            `${V} enable the seed's channel: Deals, its module id, /crm/v2/ uri, the expiry kept (within the week)`,
            describe(ea));
        const eb = items[1].getDetails().get("events") || [];
        const bs = eb[0] && eb[0].getChannelExpiry() instanceof Date ? seconds(eb[0].getChannelExpiry()) : null;
        check(eb.length === 2 && eb.map((e) => e.getResourceName()).join() === "Leads,users" && bs !== null &&
            bs >= before + 3600 && bs <= Math.floor(Date.now() / 1000) + 3600,
            `${V} enable: Leads and users, an expiry past the week is now + 1 h`, describe(eb));
    }

    let got = await getChannel(S, ops, a, `${V} get the seed's channel`);
    const row = got[0];
    check(got.length === 1 && row.getNotifyUrl() === notifyUrl + SEED_QUERY && row.getToken() === "deals.all.notif" &&
        row.getReturnAffectedFieldValues() === true && row.getNotifyOnRelatedAction() === true &&
        row.getEvents().join() === "Deals.edit" && row.getResourceId() === meta.dealsId &&
        seconds(row.getChannelExpiry()) === seconds(week), `${V} get: the seed's channel as sent`,
        describe(got.map((r) => [r.getNotifyUrl(), r.getToken(), r.getEvents()])));
    const cond = row && (row.getNotificationCondition() || [])[0];
    const sel = cond && cond.getFieldSelection();
    const leaf = (x, name) => x && x.getField() && x.getField().getAPIName() === name &&
        x.getField().getId() === meta.dealFieldId(name) && x.getGroupOperator() == null && x.getGroup() == null;
    check(cond instanceof N.NotificationCondition && cond.getType() === "field_selection" &&
        cond.getModule().getAPIName() === "Deals" && cond.getModule().getId() === meta.dealsId && sel &&
        sel.getGroupOperator() === "or" && sel.getGroup().length === 2 && leaf(sel.getGroup()[0], "Stage") &&
        sel.getGroup()[1].getGroupOperator() === "and" && leaf(sel.getGroup()[1].getGroup()[0], "Account_Name") &&
        leaf(sel.getGroup()[1].getGroup()[1], "Lead_Source"), `${V} get: the seed's nested condition with its ids`,
        describe(cond));

    const all = wrapper(`${V} notifications get (all)`, await ops.getNotifications(), N);
    if (all) {
        const info = all.getInfo();
        check(info && info.getCount() === (all.getWatch() || []).length && info.getCount() >= 6 &&
            info.getPerPage() === 200 && info.getMoreRecords() === false, `${V} get (all): info`,
            info && describe([info.getCount(), info.getPerPage(), info.getMoreRecords()]));
    }
    const byModule = new S.ParameterMap();
    await byModule.add(N.GetNotificationsParam.MODULE, "Leads");
    await byModule.add(N.GetNotificationsParam.PER_PAGE, 1);
    const one = wrapper(`${V} get (module=Leads, per_page=1)`, await ops.getNotifications(byModule), N);
    if (one) check((one.getWatch() || []).length === 1 && one.getWatch()[0].getResourceName() === "Leads" &&
        one.getInfo().getMoreRecords() === true, `${V} get (module=Leads, per_page=1): one row, more records`);

    // PUT replaces channel c: Contacts.create and Accounts.edit, a new token, no expiry (now + 1 h).
    items = actionItems(`${V} notifications update (PUT)`, await ops.updateNotifications(watch(S, [
        channel(S, { ChannelId: c.toString(), Events: ["Contacts.create", "Accounts.edit"], Token: "tok-c2",
            NotifyUrl: notifyUrl, NotifyOnRelatedAction: true }),
    ])), N, "getWatch");
    if (items[0]) {
        const ev = items[0].getDetails().get("events") || [];
        check(items[0].getMessage().getValue() === SUBSCRIBED && ev.map((e) => e.getResourceName()).sort().join() ===
            "Accounts,Contacts", `${V} PUT: message as enable, details.events for every module`, describe(ev));
    }
    // PATCH adds Contacts.edit and Contacts.delete and keeps the token; v6 on needs notify_url in it.
    items = actionItems(`${V} notifications update info (PATCH)`, await ops.updateNotification(watch(S, [
        channel(S, { ChannelId: c.toString(), Events: ["Contacts.edit", "Contacts.delete"], NotifyUrl: notifyUrl }),
    ])), N, "getWatch");
    if (items[0]) check(items[0].getMessage().getValue() === "Successfully updated the subscribe details",
        `${V} PATCH: message`, describe(items[0].getMessage()));
    got = await getChannel(S, ops, c, `${V} get after PUT and PATCH`);
    const contacts = got.find((r) => r.getResourceName() === "Contacts");
    check(got.length === 2 && contacts && contacts.getEvents().slice().sort().join() ===
        "Contacts.create,Contacts.delete,Contacts.edit" && contacts.getToken() === "tok-c2",
        `${V} PUT and PATCH: Contacts create, edit, delete; the token kept`,
        describe(got.map((r) => [r.getResourceName(), r.getEvents(), r.getToken()])));
    const noUrl = failedItems(S, V, "PATCH without notify_url", await ops.updateNotification(watch(S, [
        channel(S, { ChannelId: c.toString(), Events: ["Contacts.edit"] }),
    ])));
    check(noUrl[0] && noUrl[0].getCode().getValue() === "MANDATORY_NOT_FOUND" &&
        noUrl[0].getDetails().get("api_name") === "notify_url", `${V} PATCH without notify_url: MANDATORY_NOT_FOUND`,
        noUrl[0] && apiError(noUrl[0]));

    // _delete_events: channel d stops Cases.all and keeps Leads.edit.
    const off = channel(S, { ChannelId: d.toString(), Events: ["Cases.all"] });
    off.setDeleteevents(new S.Choice(true));
    items = actionItems(`${V} notifications disable events (_delete_events)`, await ops.disableNotification(watch(S, [off])),
        N, "getWatch");
    if (items[0]) {
        const ev = items[0].getDetails().get("events") || [];
        check(items[0].getMessage().getValue() === "Successfully removed the subscribe details" && ev.length === 1 &&
            ev[0].getResourceName() === "Cases" && ev[0].getChannelExpiry() == null,
            `${V} _delete_events: message, details.events for Cases without channel_expiry`, describe(ev));
    }
    got = await getChannel(S, ops, d, `${V} get after _delete_events`);
    check(got.length === 1 && got[0].getResourceName() === "Leads" && got[0].getEvents().join() === "Leads.edit",
        `${V} _delete_events removed Cases`, describe(got.map((r) => [r.getResourceName(), r.getEvents()])));
    return { ops, a, b, c, d };
}

async function disable(S, V, ops, ids, rows) {
    const N = S.Notifications;
    const params = new S.ParameterMap();
    for (const id of ids) await params.add(N.DeleteNotificationParam.CHANNEL_IDS, id);
    const items = actionItems(`${V} notifications disable (DELETE)`, await ops.deleteNotification(params), N, "getWatch");
    check(items.length === rows && items.every((i) => i.getMessage().getValue() ===
        "Successfully un-subscribed from actions-watch" && ids.includes(i.getDetails().get("channel_id")) &&
        /^[1-9][0-9]*$/.test(i.getDetails().get("resource_id")) && i.getDetails().get("resource_uri").includes("/crm/v2/")),
    `${V} disable: one answer per (channel, module) row, message, channel_id, resource_id, resource_uri`,
    describe(items.map((i) => Object.fromEntries(i.getDetails()))));
    for (const id of ids) {
        const got = await getChannel(S, ops, id, `${V} get after disable ${id}`);
        check(got.length === 0, `${V} channel ${id} is gone`, got.length);
    }
}

// What v6 and v7 answer as v8 and unlike v2: every watch item failing is 400; one of two failing is 207.
async function versionErrors(S, V, ops, notifyUrl) {
    const id = BigInt(Date.now()) * 1000n + (V === "v6" ? 650n : 750n);
    let items = failedItems(S, V, "enable with an unknown module", await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: id.toString(), Events: ["No_Such_Module.create"], NotifyUrl: notifyUrl }),
    ])));
    check(items[0] && items[0].getCode().getValue() === "INVALID_DATA" && items[0].getDetails().get("api_name") === "events",
        `${V} unknown module: INVALID_DATA on events`, items[0] && apiError(items[0]));
    items = failedItems(S, V, "enable with a channel_expiry in the past", await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: id.toString(), Events: ["Leads.create"], NotifyUrl: notifyUrl, ChannelExpiry: secondsAhead(-3600) }),
    ])));
    check(items[0] && items[0].getCode().getValue() === "INVALID_DATA" &&
        items[0].getDetails().get("api_name") === "channel_expiry", `${V} past expiry: INVALID_DATA on channel_expiry`,
        items[0] && apiError(items[0]));
    items = failedItems(S, V, "enable with a 51-character token", await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: id.toString(), Events: ["Leads.create"], NotifyUrl: notifyUrl, Token: "t".repeat(51) }),
    ])));
    check(items[0] && items[0].getCode().getValue() === "INVALID_DATA" && items[0].getDetails().get("api_name") === "token",
        `${V} long token: INVALID_DATA on token`, items[0] && apiError(items[0]));
    const r = await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: id.toString(), Events: ["Leads.delete"], NotifyUrl: notifyUrl }),
        channel(S, { ChannelId: (id + 1n).toString(), Events: ["Leads.nope"], NotifyUrl: notifyUrl }),
    ]));
    const N = S.Notifications;
    const mixed = r.getObject() instanceof N.ActionWrapper ? r.getObject().getWatch() || [] : [];
    check(r.getStatusCode() === 207 && mixed.length === 2 && mixed[0] instanceof N.SuccessResponse &&
        mixed[1] instanceof N.APIException, `${V} one item of two failing: 207, success then APIException`,
        `status ${r.getStatusCode()} ${describe(r.getObject())}`);
    items = failedItems(S, V, "PATCH of an unknown channel", await ops.updateNotification(watch(S, [
        channel(S, { ChannelId: "424242", Events: ["Leads.edit"], NotifyUrl: notifyUrl }),
    ])));
    check(items[0] && items[0].getCode().getValue() === "NOT_SUBSCRIBED" &&
        items[0].getMessage() === NOT_SUBSCRIBED_CHANNEL, `${V} PATCH of an unknown channel: NOT_SUBSCRIBED`,
        items[0] && apiError(items[0]));
    const params = new S.ParameterMap();
    await params.add(N.DeleteNotificationParam.CHANNEL_IDS, 424242n);
    items = failedItems(S, V, "DELETE of an unknown channel", await ops.deleteNotification(params));
    check(items[0] && items[0].getCode().getValue() === "NOT_SUBSCRIBED" &&
        items[0].getMessage() === NOT_SUBSCRIBED_CHANNEL, `${V} DELETE of an unknown channel: NOT_SUBSCRIBED`,
        items[0] && apiError(items[0]));
    await disable(S, V, ops, [id], 1);
}

// From v3 on, DELETE of channels takes ZohoCRM.notifications.ALL or .DELETE only (v2 also lists .WRITE): the
// SDK switches to a token with only WRITE, enables a channel, is refused its DELETE, and then deletes it with
// a DELETE-only token. Last, as it leaves the SDK on another token.
async function deleteScopes(S, V, notifyUrl) {
    if (!env.dbPath) {
        console.log(`skip ${V} DELETE scopes: the server was not started here (no token can be made)`);
        return;
    }
    const N = S.Notifications;
    const write = heraldCli("token", "create", "--scopes", "ZohoCRM.notifications.WRITE");
    await initialize(S, write, path.join(env.work, V), "switchUser", false);
    const ops = new N.NotificationsOperations();
    const id = BigInt(Date.now()) * 1000n + (V === "v6" ? 660n : 760n);
    actionItems(`${V} enable with the WRITE scope`, await ops.enableNotifications(watch(S, [
        channel(S, { ChannelId: id.toString(), Events: ["Deals.edit"], NotifyUrl: notifyUrl }),
    ])), N, "getWatch");
    const params = new S.ParameterMap();
    await params.add(N.DeleteNotificationParam.CHANNEL_IDS, id);
    const refused = await ops.deleteNotification(params);
    check(refused.getStatusCode() === 401 && refused.getObject() instanceof N.APIException &&
        refused.getObject().getCode().getValue() === "OAUTH_SCOPE_MISMATCH",
    `${V} DELETE with the WRITE scope alone: 401 OAUTH_SCOPE_MISMATCH`, `status ${refused.getStatusCode()}`);
    const del = heraldCli("token", "create", "--scopes", "ZohoCRM.notifications.DELETE");
    await initialize(S, del, path.join(env.work, V), "switchUser", false);
    const items = actionItems(`${V} DELETE with the DELETE scope`, await new N.NotificationsOperations()
        .deleteNotification(params), N, "getWatch");
    check(items.length === 1, `${V} DELETE with the DELETE scope: one row`, items.length);
}

// --- one SDK from start to end -------------------------------------------------------------------------------
async function drive(S, notifyUrl) {
    const V = S.version;
    console.log(`--- ${S.package} on /crm/${V}`);
    const init = await initialize(S, env.accessToken, path.join(env.work, V), "initialize");
    const sig = init.getToken().getUserSignature();
    check(sig != null && /^[^:]+@[^:]+:\S+$/.test(sig.getName()), `${V} initialization found the current user and org`,
        sig ? sig.getName() : "no user signature (see sdk.log)");
    const meta = await metadata(S, V);
    const { ops, a, b, c, d } = await notifications(S, V, notifyUrl, meta);
    await leads(S, V, b);
    await typedAndConditions(S, V, a, c);
    await users(S, V, b, meta.me);
    // Channel c saw no Contacts update or delete, d (Leads.edit) saw the Leads updates, and no callback for
    // Cases came after _delete_events (none were made): each channel's callbacks are its own.
    check(callbacks.filter((x) => x.body && x.body.channel_id === String(d)).every((x) => x.body.operation === "update" &&
        x.body.module === "Leads" && x.url === "/hook?ch=d"), `${V} channel d: only Leads updates`);
    await disable(S, V, ops, [a, b, c, d], 6);
    await versionErrors(S, V, ops, notifyUrl);
    await deleteScopes(S, V, notifyUrl);
    // The SDK logs what it could not do without failing the call (a field or user lookup that came back an
    // error, say): nothing.
    const log = fs.readFileSync(path.join(env.work, V, "sdk.log"), "utf8");
    const errors = log.split("\n").filter((l) => /level: 'error'|"level":"error"/.test(l));
    check(errors.length === 0, `${V} the SDK logged no error`, errors.join(" | ").slice(0, 2000));
}

// Every JSON answer each SDK parses is checked against that SDK's model of it (model.mjs).
for (const S of SDKS) S.answers = await watchAnswers(S.package);

await run("herald-sdk67", async (notifyUrl) => {
    for (const S of SDKS) {
        await drive(S, notifyUrl);
        check(S.answers.answers > 50 && S.answers.problems.length === 0,
            `${S.version} each of the ${S.answers.answers} JSON answers the SDK parsed has the types of its model`,
            S.answers.problems.slice(0, 20).join("; "));
    }
}, 60000);
