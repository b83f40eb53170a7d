//! `import`: files stored through the ingestion path of a running service,
//! checked through its GraphQL API.

use std::io::Write;
use std::path::{Path, PathBuf};

use growth_analytics::config::DatabaseConfig;
use growth_analytics::ingest::import::{
    import, ImportFormat, ImportKind, ImportOptions, ImportSummary, Refused,
};
use growth_analytics::ingest::Ingestor;
use growth_analytics::store::Store;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp, FIXTURES};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
const AT: &str = "2000-05-04 02:18:11.106928 UTC";

fn signups() -> PathBuf {
    Path::new(FIXTURES).join("seed-export/event_signup_data.csv")
}

fn trials() -> PathBuf {
    Path::new(FIXTURES).join("seed-export/event_trial_data.csv")
}

/// An ingestor on the app's own database, as the `import` command builds one.
async fn ingestor(app: &TestApp) -> Ingestor {
    let store = Store::connect(&DatabaseConfig::new(app.database_url.clone()))
        .await
        .expect("Failed to connect to the test database");
    Ingestor::new(store, &[], 10_000)
}

/// A temporary file with `text`, named with `suffix`.
fn file(suffix: &str, text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(suffix)
        .tempfile()
        .expect("Failed to create a temporary file");
    file.write_all(text.as_bytes())
        .expect("Failed to write a temporary file");
    file
}

/// A signup CSV whose line 3 has no fingerprint and a bad timestamp.
fn csv_with_one_bad_row() -> tempfile::NamedTempFile {
    file(
        ".csv",
        &format!(
            "name,fingerprint,user_id,created_at\n\
             signup,fp-1,u-1,{AT}\n\
             signup,,u-2,last tuesday\n\
             signup,fp-3,,{AT}\n"
        ),
    )
}

async fn events_named(app: &TestApp, name: &str) -> u64 {
    let data = app
        .graphql_ok(
            "query($name: String!) { events(filter: {name: $name}) { totalCount } }",
            json!({ "name": name }),
        )
        .await;
    data["events"]["totalCount"].as_u64().unwrap()
}

#[tokio::test]
async fn the_original_services_export_imports_as_100_signups_and_60_trials() {
    let app = spawn_app().await;
    let ingestor = ingestor(&app).await;

    let signup = import(
        &ingestor,
        ImportKind::Events,
        &signups(),
        ImportOptions::default(),
    )
    .await
    .unwrap();
    let trial = import(
        &ingestor,
        ImportKind::Events,
        &trials(),
        ImportOptions::default(),
    )
    .await
    .unwrap();

    let expected = |n| ImportSummary {
        read: n,
        stored: n,
        ..ImportSummary::default()
    };
    assert_eq!(signup, expected(100));
    assert_eq!(trial, expected(60));
    assert_eq!(events_named(&app, "signup").await, 100);
    assert_eq!(events_named(&app, "trial").await, 60);
}

#[tokio::test]
async fn re_importing_a_file_stores_nothing_new() {
    let app = spawn_app().await;
    let ingestor = ingestor(&app).await;
    let options = ImportOptions::default();
    import(&ingestor, ImportKind::Events, &signups(), options)
        .await
        .unwrap();

    let again = import(&ingestor, ImportKind::Events, &signups(), options)
        .await
        .unwrap();

    assert_eq!((again.read, again.stored, again.duplicates), (100, 0, 100));
    assert_eq!(events_named(&app, "signup").await, 100);
}

#[tokio::test]
async fn a_csv_with_one_bad_row_is_refused_naming_line_and_field_and_stores_nothing() {
    let app = spawn_app().await;
    let ingestor = ingestor(&app).await;
    let csv = csv_with_one_bad_row();

    let err = import(
        &ingestor,
        ImportKind::Events,
        csv.path(),
        ImportOptions::default(),
    )
    .await
    .unwrap_err();

    let refused = err.downcast_ref::<Refused>().expect("a refusal");
    assert_eq!((refused.read, refused.rejected), (3, 1));
    let found: Vec<_> = refused.errors.iter().map(|e| (e.line, e.field)).collect();
    assert_eq!(found, [(3, "fingerprint"), (3, "created_at")]);
    let message = format!("{err:#}");
    assert!(
        message.contains("line 3: fingerprint is required"),
        "{message}"
    );
    assert!(message.contains("nothing was stored"), "{message}");
    assert_eq!(app.counts().await, (0, 0));
}

#[tokio::test]
async fn skip_invalid_stores_the_good_rows_and_reports_the_bad_one() {
    let app = spawn_app().await;
    let ingestor = ingestor(&app).await;
    let csv = csv_with_one_bad_row();
    let options = ImportOptions {
        skip_invalid: true,
        ..ImportOptions::default()
    };

    let summary = import(&ingestor, ImportKind::Events, csv.path(), options)
        .await
        .unwrap();

    assert_eq!((summary.read, summary.stored, summary.rejected), (3, 2, 1));
    assert_eq!(summary.errors.len(), 2);
    assert!(summary.errors.iter().all(|e| e.line == 3));
    assert_eq!(summary.errors[1].field, "created_at");
    assert!(summary.errors[1].message.contains("last tuesday"));
    assert_eq!(events_named(&app, "signup").await, 2);
}

#[tokio::test]
async fn an_ndjson_pageview_file_imports_and_is_classified_as_webhooks_are() {
    let app = spawn_app().await;
    let ingestor = ingestor(&app).await;
    let path = Path::new(DATA).join("pageviews.ndjson");

    let summary = import(
        &ingestor,
        ImportKind::Pageviews,
        &path,
        ImportOptions::default(),
    )
    .await
    .unwrap();

    assert_eq!((summary.read, summary.stored), (4, 4));
    let data = app
        .graphql_ok("{ pageviews { nodes { url channel } } }", json!({}))
        .await;
    let channel_of = |needle: &str| {
        data["pageviews"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["url"].as_str().unwrap().contains(needle))
            .map(|n| n["channel"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no pageview with {needle}"))
    };
    assert_eq!(channel_of("meet-blinkist"), "PAID_SOCIAL");
    assert_eq!(channel_of("lives-of-the-stoics"), "ORGANIC_SEARCH");
    assert_eq!(channel_of("library"), "DIRECT");
}

#[tokio::test]
async fn a_pageview_csv_may_order_its_columns_freely_and_carry_extra_ones() {
    let app = spawn_app().await;
    let ingestor = ingestor(&app).await;
    let path = Path::new(DATA).join("pageviews.csv");

    let summary = import(
        &ingestor,
        ImportKind::Pageviews,
        &path,
        ImportOptions::default(),
    )
    .await
    .unwrap();

    assert_eq!((summary.read, summary.stored), (2, 2));
    assert_eq!(app.counts().await, (2, 0));
}

#[tokio::test]
async fn the_format_flag_reads_a_file_whose_extension_says_nothing() {
    let app = spawn_app().await;
    let ingestor = ingestor(&app).await;
    let line = format!(r#"{{"name":"trial","fingerprint":"fp","created_at":"{AT}"}}"#);
    let export = file(".txt", &line);

    let err = import(
        &ingestor,
        ImportKind::Events,
        export.path(),
        ImportOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("--format"), "{err}");

    let options = ImportOptions {
        format: Some(ImportFormat::Ndjson),
        ..ImportOptions::default()
    };
    let summary = import(&ingestor, ImportKind::Events, export.path(), options)
        .await
        .unwrap();
    assert_eq!(summary.stored, 1);
    assert_eq!(events_named(&app, "trial").await, 1);
}

/// Runs the `import` command against `database_url`.
async fn import_command(database_url: &str, kind: &str, path: &Path, extra: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_growth-analytics"))
        .args(["import", kind])
        .arg(path)
        .args(["--database-url", database_url])
        .args(extra)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("Failed to run the import command");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "import failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_import_command_leaves_the_attribution_computed_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let pageviews = file(
        ".ndjson",
        r#"{"fingerprint":"fp-a","url":"https://example.com/?utm_source=google&utm_medium=cpc&utm_campaign=spring","created_at":"2026-05-01T10:00:00Z"}
{"fingerprint":"fp-a","user_id":"u-a","url":"https://example.com/pricing","created_at":"2026-05-01T10:05:00Z"}
"#,
    );
    let events = file(
        ".ndjson",
        r#"{"name":"signup","fingerprint":"fp-a","user_id":"u-a","created_at":"2026-05-01T10:06:00Z"}
"#,
    );
    for (name, extra, queued) in [
        ("computed", &[][..], false),
        ("left", &["--no-materialize"][..], true),
    ] {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join(format!("{name}.db")).display()
        );
        import_command(&url, "pageviews", pageviews.path(), extra).await;
        let out = import_command(&url, "events", events.path(), extra).await;
        assert_eq!(out.contains("attribution computed"), !queued, "{out}");

        let store = Store::connect(&DatabaseConfig::new(url.clone()))
            .await
            .unwrap();
        let (fingerprints, hours, days) = store.queue_lengths().await.unwrap();
        assert_eq!(
            fingerprints + hours + days > 0,
            queued,
            "{name}: queues {fingerprints}, {hours}, {days}"
        );
        let (_, credits) = store.all_derived().await.unwrap();
        let last_click: Vec<_> = credits
            .iter()
            .filter(|c| c.last_click > 0.0 && c.lookback_days == 30)
            .map(|c| (c.user_id.as_deref(), c.campaign.as_deref(), c.last_click))
            .collect();
        if queued {
            assert!(last_click.is_empty(), "{name}: {last_click:?}");
        } else {
            assert_eq!(last_click, [(Some("u-a"), Some("spring"), 1.0)]);
        }
    }
}
