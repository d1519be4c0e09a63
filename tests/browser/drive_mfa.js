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
const { startRun, firstOf } = require("./browser_run");

const run = startRun();
const { cfg, report, step, inPage } = run;

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
  const page = run.page;
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
  await run.awaitSignedIn();
  outcome.signedIn = true;
  outcome.amr = (await inPage("getDecodedIDToken", () => window.harness.client.getDecodedIDToken())).amr;
  return outcome;
}

async function signOut() {
  const page = run.page;
  const pageOrigin = new URL(cfg.pageUrl).origin;
  await page.click("#signout");
  // No id_token_hint from the SDK by default: the issuer asks to confirm (RP-Initiated Logout §2).
  await page.waitForSelector("#confirm-logout");
  await page.click("#confirm-logout");
  await page.waitForURL((url) => url.origin === pageOrigin && url.searchParams.get("state") === "sign_out_success");
  await page.waitForFunction(() => window.harness && (window.harness.ready || window.harness.error));
}

run.main(async () => {
  await run.openPage();

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
});
