//! The report cache: a repeat of a report while no derived data changed is
//! served from memory; any change — a webhook, spend, an erasure, a write
//! through another service process on the same database — is seen by the
//! next report.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const RANGE: &str = r#"{from: "2023-01-01T00:00:00Z", to: "2023-02-01T00:00:00Z"}"#;

fn report() -> String {
    format!(
        "{{ campaigns(range: {RANGE}) {{ nodes {{ campaign source conversions visitors spend }} }} overview(range: {RANGE}) {{ signups visitors }} timeseries(range: {RANGE}, groupBy: CHANNEL) {{ series {{ channel total }} }} }}"
    )
}

async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("metrics expose {name}"))
}

async fn hits(app: &TestApp) -> u64 {
    counter(app, "growth_analytics_report_cache_hits_total").await
}

async fn signup(app: &TestApp, i: usize, day: u32) {
    let fp = format!("fp-{i}");
    let at = format!("2023-01-{day:02}T10:00:00Z");
    let later = format!("2023-01-{day:02}T11:00:00Z");
    app.post_json(
        "/webhooks/pageviews",
        &json!([{ "fingerprint": fp, "user_id": null, "url": "https://example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand", "referrer_url": null, "created_at": at }]),
    )
    .await;
    app.post_json(
        "/webhooks/events",
        &json!([{ "name": "signup", "fingerprint": fp, "user_id": format!("u-{i}"), "created_at": later }]),
    )
    .await;
}

fn signups(data: &Value) -> u64 {
    data["overview"]["signups"].as_u64().unwrap()
}

#[tokio::test]
async fn a_repeated_report_is_served_from_the_cache_until_something_changes() {
    let app = spawn_app().await;
    signup(&app, 1, 5).await;
    let first = app.graphql_ok(&report(), json!({})).await;
    assert_eq!(signups(&first), 1);
    let before = hits(&app).await;
    let again = app.graphql_ok(&report(), json!({})).await;
    assert_eq!(again, first);
    assert_eq!(hits(&app).await, before + 3, "all three reports hit");

    // A new conversion: recomputed, and counted.
    signup(&app, 2, 6).await;
    let before = hits(&app).await;
    let after = app.graphql_ok(&report(), json!({})).await;
    assert_eq!(hits(&app).await, before, "nothing may hit after a webhook");
    assert_eq!(signups(&after), 2);

    // Spend is not derived, but a report input: it invalidates too.
    app.post_json(
        "/webhooks/spend",
        &json!({ "campaign": "brand", "source": "google", "medium": "cpc", "date": "2023-01-06", "amount": "12.50" }),
    )
    .await;
    let with_spend = app.graphql_ok(&report(), json!({})).await;
    let spend: Vec<&str> = with_spend["campaigns"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["spend"].as_str())
        .collect();
    assert!(spend.contains(&"12.50"), "{spend:?}");

    // Another range is another entry.
    let before = hits(&app).await;
    app.graphql_ok(
        r#"{ overview(range: {from: "2023-01-01T00:00:00Z", to: "2023-01-06T00:00:00Z"}) { signups } }"#,
        json!({}),
    )
    .await;
    assert_eq!(hits(&app).await, before);
}

#[tokio::test]
async fn a_write_through_another_process_on_the_same_database_invalidates_the_cache() {
    let first = spawn_app().await;
    let url = first.database_url.clone();
    let second = spawn_app_with(move |c| c.database.database_url = url).await;
    signup(&first, 1, 5).await;
    let before = first.graphql_ok(&report(), json!({})).await;
    assert_eq!(signups(&before), 1);
    // Written and materialised by the second process only.
    signup(&second, 2, 7).await;
    second.graphql_ok(&report(), json!({})).await;
    let after = first.graphql_ok(&report(), json!({})).await;
    assert_eq!(signups(&after), 2);
    assert_ne!(after["campaigns"], before["campaigns"]);
}

#[tokio::test]
async fn a_process_started_with_other_lookback_windows_recomputes_what_is_stored() {
    let first = spawn_app_with(|c| c.attribution.lookback_windows = vec![7]).await;
    for (i, day) in [(1, 3), (2, 9), (3, 20)] {
        signup(&first, i, day).await;
    }
    // 14 days is not materialised here: computed on the spot.
    let query = format!(
        "{{ campaigns(range: {RANGE}, lookbackDays: 14) {{ nodes {{ campaign conversions visitors }} }} }}"
    );
    let expected = first.graphql_ok(&query, json!({})).await;
    assert_eq!(expected["campaigns"]["nodes"][0]["conversions"], 3.0);
    // Processes on one database share these settings: the first stops
    // (its materialiser with it) before the second starts.
    let url = first.database_url.clone();
    let _dir = first.stop().await;
    let second = spawn_app_with(move |c| {
        c.database.database_url = url;
        c.attribution.lookback_windows = vec![14];
    })
    .await;
    // Read from rollups of credits this process materialised itself.
    assert_eq!(second.graphql_ok(&query, json!({})).await, expected);
}
