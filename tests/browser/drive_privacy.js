// Issue 5 in headless Chromium with the unmodified @asgardeo/auth-spa SDK (page/index.html): sign in
// through the SPA flow, then through the SDK's httpRequest (bearer token, cross-site CORS):
// record a consent receipt, list it, revoke it; list the sessions and end the other one (the
// session whose user agent is cfg.otherUserAgent); finally revoke this app in authorized-apps and
// check that the SDK's token no longer reads /scim2/Me.
//
//   node drive_privacy.js '{"pageUrl", "base", "clientId", "username", "password", "consent": {...},
//                           "otherUserAgent", "chromium"}'
//
// Prints exactly one JSON line: {ok, step, error, result, log, network, url, html}. Every wait is
// bounded; a watchdog ends the run if anything still hangs. (drive.js is the issuer acceptance
// driver; this one reuses its page and conventions.)
"use strict";
const { chromium } = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const STEP_MS = cfg.stepTimeoutMs || 15000;
const WATCHDOG_MS = cfg.watchdogMs || 90000;

const report = { ok: false, step: "start", error: null, result: {}, log: [], network: [] };
let browser = null;
let page = null;
let finished = false;

const stamp = () => new Date().toISOString().slice(11, 23);
const log = (line) => report.log.push(`${stamp()} ${line}`);

async function finish(code) {
  if (finished) return;
  finished = true;
  if (!report.ok && page) {
    try {
      report.url = page.url();
      report.html = (await withTimeout(page.content(), 3000, "page.content")).slice(0, 4000);
    } catch (e) {
      report.html = `(page content unavailable: ${e.message})`;
    }
  }
  try {
    if (browser) await withTimeout(browser.close(), 10000, "browser.close");
  } catch (e) {
    log(`browser.close failed: ${e.message}`);
  }
  process.stdout.write(JSON.stringify(report) + "\n", () => process.exit(code));
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

const step = (name) => {
  report.step = name;
  log(`step: ${name}`);
};

async function inPage(what, fn, arg) {
  return withTimeout(page.evaluate(fn, arg), STEP_MS, what);
}

// One API call through the SDK's httpRequest; never throws, reports status and body.
async function api(method, path, data) {
  const url = cfg.base + path;
  return inPage(`${method} ${path}`, async ([method, url, data]) => {
    const headers = { Accept: "application/json" };
    if (data !== null) headers["Content-Type"] = "application/json";
    try {
      const r = await window.harness.client.httpRequest({ url, method, headers, data: data === null ? undefined : data });
      return { ok: true, status: r.status, data: r.data, location: r.headers ? r.headers.location || null : null };
    } catch (e) {
      return {
        ok: false,
        status: e && e.response ? e.response.status : null,
        data: e && e.response ? e.response.data : null,
        error: window.harness.describe(e),
      };
    }
  }, [method, url, data === undefined ? null : data]);
}

function expectStatus(name, response, status) {
  report.result[name] = response;
  if (response.status !== status) throw new Error(`${name}: expected ${status}, got ${JSON.stringify(response).slice(0, 600)}`);
}

async function main() {
  const pageOrigin = new URL(cfg.pageUrl).origin;
  step("launch chromium");
  browser = await chromium.launch({
    executablePath: cfg.chromium,
    headless: true,
    timeout: STEP_MS * 2,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run"],
  });
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  page = await context.newPage();
  page.on("console", (m) => log(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => log(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => log(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    const entry = { method: r.request().method(), url: r.url(), status: r.status() };
    const acao = r.headers()["access-control-allow-origin"];
    if (acao) entry.acao = acao;
    report.network.push(entry);
  });

  step("load page");
  await page.goto(`${cfg.pageUrl}#base=${encodeURIComponent(cfg.base)}&client=${encodeURIComponent(cfg.clientId)}`);
  await page.waitForFunction(() => window.harness && (window.harness.ready || window.harness.error));
  const initError = await inPage("init error", () => window.harness.error);
  if (initError) throw new Error(`SDK initialize failed: ${initError}`);

  step("signIn() and the sign-in form");
  await page.click("#signin");
  await page.waitForURL((url) => url.href.startsWith(`${cfg.base}/oauth2/authorize?`));
  await page.waitForSelector("#username", { state: "visible" });
  await page.fill("#username", cfg.username);
  await page.fill("#password", cfg.password);
  await page.click("#sign-in");
  await page.waitForURL((url) => url.origin === pageOrigin);

  step("SDK exchanges the code (PKCE)");
  await page.waitForFunction(() => window.harness && (window.harness.signedIn || window.harness.error), null, {
    timeout: STEP_MS * 2,
  });
  const signInError = await inPage("sign-in error", () => window.harness.error);
  if (signInError) throw new Error(`SDK sign-in failed: ${signInError}`);
  report.result.accessToken = await inPage("getAccessToken", () => window.harness.client.getAccessToken());

  const cm = "/api/identity/consent-mgt/v1.0/consents";
  step("record a consent receipt");
  const added = await api("POST", cm, cfg.consent);
  expectStatus("added", added, 200);
  const receiptId = added.data.consentReceiptId;

  step("list my receipts");
  expectStatus("listed", await api("GET", `${cm}?state=ACTIVE`), 200);

  step("read the receipt");
  expectStatus("receipt", await api("GET", `${cm}/receipts/${receiptId}`), 200);

  step("revoke the receipt");
  expectStatus("revoked", await api("DELETE", `${cm}/receipts/${receiptId}`), 200);
  expectStatus("afterRevoke", await api("GET", `${cm}/receipts/${receiptId}`), 200);
  expectStatus("activeAfterRevoke", await api("GET", `${cm}?state=ACTIVE`), 200);

  step("list sessions and end the other one");
  const sessions = await api("GET", "/api/users/v1/me/sessions");
  expectStatus("sessions", sessions, 200);
  const other = (sessions.data.sessions || []).find((s) => s.userAgent === cfg.otherUserAgent);
  if (!other) throw new Error(`no session with user agent ${cfg.otherUserAgent}: ${JSON.stringify(sessions.data)}`);
  expectStatus("endOther", await api("DELETE", `/api/users/v1/me/sessions/${other.id}`), 204);
  expectStatus("sessionsAfter", await api("GET", "/api/users/v1/me/sessions"), 200);

  step("authorized apps: list and revoke this app");
  expectStatus("apps", await api("GET", "/api/users/v2/me/authorized-apps"), 200);
  expectStatus("revokeApp", await api("DELETE", `/api/users/v2/me/authorized-apps/${cfg.clientId}`), 204);

  step("the app's token no longer reads /scim2/Me");
  report.result.meAfterRevoke = await inPage("GET /scim2/Me", () => window.harness.me());

  report.ok = true;
  report.step = "done";
}

const watchdog = setTimeout(() => {
  report.error = `watchdog: the run did not finish within ${WATCHDOG_MS} ms (last step: ${report.step})`;
  finish(3);
}, WATCHDOG_MS);

main().then(
  () => {
    clearTimeout(watchdog);
    finish(0);
  },
  (e) => {
    clearTimeout(watchdog);
    report.error = (e && e.message ? e.message : String(e)).split("\n").slice(0, 6).join("\n");
    finish(1);
  },
);
