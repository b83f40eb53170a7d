//! Attribution through the API: identity stitching, touchpoints, models,
//! conversions; order independence; equality with the pure engine computing
//! from scratch; and a fixed number of SQL statements per page.

use chrono::{DateTime, Duration, Utc};
use growth_analytics::attribution::{self, EventFact, Model, PageviewFact, Settings};
use growth_analytics::domain::{NewPageview, RawPageview};
use growth_analytics::ingest::classify::classify;
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, TestApp};

fn pv(fp: &str, user: Option<&str>, url: &str, referrer: Option<&str>, at: &str) -> Value {
    json!({ "fingerprint": fp, "user_id": user, "url": url, "referrer_url": referrer, "created_at": at })
}

fn ev(name: &str, fp: &str, user: Option<&str>, at: &str) -> Value {
    json!({ "name": name, "fingerprint": fp, "user_id": user, "created_at": at })
}

async fn send(app: &TestApp, pageviews: &[Value], events: &[Value]) {
    if !pageviews.is_empty() {
        let r = app
            .post_json("/webhooks/pageviews", &json!(pageviews))
            .await;
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    }
    if !events.is_empty() {
        let r = app.post_json("/webhooks/events", &json!(events)).await;
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    }
}

const FB_AD: &str =
    "https://www.blinkist.com/en/lp?utm_source=facebook&utm_medium=paid&utm_campaign=spring";

/// The reference journey: a paid-social first click on the laptop, organic
/// search three days later on the phone, a direct visit a day later, a signup
/// an hour after that; the phone is linked to the user only four days after
/// the signup, by a logged-in pageview.
fn reference_journey() -> (Vec<Value>, Vec<Value>) {
    let pageviews = vec![
        pv(
            "laptop",
            None,
            FB_AD,
            Some("https://www.facebook.com/"),
            "2023-01-01T10:00:00Z",
        ),
        pv(
            "laptop",
            None,
            "https://www.blinkist.com/en/pricing",
            Some("https://www.blinkist.com/en/lp"),
            "2023-01-01T10:05:00Z",
        ),
        pv(
            "phone",
            None,
            "https://www.blinkist.com/en/books/x",
            Some("https://www.google.com/"),
            "2023-01-04T10:00:00Z",
        ),
        pv(
            "laptop",
            None,
            "https://www.blinkist.com/en",
            None,
            "2023-01-05T10:00:00Z",
        ),
        pv(
            "phone",
            Some("u1"),
            "https://www.blinkist.com/en/library",
            None,
            "2023-01-09T10:00:00Z",
        ),
    ];
    let events = vec![ev("signup", "laptop", Some("u1"), "2023-01-05T11:00:00Z")];
    (pageviews, events)
}

const USER_ATTRIBUTION: &str = r#"query($id: ID!, $lookback: Int) {
  user(id: $id) {
    id fingerprints firstSeenAt
    attribution(lookbackDays: $lookback) {
      firstClick { source channel } lastClick { source channel } lastNonDirectClick { source channel }
      touchpoints { at fingerprint source medium campaign channel landingPage }
      firstClickCredits: credits(model: FIRST_CLICK) { weight touchpoint { source } }
      lastClickCredits: credits(model: LAST_CLICK) { weight touchpoint { source } }
      lndc: credits(model: LAST_NON_DIRECT_CLICK) { weight touchpoint { source } }
      linear: credits(model: LINEAR) { weight }
      position: credits(model: POSITION_BASED) { weight }
      decay: credits(model: TIME_DECAY) { weight }
    }
    conversions { name at fromTrial timeToConvertSeconds pageviewsBefore pageviewsAfter }
  }
}"#;

fn weights(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["weight"].as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_paid_social_first_click_then_search_then_direct_is_credited_by_every_model() {
    let app = spawn_app().await;
    let (pageviews, events) = reference_journey();
    send(&app, &pageviews, &events).await;
    let data = app
        .graphql_ok(USER_ATTRIBUTION, json!({ "id": "u1" }))
        .await;
    let user = &data["user"];
    assert_eq!(user["fingerprints"], json!(["laptop", "phone"]));
    assert_eq!(user["firstSeenAt"], "2023-01-05T11:00:00.000000Z");
    let a = &user["attribution"];
    assert_eq!(
        a["firstClick"],
        json!({ "source": "facebook", "channel": "PAID_SOCIAL" })
    );
    assert_eq!(
        a["lastClick"],
        json!({ "source": "(direct)", "channel": "DIRECT" })
    );
    assert_eq!(
        a["lastNonDirectClick"],
        json!({ "source": "google", "channel": "ORGANIC_SEARCH" })
    );
    let sources: Vec<&str> = a["touchpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        ["facebook", "google", "(direct)"],
        "internal navigation is not a touchpoint"
    );
    assert_eq!(a["touchpoints"][0]["campaign"], "spring");
    assert_eq!(a["touchpoints"][0]["landingPage"], "/en/lp");
    assert_eq!(
        a["touchpoints"][1]["fingerprint"], "phone",
        "the phone counts although linked after the signup"
    );

    assert_eq!(
        a["firstClickCredits"],
        json!([{ "weight": 1.0, "touchpoint": { "source": "facebook" } }])
    );
    assert_eq!(
        a["lastClickCredits"],
        json!([{ "weight": 1.0, "touchpoint": { "source": "(direct)" } }])
    );
    assert_eq!(
        a["lndc"],
        json!([{ "weight": 1.0, "touchpoint": { "source": "google" } }])
    );
    let close = |got: Vec<f64>, want: [f64; 3]| {
        assert_eq!(got.len(), 3);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
        }
        assert_eq!(got.iter().sum::<f64>(), 1.0);
    };
    close(weights(&a["linear"]), [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
    close(weights(&a["position"]), [0.4, 0.2, 0.4]);
    // Ages 97 h, 25 h, 1 h; weight 2^(-age/168 h), normalised.
    let raw = [97.0_f64, 25.0, 1.0].map(|h| 2f64.powf(-h / 168.0));
    let sum: f64 = raw.iter().sum();
    close(weights(&a["decay"]), raw.map(|r| r / sum));

    assert_eq!(
        user["conversions"],
        json!([{ "name": "signup", "at": "2023-01-05T11:00:00.000000Z", "fromTrial": false,
                 "timeToConvertSeconds": 4 * 86400 + 3600, "pageviewsBefore": 4, "pageviewsAfter": 1 }])
    );
}

#[tokio::test]
async fn a_late_login_on_a_second_device_re_attributes_the_signup() {
    let app = spawn_app().await;
    let (pageviews, events) = reference_journey();
    // Everything but the phone's logged-in pageview.
    send(&app, &pageviews[..4], &events).await;
    let before = app
        .graphql_ok(USER_ATTRIBUTION, json!({ "id": "u1" }))
        .await;
    assert_eq!(before["user"]["fingerprints"], json!(["laptop"]));
    assert_eq!(
        before["user"]["attribution"]["lastNonDirectClick"]["source"],
        "facebook"
    );

    send(&app, &pageviews[4..], &[]).await;
    let after = app
        .graphql_ok(USER_ATTRIBUTION, json!({ "id": "u1" }))
        .await;
    assert_eq!(after["user"]["fingerprints"], json!(["laptop", "phone"]));
    assert_eq!(
        after["user"]["attribution"]["lastNonDirectClick"]["source"],
        "google"
    );
}

#[tokio::test]
async fn a_signup_delivered_before_its_pageviews_gets_the_same_answer() {
    let in_order = spawn_app().await;
    let reversed = spawn_app().await;
    let (pageviews, events) = reference_journey();
    send(&in_order, &pageviews, &events).await;
    send(&reversed, &[], &events).await;
    for p in pageviews.iter().rev() {
        send(&reversed, std::slice::from_ref(p), &[]).await;
    }
    send(&reversed, &pageviews, &events).await; // redelivered, too
    let a = in_order
        .graphql_ok(USER_ATTRIBUTION, json!({ "id": "u1" }))
        .await;
    let b = reversed
        .graphql_ok(USER_ATTRIBUTION, json!({ "id": "u1" }))
        .await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn touchpoints_outside_the_lookback_window_are_excluded_unless_the_window_is_widened() {
    let app = spawn_app().await;
    let (pageviews, events) = reference_journey();
    send(&app, &pageviews, &events).await;
    let narrow = app
        .graphql_ok(USER_ATTRIBUTION, json!({ "id": "u1", "lookback": 2 }))
        .await;
    let sources: Vec<&str> = narrow["user"]["attribution"]["touchpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        ["google", "(direct)"],
        "the facebook click is 4 days old"
    );
    let wide = app
        .graphql_ok(USER_ATTRIBUTION, json!({ "id": "u1", "lookback": 30 }))
        .await;
    assert_eq!(
        wide["user"]["attribution"]["touchpoints"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let body = app
        .graphql(USER_ATTRIBUTION, json!({ "id": "u1", "lookback": -1 }))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_signup_without_pageviews_has_no_clicks_and_no_credits() {
    let app = spawn_app().await;
    send(
        &app,
        &[],
        &[ev("signup", "f", Some("lonely"), "2023-02-01T00:00:00Z")],
    )
    .await;
    let data = app
        .graphql_ok(USER_ATTRIBUTION, json!({ "id": "lonely" }))
        .await;
    let a = &data["user"]["attribution"];
    assert_eq!(a["firstClick"], Value::Null);
    assert_eq!(a["lastClick"], Value::Null);
    assert_eq!(a["touchpoints"], json!([]));
    assert_eq!(a["linear"], json!([]));
    assert_eq!(
        data["user"]["conversions"][0]["timeToConvertSeconds"],
        Value::Null
    );

    // Reported under (not set) / UNASSIGNED.
    let data = app
        .graphql_ok(
            r#"{ a: conversions(source: "(not set)") { totalCount } b: conversions(channel: UNASSIGNED) { totalCount } c: conversions(channel: DIRECT) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        (
            data["a"]["totalCount"].as_u64(),
            data["b"]["totalCount"].as_u64(),
            data["c"]["totalCount"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
}

#[tokio::test]
async fn a_signup_after_a_trial_is_a_trial_to_signup_conversion() {
    let app = spawn_app().await;
    send(
        &app,
        &[pv("f", None, FB_AD, None, "2023-03-01T09:00:00Z")],
        &[
            ev("trial", "f", None, "2023-03-01T10:00:00Z"),
            ev("signup", "f", Some("t1"), "2023-03-08T10:00:00Z"),
            ev("unsubscribe", "f", Some("t1"), "2023-04-08T10:00:00Z"),
        ],
    )
    .await;
    let data = app
        .graphql_ok(
            r#"{ user(id: "t1") { conversions { name fromTrial userId } events { name } }
                 trials: conversions(name: "trial") { totalCount nodes { userId fromTrial } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["user"]["conversions"],
        json!([{ "name": "trial", "fromTrial": false, "userId": "t1" }, { "name": "signup", "fromTrial": true, "userId": "t1" }])
    );
    assert_eq!(data["user"]["events"].as_array().unwrap().len(), 3);
    assert_eq!(
        data["trials"]["nodes"][0]["userId"], "t1",
        "an anonymous trial belongs to the fingerprint's user"
    );
}

#[tokio::test]
async fn conversions_filter_on_the_credited_touchpoint_under_the_model() {
    let app = spawn_app().await;
    let (pageviews, events) = reference_journey();
    send(&app, &pageviews, &events).await;
    // A second user who came only through google.
    send(
        &app,
        &[pv(
            "g",
            None,
            "https://www.blinkist.com/",
            Some("https://www.google.com/"),
            "2023-01-10T10:00:00Z",
        )],
        &[ev("signup", "g", Some("u2"), "2023-01-10T10:30:00Z")],
    )
    .await;
    let q = r#"query($model: AttributionModel!, $source: String, $channel: Channel, $campaign: String) {
      conversions(model: $model, source: $source, channel: $channel, campaign: $campaign) { totalCount nodes { userId } }
    }"#;
    let count = |data: &Value| data["conversions"]["totalCount"].as_u64().unwrap();
    let fb_first = app
        .graphql_ok(q, json!({ "model": "FIRST_CLICK", "source": "facebook" }))
        .await;
    assert_eq!(count(&fb_first), 1);
    assert_eq!(fb_first["conversions"]["nodes"][0]["userId"], "u1");
    assert_eq!(
        count(
            &app.graphql_ok(q, json!({ "model": "LAST_CLICK", "source": "facebook" }))
                .await
        ),
        0
    );
    assert_eq!(
        count(
            &app.graphql_ok(
                q,
                json!({ "model": "LAST_NON_DIRECT_CLICK", "channel": "ORGANIC_SEARCH" })
            )
            .await
        ),
        2
    );
    assert_eq!(
        count(
            &app.graphql_ok(q, json!({ "model": "LINEAR", "campaign": "spring" }))
                .await
        ),
        1
    );
    assert_eq!(
        count(&app.graphql_ok(q, json!({ "model": "LAST_CLICK" })).await),
        2
    );
}

#[tokio::test]
async fn unknown_users_are_null_and_users_paginate_by_first_seen() {
    let app = spawn_app().await;
    let events: Vec<Value> = (0..7)
        .map(|i| {
            ev(
                "signup",
                &format!("f{i}"),
                Some(&format!("user-{i}")),
                &format!("2023-05-0{}T00:00:00Z", i + 1),
            )
        })
        .collect();
    send(&app, &[], &events).await;
    let data = app
        .graphql_ok(r#"{ user(id: "nobody") { id } }"#, json!({}))
        .await;
    assert_eq!(data["user"], Value::Null);

    let q = r#"query($after: String) { users(first: 3, after: $after, range: {from: "2023-05-02T00:00:00Z"}) {
        totalCount nodes { id } pageInfo { hasNextPage endCursor } } }"#;
    let mut after = Value::Null;
    let mut ids = Vec::new();
    loop {
        let data = app.graphql_ok(q, json!({ "after": after })).await;
        assert_eq!(data["users"]["totalCount"], 6);
        ids.extend(
            data["users"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned()),
        );
        if !data["users"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = data["users"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(ids, (1..7).map(|i| format!("user-{i}")).collect::<Vec<_>>());
}

/// Waits until nothing awaits the materialiser (fingerprints, hours, days).
async fn materialiser_idle(app: &TestApp) {
    for _ in 0..200 {
        let text = app.get("/metrics").await.text().await.unwrap();
        let queued: u64 = text
            .lines()
            .filter(|l| l.starts_with("growth_analytics_dirty_"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        if queued == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the materialiser did not catch up");
}

async fn sql_statements(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("growth_analytics_sql_statements_total "))
        .and_then(|n| n.parse().ok())
        .expect("metrics expose the statement counter")
}

/// Users who each came through an ad on two devices and signed up.
async fn many_signups(app: &TestApp, n: usize) {
    let mut pageviews = Vec::new();
    let mut events = Vec::new();
    for i in 0..n {
        let user = format!("bulk-{i}");
        let day = 1 + i % 28;
        pageviews.push(pv(
            &format!("a{i}"),
            None,
            FB_AD,
            None,
            &format!("2023-06-{day:02}T08:00:00Z"),
        ));
        pageviews.push(pv(
            &format!("b{i}"),
            Some(&user),
            "https://www.blinkist.com/",
            Some("https://www.google.com/"),
            &format!("2023-06-{day:02}T09:00:00Z"),
        ));
        events.push(ev(
            "signup",
            &format!("a{i}"),
            Some(&user),
            &format!("2023-06-{day:02}T10:00:00Z"),
        ));
    }
    send(app, &pageviews, &events).await;
}

#[tokio::test]
async fn a_page_of_conversions_with_users_and_credits_costs_a_fixed_number_of_statements() {
    let query = r#"{ conversions(first: 100) { nodes {
        id fromTrial pageviewsBefore
        user { id fingerprints }
        attribution { lastClick { source } linear: credits(model: LINEAR) { weight } first: credits(model: FIRST_CLICK) { weight touchpoint { source } } }
    } } }"#;
    let mut costs = Vec::new();
    for n in [10, 100] {
        let app = spawn_app().await;
        many_signups(&app, n).await;
        // The background materialiser's work is not the page's.
        materialiser_idle(&app).await;
        let before = sql_statements(&app).await;
        let data = app.graphql_ok(query, json!({})).await;
        let after = sql_statements(&app).await;
        let nodes = data["conversions"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n);
        assert!(nodes
            .iter()
            .all(|c| c["user"]["fingerprints"].as_array().unwrap().len() == 2));
        assert!(nodes
            .iter()
            .all(|c| c["attribution"]["first"][0]["touchpoint"]["source"] == "facebook"));
        costs.push(after - before);
    }
    assert_eq!(
        costs[0], costs[1],
        "statements must not grow with the page: {costs:?}"
    );
    assert!(
        // A handful for the page, plus the key lookups of the query and
        // of the two scrapes around it.
        costs[1] <= 10,
        "a page should cost a handful of statements, not {}",
        costs[1]
    );
}

// ---------------------------------------------------------------------------
// Generated journeys: the API against the pure engine computing from scratch,
// with the webhooks delivered in random orders and redelivered.

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LANDINGS: [(&str, Option<&str>); 7] = [
    (
        "https://www.blinkist.com/en/lp?utm_source=facebook&utm_medium=paid&utm_campaign=c1",
        Some("https://m.facebook.com/"),
    ),
    ("https://www.blinkist.com/en/?gclid=xyz", None),
    (
        "https://www.blinkist.com/en/books/a",
        Some("https://www.google.de/"),
    ),
    ("https://www.blinkist.com/en/", None),
    (
        "https://www.blinkist.com/en/pricing",
        Some("https://www.blinkist.com/en/"),
    ),
    (
        "https://www.blinkist.com/en/?utm_source=newsletter&utm_medium=email&utm_campaign=weekly",
        None,
    ),
    (
        "https://www.blinkist.com/en/blog",
        Some("https://news.ycombinator.com/"),
    ),
];

struct Generated {
    pageviews: Vec<Value>,
    events: Vec<Value>,
    users: Vec<String>,
}

fn generate(seed: u64, users: usize) -> Generated {
    let mut rng = Rng(seed);
    let base = DateTime::parse_from_rfc3339("2023-07-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut out = Generated {
        pageviews: Vec::new(),
        events: Vec::new(),
        users: Vec::new(),
    };
    for u in 0..users {
        let user = format!("gen-{u}");
        let devices = 1 + rng.below(2);
        for d in 0..devices {
            let fp = format!("gen-{u}-d{d}");
            let mut t = base + Duration::minutes(rng.below(60 * 24 * 40) as i64);
            for _ in 0..(1 + rng.below(6)) {
                let (url, referrer) = LANDINGS[rng.below(LANDINGS.len() as u64) as usize];
                // Logged-in pageviews link the device, sometimes long after.
                let logged_in = rng.below(4) == 0;
                out.pageviews.push(pv(
                    &fp,
                    logged_in.then_some(user.as_str()),
                    url,
                    referrer,
                    &t.to_rfc3339(),
                ));
                t += Duration::minutes([3, 20, 45, 60 * 24 * 3][rng.below(4) as usize]);
            }
            if d == 0 || rng.below(2) == 0 {
                // Events always carry the user id, so the device is linked.
                if rng.below(3) == 0 {
                    out.events.push(ev(
                        "trial",
                        &fp,
                        Some(&user),
                        &(t - Duration::days(2)).to_rfc3339(),
                    ));
                }
                if rng.below(4) != 0 {
                    out.events.push(ev(
                        "signup",
                        &fp,
                        Some(&user),
                        &(t - Duration::hours(1)).to_rfc3339(),
                    ));
                }
            }
        }
        out.users.push(user);
    }
    out
}

fn shuffled(items: &[Value], rng: &mut Rng) -> Vec<Value> {
    let mut items = items.to_vec();
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
    // Redeliver a few.
    let extra: Vec<Value> = items
        .iter()
        .filter(|_| rng.below(5) == 0)
        .cloned()
        .collect();
    items.extend(extra);
    items
}

/// The engine's answer for one user, computed from the generated payloads.
fn expected(g: &Generated, user: &str, model: Model) -> Value {
    let fingerprints: std::collections::BTreeSet<&str> = g
        .pageviews
        .iter()
        .chain(&g.events)
        .filter(|p| p["user_id"] == user)
        .map(|p| p["fingerprint"].as_str().unwrap())
        .collect();
    if fingerprints.is_empty() {
        return Value::Null; // never linked to a device: an unknown user
    }
    let facts: Vec<PageviewFact> = g
        .pageviews
        .iter()
        .filter(|p| fingerprints.contains(p["fingerprint"].as_str().unwrap()))
        .map(|p| {
            let parsed = NewPageview::try_from(RawPageview {
                fingerprint: p["fingerprint"].as_str().map(Into::into),
                user_id: p["user_id"].as_str().map(Into::into),
                url: p["url"].as_str().map(Into::into),
                referrer_url: p["referrer_url"].as_str().map(Into::into),
                created_at: p["created_at"].as_str().map(Into::into),
            })
            .unwrap();
            let c = classify(
                parsed.url.as_url(),
                parsed.referrer_url.as_ref().map(|r| r.as_url()),
                &[],
            );
            PageviewFact {
                fingerprint: parsed.fingerprint.as_str().into(),
                at: parsed.created_at,
                url: parsed.url.as_str().into(),
                landing_page: c.landing_page,
                referrer_url: parsed.referrer_url.map(|r| r.as_str().into()),
                source: c.source,
                medium: c.medium,
                campaign: c.campaign,
                content: c.content,
                term: c.term,
                channel: c.channel,
                rule: c.rule,
            }
        })
        .collect();
    let events: Vec<EventFact> = g
        .events
        .iter()
        .filter(|e| e["user_id"] == user)
        .map(|e| EventFact {
            name: e["name"].as_str().unwrap().into(),
            fingerprint: e["fingerprint"].as_str().unwrap().into(),
            user_id: Some(user.into()),
            at: growth_analytics::domain::parse_timestamp(e["created_at"].as_str().unwrap())
                .unwrap(),
        })
        .collect();
    let conversions = attribution::conversions(&facts, &events, &Settings::default());
    json!(conversions
        .iter()
        .map(|c| json!({
            "name": c.name,
            "at": c.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "fromTrial": c.from_trial,
            "timeToConvertSeconds": c.time_to_convert_seconds,
            "pageviewsBefore": c.pageviews_before,
            "pageviewsAfter": c.pageviews_after,
            "attribution": {
                "touchpoints": c.touchpoints.iter().map(|t| json!({ "source": t.source, "channel": t.channel.as_str(), "fingerprint": t.fingerprint })).collect::<Vec<_>>(),
                "credits": c.credits(model).iter().map(|(t, w)| json!({ "weight": w, "touchpoint": { "at": t.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true) } })).collect::<Vec<_>>(),
            }
        }))
        .collect::<Vec<_>>())
}

const USER_CONVERSIONS: &str = r#"query($id: ID!, $model: AttributionModel!) { user(id: $id) { conversions {
    name at fromTrial timeToConvertSeconds pageviewsBefore pageviewsAfter
    attribution { touchpoints { source channel fingerprint } credits(model: $model) { weight touchpoint { at } } }
} } }"#;

#[tokio::test]
async fn generated_journeys_in_any_order_with_redeliveries_match_the_engine_from_scratch() {
    let g = generate(0x5eed_1234, 30);
    let mut rng = Rng(99);
    let mut answers = Vec::new();
    for _ in 0..2 {
        let app = spawn_app().await;
        // Interleave pageview and event batches in random order and sizes.
        let pageviews = shuffled(&g.pageviews, &mut rng);
        let events = shuffled(&g.events, &mut rng);
        let (mut p, mut e) = (pageviews.as_slice(), events.as_slice());
        while !p.is_empty() || !e.is_empty() {
            let take_p = (1 + rng.below(12) as usize).min(p.len());
            let take_e = (rng.below(4) as usize).min(e.len());
            send(&app, &p[..take_p], &e[..take_e]).await;
            p = &p[take_p..];
            e = &e[take_e..];
        }
        let mut per_user = Vec::new();
        for (i, user) in g.users.iter().enumerate() {
            let model = Model::ALL[i % Model::ALL.len()];
            let data = app
                .graphql_ok(
                    USER_CONVERSIONS,
                    json!({ "id": user, "model": model.as_str() }),
                )
                .await;
            let got = data["user"]["conversions"].clone();
            if got.is_null() {
                assert!(data["user"].is_null());
            }
            assert_eq!(got, expected(&g, user, model), "user {user} under {model}");
            per_user.push(got);
        }
        answers.push(per_user);
    }
    assert_eq!(answers[0], answers[1]);
}
