//! Demo data: seeded through the ingestion path, it is queryable through
//! GraphQL right away, and seeding again is absorbed as redeliveries.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use growth_analytics::config::DatabaseConfig;
use growth_analytics::demo::{self, Params, SeedSummary};
use growth_analytics::ingest::Ingestor;
use growth_analytics::store::Store;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

fn params() -> Params {
    Params {
        visitors: 150,
        days: 30,
        seed: 42,
        end: NaiveDate::from_ymd_opt(2024, 3, 31).expect("a valid date"),
    }
}

/// Seeds the app's database from outside, as `growth-analytics seed` would.
async fn seed(app: &TestApp) -> SeedSummary {
    let store = Store::connect(&DatabaseConfig::new(app.database_url.clone()))
        .await
        .expect("Failed to connect to the test database");
    let ingestor = Ingestor::new(store, &[], 10_000);
    demo::seed(&ingestor, &params(), false)
        .await
        .expect("Failed to seed demo data")
}

#[tokio::test]
async fn seeded_demo_data_is_queryable_with_conversions_users_and_diverse_channels() {
    let app = spawn_app().await;
    let summary = seed(&app).await;
    assert_eq!(summary.visitors, 150);
    assert_eq!(summary.stored, summary.pageviews + summary.events);
    assert_eq!(summary.duplicates, 0);

    let data = app
        .graphql_ok(
            "{ conversions { totalCount } pageviews { totalCount } users { totalCount } }",
            json!({}),
        )
        .await;
    for field in ["conversions", "pageviews", "users"] {
        let count = data[field]["totalCount"].as_u64().unwrap_or(0);
        assert!(count > 0, "no {field}: {data}");
    }
    assert_eq!(
        data["pageviews"]["totalCount"].as_u64(),
        Some(summary.pageviews)
    );

    let data = app
        .graphql_ok("{ pageviews(first: 500) { nodes { channel } } }", json!({}))
        .await;
    let channels: BTreeSet<&str> = data["pageviews"]["nodes"]
        .as_array()
        .expect("nodes is a list")
        .iter()
        .filter_map(|n| n["channel"].as_str())
        .collect();
    assert!(channels.len() >= 6, "only {channels:?}");

    let data = app.graphql_ok(demo::FIRST_QUERY, json!({})).await;
    let nodes = data["conversions"]["nodes"]
        .as_array()
        .expect("nodes is a list");
    assert!(
        !nodes.is_empty(),
        "the printed first query finds conversions"
    );
}

#[tokio::test]
async fn seeding_the_same_demo_data_twice_stores_nothing_new() {
    let app = spawn_app().await;
    let first = seed(&app).await;
    let (pageviews, events) = app.counts().await;

    let second = seed(&app).await;
    assert_eq!(second.stored, 0, "{second}");
    assert_eq!(second.duplicates, first.stored);
    assert_eq!(app.counts().await, (pageviews, events));
}
