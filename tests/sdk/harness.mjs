// What the SDK scripts share (sdk_test.mjs for the v8 SDK, sdk_old_test.mjs for the v2 and v2.1 SDKs): the
// checks and their count, the classification of an SDK answer, the server (given by HERALD_URL and
// HERALD_TOKEN, or started from HERALD_BIN in a temporary directory), the callback receiver on 127.0.0.1, and
// a bounded run that stops the server and prints "N passed, N failed".
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";

let passed = 0;
let failed = 0;
export function check(cond, what, detail) {
    if (cond) {
        passed++;
        console.log(`ok   ${what}`);
    } else {
        failed++;
        console.log(`FAIL ${what}${detail !== undefined ? ": " + detail : ""}`);
    }
}

export function describe(obj) {
    return JSON.stringify(obj, (k, v) => (typeof v === "bigint" ? v.toString() + "n" : v));
}

// One SDK APIException as text (code, status, message, details).
export function apiError(e) {
    const val = (x) => (x && typeof x.getValue === "function" ? x.getValue() : x);
    return `${val(e.getCode())}/${val(e.getStatus())}: ${val(e.getMessage())} ${describe(e.getDetails())}`;
}

// An action response (create/update/upsert/delete/enable...) must be an ActionWrapper whose every item is
// a SuccessResponse. Returns the items.
export function actionItems(what, response, ns, getter) {
    if (!response) {
        check(false, what, "no response");
        return [];
    }
    const obj = response.getObject();
    if (obj instanceof ns.APIException) {
        check(false, what, `status ${response.getStatusCode()} APIException ${apiError(obj)}`);
        return [];
    }
    if (!(obj instanceof ns.ActionWrapper)) {
        check(false, what, `status ${response.getStatusCode()} object ${obj && obj.constructor.name}`);
        return [];
    }
    const items = obj[getter]() || [];
    const bad = items.filter((i) => !(i instanceof ns.SuccessResponse));
    check(items.length > 0 && bad.length === 0, what,
        bad.map((i) => (i instanceof ns.APIException ? apiError(i) : i.constructor.name)).join("; "));
    return items;
}

// A read must be a ResponseWrapper. Returns it or null.
export function wrapper(what, response, ns) {
    if (!response) {
        check(false, what, "no response");
        return null;
    }
    const obj = response.getObject();
    if (obj instanceof ns.ResponseWrapper) {
        check(true, what);
        return obj;
    }
    check(false, what, `status ${response.getStatusCode()} ` +
        (obj instanceof ns.APIException ? "APIException " + apiError(obj) : `object ${obj && obj.constructor.name}`));
    return null;
}

export const isBigInt = (x) => typeof x === "bigint";

// A record action's details.id (a String in the SDKs' models) as the BigInt the record operations take.
export function detailId(item) {
    const v = item.getDetails().get("id");
    return typeof v === "string" && /^[1-9][0-9]*$/.test(v) ? BigInt(v) : null;
}

// --- the server: given, or started from HERALD_BIN in a temporary directory ---------------------------------
// baseUrl and accessToken address it; dbPath is the database of a server started here (null otherwise), for
// `herald secret`; work is the scratch directory (the SDKs' token stores, logs and field caches).
export const env = { work: null, baseUrl: process.env.HERALD_URL, accessToken: process.env.HERALD_TOKEN, dbPath: null };
let server = null;
let serverLog = "";
let serverExit = null;

async function startServer(bin) {
    const db = path.join(env.work, "herald.db");
    env.dbPath = db;
    env.accessToken = execFileSync(bin, ["token", "create", "--scopes", "all", "--db", db]).toString().trim();
    server = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--db", db, "--allow-network", "127.0.0.0/8"],
        { stdio: ["ignore", "pipe", "pipe"] });
    serverExit = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("herald did not start:\n" + serverLog)), 15000);
        const onData = (chunk) => {
            serverLog += chunk.toString();
            const m = serverLog.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
            if (m) {
                clearTimeout(timer);
                resolve(m[1]);
            }
        };
        server.stdout.on("data", onData);
        server.stderr.on("data", onData);
        serverExit.then(({ code, signal }) => reject(new Error(`herald exited (${code ?? signal}):\n${serverLog}`)));
    });
}

// Stops the server started here: it must exit 0 on SIGTERM, with no sanitizer report.
async function stopServer() {
    if (!server) return;
    server.kill("SIGTERM");
    const exit = await Promise.race([serverExit, new Promise((r) => setTimeout(() => r(null), 20000))]);
    if (!exit) server.kill("SIGKILL");
    check(exit && exit.code === 0, "herald stopped cleanly on SIGTERM", describe(exit));
    check(!/Sanitizer|runtime error:/.test(serverLog), "no sanitizer report in herald's output");
}

// `herald ARGS --db DB` on the server started here; its standard output.
export function heraldCli(...args) {
    return execFileSync(process.env.HERALD_BIN, [...args, "--db", env.dbPath], { stdio: ["ignore", "pipe", "pipe"] })
        .toString().trim();
}

// --- the callback receiver: a tiny HTTP server on 127.0.0.1 --------------------------------------------------
export const callbacks = [];
let callbackWaiters = [];
const receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
        const raw = Buffer.concat(chunks); // the bytes signed, for the signature checks
        const body = raw.toString("utf8");
        let json = null;
        try {
            json = JSON.parse(body);
        } catch (e) {
            json = { unparsable: body };
        }
        callbacks.push({ url: req.url, method: req.method, headers: req.headers, raw, body: json });
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end("ok");
        callbackWaiters.forEach((w) => w());
    });
});

// The first callback that satisfies `pred`, waiting at most `ms` for it; null if none came.
export function waitForCallback(pred, ms) {
    return new Promise((resolve) => {
        const found = () => callbacks.find(pred);
        if (found()) return resolve(found());
        const timer = setTimeout(() => resolve(found() || null), ms);
        const waiter = () => {
            if (found()) {
                clearTimeout(timer);
                callbackWaiters = callbackWaiters.filter((w) => w !== waiter);
                resolve(found());
            }
        };
        callbackWaiters.push(waiter);
    });
}

// --- the run -------------------------------------------------------------------------------------------------
// Starts the server (unless given) and the receiver, runs main(notifyUrl) within limitMs, stops both, prints the
// count and exits 0 only when something passed and nothing failed. The scratch directory is removed after a
// run that passed, unless HERALD_SDK_KEEP is set.
export async function run(name, main, limitMs) {
    env.work = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
    // A bound on the whole run: a hung request fails the test instead of waiting for ctest's timeout.
    const deadline = setTimeout(() => {
        console.log(`FAIL the run took more than ${limitMs / 1000} s`);
        console.log(`${passed} passed, ${failed + 1} failed`);
        if (server) server.kill("SIGKILL");
        process.exit(1);
    }, limitMs);
    try {
        if (!env.baseUrl) {
            if (!process.env.HERALD_BIN) throw new Error("set HERALD_URL and HERALD_TOKEN, or HERALD_BIN");
            env.baseUrl = await startServer(process.env.HERALD_BIN);
        }
        await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
        const notifyUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
        console.log(`herald ${env.baseUrl}, receiver ${notifyUrl}, scratch ${env.work}`);
        await main(notifyUrl);
    } catch (e) {
        failed++;
        console.log("FAIL exception: " + (e && e.stack ? e.stack : describe(e)));
    }
    receiver.close();
    try {
        await stopServer();
    } catch (e) {
        failed++;
        console.log("FAIL stopping herald: " + e);
    }
    clearTimeout(deadline);
    if (failed > 0 && serverLog) console.log("--- herald's output ---\n" + serverLog.slice(-20000));
    console.log(`${passed} passed, ${failed} failed`);
    if (failed === 0 && !process.env.HERALD_SDK_KEEP) fs.rmSync(env.work, { recursive: true, force: true });
    else console.log(`scratch kept (the SDKs' logs are there): ${env.work}`);
    process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

// --- shared by the SDK scripts of every version ---------------------------------------------------------------
// Zoho's NOT_SUBSCRIBED messages: a channel with no live row, or none of a live channel's modules.
export const NOT_SUBSCRIBED_CHANNEL = "Not subscribed for actions-watch of the given channel";
export const NOT_SUBSCRIBED_MODULE = "Not subscribed for actions-watch of the given module/channel";
export const seconds = (d) => Math.floor(d.getTime() / 1000);

// A channel of the SDK namespace S from {Key: value} (each through its setKey).
export function channel(S, fields) {
    const n = new S.Notifications.Notification();
    for (const [k, v] of Object.entries(fields)) n[`set${k}`](v);
    return n;
}

// The watch body of S for a list of channels.
export function watch(S, list) {
    const b = new S.Notifications.BodyWrapper();
    b.setWatch(list);
    return b;
}

// A notification channel of the SDK's Notifications namespace `N`, from {Name: value} (setName).
export function sdkChannel(N, fields) {
    const n = new N.Notification();
    for (const [k, v] of Object.entries(fields)) n[`set${k}`](v);
    return n;
}

// The SDK's watch body holding `list`.
export function sdkWatch(N, list) {
    const b = new N.BodyWrapper();
    b.setWatch(list);
    return b;
}
