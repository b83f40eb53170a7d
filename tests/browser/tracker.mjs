// The browser tracker in a real browser, on another origin:
//   GA_INGEST_KEY=ga_… GA_KEY=ga_… node tracker.mjs <service-url> --site-port=N --other-port=M
//
// Serves small shop pages carrying the tracker tag (src = <service-url>/tracker.js,
// data-key = GA_INGEST_KEY) from its own HTTP server at http://localhost:N,
// an origin the service must list in CORS_ORIGINS, and at http://localhost:M,
// one it must not. The pages are served with Cross-Origin-Embedder-Policy:
// require-corp, so the tracker only loads if the service marks it
// cross-origin loadable. Then, in Debian's headless Chromium:
//
// 1. A visit from a newsletter: the pageview on load (document.referrer), two
//    history.pushState navigations (referrer: the previous URL) with a
//    replaceState, a same-URL pushState and a hash change between them that
//    must send nothing, identify() and track("signup"), a reload (a genuine
//    second view of one URL: counted), a redelivery of a sent body by hand
//    (absorbed as a duplicate), and track("trial") right before the page is
//    left (keepalive must carry it).
// 2. data-cookie: the visitor id lives in a first-party cookie, not in
//    localStorage, and survives a reload; crypto.randomUUID is removed there,
//    as on a plain-http site, so the fallback id is exercised.
// 3. data-respect-dnt with Global Privacy Control, then with Do Not Track:
//    no request and nothing stored; the same browser on a page without
//    data-respect-dnt does send (the option is opt-in).
// 4. The origin not in CORS_ORIGINS: the preflight fails, nothing is stored.
//
// What was sent is checked as the browser sent it and as GraphQL (GA_KEY, a
// read or admin key) answers it. Prints `SUMMARY {json}` (the visitor ids and
// user of each part) for the Rust test. Exit 1 on any failed check, 2 on bad
// usage or no browser.

import { createServer } from "node:http";
import { commandLine, launch } from "./chromium.mjs";

const STEP_TIMEOUT_MS = 20_000;
const TOTAL_TIMEOUT_MS = 180_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const { base, args, usage } = commandLine(
  "tracker.mjs",
  "GA_INGEST_KEY=… GA_KEY=… node tracker.mjs <service-url> --site-port=N --other-port=M",
  "service URL",
);
const service = base.origin;
const option = (name) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const sitePort = Number(option("site-port"));
const otherPort = Number(option("other-port"));
if (!sitePort || !otherPort) usage("--site-port and --other-port are required");
const INGEST_KEY = process.env.GA_INGEST_KEY;
const READ_KEY = process.env.GA_KEY;
if (!INGEST_KEY || !READ_KEY) usage("GA_INGEST_KEY and GA_KEY must be set");
const site = `http://localhost:${sitePort}`;
const other = `http://localhost:${otherPort}`;
const USER = `tracker-user-${Date.now()}`;

const problems = [];
function check(condition, message) {
  if (!condition) problems.push(message);
  return condition;
}

// --- the shop's pages -------------------------------------------------------

const VARIANTS = { plain: "", cookie: " data-cookie", dnt: " data-respect-dnt" };
const escape = (s) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/** /t/<variant>/<anything>: a page with the tracker tag; anything else: a page without. */
function page(request, response) {
  const path = new URL(request.url, site).pathname;
  if (path === "/favicon.ico") return response.writeHead(204).end();
  const variant = path.match(/^\/t\/([a-z]+)\//)?.[1];
  const tag =
    variant in VARIANTS
      ? `<script defer src="${escape(service)}/tracker.js" data-key="${escape(INGEST_KEY)}"${VARIANTS[variant]}></script>`
      : "";
  response.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "cross-origin-embedder-policy": "require-corp",
  });
  response.end(`<!doctype html><html><head><title>shop ${escape(path)}</title>${tag}</head><body><h1>${escape(path)}</h1></body></html>`);
}

async function listen(port) {
  const server = createServer(page);
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  }).catch((e) => usage(`could not listen on 127.0.0.1:${port}: ${e.message}`));
  return server;
}

// --- watching what the browser sends ----------------------------------------

/** Every webhook POST a page makes to the service, with its outcome. */
function watch(page, label) {
  const sent = [];
  const pageErrors = [];
  const isWebhook = (request) =>
    request.method() === "POST" && request.url().startsWith(`${service}/webhooks/`);
  page.on("request", (request) => {
    if (!isWebhook(request)) return;
    const headers = request.headers();
    sent.push({
      path: new URL(request.url()).pathname,
      query: new URL(request.url()).search,
      authorization: headers.authorization,
      body: JSON.parse(request.postData() ?? "null"),
      request,
      status: null,
      answer: null,
      failed: null,
    });
  });
  page.on("response", async (response) => {
    const entry = sent.find((s) => s.request === response.request());
    if (!entry) return;
    entry.answer = await response.json().catch(() => null);
    entry.status = response.status();
  });
  page.on("requestfailed", (request) => {
    const entry = sent.find((s) => s.request === request);
    if (entry) entry.failed = request.failure()?.errorText ?? "failed";
  });
  page.on("pageerror", (e) => pageErrors.push(`${label}: ${e.message}`));
  return { sent, pageErrors };
}

async function until(predicate, what, timeoutMs = STEP_TIMEOUT_MS, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await predicate();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits until the n-th webhook POST (1-based) has an answer, and returns it. */
async function answered(log, n, what) {
  return until(() => {
    const entry = log.sent[n - 1];
    return entry && (entry.status !== null || entry.failed) ? entry : null;
  }, what);
}

async function graphql(query, variables = {}) {
  const response = await fetch(`${service}/graphql`, {
    method: "POST",
    headers: { authorization: `Bearer ${READ_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function stored(fingerprint) {
  const data = await graphql(
    `query ($f: String!) {
      pageviews(filter: { fingerprint: $f }, first: 100) { nodes { url referrerUrl userId createdAt source medium campaign channel } }
      events(filter: { fingerprint: $f }, first: 100) { nodes { name userId createdAt } }
    }`,
    { f: fingerprint },
  );
  return { pageviews: data.pageviews.nodes, events: data.events.nodes };
}

const storageId = (page) => page.evaluate(() => localStorage.getItem("growth_analytics_id"));

// --- the walk ---------------------------------------------------------------

async function newPage(browser, label, init) {
  const context = await browser.newContext();
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  return { context, page, log: watch(page, label) };
}

async function trackerLoaded(page, where) {
  const loaded = await page
    .waitForFunction(() => typeof window.growthAnalytics === "object", null, { timeout: STEP_TIMEOUT_MS })
    .then(() => true)
    .catch(() => false);
  if (!check(loaded, `${where}: window.growthAnalytics never appeared (did /tracker.js load under COEP require-corp?)`)) {
    throw new Error(`${where}: the tracker did not load`);
  }
}

/** Part 1: a visit from a newsletter, on the allowed origin. */
async function visit(browser) {
  const { context, page, log } = await newPage(browser, "visit");
  const landing = `${site}/t/plain/landing?utm_source=newsletter&utm_medium=email&utm_campaign=spring`;
  const pricing = `${site}/t/plain/pricing`;
  const welcome = `${site}/t/plain/welcome`;
  const referrer = "https://news.example.org/";
  const before = Date.now();

  await page.goto(landing, { referer: referrer, waitUntil: "load" });
  await trackerLoaded(page, "the landing page");
  const first = await answered(log, 1, "the pageview on load");
  const fingerprint = await storageId(page);
  check(UUID.test(fingerprint ?? ""), `localStorage holds ${fingerprint}, not a UUID v4`);
  check(first.path === "/webhooks/pageviews", `the first send went to ${first.path}`);
  check(first.status === 200, `the first pageview answered ${first.status} ${first.failed ?? ""} ${JSON.stringify(first.answer)}`);
  check(first.authorization === `Bearer ${INGEST_KEY}`, "the key does not travel as a bearer token");
  check(first.query === "", `the key (or anything) travels in the URL: ${first.query}`);
  check(first.body.fingerprint === fingerprint, "the pageview's fingerprint is not the stored visitor id");
  check(first.body.url === landing, `the pageview's url is ${first.body.url}`);
  check(first.body.referrer_url === referrer, `the first pageview's referrer is ${first.body.referrer_url}, not document.referrer`);
  check(first.body.user_id === null, "an anonymous pageview carries a user_id");
  const at = Date.parse(first.body.created_at);
  check(at >= before - 1000 && at <= Date.now() + 1000, `created_at ${first.body.created_at} is not the browser's clock`);

  // Navigations that are not new pages send nothing: the next send must be
  // the pricing page itself.
  await page.evaluate(() => {
    history.replaceState({ step: 0 }, "", location.href);
    history.pushState({ step: 1 }, "", "/t/plain/pricing");
    history.pushState({ step: 1 }, "", "/t/plain/pricing");
    location.hash = "#faq";
  });
  const second = await answered(log, 2, "the pageview of history.pushState");
  check(second.body.url === pricing, `the SPA pageview's url is ${second.body.url} (a duplicate navigation was sent?)`);
  check(second.body.referrer_url === landing, `the SPA pageview's referrer is ${second.body.referrer_url}, not the previous URL`);
  check(second.body.fingerprint === fingerprint, "the SPA pageview has another fingerprint");

  const identified = await page.evaluate((user) => growthAnalytics.identify(user), USER);
  check(identified === true, `identify() resolved to ${identified}`);
  const again = await page.evaluate((user) => growthAnalytics.identify(user), USER);
  check(again === true, `a repeated identify() resolved to ${again}`);
  const signedUp = await page.evaluate(() => growthAnalytics.track("signup"));
  check(signedUp === true, `track("signup") resolved to ${signedUp}`);
  const identify = await answered(log, 3, "the identify event");
  const signup = await answered(log, 4, "the signup event");
  check(
    identify.path === "/webhooks/events" && identify.body.name === "identify" && identify.body.user_id === USER,
    `identify() sent ${identify.path} ${JSON.stringify(identify.body)}`,
  );
  check(
    signup.path === "/webhooks/events" && signup.body.name === "signup" && signup.body.user_id === USER,
    `track("signup") sent ${signup.path} ${JSON.stringify(signup.body)} (the repeated identify() must send nothing)`,
  );

  await page.evaluate(() => history.pushState({}, "", "/t/plain/welcome"));
  const third = await answered(log, 5, "the pageview after identify()");
  check(third.body.url === welcome && third.body.user_id === USER, `after identify() the pageview is ${JSON.stringify(third.body)}`);

  // The same body again, as a retry would send it: absorbed.
  const redelivered = await fetch(`${service}/webhooks/pageviews`, {
    method: "POST",
    headers: { authorization: `Bearer ${INGEST_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(third.body),
  }).then((r) => r.json());
  check(
    redelivered.stored === 0 && redelivered.duplicates === 1,
    `a redelivered tracker pageview answered ${JSON.stringify(redelivered)}`,
  );

  // A reload is a genuine second view of the same URL: stored, not a duplicate.
  await page.reload({ waitUntil: "load" });
  await trackerLoaded(page, "the reloaded page");
  const fourth = await answered(log, 6, "the pageview of the reload");
  check(fourth.body.url === welcome && fourth.body.user_id === USER, `the reload sent ${JSON.stringify(fourth.body)}`);
  check(fourth.body.fingerprint === fingerprint, "the visitor id did not survive a reload");
  check(
    fourth.body.created_at > third.body.created_at && fourth.answer?.stored === 1,
    `the reload's pageview (${fourth.body.created_at}) answered ${JSON.stringify(fourth.answer)}`,
  );

  // The tab is closed right after track(): a request without keepalive
  // dies with the page (its preflight has not even been answered yet).
  await page.evaluate(() => {
    growthAnalytics.track("trial");
  });
  await page.close();
  await until(
    async () => (await stored(fingerprint)).events.some((e) => e.name === "trial"),
    "the event sent as the tab closed",
    10_000,
    500,
  ).catch((e) => check(false, `${e.message}: track() did not survive the page unloading`));

  for (const entry of log.sent.slice(0, 6)) {
    check(entry.status === 200, `${entry.path} ${JSON.stringify(entry.body)} answered ${entry.status} ${entry.failed ?? ""}`);
  }

  const { pageviews, events } = await stored(fingerprint);
  check(
    JSON.stringify(pageviews.map((p) => p.url)) === JSON.stringify([landing, pricing, welcome, welcome]),
    `stored pageviews: ${JSON.stringify(pageviews.map((p) => p.url))}`,
  );
  const [landed, navigated] = pageviews;
  check(
    landed?.source === "newsletter" && landed?.medium === "email" && landed?.campaign === "spring" && landed?.channel === "EMAIL",
    `the landing pageview is classified ${JSON.stringify(landed)}`,
  );
  check(navigated?.referrerUrl === landing, `the SPA pageview is stored with referrer ${navigated?.referrerUrl}`);
  check(
    JSON.stringify(events.map((e) => [e.name, e.userId])) ===
      JSON.stringify([["identify", USER], ["signup", USER], ["trial", USER]]),
    `stored events: ${JSON.stringify(events)}`,
  );
  const user = (
    await graphql(`query ($id: ID!) { user(id: $id) { fingerprints pageviews { totalCount } events { name } } }`, {
      id: USER,
    })
  ).user;
  check(user?.fingerprints?.includes(fingerprint), `user ${USER} is not linked to ${fingerprint}: ${JSON.stringify(user)}`);
  check(user?.pageviews?.totalCount === 4, `user ${USER} has ${user?.pageviews?.totalCount} pageviews, not the 4 of the visit`);
  check(user?.events?.some((e) => e.name === "signup"), `user ${USER} has no signup: ${JSON.stringify(user?.events)}`);

  await context.close();
  return { fingerprint, pageErrors: log.pageErrors };
}

/** Part 2: data-cookie, on a browser without crypto.randomUUID. */
async function cookie(browser) {
  const { context, page, log } = await newPage(browser, "cookie", () => {
    delete Crypto.prototype.randomUUID;
  });
  await page.goto(`${site}/t/cookie/home`, { waitUntil: "load" });
  await trackerLoaded(page, "the data-cookie page");
  const first = await answered(log, 1, "the data-cookie pageview");
  const cookies = await context.cookies(site);
  const id = cookies.find((c) => c.name === "growth_analytics_id");
  check(UUID.test(id?.value ?? ""), `the visitor cookie is ${JSON.stringify(id)}, not a UUID v4`);
  check(id && id.expires > Date.now() / 1000 + 300 * 86400, `the visitor cookie expires at ${id?.expires}, not in about 400 days`);
  check(id?.sameSite === "Lax", `the visitor cookie is SameSite=${id?.sameSite}`);
  check((await storageId(page)) === null, "data-cookie still wrote the visitor id to localStorage");
  check(first.body.fingerprint === id?.value, "the data-cookie pageview does not carry the cookie's id");
  check(first.status === 200, `the data-cookie pageview answered ${first.status}`);
  await page.reload({ waitUntil: "load" });
  const second = await answered(log, 2, "the data-cookie pageview after a reload");
  check(second.body.fingerprint === id?.value, "the cookie's visitor id did not survive a reload");
  await context.close();
  return { fingerprint: id?.value ?? null, pageErrors: log.pageErrors };
}

/** Part 3: data-respect-dnt with GPC or DNT signalled; then a page without the option. */
async function optOut(browser, signal, init) {
  const { context, page, log } = await newPage(browser, signal, init);
  await page.goto(`${site}/t/dnt/home`, { waitUntil: "load" });
  await trackerLoaded(page, `the data-respect-dnt page (${signal})`);
  const results = await page.evaluate(async (user) => {
    history.pushState({}, "", "/t/dnt/next");
    return [await growthAnalytics.identify(user), await growthAnalytics.track("signup")];
  }, `${USER}-${signal}`);
  check(JSON.stringify(results) === "[false,false]", `with ${signal}, identify/track resolved to ${JSON.stringify(results)}`);
  check((await storageId(page)) === null, `with ${signal} and data-respect-dnt, a visitor id was stored`);
  // The control: the same browser, a page without data-respect-dnt.
  await page.goto(`${site}/t/plain/home`, { waitUntil: "load" });
  const control = await answered(log, 1, `the pageview of a page without data-respect-dnt (${signal})`);
  check(control.body.url === `${site}/t/plain/home`, `with ${signal} and data-respect-dnt, a request was sent: ${JSON.stringify(control.body)}`);
  check(control.status === 200, `the control pageview answered ${control.status}`);
  check(log.sent.length === 1, `with ${signal}: ${log.sent.length} webhook requests, not the control's one`);
  await context.close();
  return { control: control.body.fingerprint, pageErrors: log.pageErrors };
}

/** Part 4: the origin that is not in CORS_ORIGINS. */
async function foreign(browser) {
  const { context, page, log } = await newPage(browser, "foreign");
  await page.goto(`${other}/t/plain/home`, { waitUntil: "load" });
  await trackerLoaded(page, "the page on the origin outside CORS_ORIGINS");
  const result = await page.evaluate(() => growthAnalytics.track("signup"));
  check(result === false, `on an origin outside CORS_ORIGINS, track() resolved to ${result}`);
  const fingerprint = await storageId(page);
  check(UUID.test(fingerprint ?? ""), `the foreign page's visitor id is ${fingerprint}`);
  const delivered = log.sent.filter((s) => s.status !== null);
  check(delivered.length === 0, `a request from the foreign origin got an answer: ${JSON.stringify(delivered.map((d) => d.status))}`);
  await context.close();
  return { fingerprint, pageErrors: log.pageErrors };
}

// --- main -------------------------------------------------------------------

const servers = [await listen(sitePort), await listen(otherPort)];
const { browser, close } = await launch("tracker.mjs", {
  stepTimeoutMs: STEP_TIMEOUT_MS,
  totalTimeoutMs: TOTAL_TIMEOUT_MS,
  what: "the tracker test",
});

const summary = { user: USER };
try {
  const parts = [
    ["visit", () => visit(browser)],
    ["cookie", () => cookie(browser)],
    [
      "gpc",
      () =>
        optOut(browser, "GPC", () =>
          Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }),
        ),
    ],
    [
      "dnt",
      () => optOut(browser, "DNT", () => Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1" })),
    ],
    ["foreign", () => foreign(browser)],
  ];
  for (const [name, run] of parts) {
    try {
      const { pageErrors, ...result } = await run();
      for (const e of pageErrors) problems.push(`uncaught page error: ${e}`);
      summary[name] = result;
      console.log(`${name}: done`);
    } catch (e) {
      problems.push(`${name}: stopped early: ${e.message}`);
    }
  }
} finally {
  await close();
  for (const server of servers) server.close();
}

console.log(`SUMMARY ${JSON.stringify(summary)}`);
if (problems.length) {
  for (const p of problems) console.error(`FAIL: ${p}`);
  process.exit(1);
}
console.log("PASS: the tracker recorded the visit, honoured the opt-outs and sent nothing past CORS");
