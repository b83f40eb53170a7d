//! The database in production: which backend this run uses, a database that
//! is down at start-up, migrations from several processes, a read replica.
//!
//! Every test here runs on both backends (SQLite by default, PostgreSQL with
//! `TEST_DATABASE_URL=postgres://…`), except where a name says otherwise.

use std::io::Write;
use std::time::{Duration, Instant};

use growth_analytics::config::DatabaseConfig;
use growth_analytics::store::Store;
use serde_json::{json, Value};

use crate::helpers::{fresh_database, on_postgres, spawn_app, spawn_app_with, TestApp};

/// Says so on the terminal, past the test harness's output capture (which
/// swallows `eprintln!` of passing tests): a skipped half must be visible.
fn announce(line: &str) {
    let _ = writeln!(std::io::stderr(), "\n*** {line}\n");
}

#[tokio::test]
async fn postgresql_half_runs_or_says_it_was_skipped() {
    if !on_postgres() {
        announce(
            "PostgreSQL half SKIPPED: TEST_DATABASE_URL is not set, so every test ran on \
             SQLite only. Set TEST_DATABASE_URL=postgres://user@host:port/postgres (or run \
             .ci/run) to run the suite on PostgreSQL too.",
        );
        return;
    }
    let app = spawn_app().await;
    assert!(
        app.database_url.starts_with("postgres"),
        "TEST_DATABASE_URL is PostgreSQL, yet the app got {}",
        app.database_url
    );
    let store = Store::connect(&DatabaseConfig::new(app.database_url.clone()))
        .await
        .expect("Failed to set up the store");
    assert_eq!(store.backend(), sea_orm::DbBackend::Postgres);
    assert!(store.ping().await, "the PostgreSQL test database answers");
    announce("PostgreSQL half RUNS: every test got a fresh database on TEST_DATABASE_URL's server");
}

/// A loopback port where nothing listens.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn pageview(fp: &str, at: &str) -> Value {
    json!({
        "fingerprint": fp,
        "url": "https://www.blinkist.com/?utm_source=google&utm_medium=cpc",
        "created_at": at,
    })
}

/// Asserts the quick 503 with a JSON error that requests get while the
/// database is not ready.
async fn assert_unavailable(app: &TestApp) {
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status().as_u16(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "unavailable", "{body}");

    let started = Instant::now();
    let webhook = app
        .post_json(
            "/webhooks/pageviews",
            &pageview("f1", "2024-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(webhook.status().as_u16(), 503);
    let body: Value = webhook.json().await.unwrap();
    assert_eq!(body["error"], "database_unavailable", "{body}");

    let graphql = app
        .post_json(
            "/graphql",
            &json!({ "query": "{ pageviews { totalCount } }" }),
        )
        .await;
    assert_eq!(graphql.status().as_u16(), 503);
    let body: Value = graphql.json().await.unwrap();
    assert_eq!(body["error"], "database_unavailable", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a request while the database is down answers at once, not after a hang"
    );
}

#[tokio::test]
async fn service_starts_while_postgresql_is_unreachable_and_says_503() {
    let app = spawn_app_with(|c| {
        c.database.database_url = format!("postgres://postgres@127.0.0.1:{}/ga", dead_port());
        c.database.acquire_timeout_secs = 1;
    })
    .await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status().as_u16(), 200, "the process itself is up");
    assert_unavailable(&app).await;
    let body: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(body["database"], false, "{body}");
}

#[tokio::test]
async fn service_started_before_its_database_recovers_when_it_appears() {
    // An SQLite file in a directory that does not exist yet cannot be opened:
    // the database is "down" until the directory is created.
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("later");
    let url = format!("sqlite://{}?mode=rwc", later.join("test.db").display());
    let app = spawn_app_with(|c| {
        c.database.database_url = url;
        c.database.acquire_timeout_secs = 1;
    })
    .await;
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    assert_unavailable(&app).await;

    std::fs::create_dir(&later).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if app.get("/readyz").await.status().as_u16() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not recover within 15 s of its database appearing"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored = app
        .post_json(
            "/webhooks/pageviews",
            &pageview("f1", "2024-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(stored.status().as_u16(), 200);
    assert_eq!(app.counts().await, (1, 0));
}

#[tokio::test]
async fn four_concurrent_migrations_on_one_fresh_database_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(&dir).await;
    let mut runs = Vec::new();
    for _ in 0..4 {
        // Four stores, four pools: as four processes starting at once.
        let store = Store::connect(&DatabaseConfig::new(url.clone()))
            .await
            .expect("Failed to set up the store");
        runs.push(tokio::spawn(async move { store.migrate().await }));
    }
    for run in runs {
        run.await
            .unwrap()
            .expect("a concurrent migration run failed");
    }
    // The schema is whole: the service starts on it and stores a webhook.
    let app = spawn_app_with(|c| c.database.database_url = url.clone()).await;
    let stored = app
        .post_json(
            "/webhooks/pageviews",
            &pageview("f1", "2024-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(stored.status().as_u16(), 200);
    assert_eq!(app.counts().await, (1, 0));
}

async fn replica_statements(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("growth_analytics_sql_replica_statements_total "))
        .expect("no replica counter in /metrics")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn read_queries_go_to_the_read_replica_and_writes_to_the_primary() {
    // The "replica" is the same database here: what is checked is that reads
    // take the second pool and still answer, and that writes do not.
    let app = spawn_app_with(|c| {
        c.database_read_url = Some(c.database.database_url.clone());
    })
    .await;
    assert_eq!(app.get("/readyz").await.status().as_u16(), 200);
    let before = replica_statements(&app).await;
    let stored = app
        .post_json(
            "/webhooks/pageviews",
            &json!([
                pageview("f1", "2024-01-01T00:00:00Z"),
                pageview("f2", "2024-01-01T00:01:00Z")
            ]),
        )
        .await;
    assert_eq!(stored.status().as_u16(), 200);
    assert_eq!(
        replica_statements(&app).await,
        before,
        "a webhook writes on the primary only"
    );
    assert_eq!(app.counts().await, (2, 0));
    assert!(
        replica_statements(&app).await > before,
        "read-only queries run on the replica pool"
    );
    // A mutation answers with its own row, read back from the primary.
    let data = app
        .graphql_ok(
            r#"mutation { recordPageview(input: { fingerprint: "f3",
                 url: "https://www.blinkist.com/", createdAt: "2024-01-01T00:02:00Z" }) { id } }"#,
            json!({}),
        )
        .await;
    assert!(data["recordPageview"]["id"].is_string() || data["recordPageview"]["id"].is_number());
    assert_eq!(app.counts().await, (3, 0));
}
