// What every browser driver (drive.js, drive_mfa.js, drive_privacy.js) shares: the JSON config
// from argv, the report printed as exactly one JSON line on stdout ({ok, step, error, result,
// log, network, url, html} plus a driver's own fields), headless Debian Chromium through
// playwright-core with a fresh profile, page/index.html loaded with the SDK initialized, bounded
// waits, and a watchdog that ends the run if anything still hangs.
//
//   const run = startRun({ consentShown: false });   // extra report fields
//   run.main(async () => { await run.openPage(); ... run.step("..."); await run.inPage(...); });
"use strict";
const { chromium } = require("playwright-core");

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

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

function startRun(extraReport = {}) {
  const cfg = JSON.parse(process.argv[2]);
  const stepMs = cfg.stepTimeoutMs || 15000;
  const watchdogMs = cfg.watchdogMs || 90000;
  const report = { ok: false, step: "start", error: null, ...extraReport, result: {}, log: [], network: [] };
  let browser = null;
  let context = null;
  let page = null;
  let finished = false;

  const stamp = () => new Date().toISOString().slice(11, 23);
  const log = (line) => report.log.push(`${stamp()} ${line}`);
  const step = (name) => {
    report.step = name;
    log(`step: ${name}`);
  };

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

  // Launches Chromium, opens the page on cfg.base / cfg.clientId and waits for the SDK to be
  // initialized. Every response is logged to report.network; onResponse(response, entry) may
  // add fields to the entry.
  async function launch() {
    step("launch chromium");
    browser = await chromium.launch({
      executablePath: cfg.chromium,
      headless: true, // a fresh temporary profile per launch
      timeout: stepMs * 2,
      args: CHROMIUM_ARGS,
    });
    context = await browser.newContext();
    context.setDefaultTimeout(stepMs);
    context.setDefaultNavigationTimeout(stepMs);
    return context;
  }

  // Logs a tab's console, page errors, failed requests and responses (entries tagged with the
  // tab's name when it has one); onResponse(response, entry) may add fields to an entry.
  function watch(tab, { onResponse, name } = {}) {
    const tag = name ? `[${name}] ` : "";
    tab.on("console", (m) => log(`${tag}console.${m.type()}: ${m.text()}`));
    tab.on("pageerror", (e) => log(`${tag}pageerror: ${e.message}`));
    tab.on("requestfailed", (r) => log(`${tag}requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    tab.on("response", (r) => {
      const entry = { method: r.request().method(), url: r.url(), status: r.status() };
      if (name) entry.tab = name;
      const acao = r.headers()["access-control-allow-origin"];
      if (acao) entry.acao = acao;
      if (onResponse) onResponse(r, entry);
      report.network.push(entry);
    });
    return tab;
  }

  // Loads page/index.html on cfg.base / cfg.clientId (plus any harness settings in `extra`,
  // e.g. {sm: "1"}) in a tab and waits until the SDK is initialized.
  async function loadHarness(tab, extra = {}) {
    const fragment = new URLSearchParams({ base: cfg.base, client: cfg.clientId, ...extra });
    await tab.goto(`${cfg.pageUrl}#${fragment}`);
    await tab.waitForFunction(() => window.harness && (window.harness.ready || window.harness.error));
    const initError = await withTimeout(tab.evaluate(() => window.harness.error), stepMs, "init error");
    if (initError) throw new Error(`SDK initialize failed: ${initError}`);
    return tab;
  }

  // Launches Chromium, opens the page on cfg.base / cfg.clientId and waits for the SDK to be
  // initialized. Every response is logged to report.network; onResponse(response, entry) may
  // add fields to the entry.
  async function openPage({ onResponse, harness } = {}) {
    await launch();
    page = watch(await context.newPage(), { onResponse });
    step("load page");
    return loadHarness(page, harness);
  }

  // Another tab of the same browser (same cookies, its own sessionStorage), logged under `name`.
  async function newTab(name) {
    return watch(await context.newPage(), { name });
  }

  // Runs an async function in the page with a bound (page.evaluate itself has no timeout).
  async function inPage(what, fn, arg, tab = page) {
    return withTimeout(tab.evaluate(fn, arg), stepMs, what);
  }

  // Waits until the SDK has exchanged the code (PKCE) and validated the id_token.
  async function awaitSignedIn(tab = page) {
    await tab.waitForFunction(() => window.harness && (window.harness.signedIn || window.harness.error), null, {
      timeout: stepMs * 2,
    });
    const signInError = await inPage("sign-in error", () => window.harness.error, undefined, tab);
    if (signInError) throw new Error(`SDK sign-in failed: ${signInError}`);
  }

  // Runs the driver's steps under the watchdog, then prints the report and exits (0 ok, 1 failed, 3 hung).
  function main(steps) {
    const watchdog = setTimeout(() => {
      report.error = `watchdog: the run did not finish within ${watchdogMs} ms (last step: ${report.step})`;
      finish(3);
    }, watchdogMs);
    steps().then(
      () => {
        clearTimeout(watchdog);
        report.ok = true;
        report.step = "done";
        finish(0);
      },
      (e) => {
        clearTimeout(watchdog);
        report.error = (e && e.message ? e.message : String(e)).split("\n").slice(0, 6).join("\n");
        finish(1);
      },
    );
  }

  return {
    cfg,
    report,
    log,
    step,
    launch,
    watch,
    loadHarness,
    openPage,
    newTab,
    inPage,
    awaitSignedIn,
    main,
    get page() {
      return page;
    },
    get context() {
      return context;
    },
  };
}

module.exports = { startRun, withTimeout, firstOf, CHROMIUM_ARGS };
