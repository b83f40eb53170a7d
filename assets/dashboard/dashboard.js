// The dashboard at `/`: reads the reports through the public GraphQL API
// (api.js) with a key kept in this browser, draws them with uPlot, and
// refetches when the live subscription (live.js) says new data is in.
//
// Every figure on the page is one the API answers; what the page computes
// itself is only arithmetic over those answers (spend summed over channel
// rows, cost per signup as spend / signups, the "other" share as what is
// left after paid, organic and direct), and each such place says so.

import { ApiError, enumValues, query } from "./api.js";
import * as fmt from "./format.js";
import { connectLive } from "./live.js";

const KEY_STORAGE = "growth-analytics.dashboard.key";
const DAY_MS = 86_400_000;
/** Rows fetched per report table (the API's default `MAX_PAGE_SIZE`). */
const TABLE_ROWS = 500;
/** A tick waits this long for more ticks before the refetch. */
const DEBOUNCE_MS = 400;
/**
 * Live refetches start at most this often: a refresh costs about 15,000 of
 * a key's default 300,000 per minute (`QUERY_COST_PER_MINUTE`).
 */
const LIVE_GAP_MS = 3_000;
/** After a refusal for cost or rate, the next try waits this long. */
const RATE_LIMITED_RETRY_MS = 15_000;

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// ---------------------------------------------------------------- the key

/** `#key=…`, parsed by hand: URLSearchParams turns a base64 `+` into a space. */
function keyFromFragment(hash) {
  for (const part of hash.replace(/^#/, "").split("&")) {
    if (part.startsWith("key=")) {
      try {
        return decodeURIComponent(part.slice(4)).trim() || null;
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * The key from the link (then stored, and removed from the address bar so
 * that it is not bookmarked, shared or kept in history), else the stored one.
 */
function takeKey() {
  const fromLink = keyFromFragment(window.location.hash);
  if (fromLink) {
    localStorage.setItem(KEY_STORAGE, fromLink);
    history.replaceState(null, "", window.location.pathname + window.location.search);
    return fromLink;
  }
  return localStorage.getItem(KEY_STORAGE);
}

// ------------------------------------------------------------ time ranges

/** `date`'s calendar fields in `timeZone`. */
function zonedParts(date, timeZone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(date);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { year: get("year"), month: get("month") - 1, day: get("day"), hour: get("hour"), minute: get("minute"), second: get("second") };
}

/** How far `timeZone`'s wall clock is ahead of UTC at `date`, in ms. */
function offsetMs(date, timeZone) {
  const p = zonedParts(date, timeZone);
  const wall = Date.UTC(p.year, p.month, p.day, p.hour, p.minute, p.second);
  return wall - (date.getTime() - date.getMilliseconds());
}

/** The instant of midnight starting day (`year`, `month`, `day`) in `timeZone` (fields may overflow). */
function zonedMidnight(year, month, day, timeZone) {
  const wall = Date.UTC(year, month, day);
  let at = wall - offsetMs(new Date(wall), timeZone);
  at = wall - offsetMs(new Date(at), timeZone);
  return new Date(at);
}

const iso = (date) => date.toISOString();

/**
 * The settings' range, pinned to `now`: the API's `DateRange` for the
 * period and for the one before it (the same length, just before), and the
 * instants they cover. Rolling presets use the API's own `lastDays`.
 */
function resolveRange(settings, now) {
  const tz = settings.timezone;
  const rolling = { last7: 7, last30: 30, last90: 90 }[settings.preset];
  if (rolling) {
    const from = new Date(now.getTime() - rolling * DAY_MS);
    return {
      from,
      to: now,
      current: { lastDays: rolling, to: iso(now) },
      previous: { lastDays: rolling, to: iso(from) },
      previousFrom: new Date(from.getTime() - rolling * DAY_MS),
    };
  }
  let from;
  let to;
  const today = zonedParts(now, tz);
  if (settings.preset === "thisMonth") {
    from = zonedMidnight(today.year, today.month, 1, tz);
    to = now;
  } else if (settings.preset === "lastMonth") {
    from = zonedMidnight(today.year, today.month - 1, 1, tz);
    to = zonedMidnight(today.year, today.month, 1, tz);
  } else {
    const [fy, fm, fd] = settings.customFrom.split("-").map(Number);
    const [ty, tm, td] = settings.customTo.split("-").map(Number);
    from = zonedMidnight(fy, fm - 1, fd, tz);
    to = zonedMidnight(ty, tm - 1, td + 1, tz);
  }
  const previousFrom = new Date(from.getTime() - (to.getTime() - from.getTime()));
  return {
    from,
    to,
    current: { from: iso(from), to: iso(to) },
    previous: { from: iso(previousFrom), to: iso(from) },
    previousFrom,
  };
}

/** The first UTC day starting at or after `date`, `YYYY-MM-DD`: the days whose spend a range counts. */
function spendDay(date) {
  const day = iso(date).slice(0, 10);
  const midnight = new Date(`${day}T00:00:00Z`);
  if (midnight.getTime() === date.getTime()) return day;
  return iso(new Date(midnight.getTime() + DAY_MS)).slice(0, 10);
}

// ------------------------------------------------------------------ money

/** An exact decimal string as integer micros (the API's spend scale). */
function micros(amount) {
  if (amount == null) return 0n;
  const negative = amount.startsWith("-");
  const [whole, fraction = ""] = amount.replace("-", "").split(".");
  const value = BigInt(whole || "0") * 1_000_000n + BigInt((fraction + "000000").slice(0, 6));
  return negative ? -value : value;
}

const microsToNumber = (value) => Number(value) / 1e6;

// ----------------------------------------------------------------- state

const state = {
  key: null,
  models: [],
  intervals: [],
  currency: null,
  generation: 0,
  refreshing: false,
  dirty: false,
  compareModels: new Set(),
};

function settings() {
  const conversionChoice = $("#conversion").value;
  return {
    preset: $("#range-preset").value,
    customFrom: $("#range-from").value,
    customTo: $("#range-to").value,
    compare: $("#compare").checked,
    model: $("#model").value,
    conversion: conversionChoice || $("#conversion-other").value.trim().toLowerCase() || "signup",
    timezone: $("#timezone").value,
    interval: $("#interval").value,
  };
}

function setStatus(text, kind = "info") {
  const status = $("#status");
  status.textContent = text;
  status.dataset.kind = kind;
}

// ---------------------------------------------------------------- queries

const OVERVIEW_FIELDS = "signups trials trialToSignup trialToSignupRate conversions paidConversions paidShare organicShare directShare";

const SUMMARY = `query DashboardSummary($range: DateRange!, $previous: DateRange!, $compare: Boolean!, $model: AttributionModel!, $conversion: String!, $timezone: String!, $interval: Interval!, $spendFrom: String!, $spendTo: String!) {
  overview(range: $range, model: $model, conversion: $conversion) { ${OVERVIEW_FIELDS} }
  previousOverview: overview(range: $previous, model: $model, conversion: $conversion) @include(if: $compare) { ${OVERVIEW_FIELDS} }
  channels(range: $range, model: $model, conversion: $conversion, first: 100) { nodes { channel conversions spend } }
  previousChannels: channels(range: $previous, model: $model, conversion: $conversion, first: 100) @include(if: $compare) { nodes { channel spend } }
  timeseries(range: $range, interval: $interval, timezone: $timezone, groupBy: CHANNEL, model: $model, conversion: $conversion) {
    series { channel total points { start end conversions } }
  }
  campaignSpend(from: $spendFrom, to: $spendTo) { date amount currency }
}`;

const ROW_FIELDS = "conversions visitors conversionRate trials trialToSignup timeToConvert { medianSeconds } avgPageviewsBefore";

const CAMPAIGNS = `query DashboardCampaigns($range: DateRange!, $model: AttributionModel!, $conversion: String!) {
  campaigns(range: $range, model: $model, conversion: $conversion, first: ${TABLE_ROWS}) {
    totalCount nodes { campaign source medium channel ${ROW_FIELDS} spend costPerConversion userIds(first: 3) }
  }
}`;

const SOURCES_AND_PAGES = `query DashboardSourcesAndPages($range: DateRange!, $model: AttributionModel!, $conversion: String!) {
  sources(range: $range, model: $model, conversion: $conversion, first: ${TABLE_ROWS}) {
    totalCount nodes { source ${ROW_FIELDS} spend costPerConversion }
  }
  landingPages(range: $range, model: $model, conversion: $conversion, first: ${TABLE_ROWS}) {
    totalCount nodes { landingPage ${ROW_FIELDS} userIds(first: 3) }
  }
}`;

/** Enum names come from introspection; only plain names go into a document. */
const enumName = (name) => /^[A-Z][A-Z0-9_]*$/.test(name);
const alias = (model) => `m_${model}`;

function modelsQuery(models) {
  const fields = models
    .map((m) => `${alias(m)}: channels(range: $range, model: ${m}, conversion: $conversion, first: 100) { nodes { channel conversions } }`)
    .join("\n  ");
  return `query DashboardModels($range: DateRange!, $conversion: String!) {\n  ${fields}\n}`;
}

// ------------------------------------------------------------------ charts

const CHANNEL_COLOURS = [
  "#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2",
  "#97bbf5", "#9c6b4e", "#9498a0", "#1b7f79", "#b6452c", "#5c4d9c", "#c2a100",
];
const MODEL_COLOURS = ["#4269d0", "#ff725c", "#3ca951", "#a463f2", "#efb118", "#1b7f79", "#9c6b4e"];
const channelOrder = [];

function channelColour(channel) {
  let index = channelOrder.indexOf(channel);
  if (index < 0) index = channelOrder.push(channel) - 1;
  return CHANNEL_COLOURS[index % CHANNEL_COLOURS.length];
}

const charts = new Map();

function chartWidth(el) {
  return Math.max(260, Math.floor(el.clientWidth || el.parentElement.clientWidth || 600));
}

/** Draws (or redraws) the chart of `el`; the previous instance is dropped. */
function draw(el, options, data) {
  charts.get(el)?.destroy();
  el.textContent = "";
  const chart = new uPlot({ width: chartWidth(el), height: el.dataset.height ? Number(el.dataset.height) : 280, ...options }, data, el);
  charts.set(el, chart);
  el.dataset.points = String(data[0].length);
  el.dataset.series = String(data.length - 1);
  return chart;
}

const resizer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const chart = charts.get(entry.target);
    if (chart) chart.setSize({ width: chartWidth(entry.target), height: chart.height });
  }
});

/** Conversions per bucket stacked by channel, and spend per bucket on its own axis. */
function drawTimeseries(timeseries, spendRows, currency) {
  const el = $("#chart-timeseries");
  const series = timeseries.series.filter((s) => s.total > 0).sort((a, b) => b.total - a.total);
  const buckets = (timeseries.series[0]?.points ?? []).map((p) => ({ start: Date.parse(p.start), end: Date.parse(p.end) }));
  const xs = buckets.map((b) => b.start / 1000);
  // Stacked: each line is the sum of its channel and those below it; drawn
  // top first, so each fill covers the one above it down to its own line.
  const raw = series.map((s) => s.points.map((p) => p.conversions));
  const stacked = [];
  let running = xs.map(() => 0);
  for (let i = raw.length - 1; i >= 0; i--) {
    running = running.map((v, j) => v + raw[i][j]);
    stacked[i] = running;
  }
  const spend = buckets.map(() => 0n);
  for (const row of spendRows) {
    const at = Date.parse(`${row.date}T00:00:00Z`);
    const index = buckets.findIndex((b) => b.start <= at && at < b.end);
    if (index >= 0) spend[index] += micros(row.amount);
  }
  const legendValue = (i) => (u, v, si, idx) => (idx == null ? "" : fmt.credit(raw[i][idx]));
  const options = {
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] }, spend: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [
      {},
      { label: "conversions", values: (u, splits) => splits.map((v) => fmt.credit(v)) },
      { scale: "spend", side: 1, label: "spend", size: 80, grid: { show: false }, values: (u, splits) => splits.map((v) => fmt.money(v, currency)) },
    ],
    series: [
      { value: (u, v) => (v == null ? "" : fmt.instant(new Date(v * 1000).toISOString(), $("#timezone").value)) },
      ...series.map((s, i) => ({
        label: fmt.channel(s.channel),
        stroke: channelColour(s.channel),
        fill: channelColour(s.channel),
        width: 1,
        value: legendValue(i),
      })),
      { label: "Spend", scale: "spend", stroke: "#222", width: 2, dash: [6, 4], value: (u, v) => (v == null ? "" : fmt.money(v, currency)) },
    ],
  };
  draw(el, options, [xs, ...stacked, spend.map(microsToNumber)]);
}

/** A bar chart over labelled categories. */
function drawBars(el, labels, seriesList, { format = fmt.credit } = {}) {
  const xs = labels.map((_, i) => i);
  const short = labels.map((l) => (l.length > 22 ? `${l.slice(0, 21)}…` : l));
  const bars = uPlot.paths.bars({ size: [0.7, 60] });
  const options = {
    scales: { x: { time: false, range: () => [-0.5, Math.max(0.5, labels.length - 0.5)] }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { splits: () => xs, values: (u, splits) => splits.map((i) => short[i] ?? ""), rotate: labels.length > 4 ? -30 : 0, size: labels.length > 4 ? 90 : 40, gap: 4 },
      { values: (u, splits) => splits.map((v) => format(v)) },
    ],
    series: [
      { value: (u, i) => (i == null ? "" : labels[i] ?? "") },
      ...seriesList.map((s) => ({
        label: s.label,
        stroke: s.colour,
        fill: s.fill ?? `${s.colour}cc`,
        width: s.points ? 0 : 1,
        paths: s.points ? () => null : bars,
        points: s.points ? { show: true, size: 10, fill: s.colour } : { show: false },
        value: (u, v) => (v == null ? "" : format(v)),
      })),
    ],
  };
  return draw(el, options, [xs, ...seriesList.map((s) => s.values)]);
}

// ------------------------------------------------------------------ tiles

function setTile(kpi, value, text, previous, { points = false, note = "" } = {}) {
  const tile = $(`.tile[data-kpi="${kpi}"]`);
  $(".value", tile).textContent = text;
  const change = $(".change", tile);
  if (previous === undefined) {
    change.textContent = "";
    change.dataset.direction = "none";
  } else {
    const c = fmt.change(value, previous, { points });
    change.textContent = `${c.text} vs previous period`;
    change.dataset.direction = c.direction;
  }
  const noteEl = $(".note", tile);
  if (noteEl) noteEl.textContent = note;
}

function totalSpend(channels) {
  return channels.nodes.reduce((sum, row) => sum + micros(row.spend), 0n);
}

function renderTiles(data, compare) {
  const o = data.overview;
  const p = compare ? data.previousOverview : undefined;
  const currency = state.currency;
  setTile("signups", o.signups, fmt.count(o.signups), p?.signups);
  setTile("trials", o.trials, fmt.count(o.trials), p?.trials);
  setTile("trialToSignupRate", o.trialToSignupRate, fmt.percent(o.trialToSignupRate), p ? p.trialToSignupRate : undefined, {
    points: true,
    note: `${fmt.count(o.trialToSignup)} signups after a trial, ${fmt.count(o.trials)} trials in range`,
  });
  setTile("paidShare", o.paidShare, fmt.percent(o.paidShare), p ? p.paidShare : undefined, { points: true });
  const spend = microsToNumber(totalSpend(data.channels));
  const previousSpend = compare ? microsToNumber(totalSpend(data.previousChannels)) : undefined;
  setTile("spend", spend, fmt.money(spend, currency), previousSpend);
  // Cost per signup: the API has no such figure for a whole range, so it is
  // spend / signups here, null without signups (as the rows' costPerSignup).
  const cost = o.signups > 0 ? spend / o.signups : null;
  const previousCost = compare ? (p.signups > 0 ? previousSpend / p.signups : null) : undefined;
  setTile("costPerSignup", cost, fmt.money(cost, currency), previousCost);
}

function renderShares(overview) {
  const { paidShare, organicShare, directShare } = overview;
  const other = paidShare == null ? null : Math.max(0, 1 - paidShare - (organicShare ?? 0) - (directShare ?? 0));
  const shares = [
    ["Paid", paidShare],
    ["Organic", organicShare],
    ["Direct", directShare],
    ["Other", other],
  ];
  const list = $("#shares");
  list.textContent = "";
  for (const [label, value] of shares) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = fmt.percent(value);
    dd.dataset.share = label.toLowerCase();
    list.append(dt, dd);
  }
  drawBars($("#chart-share"), shares.map((s) => s[0]), [{ label: "Share of conversions", colour: "#4269d0", values: shares.map((s) => s[1] ?? 0) }], { format: fmt.percent });
}

// ------------------------------------------------------------------ tables

/**
 * A table over report rows: sortable by any column (the headers are
 * buttons), filtered by a text box, and downloadable as CSV of exactly what
 * it shows.
 */
class Table {
  constructor(name, columns) {
    this.name = name;
    this.columns = columns;
    this.rows = [];
    this.total = 0;
    this.sort = { id: columns.find((c) => c.numeric)?.id, descending: true };
    this.filter = "";
    this.el = $(`[data-table="${name}"]`);
    const filter = $(`[data-filter="${name}"]`);
    filter?.addEventListener("input", () => {
      this.filter = filter.value.trim().toLowerCase();
      this.render();
    });
    $(`[data-csv="${name}"]`)?.addEventListener("click", () => this.download());
  }

  set(rows, total) {
    this.rows = rows;
    this.total = total ?? rows.length;
    this.render();
  }

  /** The rows as shown: filtered, sorted, each cell's text. */
  shown() {
    const text = (column, row) => (column.text ? column.text(row) : column.format(column.value(row)));
    let rows = this.rows.map((row) => ({ row, cells: this.columns.map((c) => text(c, row)) }));
    if (this.filter) {
      rows = rows.filter((r) => r.cells.some((cell, i) => !this.columns[i].numeric && cell.toLowerCase().includes(this.filter)));
    }
    const index = this.columns.findIndex((c) => c.id === this.sort.id);
    if (index >= 0) {
      const column = this.columns[index];
      const sign = this.sort.descending ? -1 : 1;
      rows.sort((a, b) => {
        const x = column.numeric ? column.value(a.row) : a.cells[index];
        const y = column.numeric ? column.value(b.row) : b.cells[index];
        if (x == null && y == null) return 0;
        if (x == null) return 1;
        if (y == null) return -1;
        return sign * (column.numeric ? x - y : String(x).localeCompare(String(y)));
      });
    }
    return rows;
  }

  render() {
    const shown = this.shown();
    const thead = document.createElement("thead");
    const head = document.createElement("tr");
    for (const column of this.columns) {
      const th = document.createElement("th");
      th.scope = "col";
      if (column.numeric) th.className = "num";
      if (column.sortable === false) {
        th.textContent = column.label;
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = column.label;
        button.dataset.sort = column.id;
        const sorted = this.sort.id === column.id;
        th.setAttribute("aria-sort", sorted ? (this.sort.descending ? "descending" : "ascending") : "none");
        button.addEventListener("click", () => {
          this.sort = { id: column.id, descending: sorted ? !this.sort.descending : column.numeric };
          this.render();
          $(`button[data-sort="${column.id}"]`, this.el)?.focus();
        });
        th.append(button);
      }
      head.append(th);
    }
    thead.append(head);
    const tbody = document.createElement("tbody");
    for (const { row, cells } of shown) {
      const tr = document.createElement("tr");
      this.columns.forEach((column, i) => {
        const td = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) td.scope = "row";
        td.dataset.col = column.id;
        if (column.numeric) td.className = "num";
        if (column.render) column.render(row, td);
        else td.textContent = cells[i];
        tr.append(td);
      });
      tbody.append(tr);
    }
    if (!shown.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = this.columns.length;
      td.className = "empty";
      td.textContent = this.rows.length ? "No row matches the filter." : "Nothing in this range.";
      tr.append(td);
      tbody.append(tr);
    }
    this.el.replaceChildren(thead, tbody);
    const count = $(`[data-count="${this.name}"]`);
    if (count) {
      const more = this.total > this.rows.length ? ` (the first ${fmt.count(this.rows.length)} of ${fmt.count(this.total)} by conversions)` : "";
      count.textContent = `${fmt.count(shown.length)} rows${more}`;
    }
  }

  download() {
    const quote = (cell) => (/[",\n\r]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell);
    const lines = [this.columns.map((c) => quote(c.label)).join(",")];
    for (const { cells } of this.shown()) lines.push(cells.map(quote).join(","));
    const blob = new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv;charset=utf-8" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${this.name}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }
}

const num = (id, label, value, format) => ({ id, label, value, format, numeric: true });
const txt = (id, label, value, empty = fmt.DASH) => ({ id, label, value, format: (v) => (v == null || v === "" ? empty : String(v)) });

/** The users of a row, as buttons that open their journey. */
const usersColumn = {
  id: "users",
  label: "Users (first 3)",
  sortable: false,
  value: (row) => row.userIds,
  text: (row) => row.userIds.join(" "),
  render(row, td) {
    for (const id of row.userIds) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "user";
      button.textContent = id;
      button.addEventListener("click", () => openJourney(id));
      td.append(button);
    }
  },
};

function rowColumns({ spend }) {
  const cols = [
    num("conversions", "Conversions", (r) => r.conversions, fmt.credit),
    num("visitors", "Visitors", (r) => r.visitors, fmt.count),
    num("conversionRate", "Conversion rate", (r) => r.conversionRate, fmt.percent),
    num("trials", "Trials", (r) => r.trials, fmt.credit),
    num("trialToSignup", "Trial → signup", (r) => r.trialToSignup, fmt.credit),
    num("timeToConvert", "Time to convert (median)", (r) => r.timeToConvert?.medianSeconds ?? null, fmt.duration),
    num("pageviewsBefore", "Pageviews before (avg)", (r) => r.avgPageviewsBefore, fmt.average),
  ];
  if (spend) {
    cols.push(
      num("spend", "Spend", (r) => (r.spend == null ? null : Number(r.spend)), (v) => fmt.money(v, state.currency)),
      num("costPerConversion", "Cost per signup", (r) => r.costPerConversion, (v) => fmt.money(v, state.currency)),
    );
  }
  return cols;
}

const tables = {
  campaigns: new Table("campaigns", [
    txt("campaign", "Campaign", (r) => r.campaign, "(no campaign)"),
    txt("source", "Source", (r) => r.source),
    txt("medium", "Medium", (r) => r.medium),
    { ...txt("channel", "Channel", (r) => r.channel), format: fmt.channel },
    ...rowColumns({ spend: true }),
    usersColumn,
  ]),
  sources: new Table("sources", [txt("source", "Source", (r) => r.source), ...rowColumns({ spend: true })]),
  landingPages: new Table("landingPages", [txt("landingPage", "Landing page", (r) => r.landingPage), ...rowColumns({ spend: false }), usersColumn]),
};

/** The cost column says what it divides by. */
function labelCostColumns(conversion) {
  const label = conversion === "signup" ? "Cost per signup" : `Cost per ${conversion}`;
  for (const table of Object.values(tables)) {
    const column = table.columns.find((c) => c.id === "costPerConversion");
    if (column) column.label = label;
  }
}

// --------------------------------------------------------- model comparison

function renderModels(data, models) {
  const channels = new Map();
  models.forEach((model, m) => {
    for (const row of data[alias(model)].nodes) {
      if (!channels.has(row.channel)) channels.set(row.channel, models.map(() => 0));
      channels.get(row.channel)[m] = row.conversions;
    }
  });
  const rows = [...channels.entries()].sort((a, b) => Math.max(...b[1]) - Math.max(...a[1]));
  const table = $("#table-models");
  const thead = document.createElement("thead");
  const head = document.createElement("tr");
  for (const label of ["Channel", ...models.map(modelLabel)]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = label;
    head.append(th);
  }
  thead.append(head);
  const tbody = document.createElement("tbody");
  for (const [channel, values] of rows) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = fmt.channel(channel);
    tr.append(th);
    values.forEach((v, m) => {
      const td = document.createElement("td");
      td.className = "num";
      td.dataset.model = models[m];
      td.textContent = fmt.credit(v);
      tr.append(td);
    });
    tr.dataset.channel = channel;
    tbody.append(tr);
  }
  table.replaceChildren(thead, tbody);
  drawBars(
    $("#chart-models"),
    rows.map(([c]) => fmt.channel(c)),
    models.map((model, m) => ({ label: modelLabel(model), colour: MODEL_COLOURS[m % MODEL_COLOURS.length], values: rows.map(([, v]) => v[m]), points: true })),
  );
}

const modelLabel = (name) => fmt.channel(name);

// ----------------------------------------------------------------- journey

function openJourney(userId) {
  $("#journey-user").value = userId;
  $("#journey").scrollIntoView({ block: "start" });
  showJourney(userId);
}

async function showJourney(userId) {
  const result = $("#journey-result");
  result.textContent = "Loading…";
  result.dataset.state = "loading";
  const credits = state.models.map((m) => `${alias(m)}: credits(model: ${m}) { touchpoint { at fingerprint } weight }`).join(" ");
  const doc = `query DashboardJourney($id: ID!) {
    user(id: $id) {
      id fingerprints firstSeenAt
      events { name createdAt fingerprint }
      conversions {
        name at fromTrial timeToConvertSeconds pageviewsBefore
        attribution { lookbackDays touchpoints { at fingerprint landingPage source medium campaign channel rule isDirect } ${credits} }
      }
    }
  }`;
  let data;
  try {
    data = await query(state.key, doc, { id: userId });
  } catch (e) {
    result.textContent = `Could not load the journey: ${e.message}`;
    result.dataset.state = "error";
    return;
  }
  const tz = $("#timezone").value;
  const user = data.user;
  result.textContent = "";
  if (!user) {
    result.textContent = `No user has the id “${userId}”.`;
    result.dataset.state = "ready";
    return;
  }
  const summary = document.createElement("p");
  summary.textContent = `${user.id}: ${fmt.count(user.fingerprints.length)} device(s), first seen ${user.firstSeenAt ? fmt.instant(user.firstSeenAt, tz) : fmt.DASH}.`;
  result.append(summary);

  const eventsTitle = document.createElement("h3");
  eventsTitle.textContent = "Events";
  const events = document.createElement("ol");
  events.className = "timeline events";
  for (const event of user.events) {
    const li = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = event.createdAt;
    time.textContent = fmt.instant(event.createdAt, tz);
    li.append(time, ` ${event.name}`);
    events.append(li);
  }
  result.append(eventsTitle, events);

  for (const conversion of user.conversions) {
    const title = document.createElement("h3");
    const ttc = conversion.timeToConvertSeconds == null ? "" : `, ${fmt.duration(conversion.timeToConvertSeconds)} after the first touchpoint`;
    title.textContent = `${conversion.name} at ${fmt.instant(conversion.at, tz)}${conversion.fromTrial ? " (after a trial)" : ""}${ttc}`;
    const table = document.createElement("table");
    table.className = "journey-touchpoints";
    const head = document.createElement("tr");
    for (const label of ["When", "Channel", "Source / medium", "Campaign", "Landing page", "Rule", ...state.models.map(modelLabel)]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = label;
      head.append(th);
    }
    const thead = document.createElement("thead");
    thead.append(head);
    const tbody = document.createElement("tbody");
    const touchpoints = conversion.attribution.touchpoints;
    for (const tp of touchpoints) {
      const tr = document.createElement("tr");
      const when = document.createElement("th");
      when.scope = "row";
      when.textContent = fmt.instant(tp.at, tz);
      tr.append(when);
      for (const text of [fmt.channel(tp.channel), `${tp.source} / ${tp.medium}`, tp.campaign ?? fmt.DASH, tp.landingPage, tp.rule]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      for (const model of state.models) {
        const credit = conversion.attribution[alias(model)].find((c) => c.touchpoint.at === tp.at && c.touchpoint.fingerprint === tp.fingerprint);
        const td = document.createElement("td");
        td.className = "num";
        td.dataset.model = model;
        td.textContent = credit ? fmt.percent(credit.weight) : fmt.DASH;
        tr.append(td);
      }
      tbody.append(tr);
    }
    table.append(thead, tbody);
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = touchpoints.length
      ? `${fmt.count(touchpoints.length)} touchpoint(s) in the ${conversion.attribution.lookbackDays}-day lookback window, ${fmt.count(conversion.pageviewsBefore)} pageview(s) before; each model's credit per touchpoint.`
      : "No touchpoint in the lookback window.";
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    wrap.append(table);
    result.append(title, wrap, note);
  }
  result.dataset.state = "ready";
}

// ----------------------------------------------------------------- refresh

async function load() {
  const s = settings();
  const range = resolveRange(s, new Date());
  const label = $("#range-label");
  const tz = s.timezone;
  label.textContent = `${fmt.instant(iso(range.from), tz)} – ${fmt.instant(iso(range.to), tz)} (${tz})` +
    (s.compare ? `, compared with ${fmt.instant(iso(range.previousFrom), tz)} – ${fmt.instant(iso(range.from), tz)}` : "");
  label.dataset.current = JSON.stringify(range.current);
  label.dataset.previous = JSON.stringify(range.previous);
  label.dataset.model = s.model;
  label.dataset.conversion = s.conversion;
  labelCostColumns(s.conversion);

  const base = { range: range.current, model: s.model, conversion: s.conversion };
  const compared = [...state.compareModels].filter(enumName);
  const [summary, campaigns, rest, models] = await Promise.all([
    query(state.key, SUMMARY, {
      ...base,
      previous: range.previous,
      compare: s.compare,
      timezone: s.timezone,
      interval: s.interval,
      spendFrom: spendDay(range.from),
      spendTo: spendDay(range.to),
    }),
    query(state.key, CAMPAIGNS, base),
    query(state.key, SOURCES_AND_PAGES, base),
    compared.length ? query(state.key, modelsQuery(compared), { range: range.current, conversion: s.conversion }) : null,
  ]);
  if (summary.campaignSpend.length) state.currency = summary.campaignSpend[0].currency;
  renderTiles(summary, s.compare);
  drawTimeseries(summary.timeseries, summary.campaignSpend, state.currency);
  renderShares(summary.overview);
  tables.campaigns.set(campaigns.campaigns.nodes, campaigns.campaigns.totalCount);
  tables.sources.set(rest.sources.nodes, rest.sources.totalCount);
  tables.landingPages.set(rest.landingPages.nodes, rest.landingPages.totalCount);
  const top = [...rest.landingPages.nodes].sort((a, b) => b.conversions - a.conversions).slice(0, 10);
  drawBars($("#chart-landing"), top.map((r) => r.landingPage), [{ label: "Conversions", colour: "#3ca951", values: top.map((r) => r.conversions) }]);
  if (models) renderModels(models, compared);
  else {
    $("#table-models").textContent = "";
    charts.get($("#chart-models"))?.destroy();
    charts.delete($("#chart-models"));
    $("#chart-models").textContent = "Pick two or more models to compare.";
  }
}

/** Refetches everything; a call during a refetch makes one more run after it. */
async function refresh() {
  if (state.refreshing) {
    state.dirty = true;
    return;
  }
  state.refreshing = true;
  document.body.dataset.state = "loading";
  try {
    do {
      state.dirty = false;
      try {
        await load();
        state.generation += 1;
        document.body.dataset.generation = String(state.generation);
        document.body.dataset.state = "ready";
        setStatus(`Updated ${new Date().toLocaleTimeString()}.`);
      } catch (e) {
        document.body.dataset.state = "error";
        if (e instanceof ApiError && e.status === 401) {
          setStatus("The service refused the key: paste another one.", "error");
          askForKey();
          return;
        }
        if (e instanceof ApiError && e.status === 429) {
          setStatus(`The service asks to slow down (${e.message}); trying again shortly.`, "error");
          refreshSoon(RATE_LIMITED_RETRY_MS);
          return;
        }
        setStatus(`Could not load the reports: ${e.message}`, "error");
      }
    } while (state.dirty);
  } finally {
    state.refreshing = false;
  }
}

// A tick schedules one refetch, unless one is already scheduled: ticks
// arriving steadily then give a refetch every LIVE_GAP_MS, not none.
let scheduled = null;
let lastLive = 0;
function refreshSoon(delay = DEBOUNCE_MS) {
  if (scheduled) return;
  const wait = Math.max(delay, lastLive + LIVE_GAP_MS - Date.now());
  scheduled = setTimeout(() => {
    scheduled = null;
    lastLive = Date.now();
    refresh();
  }, wait);
}

// -------------------------------------------------------------------- setup

let live = null;

function setLive(liveState) {
  const el = $("#live");
  el.dataset.state = liveState;
  el.textContent = { live: "live", connecting: "connecting…", offline: "offline" }[liveState];
}

function askForKey() {
  live?.stop();
  live = null;
  setLive("offline");
  $("#dashboard").hidden = true;
  $("#forget-key").hidden = true;
  $("#key-panel").hidden = false;
  $("#key-input").focus();
}

function fillTimezones() {
  const select = $("#timezone");
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  for (const zone of new Set(["UTC", own, ...zones])) {
    const option = document.createElement("option");
    option.value = option.textContent = zone;
    select.append(option);
  }
  select.value = own;
}

function fillEnum(select, values, selected) {
  select.textContent = "";
  for (const value of values) {
    const option = document.createElement("option");
    option.value = value.name;
    option.textContent = fmt.channel(value.name);
    if (value.description) option.title = value.description;
    select.append(option);
  }
  if (values.some((v) => v.name === selected)) select.value = selected;
}

function fillCompareModels() {
  const fieldset = $("#compare-models");
  $$(".check", fieldset).forEach((el) => el.remove());
  // By default every model, side by side.
  state.compareModels = new Set(state.models);
  for (const model of state.models) {
    const id = `compare-${model}`;
    const input = document.createElement("input");
    input.type = "checkbox";
    input.id = id;
    input.value = model;
    input.checked = true;
    input.addEventListener("change", () => {
      if (input.checked) state.compareModels.add(model);
      else state.compareModels.delete(model);
      refresh();
    });
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = modelLabel(model);
    const wrap = document.createElement("span");
    wrap.className = "check";
    wrap.append(input, label);
    fieldset.append(wrap);
  }
}

async function start() {
  $("#dashboard").hidden = false;
  $("#key-panel").hidden = true;
  $("#forget-key").hidden = false;
  setStatus("Loading…");
  try {
    const [models, intervals] = await Promise.all([enumValues(state.key, "AttributionModel"), enumValues(state.key, "Interval")]);
    state.models = models.map((m) => m.name).filter(enumName);
    fillEnum($("#model"), models, "LAST_CLICK");
    fillEnum($("#interval"), intervals, "DAY");
    fillCompareModels();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setStatus("The service refused the key: paste another one.", "error");
      askForKey();
      return;
    }
    setStatus(`Could not read the schema: ${e.message}`, "error");
    return;
  }
  await refresh();
  live?.stop();
  live = connectLive({ key: state.key, onTick: () => refreshSoon(), onState: setLive });
}

function init() {
  fillTimezones();
  const today = new Date();
  $("#range-to").value = iso(today).slice(0, 10);
  $("#range-from").value = iso(new Date(today.getTime() - 29 * DAY_MS)).slice(0, 10);

  $("#range-preset").addEventListener("change", () => {
    $("#custom-range").hidden = $("#range-preset").value !== "custom";
    refresh();
  });
  $("#conversion").addEventListener("change", () => {
    const other = $("#conversion").value === "";
    $("#conversion-other").hidden = !other;
    if (other) $("#conversion-other").focus();
    else refresh();
  });
  $("#conversion-other").addEventListener("change", refresh);
  for (const id of ["#range-from", "#range-to", "#compare", "#model", "#timezone", "#interval"]) {
    $(id).addEventListener("change", refresh);
  }
  $("#controls").addEventListener("submit", (e) => {
    e.preventDefault();
    refresh();
  });
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("#key-input").value.trim();
    if (!key) return;
    localStorage.setItem(KEY_STORAGE, key);
    $("#key-input").value = "";
    state.key = key;
    start();
  });
  $("#forget-key").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    state.key = null;
    setStatus("The key is forgotten: this browser no longer holds it.");
    askForKey();
  });
  $("#journey-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = $("#journey-user").value.trim();
    if (id) showJourney(id);
  });
  for (const el of $$(".chart")) resizer.observe(el);

  state.key = takeKey();
  if (state.key) start();
  else askForKey();
}

init();
