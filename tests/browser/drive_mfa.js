// Drives page/index.html in headless Chromium for the MFA acceptance test (issue 4): sign in with
// the password, enrol a TOTP and backup codes through the SDK's httpRequest on WSO2's
// /api/users/v1/me paths, sign out; sign in again with password + TOTP (the ID token's amr
// says otp); sign out; sign in with password + a backup code; sign out; the same backup code is
// then refused. The TOTP codes are computed here (RFC 6238 with node's crypto).
//
//   node drive_mfa.js '{"pageUrl": "...", "base": "...", "clientId": "...", "username": "...",
//                       "password": "...", "chromium": "/usr/bin/chromium"}'
//
// Prints exactly one JSON line on stdout: {ok, step, error, result, log, network, url, html}.
"use strict";
const crypto = require("crypto");
const { chromium } = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const STEP_MS = cfg.stepTimeoutMs || 15000;
const WATCHDOG_MS = cfg.watchdogMs || 180000;

const report = { ok: false, step: "start", error: null, result: {}, log: [], network: [] };
let browser = null;
let page = null;
let finished = false;

const stamp = () => new Date().toISOString().slice(11, 23);
const log = (line) => report.log.push(`${stamp()} ${line}`);
const step = (name) => {
  report.step = name;
  log(`step: ${name}`);
};

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

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

// RFC 6238 / RFC 4226: HMAC-SHA-1 of the 8-byte big-endian step, dynamic truncation, 6 digits.
function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of text.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
function totp(secret, unixSeconds) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = crypto.createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return ((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).toString().padStart(6, "0");
}

async function inPage(what, fn, arg) {
  return withTimeout(page.evaluate(fn, arg), STEP_MS, what);
}

// The SDK's httpRequest against the issuer's WSO2 REST API, from the page (cross-site, bearer).
async function api(method, path, data) {
  return inPage(
    `${method} ${path}`,
    ([method, url, data]) =>
      window.harness.client
        .httpRequest({ url, method, headers: { Accept: "application/json", "Content-Type": "application/json" }, data })
        .then(
          (r) => ({ ok: true, status: r.status, data: r.data }),
          (e) => ({ ok: false, error: window.harness.describe(e) }),
        ),
    [method, `${cfg.base}${path}`, data],
  );
}

async function signIn(secondFactor) {
  const pageOrigin = new URL(cfg.pageUrl).origin;
  await page.click("#signin");
  await page.waitForURL((url) => url.href.startsWith(`${cfg.base}/oauth2/authorize?`));
  await page.waitForSelector("#username", { state: "visible" });
  await page.fill("#username", cfg.username);
  await page.fill("#password", cfg.password);
  await page.click("#sign-in");
  let landed = await firstOf([
    ["app", page.waitForURL((url) => url.origin === pageOrigin)],
    ["mfa", page.waitForSelector("#code", { state: "visible" })],
    ["error", page.waitForSelector(".error", { state: "visible" })],
  ]);
  const outcome = { askedForCode: landed === "mfa" };
  if (landed === "mfa" && secondFactor) {
    await page.fill("#code", secondFactor());
    await page.click("#verify");
    landed = await firstOf([
      ["app", page.waitForURL((url) => url.origin === pageOrigin)],
      ["error", page.waitForSelector(".error", { state: "visible" })],
    ]);
  }
  if (landed !== "app") {
    outcome.signedIn = false;
    outcome.error = await page.locator(".error").innerText().catch(() => null);
    return outcome;
  }
  await page.waitForFunction(() => window.harness && (window.harness.signedIn || window.harness.error), null, {
    timeout: STEP_MS * 2,
  });
  const signInError = await inPage("sign-in error", () => window.harness.error);
  if (signInError) throw new Error(`SDK sign-in failed: ${signInError}`);
  outcome.signedIn = true;
  outcome.amr = (await inPage("getDecodedIDToken", () => window.harness.client.getDecodedIDToken())).amr;
  return outcome;
}

async function signOut() {
  const pageOrigin = new URL(cfg.pageUrl).origin;
  await page.click("#signout");
  // No id_token_hint from the SDK by default: the issuer asks to confirm (RP-Initiated Logout §2).
  await page.waitForSelector("#confirm-logout");
  await page.click("#confirm-logout");
  await page.waitForURL((url) => url.origin === pageOrigin && url.searchParams.get("state") === "sign_out_success");
  await page.waitForFunction(() => window.harness && (window.harness.ready || window.harness.error));
}

async function main() {
  step("launch chromium");
  browser = await chromium.launch({
    executablePath: cfg.chromium,
    headless: true,
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
  page.on("response", (r) => {
    const req = r.request();
    report.network.push({ method: req.method(), url: req.url().split("?")[0], status: r.status() });
  });

  step("load page");
  await page.goto(`${cfg.pageUrl}#base=${encodeURIComponent(cfg.base)}&client=${encodeURIComponent(cfg.clientId)}`);
  await page.waitForFunction(() => window.harness && (window.harness.ready || window.harness.error));

  step("sign in with the password only (no MFA yet)");
  report.result.first = await signIn(null);
  if (!report.result.first.signedIn) throw new Error(`first sign-in failed: ${report.result.first.error}`);

  step("enrol: POST totp INIT through httpRequest");
  const init = await api("POST", "/api/users/v1/me/totp", { action: "INIT" });
  if (!init.ok) throw new Error(`INIT failed: ${init.error}`);
  const uri = Buffer.from(init.data.qrCodeUrl, "base64").toString("utf8");
  const secret = decodeURIComponent(uri.match(/[?&]secret=([^&]+)/)[1]);

  step("enrol: POST totp VALIDATE with the previous step's code");
  // The previous step's code (inside the {t-1, t} window), so the current step's code is still
  // unused for the sign-in below: an accepted step is never accepted again.
  for (let attempt = 0; attempt < 3 && !report.result.validate?.data?.isValid; attempt++) {
    const code = totp(secret, Date.now() / 1000 - 30);
    report.result.validate = await api("POST", "/api/users/v1/me/totp", { action: "VALIDATE", verificationCode: parseInt(code, 10) });
    if (!report.result.validate.ok) throw new Error(`VALIDATE failed: ${report.result.validate.error}`);
  }

  step("backup codes: POST");
  const codes = await api("POST", "/api/users/v1/me/backup-codes");
  if (!codes.ok) throw new Error(`backup-codes failed: ${codes.error}`);
  report.result.backupCodeCount = codes.data.backupCodes.length;
  const backup = codes.data.backupCodes[0];

  step("GET /scim2/Me shows totpEnabled");
  const me = await inPage("GET /scim2/Me", () => window.harness.me());
  report.result.totpEnabled = me.ok ? me.data["urn:scim:wso2:schema"].totpEnabled : me.error;

  step("sign out");
  await signOut();

  step("sign in with password + TOTP");
  report.result.withTotp = await signIn(() => totp(secret, Date.now() / 1000));
  if (!report.result.withTotp.signedIn) throw new Error(`TOTP sign-in failed: ${report.result.withTotp.error}`);
  step("sign out");
  await signOut();

  step("sign in with password + backup code");
  report.result.withBackup = await signIn(() => backup);
  if (!report.result.withBackup.signedIn) throw new Error(`backup-code sign-in failed: ${report.result.withBackup.error}`);
  step("GET backup-codes: one fewer");
  report.result.remaining = (await api("GET", "/api/users/v1/me/backup-codes")).data;
  step("sign out");
  await signOut();

  step("sign in with the same backup code again");
  report.result.backupAgain = await signIn(() => backup);

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
