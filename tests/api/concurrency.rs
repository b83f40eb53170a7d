//! Concurrent writers, on both backends: the original service's worry (two
//! writers read 123, both write 124) must not exist here. Counts come from
//! the stored facts, and duplicates are absorbed by the unique natural key,
//! so any interleaving gives exact totals.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{fresh_database, on_postgres, spawn_app};

const SPRING: &str =
    "https://www.blinkist.com/lp?utm_campaign=spring&utm_source=facebook&utm_medium=paid";

fn pageview(fp: &str, url: &str, at: &str) -> Value {
    json!({ "fingerprint": fp, "url": url, "referrer_url": "https://www.facebook.com/", "created_at": at })
}

fn signup(fp: &str, user: &str, at: &str) -> Value {
    json!({ "name": "signup", "fingerprint": fp, "user_id": user, "created_at": at })
}

/// POSTs and returns (stored, duplicates), asserting a 200.
async fn post(client: &reqwest::Client, base: &str, path: &str, body: &Value) -> (u64, u64) {
    let response = client
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("Failed to send the request");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("the answer is not JSON");
    assert_eq!(status, 200, "{path} answered {status}: {body}");
    (
        body["stored"].as_u64().unwrap(),
        body["duplicates"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn thirty_two_concurrent_signups_crediting_one_campaign_are_all_counted() {
    let app = spawn_app().await;
    let mut clients = Vec::new();
    for i in 0..32 {
        let (client, base) = (app.client.clone(), app.address.clone());
        clients.push(tokio::spawn(async move {
            let fp = format!("fp-{i}");
            let at = format!("2024-03-01T10:{i:02}:00Z");
            let signed_up = format!("2024-03-01T11:{i:02}:00Z");
            post(
                &client,
                &base,
                "/webhooks/pageviews",
                &pageview(&fp, SPRING, &at),
            )
            .await;
            post(
                &client,
                &base,
                "/webhooks/events",
                &signup(&fp, &format!("user-{i}"), &signed_up),
            )
            .await;
        }));
    }
    for client in clients {
        client.await.expect("a client failed");
    }

    let data = app
        .graphql_ok(
            r#"{ conversions(campaign: "spring") { totalCount }
                 campaigns(first: 50) { nodes { campaign conversions } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["conversions"]["totalCount"], 32, "{data}");
    let rows = data["campaigns"]["nodes"].as_array().unwrap();
    let spring: Vec<&Value> = rows.iter().filter(|r| r["campaign"] == "spring").collect();
    assert_eq!(spring.len(), 1, "one spring row: {data}");
    assert_eq!(spring[0]["conversions"].as_f64(), Some(32.0), "{data}");
    assert_eq!(app.counts().await, (32, 32));
}

#[tokio::test]
async fn thirty_two_concurrent_deliveries_of_one_payload_store_it_once() {
    let app = spawn_app().await;
    let pv = pageview("fp-dup", SPRING, "2024-03-01T10:00:00Z");
    let ev = signup("fp-dup", "user-dup", "2024-03-01T10:05:00Z");
    let mut deliveries = Vec::new();
    for i in 0..32 {
        let (client, base) = (app.client.clone(), app.address.clone());
        let (path, body) = if i % 2 == 0 {
            ("/webhooks/pageviews", pv.clone())
        } else {
            ("/webhooks/events", ev.clone())
        };
        // Half of them one at a time, half inside a batch with itself.
        let body = if i % 4 < 2 {
            body
        } else {
            json!([body.clone(), body])
        };
        deliveries.push(tokio::spawn(async move {
            post(&client, &base, path, &body).await
        }));
    }
    let (mut stored, mut duplicates) = (0, 0);
    for delivery in deliveries {
        let (s, d) = delivery.await.expect("a delivery failed");
        stored += s;
        duplicates += d;
    }
    assert_eq!(stored, 2, "one pageview and one event stored");
    assert_eq!(duplicates, 48 - 2, "every other copy reported a duplicate");
    assert_eq!(app.counts().await, (1, 1));
}

/// A real service process, killed when dropped.
struct Process {
    address: String,
    _child: Child,
}

async fn start_process(database_url: &str) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_growth-analytics"))
        .args(["serve", "--listen", "127.0.0.1:0", "--max-connections", "8"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .env("BOOTSTRAP_ADMIN_KEY", crate::helpers::TEST_ADMIN_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("Failed to start the service binary");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(address) = line.strip_prefix("growth-analytics is serving on ") {
                return address.trim().to_owned();
            }
        }
        panic!("the service exited before serving");
    })
    .await
    .expect("the service did not start within 60 s");
    // Keep draining its stderr so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Process {
        address,
        _child: child,
    }
}

/// `n` pageviews and, for every fourth, a signup, of fingerprints `{prefix}-i`.
fn payloads(prefix: &str, n: usize) -> (Vec<Value>, Vec<Value>) {
    let pageviews = (0..n)
        .map(|i| {
            pageview(
                &format!("{prefix}-{i}"),
                SPRING,
                &format!("2024-03-01T{:02}:{:02}:00Z", i / 60 % 24, i % 60),
            )
        })
        .collect();
    let events = (0..n)
        .step_by(4)
        .map(|i| {
            signup(
                &format!("{prefix}-{i}"),
                &format!("{prefix}-user-{i}"),
                &format!("2024-03-02T{:02}:{:02}:00Z", i / 60 % 24, i % 60),
            )
        })
        .collect();
    (pageviews, events)
}

#[tokio::test]
async fn two_service_processes_on_one_postgresql_database_lose_and_duplicate_nothing() {
    if !on_postgres() {
        eprintln!(
            "skipped: two processes on one database is a PostgreSQL test (TEST_DATABASE_URL)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(&dir).await;
    // Both start on the empty database at once: their migrations race too.
    let (a, b) = tokio::join!(start_process(&url), start_process(&url));

    let (only_a, only_a_events) = payloads("a", 300);
    let (only_b, only_b_events) = payloads("b", 300);
    let (both, both_events) = payloads("c", 300);
    let client = crate::helpers::client_with_key(crate::helpers::TEST_ADMIN_KEY);
    let mut sends = Vec::new();
    let mut send = |base: &str, path: &'static str, items: &[Value]| {
        for batch in items.chunks(25) {
            let (client, base, batch) = (client.clone(), base.to_owned(), json!(batch));
            sends.push(tokio::spawn(async move {
                post(&client, &base, path, &batch).await
            }));
        }
    };
    for process in [&a, &b] {
        send(&process.address, "/webhooks/pageviews", &both);
        send(&process.address, "/webhooks/events", &both_events);
    }
    send(&a.address, "/webhooks/pageviews", &only_a);
    send(&a.address, "/webhooks/events", &only_a_events);
    send(&b.address, "/webhooks/pageviews", &only_b);
    send(&b.address, "/webhooks/events", &only_b_events);
    let (mut stored, mut duplicates) = (0, 0);
    for s in sends {
        let (s, d) = s.await.expect("a sender failed");
        stored += s;
        duplicates += d;
    }
    assert_eq!(stored, 900 + 225, "every distinct payload stored once");
    assert_eq!(
        duplicates,
        300 + 75,
        "every overlapping payload absorbed once"
    );

    for process in [&a, &b] {
        let body: Value = client
            .post(format!("{}/graphql", process.address))
            .json(
                &json!({ "query": r#"{ pageviews { totalCount } events { totalCount }
                 conversions(campaign: "spring") { totalCount }
                 campaigns(first: 50) { nodes { campaign conversions } } }"# }),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["pageviews"]["totalCount"], 900, "{body}");
        assert_eq!(body["data"]["events"]["totalCount"], 225, "{body}");
        assert_eq!(body["data"]["conversions"]["totalCount"], 225, "{body}");
        // The report reads the derived tables, kept by both processes'
        // materialisers at once: they agree with computing from scratch.
        let rows = body["data"]["campaigns"]["nodes"].as_array().unwrap();
        let spring: Vec<&Value> = rows.iter().filter(|r| r["campaign"] == "spring").collect();
        assert_eq!(spring.len(), 1, "{body}");
        assert_eq!(spring[0]["conversions"].as_f64(), Some(225.0), "{body}");
    }
}
