//! Configuration: every knob is a flag with an environment variable and a
//! documented default (the README's configuration table mirrors this file).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;

use crate::domain::{AcceptWindow, DEFAULT_EARLIEST, DEFAULT_MAX_AHEAD_SECS};

/// The embedded default: an SQLite file in the working directory, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://growth-analytics.db?mode=rwc";

/// Where the data lives and how the service talks to it.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://FILE` (embedded default; the file is created
    /// when missing unless the URL says another `mode=`) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_parser = database_url)]
    pub database_url: String,
    /// Connections in the pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection before a request fails. Also
    /// bounds how long a request waits while the database is unreachable.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub acquire_timeout_secs: u64,
    /// Seconds an unused pooled connection stays open (0: forever).
    #[arg(long, env = "DATABASE_IDLE_TIMEOUT_SECS", default_value_t = 600)]
    pub idle_timeout_secs: u64,
    /// Seconds after which a pooled connection is replaced (0: never), so
    /// connections follow a failover or a re-pointed DNS name in time.
    #[arg(long, env = "DATABASE_MAX_LIFETIME_SECS", default_value_t = 1800)]
    pub max_lifetime_secs: u64,
    /// Optional read replica (set by `serve`'s `--database-read-url`; the
    /// other commands never read from a replica, so they do not offer it).
    #[arg(skip)]
    pub database_read_url: Option<String>,
    /// Not a flag: a handle that caps an SQLite database's size, in pages,
    /// and can be moved while the service runs. Tests use it to fill the
    /// "disk" and to free it again without a restart.
    #[arg(skip)]
    pub sqlite_page_limit: Option<SqlitePageLimit>,
}

/// A cap on the size of an SQLite database (`PRAGMA max_page_count`), shared
/// between the configuration and every pooled connection: changing it takes
/// effect at each connection's next use. It exists to simulate a full disk
/// (SQLITE_FULL) portably; a real deployment leaves it unset.
#[derive(Debug, Clone, Default)]
pub struct SqlitePageLimit(Arc<AtomicU64>);

impl SqlitePageLimit {
    /// A cap of `pages` pages (SQLite never shrinks a database to fit one).
    pub fn new(pages: u64) -> Self {
        Self(Arc::new(AtomicU64::new(pages)))
    }

    /// Moves the cap: lower to fill the "disk", higher to free it.
    pub fn set(&self, pages: u64) {
        self.0.store(pages, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A duration in seconds: positive and finite.
fn positive_seconds(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 1e9 => Ok(s),
        _ => Err(format!("'{value}' is not a positive number of seconds")),
    }
}

impl Limits {
    /// How long one GraphQL request may run.
    pub fn query_timeout(&self) -> Duration {
        Duration::try_from_secs_f64(self.query_timeout_secs).unwrap_or(Duration::from_secs(30))
    }
}

/// An SQLite URL without `mode=` creates its file like the default does:
/// sqlx would otherwise open it read-write only and fail on a fresh clone
/// with "unable to open database file", which says nothing about the fix.
fn database_url(value: &str) -> Result<String, String> {
    Ok(with_sqlite_create_mode(value))
}

/// `sqlite://file.db` → `sqlite://file.db?mode=rwc`; any other URL, and an
/// SQLite URL that names its own `mode`, unchanged.
pub fn with_sqlite_create_mode(url: &str) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return url.to_owned();
    };
    let has_mode = rest
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|kv| kv.starts_with("mode=")));
    if has_mode || rest.contains(":memory:") {
        return url.to_owned();
    }
    let separator = if rest.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
}

impl DatabaseConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            max_connections: 16,
            acquire_timeout_secs: 5,
            idle_timeout_secs: 600,
            max_lifetime_secs: 1800,
            database_read_url: None,
            sqlite_page_limit: None,
        }
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_secs)
    }

    /// `None` when connections may stay idle forever.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_secs > 0).then(|| Duration::from_secs(self.idle_timeout_secs))
    }

    /// `None` when connections live forever.
    pub fn max_lifetime(&self) -> Option<Duration> {
        (self.max_lifetime_secs > 0).then(|| Duration::from_secs(self.max_lifetime_secs))
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self::new(DEFAULT_DATABASE_URL)
    }
}

/// The default body limit, 8 MiB, sized to hold a full default batch
/// (`MAX_BATCH_SIZE`, 10,000 items). Real pageviews are 170–320 bytes of
/// compact JSON (the brief's fixtures), so such a batch is 1.6–3 MB; 8 MiB
/// leaves room for an average of 800 bytes an item (long click ids and
/// campaign tags) while one request stays cheap: parsing an 8 MiB batch
/// peaks at about 30 MB resident, body included.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Request limits. Every one exists so that one client cannot take the
/// service down: a huge body, a huge batch, a query that fans out forever.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest accepted webhook body, in bytes (8 MiB: a full default batch
    /// fits with room to spare). For a `Content-Encoding: gzip` body this is the size once
    /// decompressed; a larger one is refused with 413 without inflating
    /// past the limit.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most payloads in one webhook batch.
    #[arg(long, env = "MAX_BATCH_SIZE", default_value_t = 10_000)]
    pub max_batch_size: usize,
    /// Largest `first:` a connection accepts (and the default page size is 20).
    #[arg(long, env = "MAX_PAGE_SIZE", default_value_t = 500)]
    pub max_page_size: usize,
    /// Deepest GraphQL query accepted.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 12)]
    pub max_query_depth: usize,
    /// Highest GraphQL complexity (fields selected, times page sizes; a
    /// report field costs 1,000) accepted.
    #[arg(long, env = "MAX_QUERY_COMPLEXITY", default_value_t = 50_000)]
    pub max_query_complexity: usize,
    /// Most fields in one GraphQL document once its fragments are expanded
    /// (measured without expanding them).
    #[arg(long, env = "MAX_QUERY_NODES", default_value_t = 5_000)]
    pub max_query_nodes: u64,
    /// Most report fields (`campaigns`, `sources`, `channels`,
    /// `landingPages`, `overview`, `timeseries`, `cohorts`, `paths`,
    /// `pathLengths`, `modelComparison`) in one operation.
    #[arg(long, env = "MAX_REPORT_FIELDS", default_value_t = 20)]
    pub max_report_fields: u64,
    /// Seconds a GraphQL request may run before it is answered with
    /// `QUERY_TIMEOUT` and its database work is cancelled (fractions allowed).
    #[arg(long, env = "QUERY_TIMEOUT_SECS", default_value_t = 30.0, value_parser = positive_seconds)]
    pub query_timeout_secs: f64,
    /// Earliest `created_at` a webhook may carry (RFC 3339, or a day
    /// `YYYY-MM-DD` meaning its midnight UTC), and the earliest spend date.
    /// Older payloads are refused with 422 naming the field.
    #[arg(long, env = "EARLIEST_TIMESTAMP", default_value = DEFAULT_EARLIEST, value_parser = earliest)]
    pub earliest_timestamp: DateTime<Utc>,
    /// Seconds past the server's clock a `created_at` may lie (senders'
    /// clock skew; default one day). Later payloads are refused with 422;
    /// spend dates may be up to the UTC day of that instant.
    #[arg(long, env = "MAX_FUTURE_SECS", default_value_t = DEFAULT_MAX_AHEAD_SECS)]
    pub max_future_secs: u64,
    /// Most WebSocket connections (`/graphql/ws`) open at once; more are
    /// answered 503 with `Retry-After`.
    #[arg(long, env = "MAX_WEBSOCKETS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_websockets: u64,
    /// Most subscriptions running on one WebSocket connection.
    #[arg(long, env = "MAX_SUBSCRIPTIONS_PER_CONNECTION", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_subscriptions_per_connection: u64,
    /// Most subscriptions running at once for one key, over all its
    /// connections to this process.
    #[arg(long, env = "MAX_SUBSCRIPTIONS_PER_KEY", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_subscriptions_per_key: u64,
}

impl Limits {
    /// The time window webhooks and spend are validated against.
    pub fn accept_window(&self) -> AcceptWindow {
        AcceptWindow::new(self.earliest_timestamp, self.max_future_secs)
    }
}

/// `EARLIEST_TIMESTAMP`: a timestamp as webhooks write them, or a day.
fn earliest(value: &str) -> Result<DateTime<Utc>, String> {
    let value = value.trim();
    match crate::domain::parse_date(value) {
        Ok(day) => Ok(day.and_time(chrono::NaiveTime::MIN).and_utc()),
        Err(_) => crate::domain::parse_timestamp(value),
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_size: 10_000,
            max_page_size: 500,
            max_query_depth: 12,
            max_query_complexity: 50_000,
            earliest_timestamp: DateTime::<Utc>::UNIX_EPOCH,
            max_future_secs: DEFAULT_MAX_AHEAD_SECS,
            max_query_nodes: 5_000,
            max_report_fields: 20,
            query_timeout_secs: 30.0,
            max_websockets: 1_000,
            max_subscriptions_per_connection: 16,
            max_subscriptions_per_key: 100,
        }
    }
}

/// How the HTTP server treats connections: every limit here exists so that
/// idle or slow clients cannot hold sockets (file descriptors) forever and
/// crowd out the ones that send requests.
#[derive(Debug, Clone, Args)]
pub struct HttpConfig {
    /// Seconds a client has to send a request's headers, counted from the
    /// connection's accept (or, on a kept-alive connection, from the first
    /// byte of the next request). Also the longest pause allowed while a
    /// request body is being sent. Past it the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit idle between requests before
    /// the server closes it. Also the longest a client may stall, not
    /// reading, while a response is sent to it.
    #[arg(long, env = "KEEP_ALIVE_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_alive_idle_timeout_secs: u64,
    /// Most client connections open at once. Lowered at start-up to what the
    /// open-file limit leaves after the database pools' share. At the cap the
    /// least recently active idle connection is closed to admit a new one;
    /// when every connection is busy, new ones wait until one finishes.
    #[arg(long, env = "MAX_CLIENT_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_client_connections: u64,
    /// Largest request head (request line and headers), in bytes: larger
    /// ones get 431.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 16 * 1024, value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024))]
    pub max_header_bytes: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            keep_alive_idle_timeout_secs: 60,
            max_client_connections: 1024,
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Keys, browsers and abuse limits (see `auth` and the README's "Running in
/// production"). A rate of 0 turns that limit off.
#[derive(Debug, Clone, Args)]
pub struct AuthConfig {
    /// Serve every request without a key, as an admin. For local
    /// development only: refused on a listen address that is not loopback.
    #[arg(long, env = "AUTH_DISABLED")]
    pub auth_disabled: bool,
    /// The first admin key, created at start when the database has no key
    /// (at least 32 printable characters). Without it a random one is
    /// created and printed once.
    #[arg(long, env = "BOOTSTRAP_ADMIN_KEY", hide_env_values = true)]
    pub bootstrap_admin_key: Option<String>,
    /// A bearer token that may read `/metrics` (besides admin keys), for
    /// Prometheus scrapers.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Origins (comma-separated, exact, e.g. `https://app.example.com`)
    /// whose pages may call `/graphql` and the webhook routes from a browser.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', value_parser = cors_origin)]
    pub cors_origins: Vec<String>,
    /// Requests per second per read or admin key (token bucket refill).
    #[arg(long, env = "RATE_LIMIT_RPS", default_value_t = 50)]
    pub rate_limit_rps: u32,
    /// Requests a read or admin key may send at once above its rate.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 200)]
    pub rate_limit_burst: u32,
    /// Requests per second per ingest-only key. A batch counts as one
    /// request, so a sender with more traffic than this should batch.
    #[arg(long, env = "INGEST_RATE_LIMIT_RPS", default_value_t = 2_000)]
    pub ingest_rate_limit_rps: u32,
    /// Requests an ingest-only key may send at once above its rate.
    #[arg(long, env = "INGEST_RATE_LIMIT_BURST", default_value_t = 10_000)]
    pub ingest_rate_limit_burst: u32,
    /// Requests per second per client address that carry no valid key
    /// (burst: `UNAUTHENTICATED_RATE_LIMIT_BURST`). Past it the address is
    /// answered 429 before any database work.
    #[arg(long, env = "UNAUTHENTICATED_RATE_LIMIT_RPS", default_value_t = 1)]
    pub unauthenticated_rate_limit_rps: u32,
    #[arg(long, env = "UNAUTHENTICATED_RATE_LIMIT_BURST", default_value_t = 30)]
    pub unauthenticated_rate_limit_burst: u32,
    /// GraphQL complexity a key may spend per minute (a leaky bucket that
    /// holds one minute's worth). Each query's cost is reported in
    /// `extensions.cost`.
    #[arg(long, env = "QUERY_COST_PER_MINUTE", default_value_t = 300_000)]
    pub query_cost_per_minute: u32,
    /// Addresses (comma-separated) of reverse proxies whose
    /// `X-Forwarded-For` is believed: the client address is then the
    /// right-most entry that is not one of them.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            auth_disabled: false,
            bootstrap_admin_key: None,
            metrics_token: None,
            cors_origins: Vec::new(),
            rate_limit_rps: 50,
            rate_limit_burst: 200,
            ingest_rate_limit_rps: 2_000,
            ingest_rate_limit_burst: 10_000,
            unauthenticated_rate_limit_rps: 1,
            unauthenticated_rate_limit_burst: 30,
            query_cost_per_minute: 300_000,
            trusted_proxies: Vec::new(),
        }
    }
}

/// A CORS origin is `scheme://host[:port]`, exactly as browsers send it.
fn cors_origin(value: &str) -> Result<String, String> {
    let value = value.trim().trim_end_matches('/');
    if value == "*" || value == "null" {
        return Err("CORS_ORIGINS lists exact origins: no `*` and no `null`".into());
    }
    let url = url::Url::parse(value).map_err(|e| format!("`{value}` is not an origin: {e}"))?;
    let origin = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || origin != value {
        return Err(format!(
            "`{value}` is not an origin: write it as scheme://host[:port], e.g. https://app.example.com"
        ));
    }
    Ok(origin)
}

/// How pageviews are classified and attributed.
#[derive(Debug, Clone, Args)]
pub struct AttributionConfig {
    /// Extra hosts (comma-separated) whose referrers count as internal navigation,
    /// besides the page's own host (`www.` is ignored either way).
    #[arg(long, env = "SITE_HOSTS", value_delimiter = ',')]
    pub site_hosts: Vec<String>,
    /// Minutes of inactivity after which a fingerprint's next pageview starts a new session.
    #[arg(long, env = "SESSION_TIMEOUT_MINUTES", default_value_t = 30)]
    pub session_timeout_minutes: u32,
    /// Days before a conversion whose touchpoints get credit.
    #[arg(long, env = "LOOKBACK_DAYS", default_value_t = 30)]
    pub lookback_days: u32,
    /// Further lookbacks (days, comma-separated) whose credits are
    /// materialised and rolled up beside `LOOKBACK_DAYS`, so reports with
    /// `lookbackDays` set to one of them read rollups too; any other
    /// `lookbackDays` is computed from the raw facts on the spot.
    #[arg(long, env = "LOOKBACK_WINDOWS", value_delimiter = ',', default_value = "7,30,90", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub lookback_windows: Vec<u32>,
    /// Answer reports from the per-day and per-hour rollups (the default).
    /// `false` folds the derived rows of the whole range instead, as before
    /// the rollups existed: slower, same answers; kept to compare the two.
    #[arg(long, env = "ROLLUPS", default_value_t = true, action = clap::ArgAction::Set)]
    pub rollups: bool,
    /// Event names (comma-separated) that count as conversions.
    #[arg(
        long,
        env = "CONVERSION_EVENTS",
        value_delimiter = ',',
        default_value = "signup,trial"
    )]
    pub conversion_events: Vec<String>,
    /// The reporting currency (ISO 4217): campaign spend in any other is refused.
    #[arg(long, env = "CURRENCY", default_value = crate::domain::DEFAULT_CURRENCY, value_parser = currency)]
    pub currency: String,
    /// Drop every query parameter of pageview URLs and referrers that is
    /// not a campaign parameter (`utm_*`) or an ads click id at ingestion:
    /// query strings may carry e-mail addresses or tokens.
    #[arg(long, env = "STRIP_QUERY_PARAMS")]
    pub strip_query_params: bool,
}

/// A currency flag is checked at start-up, not at the first spend webhook.
fn currency(value: &str) -> Result<String, String> {
    crate::domain::Currency::parse(value).map(|c| c.as_str().to_owned())
}

impl Default for AttributionConfig {
    fn default() -> Self {
        Self {
            site_hosts: Vec::new(),
            session_timeout_minutes: 30,
            lookback_days: 30,
            lookback_windows: vec![7, 30, 90],
            rollups: true,
            conversion_events: vec!["signup".into(), "trial".into()],
            currency: crate::domain::DEFAULT_CURRENCY.into(),
            strip_query_params: false,
        }
    }
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free one (the bound address is logged).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Optional read replica: read-only GraphQL queries go there (a pool of
    /// the same size), writes and the materialiser stay on `DATABASE_URL`.
    /// Replica answers lag the primary by the replication delay.
    #[arg(long, env = "DATABASE_READ_URL")]
    pub database_read_url: Option<String>,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub http: HttpConfig,
    #[command(flatten)]
    pub attribution: AttributionConfig,
    #[command(flatten)]
    pub auth: AuthConfig,
    /// Seconds that in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// Seed demo data (5,000 visitors over 60 days, seed 42) when the database
    /// has no pageviews yet, so there is something to query right away.
    #[arg(long, env = "DEMO")]
    pub demo: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            database: DatabaseConfig::default(),
            database_read_url: None,
            limits: Limits::default(),
            http: HttpConfig::default(),
            attribution: AttributionConfig::default(),
            auth: AuthConfig::default(),
            shutdown_grace_secs: 30,
            demo: false,
        }
    }
}

impl ServeConfig {
    /// The database settings with `serve`'s replica, as `Store::connect` takes them.
    pub fn database_with_replica(&self) -> DatabaseConfig {
        DatabaseConfig {
            database_read_url: self.database_read_url.clone(),
            ..self.database.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn an_sqlite_url_without_a_mode_creates_its_file() {
        assert_eq!(
            with_sqlite_create_mode("sqlite://file.db"),
            "sqlite://file.db?mode=rwc"
        );
        assert_eq!(
            with_sqlite_create_mode("sqlite:data/a.db?cache=shared"),
            "sqlite:data/a.db?cache=shared&mode=rwc"
        );
    }

    #[test]
    fn urls_that_say_their_mode_or_are_not_sqlite_are_kept() {
        for url in [
            "sqlite://file.db?mode=ro",
            "sqlite://a.db?cache=shared&mode=rw",
            "sqlite::memory:",
            "postgres://u@h/db",
        ] {
            assert_eq!(with_sqlite_create_mode(url), url);
        }
    }

    #[test]
    fn conversion_events_default_to_signup_and_trial() {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            attribution: AttributionConfig,
        }
        let cli = Cli::parse_from(["x"]);
        assert_eq!(cli.attribution.conversion_events, ["signup", "trial"]);
    }

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        limits: Limits,
    }

    fn limits(args: &[&str]) -> Result<Limits, clap::Error> {
        Flags::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map(|f| f.limits)
    }

    #[test]
    fn the_flag_defaults_are_the_struct_defaults() {
        let parsed = limits(&[]).unwrap();
        let default = Limits::default();
        assert_eq!(parsed.max_body_bytes, default.max_body_bytes);
        assert_eq!(parsed.earliest_timestamp, default.earliest_timestamp);
        assert_eq!(parsed.max_future_secs, default.max_future_secs);
        assert_eq!(parsed.accept_window(), AcceptWindow::default());
    }

    #[test]
    fn the_earliest_timestamp_is_a_day_or_a_timestamp_and_nothing_else() {
        let day = limits(&["--earliest-timestamp", "2020-01-01"]).unwrap();
        let stamp = limits(&["--earliest-timestamp", "2020-01-01T01:00:00+01:00"]).unwrap();
        assert_eq!(day.earliest_timestamp, stamp.earliest_timestamp);
        assert_eq!(
            day.earliest_timestamp.to_rfc3339(),
            "2020-01-01T00:00:00+00:00"
        );
        assert!(limits(&["--earliest-timestamp", "last year"]).is_err());
        assert!(limits(&["--max-future-secs", "-1"]).is_err());
    }
}
