// GraphiQL in a real browser: node graphiql.mjs <base-url> [--screenshot=FILE]
//
// Loads <base-url>/graphql in Debian's headless Chromium, types a query into
// the editor, runs it and waits for its result; opens the docs explorer and
// waits for the schema. Fails (exit 1) if any of that does not happen, if any
// request goes to another origin than the service (GraphiQL must work
// offline), or on a console error or an uncaught page error, which is also
// how a Content-Security-Policy violation shows. Exit 2: bad usage or no
// browser.
//
// Never downloads a browser: chromium.mjs starts /usr/bin/chromium
// (CHROMIUM=… to use another binary) with a fixed set of flags and a fresh
// profile, so the run does not depend on Playwright's defaults or on state
// left by an earlier run.

import { commandLine, launch } from "./chromium.mjs";

const QUERY =
  '{ classify(url: "https://example.com/?utm_source=google&utm_medium=cpc") { channel } }';
const EXPECTED = "PAID_SEARCH";
const STEP_TIMEOUT_MS = 20_000;
const TOTAL_TIMEOUT_MS = 120_000;

const { base, args } = commandLine(
  "graphiql.mjs",
  "node graphiql.mjs <base-url> [--screenshot=FILE]",
);
const screenshotArg = args.find((a) => a.startsWith("--screenshot="));
const origin = base.origin;
const pageUrl = new URL("graphql", base.href.endsWith("/") ? base.href : `${base.href}/`).href;
// The service needs a key for every query; the harness passes one (with a
// `+` and a `/`, as base64 keys have) in GA_KEY.
const KEY = process.env.GA_KEY ?? "test-key+/=";

const problems = [];
const requests = [];
const consoleErrors = [];
const pageErrors = [];
const failedRequests = [];
const introspectionErrors = [];

const { browser, close } = await launch("graphiql.mjs", {
  stepTimeoutMs: STEP_TIMEOUT_MS,
  totalTimeoutMs: TOTAL_TIMEOUT_MS,
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  watch(page);
  try {
    await checkPage(page, context);
  } catch (e) {
    // A step that cannot even be attempted (a button that is not there…).
    problems.push(`the test stopped early: ${e.message}`);
  }
  if (screenshotArg) {
    const file = screenshotArg.slice("--screenshot=".length);
    await page.screenshot({ path: file }).catch((e) => problems.push(`no screenshot: ${e.message}`));
    console.log(`screenshot: ${file}`);
  }
} finally {
  await close();
}

/** The main walk through GraphiQL, as a person would use it. */
async function checkPage(page, context) {
  console.log(`loading ${pageUrl}#key=…`);
  const response = await page.goto(`${pageUrl}#key=${encodeURIComponent(KEY)}`, { waitUntil: "load" });
  if (!response?.ok()) {
    problems.push(`GET ${pageUrl} answered HTTP ${response?.status()}`);
  } else if (!response.headers()["content-security-policy"]) {
    problems.push("the GraphiQL page has no Content-Security-Policy header");
  }

  const editor = page.locator(".graphiql-query-editor .CodeMirror").first();
  let loaded = false;
  try {
    await editor.waitFor({ state: "visible" });
    loaded = true;
    console.log("GraphiQL is up");
  } catch {
    problems.push(`GraphiQL did not appear within ${STEP_TIMEOUT_MS / 1000}s`);
  }

  if (loaded) {
    // Replace the default query by typing, as a person would. Auto-closed
    // brackets and quotes are typed over, so the text ends up as typed.
    await editor.click();
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.press("Delete");
    await page.keyboard.type(QUERY, { delay: 5 });
    await page.keyboard.press("Escape"); // closes an autocomplete popup, if any
    const typed = await editor.evaluate((el) => el.CodeMirror?.getValue());
    if (typed?.trim() !== QUERY) {
      problems.push(`the editor holds ${JSON.stringify(typed)} after typing the query`);
    }

    await page.keyboard.press("ControlOrMeta+Enter");
    const result = page.locator(".graphiql-response");
    try {
      await result.getByText(EXPECTED).first().waitFor({ state: "visible" });
      console.log(`the result pane shows ${EXPECTED}`);
    } catch {
      const shown = await result.innerText().catch(() => "(no result pane)");
      problems.push(`the result pane did not show ${EXPECTED}; it shows: ${shown.trim().slice(0, 500)}`);
    }

    // A dialog: GraphiQL's scroll lock adds a <style> element, which the
    // page's policy must allow (by nonce), or the console shows a violation.
    await page.getByRole("button", { name: /settings/i }).first().click();
    try {
      await page.getByRole("dialog").first().waitFor({ state: "visible" });
      await page.keyboard.press("Escape");
      await page.getByRole("dialog").first().waitFor({ state: "detached" });
    } catch {
      problems.push("the settings dialog did not open and close");
    }

    // The docs explorer needs the introspection query to have succeeded.
    const docs = page.locator(".graphiql-doc-explorer");
    if (!(await docs.isVisible())) {
      // The button toggles: click it only while the explorer is closed.
      await page.getByRole("button", { name: /documentation explorer/i }).first().click();
    }
    try {
      await docs.getByText("Root Types").first().waitFor({ state: "visible" });
      await docs.getByText("query", { exact: true }).first().waitFor({ state: "visible" });
      console.log("the docs explorer shows the schema");
    } catch {
      const shown = await docs.innerText().catch(() => "(no docs explorer)");
      problems.push(
        `the docs explorer did not load the schema; it shows: ${shown.trim().slice(0, 300)}` +
          (introspectionErrors.length
            ? `; the introspection query was answered with: ${introspectionErrors.join(" | ")}`
            : ""),
      );
    }
    await checkKeyFragment(context);
  }
}

/** Records what a page requests and reports, for the checks at the end. */
function watch(page) {
  page.on("request", (request) => requests.push(`${request.method()} ${request.url()}`));
  page.on("requestfailed", (request) =>
    failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`),
  );
  page.on("console", (message) => {
    const line = `console.${message.type()}: ${message.text()}`;
    if (message.type() === "error") consoleErrors.push(line);
    else if (message.type() === "warning") console.log(`  (${line})`);
  });
  page.on("pageerror", (error) => pageErrors.push(String(error?.stack || error)));
  page.on("response", async (response) => {
    const request = response.request();
    if (request.method() !== "POST" || !request.postData()?.includes("IntrospectionQuery")) return;
    try {
      const body = await response.json();
      for (const error of body.errors ?? []) introspectionErrors.push(error.message);
    } catch (e) {
      introspectionErrors.push(`HTTP ${response.status()}, not JSON: ${e.message}`);
    }
  });
}

/**
 * `#key=…` prefills the headers editor with a bearer token, and every request
 * to the endpoint carries it. The key has a `+` and a `/`, as base64 keys do.
 */
async function checkKeyFragment(context) {
  const key = KEY;
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  watch(page);
  const posts = [];
  page.on("request", (request) => {
    if (request.method() === "POST") posts.push(request.headers()["authorization"]);
  });
  await page.goto(`${pageUrl}#key=${encodeURIComponent(key)}`, { waitUntil: "load" });
  const editor = page.locator(".graphiql-query-editor .CodeMirror").first();
  try {
    await editor.waitFor({ state: "visible" });
  } catch {
    problems.push("with #key=…, GraphiQL did not appear");
    return;
  }
  const headers = page.locator(".graphiql-editor-tool .CodeMirror").last();
  try {
    await headers.waitFor({ state: "visible" });
  } catch {
    problems.push("with #key=…, the headers editor is not open");
    return;
  }
  const text = await headers.evaluate((el) => el.CodeMirror?.getValue());
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (JSON.stringify(parsed) !== JSON.stringify({ Authorization: `Bearer ${key}` })) {
    problems.push(`with #key=…, the headers editor holds ${JSON.stringify(text)}`);
  }
  await editor.click();
  await page.keyboard.press("ControlOrMeta+Enter");
  try {
    await page.locator(".graphiql-response").getByText(EXPECTED).first().waitFor({ state: "visible" });
  } catch {
    problems.push("with #key=…, the default query did not run");
  }
  const wrong = posts.filter((value) => value !== `Bearer ${key}`);
  if (posts.length < 2 || wrong.length) {
    problems.push(
      `with #key=…, the POSTs carried Authorization ${JSON.stringify(posts)} (wanted the key on the introspection and the query)`,
    );
  } else {
    console.log(`#key=… prefills the headers editor, and all ${posts.length} POSTs carry the key`);
  }
  await page.close();
}

const foreign = requests.filter((line) => {
  const url = line.slice(line.indexOf(" ") + 1);
  if (/^(data|blob|about):/.test(url)) return false;
  try {
    return new URL(url).origin !== origin;
  } catch {
    return true;
  }
});
console.log(`${requests.length} requests, all listed:`);
for (const line of requests) console.log(`  ${line}`);
if (foreign.length) problems.push(`requests to another origin than ${origin}:\n    ${foreign.join("\n    ")}`);
if (failedRequests.length) problems.push(`failed requests:\n    ${failedRequests.join("\n    ")}`);
if (consoleErrors.length) problems.push(`console errors:\n    ${consoleErrors.join("\n    ")}`);
if (pageErrors.length) problems.push(`page errors:\n    ${pageErrors.join("\n    ")}`);

if (problems.length) {
  for (const problem of problems) console.error(`FAIL: ${problem}`);
  process.exit(1);
}
console.log("ok: GraphiQL loads, runs a query and shows the schema, all from the service itself");
