//! Group commit: concurrent webhooks share transactions, yet each request
//! gets its own exact counts, and one failing request fails alone.

use growth_analytics::config::DatabaseConfig;
use growth_analytics::domain::RawPageview;
use growth_analytics::ingest::Ingestor;
use growth_analytics::store::{InsertOutcome, Store};
use sea_orm::ActiveValue::NotSet;
use serde_json::{json, Value};

use crate::helpers::{fresh_database, spawn_app};

fn pageview(i: usize) -> Value {
    json!({
        "fingerprint": format!("fp-{i}"),
        "user_id": null,
        "url": format!("https://www.blinkist.com/en/page-{i}"),
        "referrer_url": null,
        "created_at": "2026-05-01 10:00:00 UTC",
    })
}

#[tokio::test]
async fn concurrent_single_webhooks_each_get_their_own_exact_counts() {
    let app = spawn_app().await;
    // 64 distinct pageviews and 16 more deliveries of the first one.
    let payloads: Vec<Value> = (0..64)
        .map(pageview)
        .chain((0..16).map(|_| pageview(0)))
        .collect();
    let tasks: Vec<_> = payloads
        .into_iter()
        .map(|payload| {
            let (client, url) = (
                app.client.clone(),
                format!("{}/webhooks/pageviews", app.address),
            );
            tokio::spawn(async move {
                let response = client.post(url).json(&payload).send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
                response.json::<Value>().await.unwrap()
            })
        })
        .collect();
    let (mut stored, mut duplicates) = (0, 0);
    for task in tasks {
        let body = task.await.unwrap();
        let (s, d) = (
            body["stored"].as_u64().unwrap(),
            body["duplicates"].as_u64().unwrap(),
        );
        // A single payload is either stored or a duplicate, never both.
        assert_eq!(s + d, 1, "{body}");
        stored += s;
        duplicates += d;
    }
    assert_eq!((stored, duplicates), (64, 16));
    assert_eq!(app.counts().await, (64, 0));
}

#[tokio::test]
async fn a_request_that_fails_inside_a_group_does_not_fail_its_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&DatabaseConfig::new(fresh_database(&dir).await))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let ingestor = Ingestor::new(store.clone(), &[], 100);
    let rows = |i: usize| {
        let raw = RawPageview {
            fingerprint: Some(format!("fp-{i}")),
            user_id: None,
            url: Some(format!("https://example.com/{i}")),
            referrer_url: None,
            created_at: Some("2026-05-01 10:00:00 UTC".into()),
        };
        ingestor.prepare_pageviews(vec![raw]).unwrap().rows
    };
    let mut poisoned = rows(1);
    // No fingerprint: the NOT NULL constraint refuses the row in the database.
    poisoned[0].fingerprint = NotSet;
    // `join!` polls all three before the writer runs, so they are queued
    // together and the writer takes them as one group.
    let (a, bad, c) = tokio::join!(
        store.insert_pageviews(rows(0), vec![], vec!["fp-0".into()]),
        store.insert_pageviews(poisoned, vec![], vec!["fp-1".into()]),
        store.insert_pageviews(rows(2), vec![], vec!["fp-2".into()]),
    );
    let stored = InsertOutcome {
        stored: 1,
        duplicates: 0,
    };
    assert_eq!(a.unwrap(), stored);
    assert_eq!(c.unwrap(), stored);
    let error = bad.unwrap_err().to_string();
    assert!(error.to_lowercase().contains("null"), "{error}");
    // Retrying the good ones alone stored each once: a redelivery is a duplicate.
    let again = store
        .insert_pageviews(rows(0), vec![], vec!["fp-0".into()])
        .await
        .unwrap();
    assert_eq!(
        again,
        InsertOutcome {
            stored: 0,
            duplicates: 1
        }
    );
}
