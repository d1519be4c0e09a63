// Drives page/index.html in headless Chromium for the account-recovery acceptance test (issue 18):
// the SDK's sign-in goes to the issuer's sign-in page, the user clicks "Forgot password?", types
// their username, reads the code from the mail (the server's outbox folder), types it, chooses a
// new password, lands back on the sign-in page of the same authorization request, signs in with
// the new password and the SPA is signed in (GET /scim2/Me through the SDK answers 200).
//
//   node drive_recovery.js '{"pageUrl": "...", "base": "...", "clientId": "...", "username": "...",
//                            "address": "...", "outbox": "/path", "newPassword": "...", "chromium": "..."}'
//
// Prints exactly one JSON line on stdout: {ok, step, error, result, log, network, url, html}.
"use strict";
const fs = require("fs");
const path = require("path");
const { startRun, firstOf } = require("./browser_run");

const run = startRun();
const { cfg, report, step, inPage } = run;

// The newest recovery code mailed to cfg.address (the outbox holds one .eml file per message).
async function mailedCode(deadlineMs) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const files = fs.existsSync(cfg.outbox) ? fs.readdirSync(cfg.outbox).filter((f) => f.endsWith(".eml")).sort() : [];
    for (const file of files.reverse()) {
      const text = fs.readFileSync(path.join(cfg.outbox, file), "utf8");
      if (text.includes(`To: ${cfg.address}`)) {
        const match = text.match(/Recovery code: (\d+)/);
        if (match) return match[1];
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no recovery code mailed to ${cfg.address} in ${cfg.outbox}`);
}

run.main(async () => {
  await run.openPage();
  const page = run.page;
  const pageOrigin = new URL(cfg.pageUrl).origin;

  step("sign in: the SDK sends the browser to the sign-in page");
  await page.click("#signin");
  await page.waitForURL((url) => url.href.startsWith(`${cfg.base}/oauth2/authorize?`));
  const authorizeUrl = page.url();

  step('click "Forgot password?"');
  await page.click("#forgot-password");
  await page.waitForSelector("#identifier", { state: "visible" });
  report.result.recoveryPage = new URL(page.url()).pathname;

  step("ask for a code");
  await page.fill("#identifier", cfg.username);
  await page.click("#send-code");
  await page.waitForSelector("#code", { state: "visible" });

  step("read the code from the mail and type it");
  await page.fill("#code", await mailedCode(20000));
  await page.click("#check-code");
  await page.waitForSelector("#password2", { state: "visible" });

  step("choose the new password");
  await page.fill("#password", cfg.newPassword);
  await page.fill("#password2", cfg.newPassword);
  await page.click("#set-password");
  await page.waitForSelector("#username", { state: "visible" });
  report.result.backToAuthorize = page.url() === authorizeUrl;
  report.result.notice = await page.locator("[role=status]").innerText().catch(() => null);

  step("sign in with the new password");
  await page.fill("#username", cfg.username);
  await page.fill("#password", cfg.newPassword);
  await page.click("#sign-in");
  const landed = await firstOf([
    ["app", page.waitForURL((url) => url.origin === pageOrigin)],
    ["error", page.waitForSelector(".error", { state: "visible" })],
  ]);
  if (landed !== "app") throw new Error(`sign-in failed: ${await page.locator(".error").innerText()}`);
  await run.awaitSignedIn();

  step("GET /scim2/Me through the SDK");
  const me = await inPage("GET /scim2/Me", () => window.harness.me());
  report.result.me = me.ok ? { status: me.status, userName: me.data.userName } : { error: me.error };
});
