//! Reports: hand-computed rows on a small journey set, and a property test on
//! generated journeys — every report's rows sum to the conversions in range,
//! and each row equals the sum of the per-conversion credits of the
//! `conversions` query.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, TestApp};

fn pv(fp: &str, user: Option<&str>, url: &str, referrer: Option<&str>, at: &str) -> Value {
    json!({ "fingerprint": fp, "user_id": user, "url": url, "referrer_url": referrer, "created_at": at })
}

fn ev(name: &str, fp: &str, user: Option<&str>, at: &str) -> Value {
    json!({ "name": name, "fingerprint": fp, "user_id": user, "created_at": at })
}

const SPRING: &str =
    "https://www.blinkist.com/lp?utm_source=facebook&utm_medium=paid&utm_campaign=spring";

/// u1: facebook ad → signup an hour later. u2: google → trial → direct visit
/// two days later → signup. u3: a signup with no pageviews. v4: the facebook
/// ad, no conversion.
async fn small_journey_set(app: &TestApp) {
    let pageviews = json!([
        pv(
            "f1",
            None,
            SPRING,
            Some("https://www.facebook.com/"),
            "2023-01-02T10:00:00Z"
        ),
        pv(
            "f1",
            None,
            "https://www.blinkist.com/pricing",
            Some("https://www.blinkist.com/lp"),
            "2023-01-02T10:10:00Z"
        ),
        pv(
            "f2",
            None,
            "https://www.blinkist.com/books/x",
            Some("https://www.google.com/"),
            "2023-01-03T09:00:00Z"
        ),
        pv(
            "f2",
            None,
            "https://www.blinkist.com/",
            None,
            "2023-01-05T09:00:00Z"
        ),
        pv(
            "f4",
            None,
            SPRING,
            Some("https://www.facebook.com/"),
            "2023-01-06T12:00:00Z"
        ),
        pv(
            "f1",
            Some("u1"),
            "https://www.blinkist.com/library",
            None,
            "2023-01-07T12:00:00Z"
        ),
    ]);
    let events = json!([
        ev("signup", "f1", Some("u1"), "2023-01-02T11:00:00Z"),
        ev("trial", "f2", Some("u2"), "2023-01-03T09:30:00Z"),
        ev("signup", "f2", Some("u2"), "2023-01-05T09:30:00Z"),
        ev("signup", "f3", Some("u3"), "2023-01-08T00:00:00Z"),
        ev("unsubscribe", "f1", Some("u1"), "2023-01-20T00:00:00Z"),
    ]);
    let spend = json!([
        { "campaign": "spring", "source": "facebook", "medium": "paid", "date": "2023-01-01", "amount": "100.00" },
        { "campaign": "spring", "source": "facebook", "medium": "paid", "date": "2023-01-02", "amount": "50.50" },
        { "campaign": "spring", "source": "facebook", "medium": "paid", "date": "2023-02-01", "amount": "999" },
    ]);
    for (path, body) in [
        ("/webhooks/pageviews", pageviews),
        ("/webhooks/events", events),
        ("/webhooks/spend", spend),
    ] {
        app.post_ok(path, &body).await;
    }
}

const JANUARY: &str = r#"{from: "2023-01-01T00:00:00Z", to: "2023-02-01T00:00:00Z"}"#;

const ROW_FIELDS: &str = "campaign source medium channel landingPage conversions visitors touchpoints conversionRate trials trialToSignup
    timeToConvert { avgSeconds medianSeconds minSeconds maxSeconds } avgPageviewsBefore avgPageviewsAfter spend costPerConversion costPerSignup userIds";

#[tokio::test]
async fn campaign_rows_are_computed_by_hand_on_a_small_journey_set() {
    let app = spawn_app().await;
    small_journey_set(&app).await;
    let query =
        format!("{{ campaigns(range: {JANUARY}) {{ totalCount nodes {{ {ROW_FIELDS} }} }} }}");
    let data = app.graphql_ok(&query, json!({})).await;
    let rows = data["campaigns"]["nodes"].as_array().unwrap();
    assert_eq!(data["campaigns"]["totalCount"], 4);
    let row = |source: &str| {
        rows.iter()
            .find(|r| r["source"] == source)
            .unwrap_or_else(|| panic!("no {source} row in {rows:?}"))
    };

    let fb = row("facebook");
    assert_eq!(fb["campaign"], "spring");
    assert_eq!(fb["medium"], "paid");
    assert_eq!(fb["channel"], "PAID_SOCIAL");
    assert_eq!(fb["conversions"], 1.0);
    assert_eq!(
        fb["visitors"], 2,
        "u1's laptop and the visitor who did not convert"
    );
    assert_eq!(fb["touchpoints"], 2);
    assert_eq!(fb["conversionRate"], 0.5);
    assert_eq!(
        fb["timeToConvert"],
        json!({ "avgSeconds": 3600.0, "medianSeconds": 3600.0, "minSeconds": 3600, "maxSeconds": 3600 })
    );
    assert_eq!(
        fb["avgPageviewsBefore"], 2.0,
        "the landing page and the pricing page"
    );
    assert_eq!(
        fb["avgPageviewsAfter"], 1.0,
        "the library, after logging in"
    );
    assert_eq!(fb["spend"], "150.50", "January's spend only, exact");
    assert_eq!(fb["costPerConversion"], 150.5);
    assert_eq!(fb["costPerSignup"], 150.5);
    assert_eq!(fb["userIds"], json!(["u1"]));

    let direct = row("(direct)");
    assert_eq!(direct["campaign"], Value::Null);
    assert_eq!(
        (
            direct["conversions"].as_f64(),
            direct["trialToSignup"].as_f64()
        ),
        (Some(1.0), Some(1.0))
    );
    assert_eq!(direct["channel"], "DIRECT");
    assert_eq!(direct["spend"], "0.00");
    assert_eq!(
        direct["costPerConversion"], 0.0,
        "no spend booked: free conversions"
    );

    let google = row("google");
    assert_eq!(
        (google["conversions"].as_f64(), google["trials"].as_f64()),
        (Some(0.0), Some(1.0))
    );
    assert_eq!(google["visitors"], 1);
    assert_eq!(google["conversionRate"], 0.0);
    assert_eq!(google["timeToConvert"], Value::Null);

    let not_set = row("(not set)");
    assert_eq!(not_set["conversions"], 1.0);
    assert_eq!(not_set["channel"], "UNASSIGNED");
    assert_eq!(not_set["visitors"], 0);
    assert_eq!(not_set["conversionRate"], Value::Null);
    assert_eq!(not_set["userIds"], json!(["u3"]));

    // Default order: conversions descending, ties by key.
    let order: Vec<f64> = rows
        .iter()
        .map(|r| r["conversions"].as_f64().unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]), "{order:?}");
}

#[tokio::test]
async fn sources_channels_and_landing_pages_split_the_same_conversions() {
    let app = spawn_app().await;
    small_journey_set(&app).await;
    let data = app
        .graphql_ok(
            &format!(
                r#"{{
                  channels(range: {JANUARY}, model: FIRST_CLICK) {{ nodes {{ channel conversions spend }} }}
                  landingPages(range: {JANUARY}, model: FIRST_CLICK, orderBy: {{field: CONVERSIONS, direction: DESC}}) {{ nodes {{ landingPage conversions spend }} }}
                  sources(range: {JANUARY}, model: LINEAR, first: 2) {{ totalCount nodes {{ source conversions }} pageInfo {{ hasNextPage endCursor }} }}
                }}"#
            ),
            json!({}),
        )
        .await;
    let channels: BTreeMap<String, f64> = data["channels"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["channel"].as_str().unwrap().to_owned(),
                r["conversions"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(channels["PAID_SOCIAL"], 1.0);
    assert_eq!(
        channels["ORGANIC_SEARCH"], 1.0,
        "u2's first click was google"
    );
    assert_eq!(channels["UNASSIGNED"], 1.0);
    let paid_social = data["channels"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["channel"] == "PAID_SOCIAL")
        .unwrap();
    assert_eq!(paid_social["spend"], "150.50");
    let pages = data["landingPages"]["nodes"].as_array().unwrap();
    assert!(pages.iter().all(|p| p["spend"].is_null()));
    assert!(pages
        .iter()
        .any(|p| p["landingPage"] == "/lp" && p["conversions"] == 1.0));
    assert!(pages.iter().any(|p| p["landingPage"] == "(not set)"));

    // LINEAR: u2's signup splits between google and direct.
    assert_eq!(data["sources"]["totalCount"], 4);
    assert_eq!(data["sources"]["pageInfo"]["hasNextPage"], true);
    let after = data["sources"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let rest = app
        .graphql_ok(
            &format!(r#"query($after: String) {{ sources(range: {JANUARY}, model: LINEAR, first: 2, after: $after) {{ nodes {{ source conversions }} pageInfo {{ hasNextPage }} }} }}"#),
            json!({ "after": after }),
        )
        .await;
    let mut all: Vec<Value> = data["sources"]["nodes"].as_array().unwrap().clone();
    all.extend(rest["sources"]["nodes"].as_array().unwrap().iter().cloned());
    let by_source: BTreeMap<String, f64> = all
        .iter()
        .map(|r| {
            (
                r["source"].as_str().unwrap().to_owned(),
                r["conversions"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_source.len(), 4, "pages do not overlap: {all:?}");
    assert_eq!(by_source["google"], 0.5);
    assert_eq!(by_source["(direct)"], 0.5);
    assert_eq!(by_source.values().sum::<f64>(), 3.0);
}

#[tokio::test]
async fn the_overview_counts_traffic_and_splits_signups_into_paid_organic_and_direct() {
    let app = spawn_app().await;
    small_journey_set(&app).await;
    let data = app
        .graphql_ok(
            &format!(
                "{{ overview(range: {JANUARY}) {{ pageviews visitors signups trials trialToSignup trialToSignupRate unsubscribes conversions paidConversions paidShare organicShare directShare }} }}"
            ),
            json!({}),
        )
        .await;
    let o = &data["overview"];
    assert_eq!(o["pageviews"], 6);
    assert_eq!(o["visitors"], 3);
    assert_eq!(o["signups"], 3);
    assert_eq!(o["trials"], 1);
    assert_eq!(o["trialToSignup"], 1);
    assert_eq!(o["trialToSignupRate"], 1.0);
    assert_eq!(o["unsubscribes"], 1);
    assert_eq!(o["paidConversions"], 1.0);
    assert_eq!(o["paidShare"], 1.0 / 3.0);
    assert_eq!(o["organicShare"], 0.0);
    assert_eq!(o["directShare"], 1.0 / 3.0);
}

#[tokio::test]
async fn the_daily_timeseries_has_every_bucket_in_the_requested_zone() {
    let app = spawn_app().await;
    small_journey_set(&app).await;
    let data = app
        .graphql_ok(
            r#"{ timeseries(range: {from: "2023-01-01T00:00:00Z", to: "2023-01-10T00:00:00Z"}, interval: DAY, timezone: "America/New_York", groupBy: CHANNEL) {
                timezone series { channel total points { start conversions } } } }"#,
            json!({}),
        )
        .await;
    let series = data["timeseries"]["series"].as_array().unwrap();
    let total: f64 = series.iter().map(|s| s["total"].as_f64().unwrap()).sum();
    assert_eq!(total, 3.0);
    for s in series {
        let points = s["points"].as_array().unwrap();
        assert_eq!(
            points.len(),
            10,
            "Dec 31 (New York) … Jan 9, empty days included"
        );
        assert_eq!(points[0]["start"], "2022-12-31T05:00:00.000000Z");
    }
    let body = app
        .graphql(
            r#"{ timeseries(timezone: "Mars/Olympus") { timezone } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

// ---------------------------------------------------------------------------
// Property test on generated journeys.

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const LANDINGS: [(&str, Option<&str>); 6] = [
    (SPRING, Some("https://m.facebook.com/")),
    ("https://www.blinkist.com/?gclid=1", None),
    (
        "https://www.blinkist.com/books/a",
        Some("https://www.bing.com/"),
    ),
    ("https://www.blinkist.com/", None),
    (
        "https://www.blinkist.com/?utm_source=newsletter&utm_medium=email&utm_campaign=weekly",
        None,
    ),
    (
        "https://www.blinkist.com/blog",
        Some("https://news.ycombinator.com/"),
    ),
];

async fn generated(app: &TestApp, seed: u64, users: usize) {
    let mut rng = Rng(seed);
    let mut pageviews = Vec::new();
    let mut events = Vec::new();
    for u in 0..users {
        let fp = format!("p{u}");
        let user = format!("pu{u}");
        let mut minute = rng.below(60 * 24 * 50) as i64;
        let at = |m: i64| {
            (chrono::DateTime::from_timestamp(1_672_531_200, 0).unwrap()
                + chrono::Duration::minutes(m))
            .to_rfc3339()
        };
        for _ in 0..rng.below(6) {
            let (url, referrer) = LANDINGS[rng.below(LANDINGS.len() as u64) as usize];
            pageviews.push(pv(&fp, None, url, referrer, &at(minute)));
            minute += [5, 40, 60 * 24 * 2][rng.below(3) as usize];
        }
        if rng.below(3) == 0 {
            events.push(ev("trial", &fp, Some(&user), &at(minute)));
            minute += 60;
        }
        if rng.below(3) != 0 {
            events.push(ev("signup", &fp, Some(&user), &at(minute)));
        }
    }
    app.post_json("/webhooks/pageviews", &json!(pageviews))
        .await;
    app.post_json("/webhooks/events", &json!(events)).await;
}

/// Per-conversion credits from the `conversions` query, summed per key.
async fn credits_by_key(
    app: &TestApp,
    range: &str,
    model: &str,
    key: fn(&Value) -> String,
) -> (u64, BTreeMap<String, f64>) {
    let query = format!(
        r#"{{ conversions(range: {range}, first: 500) {{ totalCount nodes {{ attribution {{ credits(model: {model}) {{ weight touchpoint {{ source medium campaign channel landingPage }} }} }} }} }} }}"#
    );
    let data = app.graphql_ok(&query, json!({})).await;
    let mut sums = BTreeMap::new();
    for node in data["conversions"]["nodes"].as_array().unwrap() {
        let credits = node["attribution"]["credits"].as_array().unwrap();
        if credits.is_empty() {
            let not_set = json!({ "source": "(not set)", "medium": "(not set)", "campaign": null, "channel": "UNASSIGNED", "landingPage": "(not set)" });
            *sums.entry(key(&not_set)).or_insert(0.0) += 1.0;
        }
        for c in credits {
            *sums.entry(key(&c["touchpoint"])).or_insert(0.0) += c["weight"].as_f64().unwrap();
        }
    }
    (data["conversions"]["totalCount"].as_u64().unwrap(), sums)
}

/// How a report row (or a touchpoint) maps to its key.
type KeyFn = fn(&Value) -> String;

fn campaign_key(v: &Value) -> String {
    format!(
        "{}|{}|{}",
        v["campaign"],
        v["source"].as_str().unwrap(),
        v["medium"].as_str().unwrap()
    )
}
fn source_key(v: &Value) -> String {
    v["source"].as_str().unwrap().to_owned()
}
fn channel_key(v: &Value) -> String {
    v["channel"].as_str().unwrap().to_owned()
}
fn landing_key(v: &Value) -> String {
    v["landingPage"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_report_sums_to_the_conversions_and_each_row_to_its_credits() {
    let app = spawn_app().await;
    generated(&app, 0xfeed, 80).await;
    let ranges = [
        r#"{from: "2023-01-01T00:00:00Z", to: "2023-03-01T00:00:00Z"}"#,
        r#"{from: "2023-01-10T00:00:00Z", to: "2023-01-25T00:00:00Z"}"#,
        r#"{from: "2023-02-03T12:00:00Z", to: "2023-02-20T00:00:00Z"}"#,
    ];
    let reports: [(&str, &str, KeyFn); 4] = [
        ("campaigns", "campaign source medium", campaign_key),
        ("sources", "source", source_key),
        ("channels", "channel", channel_key),
        ("landingPages", "landingPage", landing_key),
    ];
    for range in ranges {
        for model in [
            "FIRST_CLICK",
            "LAST_CLICK",
            "LAST_NON_DIRECT_CLICK",
            "LINEAR",
            "POSITION_BASED",
            "TIME_DECAY",
        ] {
            for (report, fields, key) in reports {
                let (total, expected) = credits_by_key(&app, range, model, key).await;
                let query = format!("{{ {report}(range: {range}, model: {model}, first: 500) {{ nodes {{ {fields} conversions }} }} }}");
                let data = app.graphql_ok(&query, json!({})).await;
                let rows = data[report]["nodes"].as_array().unwrap();
                let sum: f64 = rows
                    .iter()
                    .map(|r| r["conversions"].as_f64().unwrap())
                    .sum();
                assert!(
                    (sum - total as f64).abs() < 1e-9,
                    "{report} {model} {range}: rows sum to {sum}, {total} conversions"
                );
                for row in rows {
                    let got = row["conversions"].as_f64().unwrap();
                    let want = expected.get(&key(row)).copied().unwrap_or(0.0);
                    assert!(
                        (got - want).abs() < 1e-9,
                        "{report} {model} {range} {}: {got} vs {want}",
                        key(row)
                    );
                }
                assert!(
                    expected.keys().all(|k| rows.iter().any(|r| &key(r) == k)),
                    "{report}: a credited key has no row"
                );
            }
        }
    }
}
