//! `growth-analytics bench`: the benchmark harness.
//!
//! Starts the real server (this binary, `serve`) as a child process on a
//! fresh database, generates the standard dataset with the demo generator,
//! sends it as webhooks over HTTP from a concurrent client, runs the query
//! mix, and reports throughput, latency percentiles and the server's peak
//! memory. In the same run it measures two ceilings so the figures read as
//! ratios on a noisy machine: the HTTP ceiling (`GET /healthz` with the same
//! client and concurrency) and the storage ceiling (the same rows inserted in
//! batches straight into the same engine, without HTTP or validation).

mod client;
mod report;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::Args;
use sea_orm::ActiveValue::Set;
use serde_json::{json, Value};

use crate::config::DatabaseConfig;
use crate::demo::{self, Params};
use crate::domain::{RawEvent, RawPageview};

pub use report::{Report, Step};

/// `growth-analytics bench` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// A small dataset and short steps (seconds): what the test suite runs.
    #[arg(long)]
    pub quick: bool,
    /// Visitors of the standard dataset (100k ≈ 1M pageviews, 20k signups).
    #[arg(long, default_value_t = 100_000)]
    pub visitors: u32,
    /// Days the dataset spans.
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Database for the server: default a fresh SQLite file in a temporary
    /// directory. A PostgreSQL URL must name an empty database.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The server binary (default: this executable).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
}

impl BenchArgs {
    /// The quick configuration the test suite runs.
    pub fn quick() -> Self {
        Self {
            quick: true,
            visitors: 300,
            days: 20,
            seed: 7,
            database_url: None,
            json: None,
            server_bin: None,
        }
    }
}

/// Runs `bench` and prints the report.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let report = bench(&args).await?;
    println!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report.json())?)
            .with_context(|| format!("Failed to write {}", path.display()))?;
        eprintln!("JSON report written to {}", path.display());
    }
    Ok(())
}

/// The dataset as webhook JSON, generated once.
struct Dataset {
    pageviews: Vec<Value>,
    events: Vec<Value>,
    users: Vec<String>,
}

fn pageview_json(p: &RawPageview) -> Value {
    json!({ "fingerprint": p.fingerprint, "user_id": p.user_id, "url": p.url, "referrer_url": p.referrer_url, "created_at": p.created_at })
}

fn event_json(e: &RawEvent) -> Value {
    json!({ "name": e.name, "fingerprint": e.fingerprint, "user_id": e.user_id, "created_at": e.created_at })
}

fn dataset(params: &Params) -> Dataset {
    let mut data = Dataset {
        pageviews: Vec::new(),
        events: Vec::new(),
        users: Vec::new(),
    };
    for visitor in demo::visitors(params) {
        data.pageviews
            .extend(visitor.pageviews.iter().map(pageview_json));
        for e in &visitor.events {
            if e.name.as_deref() == Some("signup") {
                if let Some(u) = &e.user_id {
                    data.users.push(u.clone());
                }
            }
            data.events.push(event_json(e));
        }
    }
    data
}

/// A child `serve` process, stopped (SIGTERM, then kill) when dropped.
struct Server {
    child: tokio::process::Child,
    base: String,
}

impl Server {
    async fn start(bin: &PathBuf, database_url: &str) -> anyhow::Result<Self> {
        // Bind port 0 to learn a free port, then hand it to the server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = tokio::process::Command::new(bin)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                database_url,
            ])
            .env("RUST_LOG", "warn")
            // The benchmark measures the service's capacity, not its
            // limiter: rate limits and the cost budget are off.
            .env("BOOTSTRAP_ADMIN_KEY", client::BENCH_KEY)
            .env("RATE_LIMIT_RPS", "0")
            .env("INGEST_RATE_LIMIT_RPS", "0")
            .env("QUERY_COST_PER_MINUTE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("Failed to start {}", bin.display()))?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = client::client()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await {
                if r.status().is_success() {
                    return Ok(server);
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the server did not become ready in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident memory of the server so far (Linux `VmHWM`), in bytes.
    fn peak_memory(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    }
}

/// Runs the whole benchmark and returns its report.
pub async fn bench(args: &BenchArgs) -> anyhow::Result<Report> {
    let params = Params {
        visitors: args.visitors,
        days: args.days,
        seed: args.seed,
        // A fixed end date: the same dataset on every run and machine.
        end: NaiveDate::from_ymd_opt(2026, 6, 30).context("valid date")?,
    };
    let started = Instant::now();
    eprintln!(
        "generating {} visitors over {} days …",
        params.visitors, params.days
    );
    let data = dataset(&params);
    eprintln!(
        "dataset: {} pageviews, {} events, {} signups ({:.1} s)",
        data.pageviews.len(),
        data.events.len(),
        data.users.len(),
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().context("Failed to create a temporary directory")?;
    let database_url = args.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("Failed to find this executable")?,
    };
    let server = Server::start(&bin, &database_url).await?;
    let mut report = Report::new(
        &database_url,
        data.pageviews.len(),
        data.events.len(),
        data.users.len(),
        args.quick,
    );
    let http = client::Load::new(&server.base);

    // Budgets per step: the full run sends the whole dataset; quick sends a slice.
    let (singles, healthz) = if args.quick {
        ([50, 100, 200], 500)
    } else {
        ([2_000, 10_000, 30_000], 50_000)
    };

    report.push(
        http.get_many(
            "HTTP ceiling: GET /healthz, 32 connections",
            "/healthz",
            32,
            healthz,
        )
        .await?,
    );

    let mut offset = 0;
    for (connections, n) in [1, 8, 32].into_iter().zip(singles) {
        let end = (offset + n).min(data.pageviews.len());
        let slice: Vec<Vec<u8>> = data.pageviews[offset..end]
            .iter()
            .map(|v| serde_json::to_vec(v).unwrap_or_default())
            .collect();
        offset = end;
        report.push(
            http.post_many(
                &format!("single pageview webhooks, {connections} connection(s)"),
                "/webhooks/pageviews",
                connections,
                slice,
                1,
            )
            .await?,
        );
    }
    let batches: Vec<Vec<u8>> = data.pageviews[offset..]
        .chunks(500)
        .map(|c| serde_json::to_vec(c).unwrap_or_default())
        .collect();
    let rows = data.pageviews.len() - offset;
    report.push(
        http.post_many(
            "batched pageviews (500 a request), 4 connections",
            "/webhooks/pageviews",
            4,
            batches,
            500,
        )
        .await?
        .with_rows(rows),
    );
    let event_batches: Vec<Vec<u8>> = data
        .events
        .chunks(500)
        .map(|c| serde_json::to_vec(c).unwrap_or_default())
        .collect();
    report.push(
        http.post_many(
            "batched events (500 a request), 4 connections",
            "/webhooks/events",
            4,
            event_batches,
            500,
        )
        .await?
        .with_rows(data.events.len()),
    );

    report.push(
        http.wait_materialised("materialiser catch-up after ingest (items: fingerprints queued)")
            .await?,
    );

    // Queries over the last 30 days of the dataset.
    let to = params.end_exclusive();
    let from = to - chrono::Duration::days(30);
    let range = format!(
        r#"{{from: "{}", to: "{}"}}"#,
        from.to_rfc3339(),
        to.to_rfc3339()
    );
    let repeats = if args.quick { 3 } else { 20 };
    let users: Vec<String> = data
        .users
        .iter()
        .step_by((data.users.len() / 50).max(1))
        .cloned()
        .collect();
    let user_queries: Vec<String> = users
        .iter()
        .cycle()
        .take(if args.quick { 10 } else { 200 })
        .map(|u| {
            format!(r#"{{ user(id: "{u}") {{ attribution {{ lastClick {{ source campaign channel }} credits(model: LINEAR) {{ weight touchpoint {{ source }} }} }} }} }}"#)
        })
        .collect();
    report.push(
        http.graphql_many("query: one user's attribution", user_queries)
            .await?,
    );
    let page = format!(
        r#"{{ conversions(range: {range}, first: 100) {{ nodes {{ id userId at attribution {{ lastClick {{ source channel }} credits(model: POSITION_BASED) {{ weight }} }} }} }} }}"#
    );
    report.push(
        http.graphql_many(
            "query: 100 conversions with attribution",
            vec![page; repeats],
        )
        .await?,
    );
    for model in crate::attribution::Model::ALL {
        let q = format!(
            r#"{{ campaigns(range: {range}, model: {model}, first: 50) {{ totalCount nodes {{ campaign source conversions visitors spend costPerConversion }} }} }}"#
        );
        report.push(
            http.graphql_many(
                &format!("query: campaigns, 30 days, {model}"),
                vec![q; repeats.min(5)],
            )
            .await?,
        );
    }
    let overview =
        format!("{{ overview(range: {range}) {{ pageviews visitors signups paidShare }} }}");
    report.push(
        http.graphql_many("query: overview, 30 days", vec![overview; repeats.min(5)])
            .await?,
    );
    let series = format!(
        r#"{{ timeseries(range: {range}, interval: DAY, groupBy: CHANNEL) {{ series {{ channel total }} }} }}"#
    );
    report.push(
        http.graphql_many(
            "query: daily timeseries by channel, 30 days",
            vec![series; repeats.min(5)],
        )
        .await?,
    );

    let late: Vec<String> = data
        .users
        .iter()
        .rev()
        .take(if args.quick { 5 } else { 50 })
        .cloned()
        .collect();
    let late_at = (params.end_exclusive() - chrono::Duration::days(2)).to_rfc3339();
    report.push(
        http.late_pageviews(
            "late pageview re-attributing a user, then its attribution",
            &late,
            &late_at,
        )
        .await?,
    );

    report.peak_server_memory = server.peak_memory();
    drop(server);

    // Storage ceiling: the same pageviews, classified, inserted straight
    // into a fresh database of the same engine in batches of 500.
    if args.database_url.is_none() {
        let ceiling_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("ceiling.db").display()
        );
        report.push(storage_ceiling(&ceiling_url, &data.pageviews).await?);
    }
    report.finished_at = Utc::now();
    Ok(report)
}

/// Inserts the pageviews through the store directly (no HTTP, no JSON, no
/// validation) in batches of 500: what the engine itself can take.
async fn storage_ceiling(database_url: &str, pageviews: &[Value]) -> anyhow::Result<Step> {
    let store = crate::store::Store::connect(&DatabaseConfig::new(database_url)).await?;
    store.migrate().await?;
    let ingestor = crate::ingest::Ingestor::new(store.clone(), &[], usize::MAX);
    let raws: Vec<RawPageview> = pageviews
        .iter()
        .map(|v| RawPageview {
            fingerprint: v["fingerprint"].as_str().map(Into::into),
            user_id: v["user_id"].as_str().map(Into::into),
            url: v["url"].as_str().map(Into::into),
            referrer_url: v["referrer_url"].as_str().map(Into::into),
            created_at: v["created_at"].as_str().map(Into::into),
        })
        .collect();
    let prepared = ingestor
        .prepare_pageviews(raws)
        .map_err(|e| anyhow::anyhow!("the dataset is invalid: {e:?}"))?;
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut total = 0;
    for batch in prepared.rows.chunks(500) {
        total += batch.len();
        // The links and dirty marks of these rows travel with them, as in the service.
        let mut links = Vec::new();
        let mut fingerprints = std::collections::BTreeSet::new();
        for row in batch {
            if let (Set(fp), Set(user), Set(at)) = (&row.fingerprint, &row.user_id, &row.created_at)
            {
                fingerprints.insert(fp.clone());
                if let Some(user) = user {
                    links.push((fp.clone(), user.clone(), *at));
                }
            }
        }
        let t = Instant::now();
        store
            .insert_pageviews(batch.to_vec(), links, fingerprints.into_iter().collect())
            .await?;
        latencies.push(t.elapsed());
    }
    Ok(Step::new(
        "storage ceiling: batches of 500 straight into the engine",
        latencies,
        started.elapsed(),
    )
    .with_rows(total))
}
