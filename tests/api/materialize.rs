//! The derived tables (touchpoints, credits) must equal a recomputation from
//! scratch, whatever order the webhooks came in and however late a device
//! was linked.

use std::collections::BTreeSet;
use std::sync::Arc;

use growth_analytics::attribution::{PageviewFact, Settings};
use growth_analytics::config::DatabaseConfig;
use growth_analytics::journeys::{self, JourneyKey};
use growth_analytics::materialize::{credit_rows, revenue_rows, touchpoint_rows, Plan};
use growth_analytics::store::{PageviewFilter, RevenueRows, Store};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const PAGES: [(&str, Option<&str>); 5] = [
    (
        "https://www.blinkist.com/lp?utm_source=facebook&utm_medium=paid&utm_campaign=c1",
        Some("https://m.facebook.com/"),
    ),
    ("https://www.blinkist.com/?gclid=1", None),
    (
        "https://www.blinkist.com/books/a",
        Some("https://www.google.de/"),
    ),
    ("https://www.blinkist.com/", None),
    (
        "https://www.blinkist.com/pricing",
        Some("https://www.blinkist.com/"),
    ),
];

/// Users on one or two devices; the second device's login often comes last.
fn generate(seed: u64) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut rng = Rng(seed);
    let (mut pageviews, mut events, mut late) = (Vec::new(), Vec::new(), Vec::new());
    let at = |m: u64| {
        (chrono::DateTime::from_timestamp(1_680_000_000, 0).unwrap()
            + chrono::Duration::minutes(m as i64))
        .to_rfc3339()
    };
    for u in 0..40 {
        let user = format!("m{u}");
        for d in 0..(1 + rng.below(2)) {
            let fp = format!("m{u}d{d}");
            let mut minute = rng.below(60 * 24 * 45);
            for _ in 0..(1 + rng.below(5)) {
                let (url, referrer) = PAGES[rng.below(5) as usize];
                pageviews.push(json!({ "fingerprint": fp, "url": url, "referrer_url": referrer, "created_at": at(minute) }));
                minute += [4, 50, 3000][rng.below(3) as usize];
            }
            if d == 0 {
                if rng.below(3) == 0 {
                    events.push(json!({ "name": "trial", "fingerprint": fp, "user_id": null, "created_at": at(minute) }));
                }
                if rng.below(4) != 0 {
                    events.push(json!({ "name": "signup", "fingerprint": fp, "user_id": user, "created_at": at(minute + 30), "revenue": format!("{u}.99") }));
                }
            } else {
                // A payment from the second device before it is known to be
                // the user's: its revenue moves to the user with the login.
                events.push(json!({ "name": "renewal", "fingerprint": fp, "user_id": null, "created_at": at(minute + 6000), "revenue": "4.50" }));
                // The second device logs in days later, delivered last.
                late.push(json!({ "fingerprint": fp, "user_id": user, "url": "https://www.blinkist.com/library", "created_at": at(minute + 5000) }));
            }
        }
    }
    (pageviews, events, late)
}

async fn post(app: &TestApp, path: &str, items: &[Value]) {
    let r = app.post_json(path, &json!(items)).await;
    assert_eq!(r.status().as_u16(), 200);
}

type TouchRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
);
type CreditRow = (
    (
        String,
        String,
        String,
        String,
        Option<String>,
        bool,
        Option<i64>,
        i64,
    ),
    (
        i64,
        i32,
        [u64; 6],
        String,
        String,
        Option<String>,
        String,
        String,
    ),
);

fn touch_tuple(m: &entity::touchpoint::Model) -> TouchRow {
    (
        m.fingerprint.clone(),
        m.at.to_rfc3339(),
        m.source.clone(),
        m.medium.clone(),
        m.campaign.clone(),
        m.channel.clone(),
        m.landing_page.clone(),
    )
}

fn credit_tuple(m: &entity::credit::Model) -> CreditRow {
    (
        (
            m.journey_key.clone(),
            m.conversion_id.clone(),
            m.name.clone(),
            m.conversion_at.to_rfc3339(),
            m.user_id.clone(),
            m.from_trial,
            m.time_to_convert_seconds,
            m.pageviews_before,
        ),
        (
            m.pageviews_after,
            m.lookback_days,
            weights(m),
            m.source.clone(),
            m.medium.clone(),
            m.campaign.clone(),
            m.channel.clone(),
            m.landing_page.clone(),
        ),
    )
}

fn weights(m: &entity::credit::Model) -> [u64; 6] {
    [
        m.first_click,
        m.last_click,
        m.last_non_direct_click,
        m.linear,
        m.position_based,
        m.time_decay,
    ]
    .map(f64::to_bits)
}

fn unset<T: Clone>(v: &T) -> T {
    v.clone()
}

#[tokio::test]
async fn derived_tables_equal_a_recomputation_from_scratch_after_shuffled_and_late_data() {
    let app = spawn_app().await;
    let (pageviews, events, late) = generate(0xabcdef);
    let mut rng = Rng(5);
    // Events first, pageviews in shuffled chunks, late logins last, and a redelivery.
    post(&app, "/webhooks/events", &events).await;
    let mut shuffled = pageviews.clone();
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for chunk in shuffled.chunks(17) {
        post(&app, "/webhooks/pageviews", chunk).await;
    }
    // A report now, so derived rows exist before the late data changes them.
    app.graphql_ok("{ channels { totalCount } }", json!({}))
        .await;
    post(&app, "/webhooks/pageviews", &late).await;
    post(&app, "/webhooks/pageviews", &pageviews[..10]).await;
    // Reading a report flushes the queue.
    let data = app.graphql_ok("{ overview { signups } }", json!({})).await;
    assert!(data["overview"]["signups"].as_u64().unwrap() > 10);

    let store = Store::connect(&DatabaseConfig::new(app.database_url.clone()))
        .await
        .unwrap();
    let settings = Arc::new(Settings::default());
    let (touchpoints, credits) = store.all_derived().await.unwrap();
    assert!(!touchpoints.is_empty() && !credits.is_empty());

    // From scratch: every pageview, every journey.
    let all = store
        .all_pageviews(&PageviewFilter::default())
        .await
        .unwrap();
    let facts: Vec<PageviewFact> = all.iter().map(PageviewFact::from).collect();
    let mut expected_touch: Vec<TouchRow> = touchpoint_rows(&facts, &settings)
        .iter()
        .map(|t| {
            (
                unset(&t.fingerprint),
                unset(&t.at).to_rfc3339(),
                unset(&t.source),
                unset(&t.medium),
                unset(&t.campaign),
                unset(&t.channel),
                unset(&t.landing_page),
            )
        })
        .collect();
    let fingerprints: BTreeSet<String> = all.iter().map(|p| p.fingerprint.clone()).collect();
    let fingerprints: Vec<String> = fingerprints.into_iter().collect();
    let users: BTreeSet<String> = store
        .links_of_fingerprints(&fingerprints)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.user_id)
        .collect();
    let events_fps: Vec<String> = events
        .iter()
        .map(|e| e["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    let keys: Vec<JourneyKey> = users
        .into_iter()
        .map(JourneyKey::User)
        .chain(
            fingerprints
                .iter()
                .chain(&events_fps)
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(JourneyKey::Anonymous),
        )
        .collect();
    let loaded = journeys::load(&store, &settings, &keys).await.unwrap();
    let mut expected_credits: Vec<CreditRow> = keys
        .iter()
        .flat_map(|k| credit_rows(&loaded[k], &settings, &Plan::default()))
        .map(|c| {
            (
                (
                    unset(&c.journey_key),
                    unset(&c.conversion_id),
                    unset(&c.name),
                    unset(&c.conversion_at).to_rfc3339(),
                    unset(&c.user_id),
                    unset(&c.from_trial),
                    unset(&c.time_to_convert_seconds),
                    unset(&c.pageviews_before),
                ),
                (
                    unset(&c.pageviews_after),
                    unset(&c.lookback_days),
                    weights(&c),
                    unset(&c.source),
                    unset(&c.medium),
                    unset(&c.campaign),
                    unset(&c.channel),
                    unset(&c.landing_page),
                ),
            )
        })
        .collect();

    let mut got_touch: Vec<TouchRow> = touchpoints.iter().map(touch_tuple).collect();
    let mut got_credits: Vec<CreditRow> = credits.iter().map(credit_tuple).collect();
    for v in [&mut got_touch, &mut expected_touch] {
        v.sort();
    }
    got_credits.sort();
    expected_credits.sort();
    assert_eq!(got_touch, expected_touch, "touchpoints differ from scratch");
    assert_eq!(
        got_credits.len(),
        expected_credits.len(),
        "credit row counts differ"
    );
    assert_eq!(got_credits, expected_credits, "credits differ from scratch");

    // Acquisitions and revenue facts too, in any order of arrival.
    let mut expected = RevenueRows::default();
    for k in &keys {
        revenue_rows(&loaded[k], &mut expected);
    }
    let got = store.all_revenue_rows().await.unwrap();
    assert!(!got.acquisitions.is_empty() && !got.facts.is_empty());
    let facts = |rows: &RevenueRows| {
        let mut v: Vec<_> = rows
            .facts
            .iter()
            .map(|f| {
                (
                    f.journey_key.clone(),
                    f.event_id.clone(),
                    f.at,
                    f.revenue_micros,
                )
            })
            .collect();
        v.sort();
        v
    };
    let acquisitions = |rows: &RevenueRows| {
        let mut v = rows.acquisitions.clone();
        v.sort_by(|a, b| a.journey_key.cmp(&b.journey_key));
        v
    };
    assert_eq!(
        acquisitions(&got),
        acquisitions(&expected),
        "acquisitions differ from scratch"
    );
    assert_eq!(
        facts(&got),
        facts(&expected),
        "revenue facts differ from scratch"
    );
    assert!(
        got.facts.iter().all(|f| f.journey_key.starts_with("u:")),
        "every payment of a device that logged in belongs to its user"
    );
}

#[tokio::test]
async fn a_write_that_lands_while_a_step_computes_keeps_its_fingerprint_queued() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database(&dir).await;
    let store = Store::connect(&DatabaseConfig::new(url)).await.unwrap();
    store.migrate().await.unwrap();
    let ingestor = growth_analytics::ingest::Ingestor::new(store.clone(), &[], 100);
    let pageview = |at: &str| growth_analytics::domain::RawPageview {
        fingerprint: Some("racer".into()),
        user_id: None,
        url: Some("https://www.blinkist.com/".into()),
        referrer_url: None,
        created_at: Some(at.into()),
    };
    ingestor
        .pageviews(vec![pageview("2023-01-01T00:00:00Z")], false)
        .await
        .unwrap();
    // A step reads the mark …
    let claimed = store.dirty_fingerprints(None, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // … a webhook for the same visitor lands while it computes …
    ingestor
        .pageviews(vec![pageview("2023-01-02T00:00:00Z")], false)
        .await
        .unwrap();
    // … and the step's result, computed without it, must not clear the mark.
    store
        .replace_derived(
            &claimed,
            &["racer".to_owned()],
            Vec::new(),
            &[],
            Vec::new(),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.dirty_count().await.unwrap(),
        1,
        "the late write stays queued"
    );

    // A step that saw everything clears it.
    let claimed = store.dirty_fingerprints(None, 10).await.unwrap();
    store
        .replace_derived(
            &claimed,
            &["racer".to_owned()],
            Vec::new(),
            &[],
            Vec::new(),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(store.dirty_count().await.unwrap(), 0);
}
