// The official SDKs' model of every answer (their config/json_details.json), for the SDK scripts. The SDKs
// convert a value to the type their model gives its key without complaint when it is not of that type: a
// "false" where a boolean is modelled becomes true, a "5" where an integer is becomes 5 only by luck, a date
// they cannot read becomes Invalid Date, a Long that is not digits throws mid-answer. shape() names every
// value of an answer whose JSON type is not the modelled one; watchAnswers() runs it on every JSON answer an
// SDK parses, so a script can require that none was off.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { describe } from "./harness.mjs";

const require = createRequire(import.meta.url);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

// The json_details of an installed SDK package (v6, v7 and v8 keep it in lib/config).
export function sdkDetails(pkg) {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    return JSON.parse(fs.readFileSync(path.join(dir, "lib", "config", "json_details.json"), "utf8"));
}

// The mismatches in `json` against class `cls` of `details`, appended to `out` as "path: expected X, got Y".
// Keys the model does not name are ignored, as the SDK ignores them; a record's values are dynamic (their
// types come from the module's fields) and are not checked here.
export function shape(details, json, cls, at = "$", out = []) {
    const d = details[cls];
    if (!d) return out;
    if (d.interface) {
        // The SDK picks the class whose members the JSON names most; an error is its APIException.
        const error = json && typeof json === "object" && json.status === "error";
        const candidates = d.classes.filter((c) => c.endsWith("/api_exception") === error);
        const score = (c) => Object.values(details[c] || {}).filter((m) => m && m.name && json &&
            typeof json === "object" && json[m.name] != null).length;
        const pick = candidates.sort((x, y) => score(y) - score(x))[0];
        return pick ? shape(details, json, pick, at, out) : out;
    }
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
        out.push(`${at}: expected an object (${cls.split("/").pop()}), got ${describe(json)}`);
        return out;
    }
    for (const member of Object.values(d)) {
        if (!member || !member.name || json[member.name] == null) continue;
        value(details, json[member.name], member, `${at}.${member.name}`, out);
    }
    return out;
}

// One value against the member (or field) detail `member`: { type, structure_name?, sub_type?, keys? }.
export function value(details, v, member, at, out) {
    const type = String(member.type);
    const bad = (what) => out.push(`${at}: expected ${what}, got ${describe(v)}`);
    if (type === "core/com/zoho/crm/api/record/record" || member.module) return;
    switch (type.toLowerCase()) {
    case "string": if (typeof v !== "string") bad("a string"); return;
    case "long": if (!(typeof v === "string" ? /^-?[0-9]+$/.test(v) : Number.isSafeInteger(v))) bad("a Long"); return;
    case "integer": if (!Number.isInteger(v)) bad("an integer"); return;
    case "double": case "float": if (typeof v !== "number") bad("a number"); return;
    case "boolean": if (typeof v !== "boolean") bad("a boolean"); return;
    case "datetime": if (typeof v !== "string" || !ISO.test(v)) bad("an ISO 8601 date-time"); return;
    case "date": if (typeof v !== "string" || !DAY.test(v)) bad("a date"); return;
    case "object": return;
    case "utils/util/choice":
        if (!["string", "number", "boolean"].includes(typeof v)) bad("a choice's value");
        return;
    case "list":
        if (!Array.isArray(v)) return bad("an array");
        v.forEach((e, i) => {
            if (e == null) return;
            if (member.structure_name) shape(details, e, member.structure_name, `${at}[${i}]`, out);
            else if (member.sub_type && member.sub_type.type && !/^(map|object)$/i.test(member.sub_type.type))
                value(details, e, { type: member.sub_type.type }, `${at}[${i}]`, out);
        });
        return;
    case "map":
        if (typeof v !== "object" || Array.isArray(v)) return bad("an object");
        for (const k of member.keys || []) if (v[k.name] != null) value(details, v[k.name], k, `${at}.${k.name}`, out);
        return;
    default:
        if (details[type]) shape(details, v, type, at, out);
    }
}

// Every JSON answer the SDK package `pkg` parses from now on is checked against its model; the returned
// object's `answers` counts them and `problems` lists each mismatch with the class it was read as.
export async function watchAnswers(pkg) {
    const details = sdkDetails(pkg);
    const { JSONConverter } = await import(`${pkg}/lib/utils/util/json_converter.js`);
    const seen = { answers: 0, problems: [] };
    const original = JSONConverter.prototype.getWrappedResponse;
    JSONConverter.prototype.getWrappedResponse = async function (response, pack) {
        if (response && response.body && response.body.length) {
            let json = null;
            try {
                json = JSON.parse(response.body);
            } catch (e) {
                seen.problems.push(`${pack}: not JSON: ${String(response.body).slice(0, 200)}`);
            }
            if (json) {
                seen.answers++;
                for (const p of shape(details, json, pack)) seen.problems.push(`${pack.split("/").slice(-2).join("/")} ${p}`);
            }
        }
        return original.call(this, response, pack);
    };
    return seen;
}
