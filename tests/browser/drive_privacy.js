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
// bounded; a watchdog ends the run if anything still hangs (browser_run.js).
"use strict";
const { startRun } = require("./browser_run");

const run = startRun();
const { cfg, report, step, inPage } = run;

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

run.main(async () => {
  const pageOrigin = new URL(cfg.pageUrl).origin;
  const page = await run.openPage();

  step("signIn() and the sign-in form");
  await page.click("#signin");
  await page.waitForURL((url) => url.href.startsWith(`${cfg.base}/oauth2/authorize?`));
  await page.waitForSelector("#username", { state: "visible" });
  await page.fill("#username", cfg.username);
  await page.fill("#password", cfg.password);
  await page.click("#sign-in");
  await page.waitForURL((url) => url.origin === pageOrigin);

  step("SDK exchanges the code (PKCE)");
  await run.awaitSignedIn();
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
});
