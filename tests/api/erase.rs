//! The right to erasure: `eraseUser` and `growth-analytics erase` delete a
//! user and every device of theirs, and afterwards every query answers as if
//! the erased webhooks had never been sent.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, TestApp};

/// The user erased in these tests, and their devices.
const ERASED: &str = "erase-me";
const PHONE: &str = "fp-erase-me-phone";
const LAPTOP: &str = "fp-erase-me-laptop";
/// Used by `ERASED` and by `KEEPER`.
const TABLET: &str = "fp-shared-tablet";
/// Shares `TABLET` with `ERASED`, and has a device of their own.
const KEEPER: &str = "keeper";
const DESKTOP: &str = "fp-keeper-desktop";

const SPRING: &str =
    "https://www.blinkist.com/lp?utm_source=facebook&utm_medium=paid&utm_campaign=spring";
const WINTER: &str =
    "https://www.blinkist.com/news?utm_source=newsletter&utm_medium=email&utm_campaign=winter";
const GCLID: &str = "https://www.blinkist.com/?gclid=abc";
const HOME: &str = "https://www.blinkist.com/";
const PRICING: &str = "https://www.blinkist.com/pricing";
const FACEBOOK: &str = "https://m.facebook.com/";
const GOOGLE: &str = "https://www.google.com/";

const JANUARY: &str = r#"{from: "2023-01-01T00:00:00Z", to: "2023-02-01T00:00:00Z"}"#;

fn pv(fp: &str, user: Option<&str>, url: &str, referrer: Option<&str>, at: &str) -> Value {
    json!({ "fingerprint": fp, "user_id": user, "url": url, "referrer_url": referrer, "created_at": at })
}

fn ev(name: &str, fp: &str, user: Option<&str>, at: &str) -> Value {
    json!({ "name": name, "fingerprint": fp, "user_id": user, "created_at": at })
}

/// Several users (one sharing a device with the erased one, one on two
/// devices), anonymous visitors, signups and trials, and three campaigns.
fn dataset() -> (Vec<Value>, Vec<Value>) {
    let pageviews = vec![
        pv(PHONE, None, SPRING, Some(FACEBOOK), "2023-01-02T10:00:00Z"),
        pv(
            PHONE,
            Some(ERASED),
            PRICING,
            Some(SPRING),
            "2023-01-02T10:05:00Z",
        ),
        pv(
            LAPTOP,
            Some(ERASED),
            HOME,
            Some(GOOGLE),
            "2023-01-04T09:00:00Z",
        ),
        pv(LAPTOP, None, PRICING, None, "2023-01-10T09:00:00Z"),
        pv(TABLET, None, WINTER, None, "2023-01-03T20:00:00Z"),
        pv(TABLET, Some(KEEPER), HOME, None, "2023-01-06T08:00:00Z"),
        pv(TABLET, Some(ERASED), PRICING, None, "2023-01-07T08:00:00Z"),
        pv(DESKTOP, None, GCLID, Some(GOOGLE), "2023-01-05T09:00:00Z"),
        pv(DESKTOP, Some(KEEPER), HOME, None, "2023-01-08T09:00:00Z"),
        pv(
            "fp-solo",
            None,
            SPRING,
            Some(FACEBOOK),
            "2023-01-03T11:00:00Z",
        ),
        pv(
            "fp-multi-1",
            None,
            HOME,
            Some(GOOGLE),
            "2023-01-02T12:00:00Z",
        ),
        pv(
            "fp-multi-2",
            Some("multi"),
            WINTER,
            None,
            "2023-01-09T12:00:00Z",
        ),
        pv(
            "fp-anon-1",
            None,
            SPRING,
            Some(FACEBOOK),
            "2023-01-04T15:00:00Z",
        ),
        pv(
            "fp-anon-2",
            None,
            GCLID,
            Some(GOOGLE),
            "2023-01-05T15:00:00Z",
        ),
        pv("fp-anon-3", None, HOME, None, "2023-01-06T15:00:00Z"),
    ];
    let events = vec![
        ev("trial", PHONE, None, "2023-01-02T10:30:00Z"),
        ev("signup", PHONE, Some(ERASED), "2023-01-03T11:00:00Z"),
        ev("signup", TABLET, Some(KEEPER), "2023-01-06T12:00:00Z"),
        ev("unsubscribe", TABLET, None, "2023-01-12T12:00:00Z"),
        ev("trial", DESKTOP, Some(KEEPER), "2023-01-05T10:00:00Z"),
        ev("signup", DESKTOP, Some(KEEPER), "2023-01-08T12:00:00Z"),
        ev("signup", "fp-solo", Some("solo"), "2023-01-03T12:00:00Z"),
        ev("trial", "fp-multi-1", Some("multi"), "2023-01-02T12:30:00Z"),
        ev(
            "signup",
            "fp-multi-2",
            Some("multi"),
            "2023-01-09T12:30:00Z",
        ),
        ev("trial", "fp-anon-2", None, "2023-01-05T15:30:00Z"),
    ];
    (pageviews, events)
}

/// The devices an erasure of `user` erases: every fingerprint seen with their id.
fn devices_of(user: &str, pageviews: &[Value], events: &[Value]) -> BTreeSet<String> {
    pageviews
        .iter()
        .chain(events)
        .filter(|p| p["user_id"] == user)
        .map(|p| p["fingerprint"].as_str().unwrap().to_owned())
        .collect()
}

/// What should be left after erasing `user`, and the summary expected.
fn split(user: &str, pageviews: &[Value], events: &[Value]) -> (Vec<Value>, Vec<Value>, Value) {
    let devices = devices_of(user, pageviews, events);
    let erased = |p: &&Value| devices.contains(p["fingerprint"].as_str().unwrap());
    let links: BTreeSet<(&str, &str)> = pageviews
        .iter()
        .chain(events)
        .filter(erased)
        .filter_map(|p| Some((p["fingerprint"].as_str()?, p["user_id"].as_str()?)))
        .collect();
    let summary = json!({
        "pageviews": pageviews.iter().filter(erased).count(),
        "events": events.iter().filter(erased).count(),
        "identityLinks": links.len(),
        "fingerprints": devices.len(),
    });
    let keep =
        |items: &[Value]| -> Vec<Value> { items.iter().filter(|p| !erased(p)).cloned().collect() };
    (keep(pageviews), keep(events), summary)
}

async fn send(app: &TestApp, pageviews: &[Value], events: &[Value]) {
    for (path, items) in [
        ("/webhooks/pageviews", pageviews),
        ("/webhooks/events", events),
    ] {
        let r = app.post_json(path, &json!(items)).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
}

async fn erase(app: &TestApp, id: &str) -> Value {
    app.graphql_ok(
        "mutation($id: ID!) { eraseUser(id: $id) { pageviews events identityLinks fingerprints } }",
        json!({ "id": id }),
    )
    .await["eraseUser"]
        .clone()
}

const ROW: &str = "campaign source medium channel landingPage conversions visitors touchpoints \
    conversionRate trials trialToSignup timeToConvert { avgSeconds medianSeconds minSeconds maxSeconds } \
    avgPageviewsBefore avgPageviewsAfter spend costPerConversion userIds";

const USER: &str = "id fingerprints firstSeenAt events { name fingerprint userId createdAt } \
    pageviews(first: 20) { totalCount nodes { fingerprint userId url createdAt source channel } } \
    conversions { id name at fromTrial timeToConvertSeconds pageviewsBefore pageviewsAfter \
      attribution { touchpoints { fingerprint at url source campaign channel } credits(model: LINEAR) { weight touchpoint { fingerprint source } } } } \
    attribution { firstClick { fingerprint source } lastClick { fingerprint source } lastNonDirectClick { fingerprint source } }";

const CONVERSION: &str =
    "totalCount nodes { id userId fingerprint name at fromTrial timeToConvertSeconds \
    pageviewsBefore pageviewsAfter user { id fingerprints } \
    attribution { touchpoints { fingerprint at url source medium campaign channel } \
      credits(model: POSITION_BASED) { weight touchpoint { fingerprint campaign } } } }";

/// Every query a dashboard could ask, without database row ids or cursors
/// (which differ between two databases holding the same data).
fn queries(user_ids: &[&str]) -> Vec<String> {
    let mut out = vec![
        "{ pageviews(first: 500) { totalCount nodes { fingerprint userId url referrerUrl createdAt landingPage source medium campaign channel } } }".to_owned(),
        "{ events(first: 500) { totalCount nodes { name fingerprint userId createdAt } } }".to_owned(),
        format!("{{ users(first: 20) {{ totalCount nodes {{ {USER} }} }} }}"),
    ];
    for id in user_ids {
        out.push(format!("{{ user(id: {id:?}) {{ {USER} }} }}"));
    }
    for name in ["signup", "trial"] {
        out.push(format!(
            "{{ conversions(name: {name:?}, first: 100) {{ {CONVERSION} }} }}"
        ));
        // A condition on the credited touchpoint takes the other path.
        out.push(format!(
            "{{ conversions(name: {name:?}, channel: PAID_SOCIAL, model: FIRST_CLICK, first: 100) {{ {CONVERSION} }} }}"
        ));
    }
    for report in ["campaigns", "sources", "channels", "landingPages"] {
        let mut fields = Vec::new();
        for model in ["LAST_CLICK", "FIRST_CLICK", "LINEAR"] {
            for conversion in ["signup", "trial"] {
                fields.push(format!(
                    "{model}_{conversion}: {report}(range: {JANUARY}, model: {model}, conversion: {conversion:?}) {{ totalCount nodes {{ {ROW} }} }}"
                ));
            }
        }
        out.push(format!("{{ {} }}", fields.join(" ")));
    }
    let mut headline = Vec::new();
    for model in ["LAST_CLICK", "LINEAR", "TIME_DECAY"] {
        headline.push(format!(
            "{model}: overview(range: {JANUARY}, model: {model}) {{ pageviews visitors signups trials trialToSignup trialToSignupRate unsubscribes conversions paidConversions paidShare organicShare directShare }}"
        ));
    }
    out.push(format!("{{ {} }}", headline.join(" ")));
    let mut series = Vec::new();
    for group in ["NONE", "CHANNEL", "SOURCE", "CAMPAIGN"] {
        series.push(format!(
            "{group}: timeseries(range: {JANUARY}, interval: DAY, groupBy: {group}, model: LINEAR) {{ timezone interval series {{ key channel total points {{ start end conversions }} }} }}"
        ));
    }
    out.push(format!("{{ {} }}", series.join(" ")));
    out
}

async fn answers(app: &TestApp, queries: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for q in queries {
        out.push(app.graphql_ok(q, json!({})).await);
    }
    out
}

/// JSON equality, with floats equal up to rounding (a sum of the same
/// credits in another order may differ in its last bit).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The ids the erasure must make disappear.
const TRACES: [&str; 4] = [ERASED, PHONE, LAPTOP, TABLET];

/// Every query of `app` answers as a fresh service that was sent only the
/// webhooks left after the erasure, and none mentions an erased id.
async fn assert_as_if_never_sent(app: &TestApp, remaining: (&[Value], &[Value])) {
    let user_ids = [ERASED, KEEPER, "solo", "multi"];
    let queries = queries(&user_ids);
    let after = answers(app, &queries).await;
    let text = serde_json::to_string(&after).unwrap();
    for trace in TRACES {
        assert!(!text.contains(trace), "{trace} is still answered: {text}");
    }
    let fresh = spawn_app().await;
    send(&fresh, remaining.0, remaining.1).await;
    let expected = answers(&fresh, &queries).await;
    for ((query, got), want) in queries.iter().zip(&after).zip(&expected) {
        assert!(
            same(got, want),
            "{query}\nafter the erasure: {got}\nnever sent:        {want}"
        );
    }
}

#[tokio::test]
async fn after_erasing_a_user_every_query_answers_as_if_their_webhooks_had_never_been_sent() {
    let app = spawn_app().await;
    let (pageviews, events) = dataset();
    send(&app, &pageviews, &events).await;
    let (kept_pageviews, kept_events, expected) = split(ERASED, &pageviews, &events);
    assert_eq!(
        expected,
        json!({ "pageviews": 7, "events": 4, "identityLinks": 4, "fingerprints": 3 }),
        "the dataset covers the cases it is meant to"
    );

    // Before: every query that should lose them does answer them.
    let before = serde_json::to_string(&answers(&app, &queries(&[ERASED, KEEPER])).await).unwrap();
    for trace in TRACES {
        assert!(
            before.contains(trace),
            "{trace} not answered before the erasure"
        );
    }

    assert_eq!(erase(&app, ERASED).await, expected);
    assert_as_if_never_sent(&app, (&kept_pageviews, &kept_events)).await;
}

#[tokio::test]
async fn a_device_shared_with_the_erased_user_is_erased_for_the_other_user_too_who_keeps_the_rest()
{
    let app = spawn_app().await;
    let (pageviews, events) = dataset();
    send(&app, &pageviews, &events).await;
    let query = "query($id: ID!) { user(id: $id) { fingerprints events { name fingerprint } \
        pageviews(first: 100) { nodes { fingerprint } } conversions { name fingerprint } } }";
    let before = app.graphql_ok(query, json!({ "id": KEEPER })).await;
    assert_eq!(before["user"]["fingerprints"], json!([DESKTOP, TABLET]));

    erase(&app, ERASED).await;

    let after = app.graphql_ok(query, json!({ "id": KEEPER })).await["user"].clone();
    assert_eq!(after["fingerprints"], json!([DESKTOP]));
    let fingerprints_of = |list: &Value| -> BTreeSet<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|x| x["fingerprint"].as_str().unwrap().to_owned())
            .collect()
    };
    for list in [
        &after["events"],
        &after["pageviews"]["nodes"],
        &after["conversions"],
    ] {
        assert_eq!(fingerprints_of(list), BTreeSet::from([DESKTOP.to_owned()]));
    }
    let kept = |items: &[Value]| items.iter().filter(|p| p["fingerprint"] == DESKTOP).count();
    assert_eq!(after["events"].as_array().unwrap().len(), kept(&events));
    assert_eq!(
        after["pageviews"]["nodes"].as_array().unwrap().len(),
        kept(&pageviews)
    );
    let names: Vec<&str> = after["conversions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["trial", "signup"], "the desktop's trial and signup");

    // Nothing of the shared device is left, whoever sent it.
    let tablet = app
        .graphql_ok(
            "query($fp: String) { pageviews(filter: {fingerprint: $fp}) { totalCount } events(filter: {fingerprint: $fp}) { totalCount } }",
            json!({ "fp": TABLET }),
        )
        .await;
    assert_eq!(tablet["pageviews"]["totalCount"], 0);
    assert_eq!(tablet["events"]["totalCount"], 0);
}

#[tokio::test]
async fn erasing_a_user_twice_erases_nothing_the_second_time_and_an_unknown_id_is_not_an_error() {
    let app = spawn_app().await;
    let (pageviews, events) = dataset();
    send(&app, &pageviews, &events).await;
    let zeros = json!({ "pageviews": 0, "events": 0, "identityLinks": 0, "fingerprints": 0 });
    let first = erase(&app, ERASED).await;
    assert_ne!(first, zeros);
    let counts = app.counts().await;
    assert_eq!(erase(&app, ERASED).await, zeros);
    assert_eq!(erase(&app, "never-seen").await, zeros);
    assert_eq!(app.counts().await, counts, "nothing else was erased");
}

#[tokio::test]
async fn an_erasure_id_that_is_empty_or_holds_a_control_character_is_refused_naming_id() {
    let app = spawn_app().await;
    let (pageviews, events) = dataset();
    send(&app, &pageviews, &events).await;
    let counts = app.counts().await;
    for bad in ["", "   ", "erase-me\u{0}", "erase\u{7}me"] {
        let body = app
            .graphql(
                "mutation($id: ID!) { eraseUser(id: $id) { pageviews } }",
                json!({ "id": bad }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad:?}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["fields"][0]["field"], "id",
            "{body}"
        );
    }
    assert_eq!(
        app.counts().await,
        counts,
        "a refused erasure erases nothing"
    );
}

/// `growth-analytics erase` against the database of a running service.
async fn erase_command(database_url: &str, user: &str) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_growth-analytics"))
        .args(["erase", "--user", user, "--database-url", database_url])
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the binary runs")
}

#[tokio::test]
async fn the_erase_command_erases_a_user_from_the_database_a_running_service_answers_from() {
    let app = spawn_app().await;
    let (pageviews, events) = dataset();
    send(&app, &pageviews, &events).await;
    let (kept_pageviews, kept_events, expected) = split(ERASED, &pageviews, &events);
    // Derived rows up to date before the command: what it leaves queued is
    // then all the service has to recompute.
    app.graphql_ok("{ channels { totalCount } }", json!({}))
        .await;

    let refused = erase_command(&app.database_url, " ").await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--user must not be empty"), "{stderr}");

    let output = erase_command(&app.database_url, ERASED).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = format!(
        "{} pageviews, {} events, {} identity links, {} fingerprints",
        expected["pageviews"],
        expected["events"],
        expected["identityLinks"],
        expected["fingerprints"]
    );
    assert!(stdout.contains(&summary), "{stdout}");

    // The service recomputes what the command left queued.
    assert_as_if_never_sent(&app, (&kept_pageviews, &kept_events)).await;
}

/// The race the erasure must survive: a materialiser step (of this service or
/// of another process on the same database) reads the user's facts, the
/// erasure commits, then the step writes the rows it computed from them.
#[tokio::test]
async fn a_materialiser_step_that_read_the_user_before_the_erasure_cannot_bring_their_rows_back() {
    use std::sync::Arc;

    use growth_analytics::attribution::{PageviewFact, Settings};
    use growth_analytics::config::DatabaseConfig;
    use growth_analytics::journeys::{self, JourneyKey};
    use growth_analytics::materialize::{
        credit_rows, key_text, revenue_rows, touchpoint_rows, Plan,
    };
    use growth_analytics::store::{RevenueRows, Store};

    let app = spawn_app().await;
    let (pageviews, events) = dataset();
    send(&app, &pageviews, &events).await;
    let (kept_pageviews, kept_events, expected) = split(ERASED, &pageviews, &events);
    app.graphql_ok("{ channels { totalCount } }", json!({}))
        .await;
    let store = Store::connect(&DatabaseConfig::new(app.database_url.clone()))
        .await
        .unwrap();
    let settings = Arc::new(Settings::default());

    // The step's reads, before the erasure.
    let fingerprints: Vec<String> = [PHONE, LAPTOP, TABLET, DESKTOP].map(str::to_owned).to_vec();
    let facts: Vec<PageviewFact> = store
        .pageview_facts_of_fingerprints(&fingerprints)
        .await
        .unwrap();
    let touchpoints = touchpoint_rows(&facts, &settings);
    let keys: Vec<JourneyKey> = [ERASED, KEEPER]
        .map(|u| JourneyKey::User(u.to_owned()))
        .into_iter()
        .chain(fingerprints.iter().cloned().map(JourneyKey::Anonymous))
        .collect();
    let loaded = journeys::load(&store, &settings, &keys).await.unwrap();
    let credits: Vec<_> = keys
        .iter()
        .flat_map(|k| credit_rows(&loaded[k], &settings, &Plan::default()))
        .collect();
    assert!(!credits.is_empty() && !touchpoints.is_empty());

    // The erasure commits (as the `erase` command does: no flush) …
    let summary = store.erase_user(ERASED).await.unwrap();
    assert_eq!(summary.fingerprints, expected["fingerprints"]);

    // … then the step writes what it computed from the erased facts.
    let key_texts: Vec<String> = keys.iter().map(key_text).collect();
    let mut revenue = RevenueRows::default();
    for k in &keys {
        revenue_rows(&loaded[k], &mut revenue);
    }
    assert!(revenue
        .acquisitions
        .iter()
        .any(|a| a.journey_key == format!("u:{ERASED}")));
    store
        .replace_derived(
            &[],
            &fingerprints,
            touchpoints,
            &key_texts,
            credits,
            revenue,
        )
        .await
        .unwrap();
    let all = growth_analytics::store::TimeRange::default();
    let lookback = Settings::default().lookback.num_days() as i32;
    let acquired = store
        .acquisition_credits(
            growth_analytics::attribution::Model::LastClick,
            lookback,
            &all,
        )
        .await
        .unwrap();
    assert!(acquired
        .iter()
        .all(|a| a.journey_key != format!("u:{ERASED}")));

    assert_as_if_never_sent(&app, (&kept_pageviews, &kept_events)).await;
}
