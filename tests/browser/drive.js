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
const { startRun, firstOf } = require("./browser_run");

const run = startRun({ consentShown: false });
const { cfg, report, step, inPage } = run;

run.main(async () => {
  const pageOrigin = new URL(cfg.pageUrl).origin;
  const page = await run.openPage({
    onResponse: (r, entry) => {
      const location = r.headers()["location"];
      if (location) {
        entry.location = location;
        if (location.startsWith(pageOrigin) && !report.result.callbackUrl) report.result.callbackUrl = location;
      }
      const req = r.request();
      if (req.method() === "POST" && new URL(req.url()).pathname.endsWith("/oauth2/token")) {
        // Which fields the token endpoint returned (names only, never the tokens).
        r.json().then((body) => { entry.fields = Object.keys(body).sort().join(","); }, () => {});
      }
    },
  });

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
  await run.awaitSignedIn();
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
});
