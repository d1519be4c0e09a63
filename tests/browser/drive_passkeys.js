// Drives page/index.html in headless Chromium for the passkey acceptance test (issue 15): sign in
// with the password; add a virtual authenticator (DevTools protocol, WebAuthn domain); register a
// passkey through WSO2's FIDO2 API with the SDK's httpRequest (appId form-encoded, requestId round
// trip, navigator.credentials.create in the page); sign out; sign in with the passkey alone; sign
// out; sign in with the password and the passkey as the second factor; sign out; put back a copy
// of the credential taken before the last use (a stale signature counter) and sign in with it.
//
//   node drive_passkeys.js '{"pageUrl": "...", "base": "...", "clientId": "...", "username": "...",
//                            "password": "...", "chromium": "/usr/bin/chromium"}'
//
// Prints exactly one JSON line on stdout: {ok, step, error, result, log, network, url, html}.
"use strict";
const { startRun, firstOf } = require("./browser_run");

const run = startRun();
const { cfg, report, step, inPage } = run;
const WEBAUTHN = "/api/users/v2/me/webauthn";

async function landing(page, pageOrigin) {
  return firstOf([
    ["app", page.waitForURL((url) => url.origin === pageOrigin)],
    ["mfa", page.waitForSelector("#passkey-button:not([hidden])", { state: "visible" }).then(async () => {
      if (!(await page.locator("h1", { hasText: "Verify it's you" }).count())) throw new Error("not the MFA page");
    })],
    ["error", page.waitForSelector(".error:not([hidden])", { state: "visible" })],
  ]);
}

// mode "password": the password only. "autofill": no typing; the sign-in page's conditional
// request (autofill) is answered by the virtual authenticator at once, as a user picking the
// passkey from the username field's list. "password+passkey": the password, then the MFA page's
// "Use your passkey" button; presence is off until then, so the autofill request stays unanswered.
async function signIn(mode, presence) {
  const page = run.page;
  const pageOrigin = new URL(cfg.pageUrl).origin;
  if (presence) await presence(mode === "autofill");
  await page.click("#signin");
  await page.waitForURL((url) => url.href.startsWith(`${cfg.base}/oauth2/authorize?`));
  let landed;
  const outcome = { askedForSecondFactor: false };
  if (mode === "autofill") {
    landed = await firstOf([
      ["app", page.waitForURL((url) => url.origin === pageOrigin)],
      ["error", page.waitForSelector(".error:not([hidden])", { state: "visible" })],
    ]);
  } else {
    await page.waitForSelector("#username", { state: "visible" });
    await page.fill("#username", cfg.username);
    await page.fill("#password", cfg.password);
    await page.click("#sign-in");
    landed = await landing(page, pageOrigin);
    outcome.askedForSecondFactor = landed === "mfa";
    if (landed === "mfa" && mode === "password+passkey") {
      await presence(true);
      await page.click("#passkey-button");
      landed = await firstOf([
        ["app", page.waitForURL((url) => url.origin === pageOrigin)],
        ["error", page.waitForSelector(".error:not([hidden])", { state: "visible" })],
      ]);
    }
  }
  if (landed !== "app") {
    outcome.signedIn = false;
    outcome.error = await page.locator(".error:not([hidden])").first().innerText().catch(() => null);
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
  await page.waitForSelector("#confirm-logout");
  await page.click("#confirm-logout");
  await page.waitForURL((url) => url.origin === pageOrigin && url.searchParams.get("state") === "sign_out_success");
  await page.waitForFunction(() => window.harness && (window.harness.ready || window.harness.error));
}

run.main(async () => {
  await run.openPage();
  const page = run.page;

  step("sign in with the password (no passkey yet)");
  report.result.first = await signIn("password");
  if (!report.result.first.signedIn) throw new Error(`first sign-in failed: ${report.result.first.error}`);

  step("add a virtual authenticator (WebAuthn.enable, WebAuthn.addVirtualAuthenticator)");
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      ctap2Version: "ctap2_1",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  const presence = (enabled) => cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled });

  step("register: start-usernameless-registration, navigator.credentials.create, finish-registration");
  const registered = await inPage(
    "register a passkey",
    async ([url]) => {
      const client = window.harness.client;
      const toBytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
      const toText = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      try {
        // As WSO2's My Account: appId form-encoded, the page's own origin.
        const started = await client.httpRequest({
          url: `${url}/start-usernameless-registration`,
          method: "POST",
          headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
          data: `appId=${encodeURIComponent(window.location.origin)}`,
        });
        const options = started.data.publicKeyCredentialCreationOptions;
        const start = { status: started.status, rpId: options.rp.id, residentKey: options.authenticatorSelection.residentKey };
        const credential = await navigator.credentials.create({
          publicKey: {
            ...options,
            challenge: toBytes(options.challenge),
            user: { ...options.user, id: toBytes(options.user.id) },
            excludeCredentials: options.excludeCredentials.map((c) => ({ ...c, id: toBytes(c.id) })),
          },
        });
        const finished = await client.httpRequest({
          url: `${url}/finish-registration`,
          method: "POST",
          headers: { Accept: "application/json", "Content-Type": "application/json" },
          data: {
            requestId: started.data.requestId,
            credential: {
              id: credential.id,
              type: credential.type,
              clientExtensionResults: credential.getClientExtensionResults(),
              response: {
                attestationObject: toText(credential.response.attestationObject),
                clientDataJSON: toText(credential.response.clientDataJSON),
              },
            },
          },
        });
        const listed = await client.httpRequest({ url, method: "GET", headers: { Accept: "application/json" } });
        return {
          start,
          finish: {
            status: finished.status,
            credentialId: finished.data.credential.credentialId,
            isUsernamelessSupported: finished.data.isUsernamelessSupported,
          },
          listed: listed.data.map((item) => item.credential.credentialId),
        };
      } catch (e) {
        return { error: window.harness.describe(e) };
      }
    },
    [`${cfg.base}${WEBAUTHN}`],
  );
  if (registered.error) throw new Error(`registration failed: ${registered.error}`);
  Object.assign(report.result, registered);

  step("sign out");
  await signOut();

  step("sign in with the passkey alone (autofill)");
  report.result.passwordless = await signIn("autofill", presence);
  if (!report.result.passwordless.signedIn) throw new Error(`passwordless sign-in failed: ${report.result.passwordless.error}`);
  step("sign out");
  await signOut();

  step("copy the credential as it is now (its counter will be stale after the next use)");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  if (credentials.length !== 1) throw new Error(`the authenticator holds ${credentials.length} credentials`);
  const copy = credentials[0];

  step("sign in with the password and the passkey as the second factor");
  report.result.secondFactor = await signIn("password+passkey", presence);
  if (!report.result.secondFactor.signedIn) throw new Error(`second-factor sign-in failed: ${report.result.secondFactor.error}`);
  step("sign out");
  await signOut();

  step("put back the stale copy and sign in with it");
  await cdp.send("WebAuthn.clearCredentials", { authenticatorId });
  await cdp.send("WebAuthn.addCredential", { authenticatorId, credential: copy });
  report.result.clone = await signIn("autofill", presence);
});
