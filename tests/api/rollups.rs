//! Rollups against on-the-spot computation: app A answers from the per-day
//! and per-hour rollups (the default), app B with `ROLLUPS=false` folds the
//! derived rows of the whole range. Both get the same generated journeys, A
//! shuffled, partly redelivered, in batches, with reports read in between
//! and identity links arriving last; B in order, once. Then every report,
//! the overview and the time series must answer alike on random ranges
//! whose ends fall inside hours, in random zones, under every model.
//!
//! "Alike": the same rows in the same order, integers and strings equal,
//! floats equal within 1e-9 relative. Sums run in another order over rollups
//! than over rows, so floats may differ in their last bits; that is also why
//! rows whose sort value ties within that tolerance may come in either
//! order (they are compared sorted by key within such a tie).

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// 2023-03-01T00:00:00Z. The data spans the DST changes of 2023 in Europe
/// (Mar 26), North America (Mar 12), Adelaide and Chatham (Apr 2).
const START: i64 = 1_677_628_800;
const DAY: i64 = 86_400;
/// Days of generated traffic after `START`.
const SPAN_DAYS: i64 = 40;

/// An instant as the webhooks and `DateRange` take it, with microseconds.
fn at(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .expect("a generated instant is in chrono's range")
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Pages a visit can land on: paid (with spend), organic, direct, email,
/// referral, AI assistant, and an internal navigation (no touchpoint inside
/// a session).
const LANDINGS: [(&str, Option<&str>); 11] = [
    (
        "https://www.blinkist.com/lp?utm_source=facebook&utm_medium=paid&utm_campaign=spring",
        Some("https://m.facebook.com/"),
    ),
    (
        "https://www.blinkist.com/lp/summer?utm_source=instagram&utm_medium=paid&utm_campaign=summer",
        Some("https://l.instagram.com/"),
    ),
    (
        "https://www.blinkist.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=x1",
        Some("https://www.google.com/"),
    ),
    ("https://www.blinkist.com/pricing?gclid=2", None),
    (
        "https://www.blinkist.com/books/a",
        Some("https://www.bing.com/"),
    ),
    (
        "https://www.blinkist.com/books/b",
        Some("https://www.google.de/"),
    ),
    ("https://www.blinkist.com/", None),
    (
        "https://www.blinkist.com/news?utm_source=newsletter&utm_medium=email&utm_campaign=weekly",
        None,
    ),
    (
        "https://www.blinkist.com/blog",
        Some("https://news.ycombinator.com/"),
    ),
    (
        "https://www.blinkist.com/pricing",
        Some("https://www.blinkist.com/"),
    ),
    (
        "https://www.blinkist.com/books/c",
        Some("https://chatgpt.com/"),
    ),
];

/// Campaigns with spend: (campaign, source, medium).
const SPENDING: [(&str, &str, &str); 4] = [
    ("spring", "facebook", "paid"),
    ("summer", "instagram", "paid"),
    ("brand", "google", "cpc"),
    ("weekly", "newsletter", "email"),
];

/// Gaps between a device's pageviews, in seconds (jittered): inside a
/// session, across the session timeout, across days, across the 7-day
/// lookback.
const GAPS: [i64; 6] = [20, 240, 2_700, 18_000, 2 * DAY, 9 * DAY];

/// Generated journeys, in delivery order for the on-the-spot app.
struct Data {
    pageviews: Vec<Value>,
    events: Vec<Value>,
    /// Second devices logging in after the signup: sent last to A.
    late: Vec<Value>,
    /// Spend as first delivered to A, and as corrected (a superset of keys).
    spend_first: Vec<Value>,
    spend_final: Vec<Value>,
    /// Every signup's instant (µs), to anchor short ranges on data.
    signups: Vec<i64>,
    /// Users with a signup and a second device linked late.
    two_device_converters: Vec<String>,
}

fn generate(seed: u64, users: usize) -> Data {
    let mut rng = Rng(seed);
    let mut d = Data {
        pageviews: Vec::new(),
        events: Vec::new(),
        late: Vec::new(),
        spend_first: Vec::new(),
        spend_final: Vec::new(),
        signups: Vec::new(),
        two_device_converters: Vec::new(),
    };
    let jitter = |rng: &mut Rng| rng.below(60) as i64 * 1_000_000 + rng.below(1_000_000) as i64;
    let pv = |fp: &str, user: Option<&str>, (url, referrer): (&str, Option<&str>), t: i64| json!({ "fingerprint": fp, "user_id": user, "url": url, "referrer_url": referrer, "created_at": at(t) });
    let ev = |name: &str, fp: &str, user: Option<&str>, t: i64| json!({ "name": name, "fingerprint": fp, "user_id": user, "created_at": at(t) });
    for u in 0..users {
        let user = format!("ru{u}");
        let laptop = format!("ru{u}-laptop");
        let mut t = (START + rng.below((SPAN_DAYS - 2) as u64 * DAY as u64) as i64) * 1_000_000
            + jitter(&mut rng);
        let first_seen = t;
        // 0 pageviews: a conversion without touchpoints, "(not set)".
        for _ in 0..rng.below(6) {
            d.pageviews.push(pv(&laptop, None, rng.pick(&LANDINGS), t));
            let gap = rng.pick(&GAPS);
            t += (gap + rng.below(gap as u64 / 2 + 1) as i64) * 1_000_000 + jitter(&mut rng);
        }
        let phone = (rng.below(3) == 0).then(|| format!("ru{u}-phone"));
        if let Some(phone) = &phone {
            // Anonymous visits on the phone, before or around the laptop's.
            let mut p = first_seen - rng.below(10 * DAY as u64) as i64 * 1_000_000;
            for _ in 0..1 + rng.below(3) {
                d.pageviews.push(pv(phone, None, rng.pick(&LANDINGS), p));
                p += rng.pick(&GAPS) * 1_000_000 + jitter(&mut rng);
            }
        }
        let mut signed_up = false;
        match rng.below(6) {
            0 | 1 => {}
            kind => {
                if kind == 2 || kind == 5 {
                    // A trial, sometimes sent before the user has an id.
                    let id = (rng.below(2) == 0).then_some(user.as_str());
                    d.events.push(ev("trial", &laptop, id, t));
                    t += (3_600 + rng.below(3 * DAY as u64) as i64) * 1_000_000;
                }
                if kind != 5 {
                    d.events.push(ev("signup", &laptop, Some(&user), t));
                    d.signups.push(t);
                    signed_up = true;
                }
            }
        }
        if signed_up {
            let mut after = t + (60 + rng.below(DAY as u64) as i64) * 1_000_000;
            for _ in 0..rng.below(3) {
                let landing = rng.pick(&LANDINGS);
                d.pageviews.push(pv(&laptop, Some(&user), landing, after));
                after += rng.pick(&GAPS) * 1_000_000 + jitter(&mut rng);
            }
            if rng.below(5) == 0 {
                d.events.push(ev(
                    "unsubscribe",
                    &laptop,
                    Some(&user),
                    t + rng.below(20 * DAY as u64) as i64 * 1_000_000,
                ));
            }
            if let Some(phone) = &phone {
                let login = t + (3_600 + rng.below(3 * DAY as u64) as i64) * 1_000_000;
                d.late.push(pv(
                    phone,
                    Some(&user),
                    ("https://www.blinkist.com/library", None),
                    login,
                ));
                d.two_device_converters.push(user.clone());
            }
        }
    }
    // Visitors who never convert.
    for v in 0..users / 3 {
        let fp = format!("rv{v}");
        let mut t = (START + rng.below(SPAN_DAYS as u64 * DAY as u64) as i64) * 1_000_000;
        for _ in 0..1 + rng.below(3) {
            d.pageviews.push(pv(&fp, None, rng.pick(&LANDINGS), t));
            t += rng.pick(&GAPS) * 1_000_000 + jitter(&mut rng);
        }
    }
    for (campaign, source, medium) in SPENDING {
        for day in -2..SPAN_DAYS + 3 {
            if rng.below(5) == 0 {
                continue;
            }
            let date = DateTime::<Utc>::from_timestamp(START + day * DAY, 0)
                .unwrap()
                .format("%Y-%m-%d")
                .to_string();
            let row = |cents: u64| {
                json!({ "campaign": campaign, "source": source, "medium": medium, "date": date,
                        "amount": format!("{}.{:02}", cents / 100, cents % 100) })
            };
            let first = rng.below(50_000);
            // A third of the days are corrected later; a few only arrive then.
            let last = if rng.below(3) == 0 {
                rng.below(50_000)
            } else {
                first
            };
            if rng.below(10) != 0 {
                d.spend_first.push(row(first));
            }
            d.spend_final.push(row(last));
        }
    }
    d
}

async fn post(app: &TestApp, path: &str, items: &[Value]) {
    if items.is_empty() {
        return;
    }
    let r = app.post_json(path, &json!(items)).await;
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{path}: {}", r.text().await.unwrap());
}

/// Posts `(path, item)`s in batches of 1–40, each batch's pageviews and
/// events in a random order.
async fn post_in_batches(app: &TestApp, items: &[(&str, Value)], rng: &mut Rng) {
    let mut rest = items;
    while !rest.is_empty() {
        let n = (1 + rng.below(40) as usize).min(rest.len());
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        let mut paths = ["/webhooks/pageviews", "/webhooks/events"];
        rng.shuffle(&mut paths);
        for path in paths {
            let group: Vec<Value> = batch
                .iter()
                .filter(|(p, _)| *p == path)
                .map(|(_, v)| v.clone())
                .collect();
            post(app, path, &group).await;
        }
    }
}

/// Reads a few reports on A, so that rollups exist before later data
/// must correct them.
async fn read_some_reports(app: &TestApp) {
    let range = format!(
        r#"{{from: "{}", to: "{}"}}"#,
        at((START - 3 * DAY) * 1_000_000 + 1),
        at((START + (SPAN_DAYS + 3) * DAY) * 1_000_000 + 7)
    );
    for query in [
        format!("{{ campaigns(range: {range}, model: LINEAR) {{ totalCount nodes {{ conversions visitors spend }} }} }}"),
        format!("{{ landingPages(range: {range}, lookbackDays: 7) {{ totalCount }} }}"),
        format!("{{ overview(range: {range}, lookbackDays: 90) {{ conversions visitors }} }}"),
        format!("{{ timeseries(range: {range}, interval: HOUR, timezone: \"Asia/Kathmandu\", groupBy: CHANNEL) {{ series {{ total }} }} }}"),
    ] {
        app.graphql_ok(&query, json!({})).await;
    }
}

/// A with rollups, B without, both holding the same generated data.
async fn two_apps(seed: u64) -> (TestApp, TestApp, Data) {
    let (a, b) = tokio::join!(
        spawn_app(),
        spawn_app_with(|c| c.attribution.rollups = false)
    );
    let data = generate(seed, 100);
    let mut rng = Rng(seed ^ 0x5eed);

    // B: in order, once.
    let mut pageviews: Vec<Value> = data.pageviews.iter().chain(&data.late).cloned().collect();
    pageviews.sort_by_key(|p| p["created_at"].as_str().unwrap().to_owned());
    let mut events = data.events.clone();
    events.sort_by_key(|e| e["created_at"].as_str().unwrap().to_owned());
    post(&b, "/webhooks/pageviews", &pageviews).await;
    post(&b, "/webhooks/events", &events).await;
    post(&b, "/webhooks/spend", &data.spend_final).await;

    // A: shuffled, a fifth redelivered, in batches, reports read before
    // most of it arrived, the late logins and the spend corrections last.
    let mut stream: Vec<(&str, Value)> = data
        .pageviews
        .iter()
        .map(|p| ("/webhooks/pageviews", p.clone()))
        .chain(data.events.iter().map(|e| ("/webhooks/events", e.clone())))
        .collect();
    let redelivered: Vec<(&str, Value)> = stream
        .iter()
        .filter(|_| rng.below(5) == 0)
        .cloned()
        .collect();
    stream.extend(redelivered);
    rng.shuffle(&mut stream);
    let (early, rest) = stream.split_at(stream.len() / 4);
    post(&a, "/webhooks/spend", &data.spend_first).await;
    post_in_batches(&a, early, &mut rng).await;
    read_some_reports(&a).await;
    let (middle, rest) = rest.split_at(rest.len() / 2);
    post_in_batches(&a, middle, &mut rng).await;
    read_some_reports(&a).await;
    post_in_batches(&a, rest, &mut rng).await;
    read_some_reports(&a).await;
    let mut late: Vec<(&str, Value)> = data
        .late
        .iter()
        .map(|p| ("/webhooks/pageviews", p.clone()))
        .collect();
    late.push(late[0].clone());
    rng.shuffle(&mut late);
    post_in_batches(&a, &late, &mut rng).await;
    post(&a, "/webhooks/spend", &data.spend_final).await;

    assert_eq!(a.counts().await, b.counts().await, "A and B store the same");
    (a, b, data)
}

const MODELS: [&str; 6] = [
    "FIRST_CLICK",
    "LAST_CLICK",
    "LAST_NON_DIRECT_CLICK",
    "LINEAR",
    "POSITION_BASED",
    "TIME_DECAY",
];

const ZONES: [&str; 8] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Adelaide",
    "Pacific/Chatham",
];

const REPORTS: [&str; 4] = ["campaigns", "sources", "channels", "landingPages"];

const ROW_FIELDS: &str = "campaign source medium channel landingPage conversions visitors touchpoints \
    conversionRate trials trialToSignup timeToConvert { avgSeconds medianSeconds minSeconds maxSeconds } \
    avgPageviewsBefore avgPageviewsAfter spend costPerConversion costPerSignup userIds";

const OVERVIEW_FIELDS: &str = "pageviews visitors signups trials trialToSignup trialToSignupRate \
    unsubscribes conversions paidConversions paidShare organicShare directShare";

/// One random question, asked of every report.
#[derive(Debug, Clone)]
struct Case {
    /// Range ends in µs; `None` leaves that end open.
    from: Option<i64>,
    to: Option<i64>,
    model: &'static str,
    zone: &'static str,
    conversion: &'static str,
    lookback: Option<u32>,
    /// `orderBy` field, when not the default (conversions, descending).
    order: Option<(&'static str, &'static str)>,
    group_by: &'static str,
    /// How the range was drawn, for the failure message.
    kind: &'static str,
}

impl Case {
    fn range(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = self.from {
            parts.push(format!("from: \"{}\"", at(f)));
        }
        if let Some(t) = self.to {
            parts.push(format!("to: \"{}\"", at(t)));
        }
        format!("{{{}}}", parts.join(", "))
    }

    /// The arguments every report takes.
    fn common(&self) -> String {
        let mut args = format!(
            "range: {}, model: {}, conversion: \"{}\"",
            self.range(),
            self.model,
            self.conversion
        );
        if let Some(days) = self.lookback {
            args.push_str(&format!(", lookbackDays: {days}"));
        }
        args
    }

    /// Every query of this case, named for the failure message, with how
    /// the rows of a report are ordered (to tolerate near-ties).
    fn queries(&self) -> Vec<(String, String, Option<&'static str>)> {
        let common = self.common();
        let mut out = Vec::new();
        for report in REPORTS {
            let order = match self.order {
                Some((field, direction)) => {
                    format!(", orderBy: {{field: {field}, direction: {direction}}}")
                }
                None => String::new(),
            };
            out.push((
                report.to_owned(),
                format!("{{ r: {report}({common}{order}, first: 500) {{ totalCount pageInfo {{ hasNextPage }} nodes {{ {ROW_FIELDS} }} }} }}"),
                Some(self.order.map_or("CONVERSIONS", |o| o.0)),
            ));
        }
        out.push((
            "overview".to_owned(),
            format!("{{ r: overview({common}) {{ {OVERVIEW_FIELDS} }} }}"),
            None,
        ));
        // An open end reaches now: hourly buckets up to now would be too many.
        let intervals: &[&str] = match (self.from, self.to) {
            (Some(from), Some(to)) if to - from > 14 * DAY * 1_000_000 => &["DAY", "HOUR", "WEEK"],
            (Some(_), Some(_)) => &["DAY", "HOUR"],
            _ => &["DAY"],
        };
        for interval in intervals {
            out.push((
                format!("timeseries {interval}"),
                format!(
                    "{{ r: timeseries({common}, interval: {interval}, timezone: \"{}\", groupBy: {}) {{ timezone interval series {{ key channel total points {{ start end conversions }} }} }} }}",
                    self.zone, self.group_by
                ),
                None,
            ));
        }
        out
    }
}

/// Whether an instant (µs) lies strictly inside an hour.
fn inside_hour(micros: i64) -> bool {
    micros.rem_euclid(3_600_000_000) != 0
}

/// Moves an end off an hour boundary (by 7 s and 1 µs), should it land on one.
fn off_the_hour(micros: i64) -> i64 {
    if inside_hour(micros) {
        micros
    } else {
        micros + 7_000_001
    }
}

/// `n` cases; models, zones and range kinds are dealt round-robin from
/// shuffled lists so that each appears, the rest is drawn at random.
fn cases(seed: u64, n: usize, signups: &[i64]) -> Vec<Case> {
    let mut rng = Rng(seed);
    let mut models = MODELS;
    let mut zones = ZONES;
    rng.shuffle(&mut models);
    rng.shuffle(&mut zones);
    let seconds = |rng: &mut Rng, max: i64| -> i64 {
        rng.below(max as u64) as i64 * 1_000_000 + rng.below(1_000_000) as i64
    };
    (0..n)
        .map(|i| {
            let anchor = rng.pick(signups);
            let (kind, from, to) = match i % 5 {
                // Both ends inside one hour (or two adjacent ones), and
                // one end exactly on a signup: `from` is inclusive, `to`
                // exclusive.
                0 => {
                    let start = anchor - seconds(&mut rng, 1_800);
                    let end = anchor + seconds(&mut rng, 1_800);
                    if rng.below(2) == 0 {
                        ("within an hour, from on a signup", anchor, end)
                    } else {
                        ("within an hour, to on a signup", start, anchor)
                    }
                }
                1 => (
                    "hours",
                    anchor - seconds(&mut rng, 12 * 3_600),
                    anchor + seconds(&mut rng, 12 * 3_600),
                ),
                2 => (
                    "days",
                    anchor - seconds(&mut rng, 5 * DAY),
                    anchor + seconds(&mut rng, 5 * DAY),
                ),
                3 => {
                    let from = (START - 3 * DAY) * 1_000_000 + seconds(&mut rng, 12 * DAY);
                    ("weeks", from, from + seconds(&mut rng, 45 * DAY))
                }
                _ => (
                    "around midnight",
                    (anchor / (DAY * 1_000_000)) * DAY * 1_000_000 - seconds(&mut rng, 7_200),
                    (anchor / (DAY * 1_000_000) + 1 + rng.below(3) as i64) * DAY * 1_000_000
                        + seconds(&mut rng, 7_200),
                ),
            };
            let lookback = match i {
                7 => Some(14), // not materialised: computed on the spot by both
                _ => rng.pick(&[None, None, Some(7), Some(30), Some(90)]),
            };
            let order = match rng.below(8) {
                0 => Some(("VISITORS", "DESC")),
                1 => Some(("CONVERSION_RATE", "ASC")),
                2 => Some(("COST_PER_CONVERSION", "DESC")),
                3 => Some(("TIME_TO_CONVERT", "ASC")),
                4 => Some(("SPEND", "DESC")),
                _ => None,
            };
            Case {
                from: Some(off_the_hour(from)),
                to: Some(off_the_hour(to.max(from + 1))),
                model: models[i % models.len()],
                zone: zones[i % zones.len()],
                conversion: if rng.below(5) == 0 { "trial" } else { "signup" },
                lookback,
                order,
                group_by: rng.pick(&["NONE", "CHANNEL", "SOURCE", "CAMPAIGN"]),
                kind,
            }
        })
        .collect()
}

/// Equal within 1e-9 relative (absolute near zero).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Where `a` and `b` differ: integers, strings, booleans and nulls exactly,
/// floats with [`close`]. Each difference as "path: a vs b".
fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let integers = (x.is_i64() || x.is_u64()) && (y.is_i64() || y.is_u64());
            let same = if integers {
                x == y
            } else {
                close(x.as_f64().unwrap(), y.as_f64().unwrap())
            };
            if !same {
                out.push(format!("{path}: {a} vs {b}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{path}: {} items vs {}", x.len(), y.len()));
            }
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                differences(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ => {
            if a != b {
                out.push(format!("{path}: {a} vs {b}"));
            }
        }
    }
}

/// A row's value of an `orderBy` field, as `sort_rows` reads it.
fn order_value(row: &Value, field: &str) -> Option<f64> {
    let v = match field {
        "CONVERSIONS" => &row["conversions"],
        "VISITORS" => &row["visitors"],
        "CONVERSION_RATE" => &row["conversionRate"],
        "COST_PER_CONVERSION" => &row["costPerConversion"],
        "TIME_TO_CONVERT" => &row["timeToConvert"]["avgSeconds"],
        "SPEND" => {
            return row["spend"]
                .as_str()
                .map(|s| s.parse().expect("spend is a decimal"))
        }
        other => panic!("no order field {other}"),
    };
    v.as_f64()
}

/// The rows with each run of near-tied sort values sorted by key, so two
/// answers whose sums differ in the last bits compare equal.
fn settle_ties(rows: &[Value], field: &str) -> Vec<Value> {
    let key = |r: &Value| {
        json!([
            r["campaign"],
            r["source"],
            r["medium"],
            r["channel"],
            r["landingPage"]
        ])
        .to_string()
    };
    let tied = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => close(x, y),
        (None, None) => true,
        _ => false,
    };
    let mut out: Vec<Value> = Vec::with_capacity(rows.len());
    let mut run: Vec<Value> = Vec::new();
    for row in rows {
        if let Some(last) = run.last() {
            if !tied(order_value(last, field), order_value(row, field)) {
                run.sort_by_key(key);
                out.append(&mut run);
            }
        }
        run.push(row.clone());
    }
    run.sort_by_key(key);
    out.append(&mut run);
    out
}

/// The answer to compare: a report's rows with near-ties settled.
fn comparable(answer: &Value, order: Option<&str>) -> Value {
    let mut answer = answer.clone();
    if let Some(field) = order {
        let rows = answer["nodes"].as_array().unwrap().clone();
        answer["nodes"] = Value::Array(settle_ties(&rows, field));
    }
    answer
}

/// What a case's answers (from B, the reference) contained, to show the
/// comparison is not between empty answers.
#[derive(Default, Debug)]
struct Seen {
    rows: usize,
    converting_rows: usize,
    visited_rows: usize,
    series_total: f64,
}

/// Asks A and B every query of `case`; returns the differences, each
/// prefixed with the case, and what B's answers held.
async fn compare_case(a: &TestApp, b: &TestApp, case: &Case) -> (Vec<String>, Seen) {
    let mut problems = Vec::new();
    let mut seen = Seen::default();
    for (name, query, order) in case.queries() {
        let (ra, rb) = tokio::join!(a.graphql(&query, json!({})), b.graphql(&query, json!({})));
        assert!(
            rb.get("errors").is_none(),
            "B refused {name} in {case:?}: {rb}\n{query}"
        );
        if ra.get("errors").is_some() {
            problems.push(format!("{case:?} {name}: A answered {ra}"));
            continue;
        }
        let (ra, rb) = (&ra["data"]["r"], &rb["data"]["r"]);
        if let Some(nodes) = rb["nodes"].as_array() {
            assert_eq!(rb["pageInfo"]["hasNextPage"], false, "one page holds all");
            seen.rows += nodes.len();
            seen.converting_rows += nodes
                .iter()
                .filter(|r| r["conversions"].as_f64() > Some(0.0))
                .count();
            seen.visited_rows += nodes
                .iter()
                .filter(|r| r["visitors"].as_u64() > Some(0))
                .count();
        }
        if let Some(series) = rb["series"].as_array() {
            seen.series_total += series
                .iter()
                .map(|s| s["total"].as_f64().unwrap())
                .sum::<f64>();
        }
        let mut found = Vec::new();
        differences(
            "",
            &comparable(ra, order),
            &comparable(rb, order),
            &mut found,
        );
        if !found.is_empty() {
            let shown: Vec<&String> = found.iter().take(12).collect();
            problems.push(format!(
                "{name} with range {} ({}), zone {}, model {}, conversion {}, lookback {:?}, order {:?}, groupBy {}: {} difference(s) (A with rollups vs B without):\n  {}\nquery: {query}\nA: {}\nB: {}",
                case.range(),
                case.kind,
                case.zone,
                case.model,
                case.conversion,
                case.lookback,
                case.order,
                case.group_by,
                found.len(),
                shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
                head(ra),
                head(rb),
            ));
        }
    }
    (problems, seen)
}

/// An answer for a failure message, cut short (an hourly series is long).
fn head(answer: &Value) -> String {
    let text = answer.to_string();
    match text.char_indices().nth(3_000) {
        Some((cut, _)) => format!("{} …", &text[..cut]),
        None => text,
    }
}

/// Runs every case; panics with every difference found.
async fn compare_all(a: &TestApp, b: &TestApp, cases: &[Case]) -> Vec<Seen> {
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for case in cases {
        let (p, s) = compare_case(a, b, case).await;
        problems.extend(p);
        seen.push(s);
    }
    assert!(
        problems.is_empty(),
        "{} answer(s) differ between rollups and on-the-spot computation:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    seen
}

#[tokio::test]
async fn rollups_answer_every_report_as_on_the_spot_computation_does_after_shuffled_duplicated_and_late_data(
) {
    let (a, b, data) = two_apps(0x0b1c_2d3e_4f50).await;

    // The data is not trivial: conversions, trials, unsubscribes, visitors,
    // spend, late-linked second devices.
    let everything = Case {
        from: Some((START - 20 * DAY) * 1_000_000 + 1_234_567),
        to: Some((START + (SPAN_DAYS + 30) * DAY) * 1_000_000 + 891),
        model: "LAST_CLICK",
        zone: "UTC",
        conversion: "signup",
        lookback: None,
        order: None,
        group_by: "CHANNEL",
        kind: "everything",
    };
    let overview = b
        .graphql_ok(
            &format!(
                "{{ overview({}) {{ {OVERVIEW_FIELDS} }} }}",
                everything.common()
            ),
            json!({}),
        )
        .await;
    let o = &overview["overview"];
    assert!(o["signups"].as_u64().unwrap() >= 30, "{o}");
    assert!(o["trials"].as_u64().unwrap() >= 10, "{o}");
    assert!(o["unsubscribes"].as_u64().unwrap() >= 3, "{o}");
    assert!(o["visitors"].as_u64().unwrap() >= 90, "{o}");
    assert!(o["paidConversions"].as_f64().unwrap() > 0.0, "{o}");
    assert!(data.late.len() >= 5, "{} late logins", data.late.len());
    let spend = b
        .graphql_ok(
            &format!(
                "{{ campaigns({}) {{ nodes {{ spend }} }} }}",
                everything.common()
            ),
            json!({}),
        )
        .await;
    assert!(spend["campaigns"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["spend"].as_str().is_some_and(|s| s != "0.00")));

    // Open ends too: from the start of time, and up to now.
    let mut all = vec![
        everything.clone(),
        Case {
            from: None,
            kind: "open from",
            model: "POSITION_BASED",
            ..everything.clone()
        },
        Case {
            to: None,
            kind: "open to",
            model: "TIME_DECAY",
            lookback: Some(7),
            ..everything.clone()
        },
    ];
    let random = cases(0x7e57, 40, &data.signups);
    assert!(random
        .iter()
        .all(|c| inside_hour(c.from.unwrap()) && inside_hour(c.to.unwrap())));
    assert!(
        random
            .iter()
            .filter(|c| c.to.unwrap() - c.from.unwrap() < 3_600_000_000)
            .count()
            >= 3,
        "several ranges shorter than an hour"
    );
    for (what, present) in [
        (
            "every model",
            MODELS.iter().all(|m| random.iter().any(|c| c.model == *m)),
        ),
        (
            "every zone",
            ZONES.iter().all(|z| random.iter().any(|c| c.zone == *z)),
        ),
        (
            "lookbacks 7, 90 and 14",
            [7, 90, 14]
                .iter()
                .all(|d| random.iter().any(|c| c.lookback == Some(*d))),
        ),
    ] {
        assert!(present, "the cases cover {what}");
    }
    all.extend(random);

    let seen = compare_all(&a, &b, &all).await;
    let converting = seen.iter().filter(|s| s.converting_rows > 0).count();
    assert!(
        converting * 3 >= seen.len() * 2,
        "most cases credit conversions: {seen:?}"
    );
    assert!(
        seen.iter().filter(|s| s.visited_rows > 0).count() * 3 >= seen.len() * 2,
        "most cases count visitors: {seen:?}"
    );
    assert!(
        seen.iter().filter(|s| s.series_total > 0.0).count() * 2 >= seen.len(),
        "time series carry conversions: {seen:?}"
    );
    // The short ranges are not all empty either.
    assert!(
        all.iter()
            .zip(&seen)
            .filter(|(c, s)| c.kind.starts_with("within") && s.converting_rows > 0)
            .count()
            >= 1,
        "a range inside an hour credits a conversion: {seen:?}"
    );
}

/// Signups over all the data, by B's overview.
async fn signups(app: &TestApp) -> u64 {
    let range = format!(
        r#"{{from: "{}", to: "{}"}}"#,
        at((START - 20 * DAY) * 1_000_000),
        at((START + (SPAN_DAYS + 30) * DAY) * 1_000_000)
    );
    app.graphql_ok(
        &format!("{{ overview(range: {range}) {{ signups }} }}"),
        json!({}),
    )
    .await["overview"]["signups"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn an_erasure_keeps_rollups_equal_to_on_the_spot_computation() {
    let (a, b, data) = two_apps(0x00e5_a5e0).await;
    let user = data
        .two_device_converters
        .first()
        .expect("a user with a late-linked second device signed up")
        .clone();
    let cases = cases(0xe5a5e, 8, &data.signups);
    // Rollups covering the user exist before the erasure.
    compare_all(&a, &b, &cases[..2]).await;
    let before = signups(&b).await;
    let erase =
        "mutation($id: ID!) { eraseUser(id: $id) { pageviews events identityLinks fingerprints } }";
    let erased_a = a.graphql_ok(erase, json!({ "id": user })).await;
    let erased_b = b.graphql_ok(erase, json!({ "id": user })).await;
    assert_eq!(erased_a, erased_b, "the same erased on both");
    assert_eq!(
        erased_b["eraseUser"]["fingerprints"], 2,
        "laptop and phone: {erased_b}"
    );
    assert!(signups(&b).await < before, "the user's signup is gone");
    compare_all(&a, &b, &cases).await;
}

#[test]
fn the_comparison_catches_a_difference_beyond_rounding_and_settles_only_near_ties() {
    let mut found = Vec::new();
    differences(
        "",
        &json!({ "x": 1.0, "n": 3, "s": "0.10", "z": null }),
        &json!({ "x": 1.0 + 1e-12, "n": 3, "s": "0.10", "z": null }),
        &mut found,
    );
    assert!(found.is_empty(), "{found:?}");
    for (a, b) in [
        (json!({ "x": 1.0 }), json!({ "x": 1.000_001 })),
        (json!({ "n": 3 }), json!({ "n": 4 })),
        (json!({ "s": "0.10" }), json!({ "s": "0.11" })),
        (json!({ "z": null }), json!({ "z": 0.0 })),
        (json!([1, 2]), json!([1, 2, 3])),
        (json!({ "t": { "m": 5 } }), json!({})),
    ] {
        let mut found = Vec::new();
        differences("", &a, &b, &mut found);
        assert_eq!(found.len(), 1, "{a} vs {b}: {found:?}");
    }

    let row =
        |source: &str, conversions: f64| json!({ "source": source, "conversions": conversions });
    // Ties within rounding may come in either order …
    let ulp_apart = [row("b", 1.0 / 3.0 + 1e-16), row("a", 1.0 / 3.0)];
    let swapped = [row("a", 1.0 / 3.0), row("b", 1.0 / 3.0 + 1e-16)];
    let (x, y) = (
        settle_ties(&ulp_apart, "CONVERSIONS"),
        settle_ties(&swapped, "CONVERSIONS"),
    );
    let mut found = Vec::new();
    differences("", &json!(x), &json!(y), &mut found);
    assert!(found.is_empty(), "{found:?}");
    // … rows that really differ may not.
    let apart = [row("b", 2.0), row("a", 1.0)];
    let wrong = [row("a", 1.0), row("b", 2.0)];
    let mut found = Vec::new();
    differences(
        "",
        &json!(settle_ties(&apart, "CONVERSIONS")),
        &json!(settle_ties(&wrong, "CONVERSIONS")),
        &mut found,
    );
    assert!(!found.is_empty());
}
