// The /oidc/checksession page (OIDC Session Management 1.0 §3.2) in headless Chromium, without an
// SDK: an app page (page/probe.html) frames it and posts
// "client_id session_state" messages, as the Asgardeo SDKs do, and records the answers.
//
//   node drive_checksession.js '{"authorizeUrl", "probeUrl", "frameUrl", "clientId", "username",
//       "password", "logoutUrl", "crossSiteOrigin", "cookieName", "chromium"}'
//
// The probe's answer is null when no answer came within the wait. Prints exactly one JSON line:
// {ok, step, error, result, log, network, url, html}.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");
const { startRun, CHROMIUM_ARGS } = require("./browser_run");

const run = startRun();
const { cfg, report, step } = run;
const NO_ANSWER_MS = 1000; // an answer comes within milliseconds; this long means none is coming

// page/probe.html at the app's origins (the page server, as 127.0.0.1 and as localhost) and, from
// a server of this driver's own, at an origin that is not the client's. All are loopback: Chromium's
// Local Network Access checks keep public origins from framing a loopback issuer at all.
const PROBE = fs.readFileSync(path.join(__dirname, "page", "probe.html"), "utf8");

function startOtherOrigin() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      const found = req.url.split("?")[0] === "/probe.html";
      res.writeHead(found ? 200 : 404, { "Content-Type": "text/html", "Cache-Control": "no-store" });
      res.end(found ? PROBE : "not found");
    });
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

async function ask(tab, message, { popup = false, wait = NO_ANSWER_MS * 4 } = {}) {
  return run.inPage(
    popup ? "askPopup" : "ask",
    ([fn, url, msg, ms]) => window[fn](url, msg, ms),
    [popup ? "askPopup" : "ask", cfg.frameUrl, message, wait],
    tab,
  );
}

const noAnswer = (tab, message, options = {}) => ask(tab, message, { ...options, wait: NO_ANSWER_MS });

function sessionState(clientId, origin, browserState, salt) {
  const digest = crypto.createHash("sha256").update(`${clientId} ${origin} ${browserState} ${salt}`).digest("hex");
  return `${digest}.${salt}`;
}

const tamper = (value) => (value[0] === "0" ? "1" : "0") + value.slice(1);

run.main(async () => {
  const r = report.result;
  const context = await run.launch();
  const other = await startOtherOrigin();
  const otherOrigin = `http://127.0.0.1:${other.address().port}`;
  const refused = [];
  const tab = run.watch(await context.newPage());
  tab.on("console", (m) => {
    if (m.text().includes("frame-ancestors")) refused.push(m.text());
  });

  step("sign in at the issuer; the authorization response carries session_state");
  await tab.goto(cfg.authorizeUrl);
  await tab.waitForSelector("#username", { state: "visible" });
  await tab.fill("#username", cfg.username);
  await tab.fill("#password", cfg.password);
  await tab.click("#sign-in");
  await tab.waitForURL((url) => url.href.startsWith(cfg.probeUrl));
  r.callback = tab.url();
  const issued = new URL(tab.url()).searchParams.get("session_state");
  if (!issued) throw new Error(`no session_state in ${tab.url()}`);
  const message = `${cfg.clientId} ${issued}`;

  step("the app's own (same-site) origin: unchanged, changed, error");
  r.sameSite = {
    issued: await ask(tab, message),
    tampered: await ask(tab, `${cfg.clientId} ${tamper(issued)}`),
    garbage: await ask(tab, "garbage"),
    noState: await ask(tab, cfg.clientId),
    otherClient: await ask(tab, `another-client ${issued}`),
    notAString: await run.inPage("ask object", ([url]) => window.ask(url, { a: 1 }, 6000), [cfg.frameUrl], tab),
    popup: await ask(tab, message, { popup: true }),
  };

  step("an origin that is not the client's: the frame is refused, and its script ignores the message");
  await tab.goto(`${otherOrigin}/probe.html`);
  r.otherOrigin = {
    framed: await noAnswer(tab, message),
    popup: await noAnswer(tab, message, { popup: true }),
    refusedByCsp: refused.length > 0,
  };

  step("a cross-site origin of the client, third-party cookies blocked (this browser's default)");
  await tab.goto(`${cfg.crossSiteOrigin}/probe.html`);
  r.crossSiteBlocked = await noAnswer(tab, message);

  step("sign out at the issuer: the issued session_state no longer matches");
  await tab.goto(cfg.logoutUrl);
  await tab.waitForSelector("#confirm-logout");
  await tab.click("#confirm-logout");
  await tab.waitForURL((url) => url.href.startsWith(cfg.probeUrl));
  r.afterSignOut = await ask(tab, message);

  step("no browser-state cookie to read: no answer");
  await context.clearCookies({ name: cfg.cookieName });
  r.withoutCookie = await noAnswer(tab, message);

  step("a cross-site origin of the client with third-party cookies allowed");
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "scim-me-3pc-"));
  try {
    // Chromium's own preference for "allow third-party cookies" (0; the default blocks them),
    // and no speculative connections: an idle preconnect holds one of gunicorn's sync workers.
    const preferences = { profile: { cookie_controls_mode: 0 }, net: { network_prediction_options: 2 } };
    fs.mkdirSync(path.join(profile, "Default"));
    fs.writeFileSync(path.join(profile, "Default", "Preferences"), JSON.stringify(preferences));
    const allowing = await chromium.launchPersistentContext(profile, {
      executablePath: cfg.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    try {
      allowing.setDefaultTimeout(cfg.stepTimeoutMs || 15000);
      // A browser state as the issuer sets it (CDP's addCookies drops Secure cookies for http URLs,
      // so it is written by a script on the issuer's own check-session page).
      const value = crypto.randomBytes(24).toString("base64url");
      const page = run.watch(await allowing.newPage(), { name: "3pc" });
      await page.goto(cfg.frameUrl);
      await page.evaluate(([name, v]) => {
        document.cookie = `${name}=${v}; Path=/; SameSite=None; Secure`;
      }, [cfg.cookieName, value]);
      await page.goto(`${cfg.crossSiteOrigin}/probe.html`);
      const state = sessionState(cfg.clientId, cfg.crossSiteOrigin, value, crypto.randomBytes(16).toString("base64url"));
      r.crossSiteAllowed = {
        matching: await ask(page, `${cfg.clientId} ${state}`),
        tampered: await ask(page, `${cfg.clientId} ${tamper(state)}`),
      };
    } finally {
      await allowing.close();
    }
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
});
