// Opens {base}/api/docs in headless Chromium and reports whether Swagger UI rendered the
// document's operations, every request the page made (any to a host other than the server's is
// aborted and reported), and any Content-Security-Policy violation or page error.
//   node drive_docs.js '{"chromium": "/usr/bin/chromium", "url": "http://127.0.0.1:PORT/api/docs"}'
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const report = { ok: false, step: "start", error: null, requests: [], foreign: [], violations: [], errors: [], log: [], network: [], result: {} };
  const home = new URL(cfg.url).host;
  const watchdog = setTimeout(() => finish(2), cfg.watchdogMs || 90000);
  let browser = null;
  async function finish(code) {
    clearTimeout(watchdog);
    try {
      if (browser) await browser.close();
    } catch (e) {
      report.log.push(`browser.close: ${e.message}`);
    }
    process.stdout.write(JSON.stringify(report) + "\n", () => process.exit(code));
  }
  try {
    report.step = "launch";
    browser = await chromium.launch({
      executablePath: cfg.chromium,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    const page = await browser.newPage();
    await page.route("**/*", (route) => {
      const url = route.request().url();
      report.requests.push(url);
      if (url.startsWith("data:") || new URL(url).host === home) return route.continue();
      report.foreign.push(url);
      return route.abort();
    });
    page.on("console", (msg) => {
      report.log.push(`${msg.type()}: ${msg.text()}`);
      if (/Content Security Policy/i.test(msg.text())) report.violations.push(msg.text());
    });
    page.on("pageerror", (e) => report.errors.push(e.message));
    page.on("response", (r) => report.network.push({ method: r.request().method(), url: r.url(), status: r.status() }));
    report.step = "open";
    const response = await page.goto(cfg.url, { waitUntil: "load", timeout: cfg.stepTimeoutMs || 15000 });
    report.result.status = response.status();
    report.result.csp = response.headers()["content-security-policy"] || null;
    report.step = "render";
    await page.waitForSelector(".swagger-ui .opblock", { timeout: cfg.stepTimeoutMs || 15000 });
    report.result.title = await page.textContent(".swagger-ui .info .title");
    report.result.operations = await page.locator(".swagger-ui .opblock").count();
    report.result.tags = await page.locator(".swagger-ui .opblock-tag").allTextContents();
    if (cfg.screenshot) await page.screenshot({ path: cfg.screenshot, fullPage: false });
    // Violations are reported asynchronously; give the page a moment to settle.
    await page.waitForTimeout(500);
    report.ok = true;
    report.step = "done";
    await finish(0);
  } catch (e) {
    report.error = e.message;
    await finish(1);
  }
}

main();
