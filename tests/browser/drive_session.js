// OIDC Session Management with the unmodified @asgardeo/auth-spa SDK (page/index.html with
// enableOIDCSessionManagement, checkSessionInterval 1 s): tab A signs in, tab B of the same browser
// signs in by single sign-on (no password), both hear "unchanged" from the check-session frame;
// tab A signs out through /oidc/logout, and tab B, which makes no API call, learns it from its
// frame ("changed" -> the SDK's prompt=none request -> login_required -> it signs itself out).
//
//   node drive_session.js '{"pageUrl", "base", "clientId", "username", "password", "chromium"}'
//
// Prints exactly one JSON line: {ok, step, error, result, log, network, url, html}.
"use strict";
const { startRun } = require("./browser_run");

const run = startRun();
const { cfg, report, step, inPage } = run;

// The frame's answers, per tab, in the order the SDK received them (page/index.html logs them).
function recordAnswers(tab, into) {
  tab.on("console", (m) => {
    const text = m.text();
    if (text.startsWith("op-answer: ")) into.push(text.slice("op-answer: ".length));
  });
  return into;
}

function waitForAnswer(answers, wanted, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (answers.includes(wanted)) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > (cfg.stepTimeoutMs || 15000)) {
        clearInterval(poll);
        reject(new Error(`${what}: no "${wanted}" from the check-session frame (got ${JSON.stringify(answers)})`));
      }
    }, 100);
  });
}

run.main(async () => {
  const pageOrigin = new URL(cfg.pageUrl).origin;
  const harness = { sm: "1" };
  const answers = { a: [], b: [] };
  const tabA = await run.openPage({ harness });
  recordAnswers(tabA, answers.a);

  step("tab A: signIn() and the sign-in form");
  await tabA.click("#signin");
  await tabA.waitForURL((url) => url.href.startsWith(`${cfg.base}/oauth2/authorize?`));
  await tabA.waitForSelector("#username", { state: "visible" });
  await tabA.fill("#username", cfg.username);
  await tabA.fill("#password", cfg.password);
  await tabA.click("#sign-in");
  await tabA.waitForURL((url) => url.origin === pageOrigin);
  await run.awaitSignedIn(tabA);
  report.result.callbackA = report.network.find((e) => e.url.startsWith(pageOrigin) && e.url.includes("code="))?.url;
  report.result.userA = await inPage("getBasicUserInfo", () => window.harness.client.getBasicUserInfo(), undefined, tabA);

  step("tab B: signIn() by single sign-on (the issuer's session cookie, no form)");
  const tabB = await run.newTab("B");
  recordAnswers(tabB, answers.b);
  await run.loadHarness(tabB, harness);
  // The callback comes at once (no form) and the SDK strips ?code=... right away: wait for the
  // navigation from before the click.
  await Promise.all([
    tabB.waitForURL((url) => url.origin === pageOrigin && url.searchParams.has("code"), { waitUntil: "commit" }),
    tabB.click("#signin"),
  ]);
  await run.awaitSignedIn(tabB);
  report.result.userB = await inPage("getBasicUserInfo", () => window.harness.client.getBasicUserInfo(), undefined, tabB);

  step("both tabs hear unchanged");
  await waitForAnswer(answers.a, "unchanged", "tab A");
  await waitForAnswer(answers.b, "unchanged", "tab B");

  step("tab A: signOut() through /oidc/logout (confirmed)");
  await tabA.click("#signout");
  await tabA.waitForSelector("#confirm-logout");
  await tabA.click("#confirm-logout");
  await tabA.waitForURL((url) => url.origin === pageOrigin && url.searchParams.get("state") === "sign_out_success");

  step("tab B learns it from its check-session frame and signs itself out");
  await tabB.waitForURL((url) => url.origin === pageOrigin && url.searchParams.get("state") === "sign_out_success", {
    timeout: (cfg.stepTimeoutMs || 15000) * 2,
  });
  await tabB.waitForFunction(() => window.harness && (window.harness.ready || window.harness.error));
  report.result.authenticatedB = await inPage("isAuthenticated", () => window.harness.client.isAuthenticated(), undefined, tabB);
  report.result.answers = answers;
  report.result.tabBRequests = report.network.filter((e) => e.tab === "B").map((e) => `${e.method} ${e.url} ${e.status}`);
});
