//! `spawn_app()`: the real service on a random port, a fresh database each.
//!
//! SQLite by default (a file in a temporary directory). With
//! `TEST_DATABASE_URL=postgres://…` each test gets its own fresh PostgreSQL
//! database on that server instead, so tests run in parallel either way.

use std::sync::atomic::{AtomicU64, Ordering};

use growth_analytics::config::{AuthConfig, DatabaseConfig, ServeConfig};
use growth_analytics::startup::Application;
use reqwest::{Client, Response};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The repository's own fixtures (`tests/fixtures/`): a fresh clone needs nothing beside it.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The admin key every test app starts with (`BOOTSTRAP_ADMIN_KEY`); it
/// has a `+` and a `/` so that the browser tests cover keys that need
/// escaping in a URL fragment.
pub const TEST_ADMIN_KEY: &str = crate::test_admin_key!();

/// [`TEST_ADMIN_KEY`] as a literal, for `concat!` into raw requests.
#[macro_export]
macro_rules! test_admin_key {
    () => {
        "ga_test+admin/key_0123456789abcdefghijklmnop"
    };
}

/// A client that sends `key` as a bearer token on every request.
pub fn client_with_key(key: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}")
            .parse()
            .expect("a key is a header value"),
    );
    Client::builder()
        .default_headers(headers)
        .build()
        .expect("Failed to build an HTTP client")
}

/// A running instance of the service.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    #[allow(dead_code)] // read by the PostgreSQL-only tests
    pub database_url: String,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Spawns the service with default configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// Whether the tests run on PostgreSQL (`TEST_DATABASE_URL=postgres://…`).
pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres"))
}

/// A database URL of its own for one test: a new PostgreSQL database on
/// `TEST_DATABASE_URL`'s server, else an SQLite file in `dir`.
pub async fn fresh_database(dir: &tempfile::TempDir) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if server.starts_with("postgres") => {
            use sea_orm::{ConnectionTrait, Database};
            let name = format!(
                "ga_test_{}_{}_{}",
                std::process::id(),
                NEXT_DB.fetch_add(1, Ordering::SeqCst),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0)
            );
            let admin = Database::connect(&server)
                .await
                .expect("Failed to connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("Failed to create a test database");
            let mut url = url::Url::parse(&server).expect("TEST_DATABASE_URL is not a URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        _ => format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
    }
}

/// Spawns the service after `configure` adjusted its configuration.
pub async fn spawn_app_with(configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    spawn(configure, false).await
}

/// Spawns the service as `serve --demo` runs it: the default demo data,
/// ending today, seeded before the first request.
pub async fn spawn_demo_app() -> TestApp {
    spawn(|_| {}, true).await
}

async fn spawn(configure: impl FnOnce(&mut ServeConfig), demo: bool) -> TestApp {
    let dir = tempfile::tempdir().expect("Failed to create a temporary directory");
    let mut config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: DatabaseConfig {
            database_url: fresh_database(&dir).await,
            max_connections: 4,
            ..DatabaseConfig::default()
        },
        // Limits off unless a test turns them on: tests send bursts that
        // would otherwise measure the limiter instead of what they test.
        auth: AuthConfig {
            bootstrap_admin_key: Some(TEST_ADMIN_KEY.into()),
            rate_limit_rps: 0,
            ingest_rate_limit_rps: 0,
            unauthenticated_rate_limit_rps: 0,
            query_cost_per_minute: 0,
            ..AuthConfig::default()
        },
        ..ServeConfig::default()
    };
    configure(&mut config);
    let database_url = config.database.database_url.clone();
    let app = Application::build(config)
        .await
        .expect("Failed to build the application");
    if demo {
        let state = app.state();
        growth_analytics::demo::seed_if_empty(
            &state.store,
            &state.ingestor,
            state.config.limits.max_batch_size,
            false,
        )
        .await
        .expect("Failed to seed the demo data");
    }
    let address = format!("http://{}", app.address());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let app = TestApp {
        address,
        client: client_with_key(TEST_ADMIN_KEY),
        database_url,
        _dir: dir,
        _stop: stop,
        running,
    };
    app.wait_until_ready().await;
    app
}

impl TestApp {
    /// Waits (up to 10 s) for `/readyz`: on a loaded machine the migrations
    /// at start can time out and are then retried in the background (the
    /// app answers 503 meanwhile, as it should), which is not what most
    /// tests are about. Tests of an app started without its database get
    /// it back unready after the wait, as they expect.
    async fn wait_until_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(r) = self.client.get(self.url("/readyz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Stops the service (its materialiser too) and hands back its
    /// directory, so its SQLite database outlives it.
    #[allow(dead_code)] // used by some test modules only
    pub async fn stop(self) -> tempfile::TempDir {
        let _ = self._stop.send(());
        let _ = self.running.await;
        self._dir
    }
}

/// Reads a fixture file as JSON.
pub fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{path}"))
        .unwrap_or_else(|e| panic!("Failed to read fixture {path}: {e}"));
    serde_json::from_str(&text).expect("fixture is not JSON")
}

/// The four pageview fixtures of the brief, by name.
pub const PAGEVIEW_FIXTURES: [&str; 4] = [
    "webhooks/pageview-direct.json",
    "webhooks/pageview-google-search.json",
    "webhooks/pageview-facebook-ad.json",
    "webhooks/pageview-logged-in.json",
];

impl TestApp {
    /// The URL of a path on this app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Creates a key with these scopes through the admin API; returns its secret.
    #[allow(dead_code)]
    pub async fn create_key(&self, name: &str, scopes: &str) -> String {
        let data = self
            .graphql_ok(
                &format!("mutation {{ createApiKey(name: \"{name}\", scopes: [{scopes}]) {{ secret }} }}"),
                json!({}),
            )
            .await;
        data["createApiKey"]["secret"].as_str().unwrap().to_owned()
    }

    /// POSTs raw bytes to a path, with no Content-Type (senders are sloppy).
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .body(body)
            .send()
            .await
            .expect("Failed to send the request")
    }

    /// POSTs JSON to a path.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("Failed to send the request")
    }

    /// POSTs `body` to `path` and fails the test unless it is stored (200),
    /// showing the answer: the set-up step of most scenario tests.
    pub async fn post_ok(&self, path: &str, body: &Value) {
        let r = self.post_json(path, body).await;
        assert_eq!(
            r.status().as_u16(),
            200,
            "{path}: {}",
            r.text().await.unwrap()
        );
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("Failed to send the request")
    }

    /// Runs a GraphQL operation; returns the whole response body.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let response = self
            .post_json(
                "/graphql",
                &json!({ "query": query, "variables": variables }),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200, "GraphQL answers 200");
        response.json().await.expect("GraphQL response is not JSON")
    }

    /// Runs a GraphQL operation that must succeed; returns `data`.
    pub async fn graphql_ok(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// How many pageviews and events are stored, through the public API.
    pub async fn counts(&self) -> (u64, u64) {
        let data = self
            .graphql_ok(
                "{ pageviews { totalCount } events { totalCount } }",
                json!({}),
            )
            .await;
        (
            data["pageviews"]["totalCount"].as_u64().unwrap(),
            data["events"]["totalCount"].as_u64().unwrap(),
        )
    }
}

/// The first GraphQL error's `extensions.code`.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}
