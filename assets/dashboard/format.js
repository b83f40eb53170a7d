// Numbers for people: counts, credited (fractional) conversions, money,
// shares and durations, in the browser's locale. Never a raw float.

const cache = new Map();
function nf(options) {
  const key = JSON.stringify(options);
  if (!cache.has(key)) cache.set(key, new Intl.NumberFormat(undefined, options));
  return cache.get(key);
}

export const DASH = "—";

/** A whole count: "12,345". */
export function count(value) {
  return value == null ? DASH : nf({ maximumFractionDigits: 0 }).format(value);
}

/** Credited conversions, fractional under multi-touch models: "12.3". */
export function credit(value) {
  return value == null ? DASH : nf({ maximumFractionDigits: 1 }).format(value);
}

/** A share between 0 and 1: "12.3 %" (as the locale writes it). */
export function percent(value) {
  return value == null ? DASH : nf({ style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(value);
}

/**
 * Money in the deployment's currency (ISO 4217, as the API's spend rows
 * name it). The amount may be an exact decimal string from the API. Without
 * a known currency, a plain number with two decimals.
 */
export function money(value, currency) {
  if (value == null || value === "") return DASH;
  const amount = typeof value === "string" ? Number(value) : value;
  if (!Number.isFinite(amount)) return DASH;
  if (currency) {
    try {
      return nf({ style: "currency", currency }).format(amount);
    } catch {
      // An unknown code: fall through to a plain amount.
    }
  }
  return nf({ minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(amount);
}

/** A count of pageviews on average: "3.4". */
export function average(value) {
  return value == null ? DASH : nf({ maximumFractionDigits: 1 }).format(value);
}

const UNITS = [
  ["d", 86400],
  ["h", 3600],
  ["min", 60],
  ["s", 1],
];

/** Seconds as the two largest units: "3 d 4 h", "5 h 12 min", "42 s". */
export function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return DASH;
  const rest = Math.round(Math.abs(seconds));
  for (let i = 0; i < UNITS.length; i++) {
    const [unit, size] = UNITS[i];
    if (rest < size) continue;
    const n = Math.floor(rest / size);
    const parts = [`${n} ${unit}`];
    const next = UNITS[i + 1];
    if (next) {
      const m = Math.floor((rest - n * size) / next[1]);
      if (m > 0) parts.push(`${m} ${next[0]}`);
    }
    return parts.join(" ");
  }
  return "0 s";
}

/**
 * The change from `previous` to `current`, for a tile: the relative change
 * ("+12.3 %"), "new" when the previous period had none, "no change".
 * `points` gives the change of a share in percentage points instead.
 */
export function change(current, previous, { points = false } = {}) {
  if (current == null || previous == null) return { text: DASH, direction: "none" };
  if (points) {
    const diff = (current - previous) * 100;
    const rounded = Math.round(diff * 10) / 10;
    if (rounded === 0) return { text: "no change", direction: "flat" };
    const text = `${rounded > 0 ? "+" : "−"}${nf({ minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(Math.abs(rounded))} pp`;
    return { text, direction: rounded > 0 ? "up" : "down" };
  }
  if (previous === 0) {
    return current === 0 ? { text: "no change", direction: "flat" } : { text: "new", direction: "up" };
  }
  const ratio = (current - previous) / Math.abs(previous);
  const shown = nf({ style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(Math.abs(ratio));
  if (Math.round(ratio * 1000) === 0) return { text: "no change", direction: "flat" };
  return { text: `${ratio > 0 ? "+" : "−"}${shown}`, direction: ratio > 0 ? "up" : "down" };
}

/** A channel's enum name for people: PAID_SEARCH → "Paid search". */
export function channel(name) {
  if (!name) return DASH;
  const words = name.toLowerCase().split("_");
  const text = words.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** An instant in a time zone: "12 Mar 2025, 14:05". */
export function instant(iso, timeZone) {
  const date = new Date(iso);
  return new Intl.DateTimeFormat(undefined, {
    timeZone,
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  }).format(date);
}

/** A day in a time zone: "12 Mar 2025". */
export function day(date, timeZone) {
  return new Intl.DateTimeFormat(undefined, { timeZone, year: "numeric", month: "short", day: "numeric" }).format(date);
}
