// Drives page/index.html in headless Chromium through a full @asgardeo/auth-spa sign-in against
// scim-me, reads and PATCHes /scim2/Me through the SDK's httpRequest, optionally refreshes the access
// token ("refresh": true) and reads /scim2/Me with the new one, optionally changes the password with
// the current one ("newPassword": "...") and reads /scim2/Me again, then signs out.
//
//   node drive.js '{"pageUrl": "...", "base": "...", "clientId": "...", "username": "...",
//                   "password": "...", "nick": "...", "refresh": false, "newPassword": null,
//                   "chromium": "/usr/bin/chromium"}'
//
// Prints exactly one JSON line on stdout: {ok, step, error, consentShown, result, log, network,
// url, html}. Every wait is bounded; a watchdog ends the run if anything still hangs.
"use strict";
const { chromium } = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const STEP_MS = cfg.stepTimeoutMs || 15000;
const WATCHDOG_MS = cfg.watchdogMs || 90000;

const report = { ok: false, step: "start", error: null, consentShown: false, result: {}, log: [], network: [] };
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

// The first of several waits to succeed; the others are cancelled by their own timeouts.
function firstOf(waits) {
  return new Promise((resolve, reject) => {
    let pending = waits.length;
    const errors = [];
    for (const [name, promise] of waits) {
      promise.then(
        () => resolve(name),
        (e) => {
          errors.push(`${name}: ${e.message.split("\n")[0]}`);
          if (--pending === 0) reject(new Error(errors.join("; ")));
        },
      );
    }
  });
}

const step = (name) => {
  report.step = name;
  log(`step: ${name}`);
};

// Runs an async function in the page with a bound (page.evaluate itself has no timeout).
async function inPage(what, fn, arg) {
  return withTimeout(page.evaluate(fn, arg), STEP_MS, what);
}

async function main() {
  const pageOrigin = new URL(cfg.pageUrl).origin;
  step("launch chromium");
  browser = await chromium.launch({
    executablePath: cfg.chromium,
    headless: true, // a fresh temporary profile per launch
    timeout: STEP_MS * 2,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  page = await context.newPage();
  page.on("console", (m) => log(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => log(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => log(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    const req = r.request();
    const headers = r.headers();
    const entry = { method: req.method(), url: req.url(), status: r.status() };
    if (headers["location"]) {
      entry.location = headers["location"];
      if (entry.location.startsWith(pageOrigin) && !report.result.callbackUrl) report.result.callbackUrl = entry.location;
    }
    if (headers["access-control-allow-origin"]) entry.acao = headers["access-control-allow-origin"];
    report.network.push(entry);
    if (req.method() === "POST" && new URL(req.url()).pathname.endsWith("/oauth2/token")) {
      // Which fields the token endpoint returned (names only, never the tokens).
      r.json().then((body) => { entry.fields = Object.keys(body).sort().join(","); }, () => {});
    }
  });

  step("load page");
  const start = `${cfg.pageUrl}#base=${encodeURIComponent(cfg.base)}&client=${encodeURIComponent(cfg.clientId)}`;
  await page.goto(start);
  await page.waitForFunction(() => window.harness && (window.harness.ready || window.harness.error));
  const initError = await inPage("init error", () => window.harness.error);
  if (initError) throw new Error(`SDK initialize failed: ${initError}`);

  step("signIn() redirects to the authorize endpoint");
  await page.click("#signin"); // signIn() navigates and never resolves: never await it in the page
  const authorize = `${cfg.base}/oauth2/authorize?`;
  await page.waitForURL((url) => url.href.startsWith(authorize));
  report.result.authorizeUrl = page.url();

  step("fill the sign-in form");
  await page.waitForSelector("#username", { state: "visible" });
  await page.fill("#username", cfg.username);
  await page.fill("#password", cfg.password);
  await page.click("#sign-in");

  step("after sign-in: back to the app, or a consent page");
  let landed = await firstOf([
    ["app", page.waitForURL((url) => url.origin === pageOrigin)],
    ["consent", page.waitForSelector("#allow", { state: "visible" })],
    ["error", page.waitForSelector(".error", { state: "visible" })],
  ]);
  if (landed === "consent") {
    report.consentShown = true;
    step("allow on the consent page");
    await page.click("#allow");
    landed = await firstOf([
      ["app", page.waitForURL((url) => url.origin === pageOrigin)],
      ["error", page.waitForSelector(".error", { state: "visible" })],
    ]);
  }
  if (landed !== "app") {
    const text = await page.locator("body").innerText().catch(() => "?");
    throw new Error(`the issuer showed an error instead of redirecting: ${text.slice(0, 500)}`);
  }

  step("SDK exchanges the code (PKCE) and validates the id_token");
  await page.waitForFunction(() => window.harness && (window.harness.signedIn || window.harness.error), null, {
    timeout: STEP_MS * 2,
  });
  const signInError = await inPage("sign-in error", () => window.harness.error);
  if (signInError) throw new Error(`SDK sign-in failed: ${signInError}`);
  report.result.urlAfterSignIn = page.url();
  report.result.user = await inPage("getBasicUserInfo", () => window.harness.client.getBasicUserInfo());
  report.result.idToken = await inPage("getDecodedIDToken", () => window.harness.client.getDecodedIDToken());

  step("httpRequest GET /scim2/Me");
  report.result.me = await inPage("GET /scim2/Me", () => window.harness.me());
  if (!report.result.me.ok) throw new Error(`GET /scim2/Me failed: ${report.result.me.error}`);

  step("httpRequest PATCH /scim2/Me nickName");
  report.result.patch = await inPage("PATCH /scim2/Me", (nick) => window.harness.setNick(nick), cfg.nick);
  if (!report.result.patch.ok) throw new Error(`PATCH /scim2/Me failed: ${report.result.patch.error}`);

  step("httpRequest GET /scim2/Me again");
  report.result.me2 = await inPage("GET /scim2/Me", () => window.harness.me());
  if (!report.result.me2.ok) throw new Error(`second GET /scim2/Me failed: ${report.result.me2.error}`);

  if (cfg.newPassword) {
    step("httpRequest POST /api/users/v1/me/change-password");
    report.result.changePassword = await inPage(
      "POST change-password",
      ([current, next]) => window.harness.changePassword(current, next),
      [cfg.password, cfg.newPassword],
    );
    if (!report.result.changePassword.ok) {
      throw new Error(`change-password failed: ${report.result.changePassword.error}`);
    }
    step("httpRequest GET /scim2/Me after the password change");
    report.result.meAfterChange = await inPage("GET /scim2/Me", () => window.harness.me());
    if (!report.result.meAfterChange.ok) {
      throw new Error(`GET /scim2/Me after the password change failed: ${report.result.meAfterChange.error}`);
    }
  }

  if (cfg.refresh) {
    step("refreshAccessToken() (refresh_token grant as a public client)");
    report.result.refresh = await inPage("refreshAccessToken", async () => {
      const c = window.harness.client;
      const before = await c.getAccessToken();
      try {
        await c.refreshAccessToken();
      } catch (e) {
        return { ok: false, error: window.harness.describe(e) };
      }
      return { ok: true, rotated: (await c.getAccessToken()) !== before, authenticated: await c.isAuthenticated() };
    });
    if (!report.result.refresh.ok) throw new Error(`refreshAccessToken failed: ${report.result.refresh.error}`);

    step("httpRequest GET /scim2/Me with the refreshed access token");
    report.result.me3 = await inPage("GET /scim2/Me", () => window.harness.me());
    if (!report.result.me3.ok) throw new Error(`GET /scim2/Me after refresh failed: ${report.result.me3.error}`);
  }

  step("signOut() through /oidc/logout");
  await page.click("#signout");
  // The SDK sends no id_token_hint by default, so the issuer asks the user to confirm
  // (OIDC RP-Initiated Logout 1.0 §2) before it returns to the app.
  await page.waitForSelector("#confirm-logout");
  await page.click("#confirm-logout");
  await page.waitForURL((url) => url.origin === pageOrigin && url.searchParams.get("state") === "sign_out_success");
  await page.waitForFunction(() => window.harness && (window.harness.ready || window.harness.error));
  report.result.authenticatedAfterSignOut = await inPage("isAuthenticated", () =>
    window.harness.client.isAuthenticated(),
  );

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
