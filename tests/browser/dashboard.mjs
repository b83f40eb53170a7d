// The dashboard in a real browser: node dashboard.mjs <base-url> [--screenshot=FILE] [--skip-live]
//
// Loads <base-url>/#key=… in Debian's headless Chromium and checks, against
// the service's own GraphQL answers (this script asks /graphql for the truth
// with the same range, model and conversion the page shows it used, and
// parses the page's formatted numbers back):
// - the key leaves the address bar and stays in localStorage;
// - the KPI tiles, their changes, the share panel, every row of the
//   campaigns, sources and landing-page tables and the model comparison;
// - every chart has drawn its data (uPlot's points, and a canvas that is
//   not blank);
// - after switching the model, then the range, the numbers are the API's
//   for the new settings;
// - sorting (header buttons), filtering, and the CSV download, which holds
//   exactly the rows and cells the table shows;
// - a user's journey, opened by clicking a user id in the table;
// - live: a signup sent as webhooks (GA_INGEST_KEY) shows in the tiles
//   within 5 s without a reload;
// - "Forget key" forgets it, and a pasted key brings the reports back;
// - on a phone-sized viewport nothing overflows the page sideways;
// - no request leaves the service's origin, no console error, no uncaught
//   page error, no failed request.
// Exit 1 on any failure, 2 on bad usage or no browser. --skip-live skips
// the live check (for running by hand against a service without it).

import { readFileSync } from "node:fs";
import { commandLine, launch } from "./chromium.mjs";

const STEP_TIMEOUT_MS = 30_000;
const TOTAL_TIMEOUT_MS = 200_000;
const LIVE_WITHIN_MS = 5_000;
const TIME_ZONE = "Europe/Berlin";

const { base, args } = commandLine(
  "dashboard.mjs",
  "node dashboard.mjs <base-url> [--screenshot=FILE] [--skip-live]",
);
const screenshotArg = args.find((a) => a.startsWith("--screenshot="));
const skipLive = args.includes("--skip-live");
const origin = base.origin;
const root = base.href.endsWith("/") ? base.href : `${base.href}/`;
const KEY = process.env.GA_KEY ?? "test-key+/=";
const INGEST_KEY = process.env.GA_INGEST_KEY ?? KEY;

const problems = [];
const requests = [];
const sockets = [];
const consoleErrors = [];
const pageErrors = [];
const failedRequests = [];
let checks = 0;

function check(ok, message) {
  checks += 1;
  if (!ok) problems.push(message);
  return ok;
}

// ------------------------------------------------------------ the truth

async function graphql(query, variables = {}) {
  const response = await fetch(new URL("graphql", root), {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const ROW = "conversions visitors conversionRate trials trialToSignup timeToConvert { medianSeconds } avgPageviewsBefore";

async function truth(settings) {
  const { range, previous, model, conversion } = settings;
  const data = await graphql(
    `query Truth($range: DateRange!, $previous: DateRange!, $model: AttributionModel!, $conversion: String!) {
      overview(range: $range, model: $model, conversion: $conversion) { signups trials trialToSignupRate paidShare organicShare directShare }
      previousOverview: overview(range: $previous, model: $model, conversion: $conversion) { signups trials trialToSignupRate paidShare }
      campaigns(range: $range, model: $model, conversion: $conversion, first: 500) { totalCount nodes { campaign source medium ${ROW} spend costPerConversion } }
      previousCampaigns: campaigns(range: $previous, model: $model, conversion: $conversion, first: 500) { nodes { spend } }
      sources(range: $range, model: $model, conversion: $conversion, first: 500) { totalCount nodes { source ${ROW} spend costPerConversion } }
      landingPages(range: $range, model: $model, conversion: $conversion, first: 500) { totalCount nodes { landingPage ${ROW} } }
    }`,
    { range, previous, model, conversion },
  );
  // Spend over the range from the campaign rows: another report than the
  // channel rows the page sums, which must agree.
  const sum = (rows) => rows.reduce((total, row) => total + Number(row.spend ?? 0), 0);
  data.spend = sum(data.campaigns.nodes);
  data.previousSpend = sum(data.previousCampaigns.nodes);
  return data;
}

// ------------------------------------------------ parsing what is shown

const DASH = "—";

/** "12,345.6" / "€1,234.50" / "−3.2" → number; "—" → null. */
function parseNumber(text) {
  const t = text.trim();
  if (t === DASH) return null;
  const cleaned = t.replace(/[−–]/g, "-").replace(/[^0-9.\-]/g, "");
  if (!/\d/.test(cleaned)) throw new Error(`not a number: ${JSON.stringify(text)}`);
  return Number(cleaned);
}

/** "12.3%" → 0.123. */
function parsePercent(text) {
  const n = parseNumber(text);
  return n == null ? null : n / 100;
}

const UNIT_SECONDS = { d: 86400, h: 3600, min: 60, s: 1 };
/** "3 d 4 h" → seconds, and the precision of what is shown. */
function parseDuration(text) {
  if (text.trim() === DASH) return { seconds: null, precision: 0 };
  const parts = [...text.matchAll(/(\d+) (d|h|min|s)\b/g)];
  if (!parts.length) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  const seconds = parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_SECONDS[unit], 0);
  const order = ["d", "h", "min", "s"];
  const last = parts[parts.length - 1][2];
  // One unit shown: the next one down was zero or cut off.
  const next = order[order.indexOf(last) + 1];
  const precision = parts.length === 2 ? UNIT_SECONDS[last] : next ? UNIT_SECONDS[last] : 1;
  return { seconds, precision };
}

/** `shown` (text) against `expected` (number or null), at `tolerance`. */
function same(shown, expected, tolerance, parse, what) {
  let value;
  try {
    value = parse(shown);
  } catch (e) {
    return check(false, `${what}: ${e.message}`);
  }
  if (expected == null || value == null) {
    return check(expected == null && value == null, `${what}: shows ${JSON.stringify(shown)}, the API says ${expected}`);
  }
  return check(Math.abs(value - expected) <= tolerance + 1e-9, `${what}: shows ${JSON.stringify(shown)}, the API says ${expected}`);
}

const credit = (shown, expected, what) => same(shown, expected, 0.05, parseNumber, what);
const exact = (shown, expected, what) => same(shown, expected, 0, parseNumber, what);
const percent = (shown, expected, what) => same(shown, expected, 0.0005, parsePercent, what);
const money = (shown, expected, what) => same(shown, expected == null ? null : Number(expected), 0.005, parseNumber, what);
const average = credit;
function duration(shown, expected, what) {
  let parsed;
  try {
    parsed = parseDuration(shown);
  } catch (e) {
    return check(false, `${what}: ${e.message}`);
  }
  if (expected == null || parsed.seconds == null) {
    return check(expected == null && parsed.seconds == null, `${what}: shows ${JSON.stringify(shown)}, the API says ${expected}`);
  }
  const diff = Math.round(expected) - parsed.seconds;
  return check(diff >= 0 && diff < parsed.precision + 1, `${what}: shows ${JSON.stringify(shown)}, the API says ${expected} s`);
}

// ------------------------------------------------------------- the page

async function waitReady(page, after) {
  await page.waitForFunction(
    (n) => document.body.dataset.state === "ready" && Number(document.body.dataset.generation) > n,
    after,
    { timeout: STEP_TIMEOUT_MS },
  );
}

const generation = (page) => page.evaluate(() => Number(document.body.dataset.generation ?? 0));

/** What the page says it asked for. */
async function pageSettings(page) {
  return page.evaluate(() => {
    const label = document.getElementById("range-label").dataset;
    return {
      range: JSON.parse(label.current),
      previous: JSON.parse(label.previous),
      model: label.model,
      conversion: label.conversion,
      timezone: document.getElementById("timezone").value,
      interval: document.getElementById("interval").value,
    };
  });
}

/** Each table's rows as shown: header labels, then cell texts. */
async function tableCells(page, name) {
  return page.evaluate((name) => {
    const table = document.querySelector(`[data-table="${name}"]`);
    const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    const ids = [...table.querySelectorAll("tbody tr:first-child [data-col]")].map((c) => c.dataset.col);
    const rows = [...table.querySelectorAll("tbody tr")]
      .filter((tr) => !tr.querySelector(".empty"))
      .map((tr) => Object.fromEntries([...tr.querySelectorAll("[data-col]")].map((c) => [c.dataset.col, c.textContent.trim()])));
    return { headers, ids, rows };
  }, name);
}

const NO_CAMPAIGN = "(no campaign)";

async function compareToApi(page, label) {
  const settings = await pageSettings(page);
  console.log(`${label}: comparing with the API for ${JSON.stringify(settings)}`);
  const t = await truth(settings);
  const tile = async (kpi, part = "value") => (await page.locator(`.tile[data-kpi="${kpi}"] .${part}`).innerText()).trim();

  exact(await tile("signups"), t.overview.signups, `${label}: signups tile`);
  exact(await tile("trials"), t.overview.trials, `${label}: trials tile`);
  percent(await tile("trialToSignupRate"), t.overview.trialToSignupRate, `${label}: trial→signup tile`);
  percent(await tile("paidShare"), t.overview.paidShare, `${label}: paid share tile`);
  money(await tile("spend"), t.spend, `${label}: spend tile`);
  const cost = t.overview.signups > 0 ? t.spend / t.overview.signups : null;
  money(await tile("costPerSignup"), cost, `${label}: cost per signup tile`);

  // The changes against the previous period.
  const relative = (now, before) => (before === 0 ? null : (now - before) / Math.abs(before));
  for (const [kpi, now, before] of [
    ["signups", t.overview.signups, t.previousOverview.signups],
    ["trials", t.overview.trials, t.previousOverview.trials],
    ["spend", t.spend, t.previousSpend],
  ]) {
    const shown = await tile(kpi, "change");
    const expected = relative(now, before);
    if (expected == null || Math.abs(expected) < 0.0005) continue; // "new" / "no change"
    const value = shown.match(/^([+−-])([\d.,]+)\s?%/);
    check(
      value && Math.abs((value[1] === "+" ? 1 : -1) * Number(value[2].replace(/,/g, "")) / 100 - expected) <= 0.0005 + 1e-9,
      `${label}: ${kpi} change shows ${JSON.stringify(shown)}, the API's numbers give ${expected}`,
    );
  }
  const paidChange = await tile("paidShare", "change");
  const pp = (t.overview.paidShare - t.previousOverview.paidShare) * 100;
  if (Math.abs(pp) >= 0.05) {
    const value = paidChange.match(/^([+−-])([\d.]+) pp/);
    check(value && Math.abs((value[1] === "+" ? 1 : -1) * Number(value[2]) - pp) <= 0.05 + 1e-9, `${label}: paid share change shows ${JSON.stringify(paidChange)}, the API's numbers give ${pp} pp`);
  }

  // The share panel.
  for (const [name, value] of [["paid", t.overview.paidShare], ["organic", t.overview.organicShare], ["direct", t.overview.directShare]]) {
    percent(await page.locator(`#shares [data-share="${name}"]`).innerText(), value, `${label}: ${name} share`);
  }

  // Every campaign row, every cell.
  const campaigns = await tableCells(page, "campaigns");
  check(campaigns.rows.length === t.campaigns.nodes.length, `${label}: the campaigns table shows ${campaigns.rows.length} rows, the API has ${t.campaigns.nodes.length}`);
  check(t.campaigns.nodes.length > 0, `${label}: the API has no campaign rows to compare`);
  const byKey = new Map(campaigns.rows.map((r) => [`${r.campaign}|${r.source}|${r.medium}`, r]));
  for (const row of t.campaigns.nodes) {
    const key = `${row.campaign ?? NO_CAMPAIGN}|${row.source ?? DASH}|${row.medium ?? DASH}`;
    const shown = byKey.get(key);
    if (!check(shown, `${label}: campaign row ${key} is not in the table`)) continue;
    compareRow(shown, row, `${label}: campaign ${key}`, { spend: true });
  }
  for (const [name, keyOf] of [["sources", (r) => r.source], ["landingPages", (r) => r.landingPage]]) {
    const table = await tableCells(page, name);
    const api = t[name].nodes;
    check(table.rows.length === api.length, `${label}: the ${name} table shows ${table.rows.length} rows, the API has ${api.length}`);
    const shownBy = new Map(table.rows.map((r) => [r[name === "sources" ? "source" : "landingPage"], r]));
    for (const row of api) {
      const shown = shownBy.get(keyOf(row));
      if (!check(shown, `${label}: ${name} row ${keyOf(row)} is not in the table`)) continue;
      compareRow(shown, row, `${label}: ${name} ${keyOf(row)}`, { spend: name === "sources" });
    }
  }
  await compareModels(page, settings, label);
  await checkCharts(page, settings, label);
  return t;
}

function compareRow(shown, row, what, { spend }) {
  credit(shown.conversions, row.conversions, `${what} conversions`);
  exact(shown.visitors, row.visitors, `${what} visitors`);
  percent(shown.conversionRate, row.conversionRate, `${what} conversion rate`);
  credit(shown.trials, row.trials, `${what} trials`);
  credit(shown.trialToSignup, row.trialToSignup, `${what} trial→signup`);
  duration(shown.timeToConvert, row.timeToConvert?.medianSeconds ?? null, `${what} time to convert`);
  average(shown.pageviewsBefore, row.avgPageviewsBefore, `${what} pageviews before`);
  if (spend) {
    money(shown.spend, row.spend, `${what} spend`);
    money(shown.costPerConversion, row.costPerConversion, `${what} cost per signup`);
  }
}

async function compareModels(page, settings, label) {
  const models = await page.evaluate(() => [...document.querySelectorAll("#compare-models input:checked")].map((i) => i.value));
  check(models.length >= 2, `${label}: the model comparison compares ${models.length} models`);
  const fields = models.map((m) => `${m}: channels(range: $range, model: ${m}, conversion: $conversion, first: 100) { nodes { channel conversions } }`).join(" ");
  const data = await graphql(`query ($range: DateRange!, $conversion: String!) { ${fields} }`, settings);
  const shown = await page.evaluate(() =>
    [...document.querySelectorAll("#table-models tbody tr")].map((tr) => ({
      channel: tr.dataset.channel,
      cells: Object.fromEntries([...tr.querySelectorAll("td[data-model]")].map((td) => [td.dataset.model, td.textContent])),
    })),
  );
  for (const model of models) {
    for (const row of data[model].nodes) {
      const line = shown.find((s) => s.channel === row.channel);
      if (!check(line, `${label}: channel ${row.channel} is missing from the model comparison`)) continue;
      credit(line.cells[model], row.conversions, `${label}: model comparison ${model} ${row.channel}`);
    }
  }
}

async function checkCharts(page, settings, label) {
  const charts = await page.evaluate(() =>
    [...document.querySelectorAll(".chart")].map((el) => {
      const canvas = el.querySelector("canvas");
      let painted = 0;
      if (canvas && canvas.width && canvas.height) {
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted += 1;
      }
      return { name: el.dataset.chart, points: Number(el.dataset.points ?? 0), series: Number(el.dataset.series ?? 0), painted };
    }),
  );
  check(charts.length === 4, `${label}: ${charts.length} charts, expected 4`);
  for (const chart of charts) {
    check(chart.points > 0 && chart.series > 0, `${label}: the ${chart.name} chart has ${chart.points} points in ${chart.series} series`);
    check(chart.painted > 500, `${label}: the ${chart.name} chart's canvas is blank (${chart.painted} painted pixels)`);
  }
  const ts = await graphql(
    `query ($range: DateRange!, $model: AttributionModel!, $conversion: String!, $timezone: String!, $interval: Interval!) {
      timeseries(range: $range, interval: $interval, timezone: $timezone, groupBy: CHANNEL, model: $model, conversion: $conversion) { series { total points { start } } }
    }`,
    settings,
  );
  const buckets = ts.timeseries.series[0]?.points.length ?? 0;
  const drawn = charts.find((c) => c.name === "timeseries");
  check(drawn?.points === buckets, `${label}: the time series chart has ${drawn?.points} buckets, the API ${buckets}`);
  const nonEmpty = ts.timeseries.series.filter((s) => s.total > 0).length;
  check(drawn?.series === nonEmpty + 1, `${label}: the time series chart has ${drawn?.series} series, the API ${nonEmpty} channels with conversions (+ spend)`);
}

async function choose(page, selector, value) {
  const before = await generation(page);
  await page.selectOption(selector, value);
  await waitReady(page, before);
}

// ---------------------------------------------------------------- steps

async function checkTableTools(page) {
  // Sorting by a header button, descending then ascending.
  const column = "visitors";
  const values = async () => (await tableCells(page, "campaigns")).rows.map((r) => parseNumber(r[column]));
  const header = page.locator('[data-table="campaigns"] button[data-sort="visitors"]');
  await header.focus();
  await page.keyboard.press("Enter");
  let shown = await values();
  check(shown.every((v, i) => i === 0 || shown[i - 1] >= v), `sorting by visitors (Enter on its header) did not sort descending: ${shown.slice(0, 10)}`);
  check((await page.locator('[data-table="campaigns"] th[aria-sort="descending"] button[data-sort="visitors"]').count()) === 1, "the sorted header has no aria-sort");
  await page.locator('[data-table="campaigns"] button[data-sort="visitors"]').click();
  shown = await values();
  check(shown.every((v, i) => i === 0 || shown[i - 1] <= v), `sorting by visitors again did not sort ascending: ${shown.slice(0, 10)}`);

  // Filtering.
  const all = (await tableCells(page, "campaigns")).rows.length;
  await page.fill('[data-filter="campaigns"]', "google");
  const filtered = (await tableCells(page, "campaigns")).rows;
  check(filtered.length > 0 && filtered.length < all, `filtering campaigns by "google" kept ${filtered.length} of ${all} rows`);
  check(filtered.every((r) => Object.values(r).some((v) => v.toLowerCase().includes("google"))), "a filtered row does not mention google");

  // The CSV holds exactly what the table shows.
  const download = page.waitForEvent("download");
  await page.click('[data-csv="campaigns"]');
  const file = await (await download).path();
  const csv = readFileSync(file, "utf8").trimEnd().split("\r\n");
  const table = await tableCells(page, "campaigns");
  check(csv.length === table.rows.length + 1, `the CSV has ${csv.length - 1} rows, the table shows ${table.rows.length}`);
  const unquote = (line) => [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)].filter((m) => m[0] !== "" || m.index < line.length).map((m) => m[1].replace(/^"|"$/g, "").replaceAll('""', '"'));
  check(JSON.stringify(unquote(csv[0])) === JSON.stringify(table.headers.map((h) => h.replace(/ [▲▼]$/, ""))), `the CSV header ${csv[0]} is not the table's ${table.headers}`);
  const first = unquote(csv[1] ?? "");
  const expected = table.ids.map((id) => table.rows[0][id]);
  check(JSON.stringify(first.slice(0, expected.length - 1)) === JSON.stringify(expected.slice(0, -1)), `the CSV's first row ${csv[1]} is not the table's ${expected}`);
  await page.fill('[data-filter="campaigns"]', "");
  console.log(`sorting, filtering and the CSV (${csv.length - 1} rows) checked`);
}

async function checkJourney(page) {
  const button = page.locator('[data-table="campaigns"] button.user').first();
  const userId = (await button.innerText()).trim();
  await button.click();
  await page.waitForFunction(() => document.getElementById("journey-result").dataset.state === "ready", null, { timeout: STEP_TIMEOUT_MS });
  const data = await graphql(
    `query ($id: ID!) { user(id: $id) { events { name } conversions { name attribution { touchpoints { at } } } } }`,
    { id: userId },
  );
  const shown = await page.evaluate(() => {
    const result = document.getElementById("journey-result");
    return {
      events: result.querySelectorAll(".timeline.events li").length,
      conversions: result.querySelectorAll("table.journey-touchpoints").length,
      touchpoints: [...result.querySelectorAll("table.journey-touchpoints")].map((t) => t.querySelectorAll("tbody tr").length),
      credits: [...result.querySelectorAll("table.journey-touchpoints")].map((t) => {
        const sums = {};
        for (const td of t.querySelectorAll("td[data-model]")) {
          const v = td.textContent.trim();
          sums[td.dataset.model] = (sums[td.dataset.model] ?? 0) + (v === "—" ? 0 : Number(v.replace(/[^\d.]/g, "")));
        }
        return sums;
      }),
      rules: [...result.querySelectorAll("table.journey-touchpoints tbody tr")].map((tr) => tr.children[5]?.textContent ?? ""),
    };
  });
  const user = data.user;
  check(user, `the journey's user ${userId} is unknown to the API`);
  if (!user) return;
  check(shown.events === user.events.length, `the journey shows ${shown.events} events, the API has ${user.events.length}`);
  check(shown.conversions === user.conversions.length && shown.conversions > 0, `the journey shows ${shown.conversions} conversions, the API has ${user.conversions.length}`);
  user.conversions.forEach((c, i) => {
    check(shown.touchpoints[i] === c.attribution.touchpoints.length, `journey conversion ${i}: ${shown.touchpoints[i]} touchpoints shown, ${c.attribution.touchpoints.length} in the API`);
    if (c.attribution.touchpoints.length) {
      for (const [model, sum] of Object.entries(shown.credits[i] ?? {})) {
        check(Math.abs(sum - 100) < 0.5, `journey conversion ${i}: ${model}'s credits add up to ${sum} %`);
      }
    }
  });
  check(shown.rules.every((r) => r.trim().length > 0), "a journey touchpoint shows no rule");
  console.log(`the journey of ${userId} checked (${shown.conversions} conversions)`);
}

async function checkLive(page) {
  try {
    await page.locator('#live[data-state="live"]').waitFor({ timeout: STEP_TIMEOUT_MS });
  } catch {
    problems.push(`the live indicator never said live: ${await page.locator("#live").innerText()}`);
    return;
  }
  const signups = async () => parseNumber(await page.locator('.tile[data-kpi="signups"] .value').innerText());
  const before = await signups();
  const id = `dashboard-live-${Date.now()}`;
  const now = Date.now();
  const at = (ms) => new Date(ms).toISOString();
  const send = async (path, body) => {
    const response = await fetch(new URL(path, root), {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${INGEST_KEY}` },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`POST ${path}: HTTP ${response.status} ${await response.text()}`);
  };
  const sent = Date.now();
  await send("webhooks/pageviews", {
    fingerprint: id,
    user_id: null,
    url: "https://www.example.com/landing?utm_source=google&utm_medium=cpc&utm_campaign=dashboard_live",
    referrer_url: "https://www.google.com/",
    created_at: at(now - 120_000),
  });
  await send("webhooks/events", { name: "signup", fingerprint: id, user_id: id, created_at: at(now - 60_000) });
  try {
    await page.waitForFunction(
      (n) => Number(document.querySelector('.tile[data-kpi="signups"] .value').textContent.replace(/[^\d]/g, "")) >= n,
      before + 1,
      { timeout: LIVE_WITHIN_MS },
    );
    console.log(`live: the signup showed in the tiles ${Date.now() - sent} ms after it was sent (${before} → ${await signups()})`);
  } catch {
    problems.push(`live: the signups tile still shows ${await signups()} (was ${before}) ${LIVE_WITHIN_MS / 1000} s after a signup webhook`);
  }
}

async function checkForgetAndPaste(page) {
  await page.click("#forget-key");
  check(await page.locator("#key-panel").isVisible(), "after Forget key, the key form is not shown");
  check((await page.evaluate(() => localStorage.length)) === 0, "after Forget key, localStorage still holds something");
  const before = await generation(page);
  await page.fill("#key-input", KEY);
  await page.press("#key-input", "Enter");
  await waitReady(page, before);
  check(await page.locator(".tiles").isVisible(), "a pasted key did not bring the reports back");
}

async function checkPhone(context) {
  const page = await context.newPage();
  watch(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(root, { waitUntil: "load" });
  await waitReady(page, 0);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 1, `on a phone the page is ${overflow}px wider than the screen`);
  await page.close();
}

/** Records what a page requests and reports, for the checks at the end. */
function watch(page) {
  page.on("request", (request) => requests.push(`${request.method()} ${request.url()}`));
  page.on("websocket", (socket) => sockets.push(socket.url()));
  page.on("requestfailed", (request) => {
    // A download's blob: URL is handed to the download manager, which shows as aborted.
    if (request.url().startsWith("blob:")) return;
    failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  page.on("console", (message) => {
    const line = `console.${message.type()}: ${message.text()}`;
    if (message.type() === "error") consoleErrors.push(line);
    else if (message.type() === "warning") console.log(`  (${line})`);
  });
  page.on("pageerror", (error) => pageErrors.push(String(error?.stack || error)));
}

async function run(page, context) {
  console.log(`loading ${root}#key=…`);
  const response = await page.goto(`${root}#key=${encodeURIComponent(KEY)}`, { waitUntil: "load" });
  check(response?.ok(), `GET ${root} answered HTTP ${response?.status()}`);
  await waitReady(page, 0);
  check(!page.url().includes("#"), `the key is still in the address bar: ${page.url()}`);
  check((await page.evaluate(() => Object.values(localStorage))).includes(KEY), "the key is not kept in localStorage");
  const models = await page.evaluate(() => [...document.getElementById("model").options].map((o) => o.value));
  const schemaModels = (await graphql('{ __type(name: "AttributionModel") { enumValues { name } } }')).__type.enumValues.map((v) => v.name);
  check(JSON.stringify(models) === JSON.stringify(schemaModels), `the model picker offers ${models}, the API ${schemaModels}`);
  check((await page.locator("#range-preset").inputValue()) === "last30", "the default range is not the last 30 days");

  await compareToApi(page, "last 30 days, last click");
  const other = models.find((m) => m === "LINEAR") ?? models.find((m) => m !== "LAST_CLICK");
  await choose(page, "#model", other);
  await compareToApi(page, `last 30 days, ${other}`);
  await choose(page, "#range-preset", "last7");
  await compareToApi(page, `last 7 days, ${other}`);
  await choose(page, "#range-preset", "lastMonth");
  await compareToApi(page, `last month, ${other}`);
  await choose(page, "#interval", "WEEK");
  await checkCharts(page, await pageSettings(page), "last month by week");
  await choose(page, "#range-preset", "last30");
  await choose(page, "#model", "LAST_CLICK");

  await checkTableTools(page);
  await checkJourney(page);
  if (skipLive) console.log("live: skipped (--skip-live)");
  else await checkLive(page);
  await checkForgetAndPaste(page);
  await checkPhone(context);
}

const { browser, close } = await launch("dashboard.mjs", {
  stepTimeoutMs: STEP_TIMEOUT_MS,
  totalTimeoutMs: TOTAL_TIMEOUT_MS,
});
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: "en-US",
    timezoneId: TIME_ZONE,
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  watch(page);
  try {
    await run(page, context);
  } catch (e) {
    problems.push(`the test stopped early: ${e.stack || e.message}`);
  }
  if (screenshotArg) {
    const file = screenshotArg.slice("--screenshot=".length);
    await page.screenshot({ path: file, fullPage: true }).catch((e) => problems.push(`no screenshot: ${e.message}`));
    console.log(`screenshot: ${file}`);
  }
} finally {
  await close();
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
const foreignSockets = sockets.filter((url) => new URL(url).host !== base.host);
console.log(`${requests.length} requests and ${sockets.length} WebSockets (${[...new Set(sockets)].join(", ")}); ${checks} checks`);
if (foreign.length) problems.push(`requests to another origin than ${origin}:\n    ${foreign.join("\n    ")}`);
if (foreignSockets.length) problems.push(`WebSockets to another host:\n    ${foreignSockets.join("\n    ")}`);
if (failedRequests.length) problems.push(`failed requests:\n    ${failedRequests.join("\n    ")}`);
if (consoleErrors.length) problems.push(`console errors:\n    ${consoleErrors.join("\n    ")}`);
if (pageErrors.length) problems.push(`page errors:\n    ${pageErrors.join("\n    ")}`);

if (problems.length) {
  for (const problem of problems) console.error(`FAIL: ${problem}`);
  process.exit(1);
}
console.log("ok: the dashboard shows the API's numbers, draws every chart, and loads nothing from elsewhere");
