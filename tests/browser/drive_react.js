// Issue 14 acceptance 2: the unmodified @asgardeo/auth-react in headless Chromium (react-app/,
// bundled by the test). Tab A signs in and shows state.username, reads /scim2/Me through
// httpRequest; tab B, the same app in the same browser, signs in by single sign-on and signs out;
// tab A notices (OIDC Session Management: its check-session frame says "changed", the SDK's
// prompt=none gets login_required, the SDK signs the tab out).
//
//   node drive_react.js '{"pageUrl", "base", "clientId", "username", "password", "chromium"}'
//
// Prints exactly one JSON line: {ok, step, error, result, log, network, url, html}.
"use strict";
const { startRun } = require("./browser_run");

const run = startRun();
const { cfg, report, step } = run;

async function open(tab) {
  const fragment = new URLSearchParams({ base: cfg.base, client: cfg.clientId });
  await tab.goto(`${cfg.pageUrl}#${fragment}`);
  await tab.waitForFunction(() => {
    const s = document.getElementById("status");
    return s && s.textContent !== "loading";
  });
}

const text = (tab, selector) => tab.locator(selector).innerText();

async function waitForStatus(tab, status, timeout) {
  await tab.waitForFunction((wanted) => document.getElementById("status")?.textContent === wanted, status, {
    timeout: timeout || cfg.stepTimeoutMs || 15000,
  });
}

run.main(async () => {
  const r = report.result;
  const pageOrigin = new URL(cfg.pageUrl).origin;
  const context = await run.launch();
  const answers = [];
  const tabA = run.watch(await context.newPage(), { name: "A" });
  tabA.on("console", (m) => {
    if (m.text().startsWith("op-answer: ")) answers.push(m.text().slice("op-answer: ".length));
  });

  step("tab A: the app loads signed out");
  await open(tabA);
  r.statusBefore = await text(tabA, "#status");

  step("tab A: signIn() and the sign-in form");
  await tabA.click("#signin");
  await tabA.waitForURL((url) => url.href.startsWith(`${cfg.base}/oauth2/authorize?`));
  await tabA.waitForSelector("#username", { state: "visible" });
  await tabA.fill("#username", cfg.username);
  await tabA.fill("#password", cfg.password);
  await tabA.click("#sign-in");
  await tabA.waitForURL((url) => url.origin === pageOrigin);
  await waitForStatus(tabA, "signed-in", (cfg.stepTimeoutMs || 15000) * 2);
  r.username = await text(tabA, "#username");

  step("tab A: httpRequest GET /scim2/Me");
  await tabA.click("#me");
  await tabA.waitForFunction(() => document.getElementById("me-result")?.textContent);
  r.me = JSON.parse(await text(tabA, "#me-result"));

  step("tab B: the same app signs in by single sign-on");
  const tabB = run.watch(await context.newPage(), { name: "B" });
  await open(tabB);
  // The callback comes at once (no form) and the SDK strips ?code=... right away: wait for the
  // navigation from before the click.
  await Promise.all([
    tabB.waitForURL((url) => url.origin === pageOrigin && url.searchParams.has("code"), { waitUntil: "commit" }),
    tabB.click("#signin"),
  ]);
  await waitForStatus(tabB, "signed-in", (cfg.stepTimeoutMs || 15000) * 2);
  r.usernameB = await text(tabB, "#username");

  step("tab A hears unchanged");
  const started = Date.now();
  while (!answers.includes("unchanged")) {
    if (Date.now() - started > (cfg.stepTimeoutMs || 15000)) throw new Error(`no "unchanged" (${answers})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  step("tab B: signOut() through /oidc/logout (confirmed)");
  await tabB.click("#signout");
  await tabB.waitForSelector("#confirm-logout");
  await tabB.click("#confirm-logout");
  await tabB.waitForURL((url) => url.origin === pageOrigin && url.searchParams.get("state") === "sign_out_success");

  step("tab A notices and is signed out");
  await tabA.waitForURL((url) => url.origin === pageOrigin && url.searchParams.get("state") === "sign_out_success", {
    timeout: (cfg.stepTimeoutMs || 15000) * 2,
  });
  await waitForStatus(tabA, "signed-out");
  r.statusAfter = await text(tabA, "#status");
  r.answers = answers;
  r.tabARequests = report.network.filter((e) => e.tab === "A").map((e) => `${e.method} ${e.url} ${e.status}`);
});
