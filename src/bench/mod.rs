//! `growth-analytics bench`: the benchmark harness.
//!
//! Starts the real server (this binary, `serve`) as a child process on a
//! fresh database, generates a dataset with the demo generator, sends it as
//! webhooks over HTTP from a concurrent client, runs the query mix, and
//! reports throughput, latency percentiles, the tables' size on disk and
//! the server's peak memory. In the same run it measures two ceilings so the
//! figures read as ratios on a noisy machine: the HTTP ceiling (`GET
//! /healthz` with the same client and concurrency) and the storage ceiling
//! (the same rows inserted in batches straight into the same engine, without
//! HTTP or validation).
//!
//! Three datasets:
//! - **standard** (default): 100,000 visitors over 60 days, seed 42 (≈1M
//!   pageviews). The webhook bodies are built before the server starts, so
//!   nothing but the requests competes with it for the cores while it is
//!   measured.
//! - **quick** (`--quick`): 300 visitors over 20 days, seed 7, short steps;
//!   what `cargo test` runs so the harness cannot rot.
//! - **scale** (`--scale`): 1,000,000 visitors over 365 days, seed 42 (≈10.7M
//!   pageviews: a 20,000-visitor prefix has 214,506), for the report budgets
//!   of issue 12; not run by `cargo test` nor CI. The dataset does not fit in
//!   memory as JSON, so each visitor is generated as the client needs it and
//!   its pageviews are streamed in 500-row batches through a bounded queue:
//!   the bench process stays far under 1 GB (28 MiB at 20,000 visitors, the
//!   same as at 2,000; its peak is reported). The generator runs on the
//!   machine's cores while the server ingests, so this run's ingest rate is
//!   not comparable with the standard run's. Ingest alone takes 15–25
//!   minutes on the 2-core benchmark machine at ≈10k rows/s (twice that
//!   when the machine is busy), the whole run 30–45 minutes, and the SQLite
//!   file grows to several GB in the temporary directory. The run skips the
//!   single-webhook and storage-ceiling steps (they measure the write path,
//!   not the reports) and runs the reports over the last 30 days and over
//!   the whole range.
//!
//! `--visitors`, `--days` and `--seed` override any dataset's defaults
//! (e.g. `--scale --visitors 200000` for a shorter scale run).

mod client;
mod report;
mod sizes;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use sea_orm::ActiveValue::Set;
use serde_json::{json, Value};

use crate::config::DatabaseConfig;
use crate::demo::{self, Params, VisitorTraffic};
use crate::domain::{RawEvent, RawPageview};

pub use report::{Report, Step};
pub use sizes::{Sizes, TableSize};

/// `growth-analytics bench` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The quick dataset (300 visitors over 20 days) and short steps
    /// (seconds): what the test suite runs.
    #[arg(long, conflicts_with = "scale")]
    pub quick: bool,
    /// The scale dataset: 1,000,000 visitors over 365 days (≈10M
    /// pageviews), streamed; reports over 30 days and the whole range.
    /// Takes 30–45 minutes and several GB of disk.
    #[arg(long)]
    pub scale: bool,
    /// Visitors (default 100,000; quick 300; scale 1,000,000).
    #[arg(long)]
    pub visitors: Option<u32>,
    /// Days the dataset spans, ending 2026-06-30 (default 60; quick 20; scale 365).
    #[arg(long)]
    pub days: Option<u32>,
    /// Generator seed (default 42; quick 7).
    #[arg(long)]
    pub seed: Option<u64>,
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

/// Which dataset and step sizes a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Quick,
    Standard,
    Scale,
}

impl Mode {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Quick => "quick",
            Mode::Standard => "standard",
            Mode::Scale => "scale",
        }
    }

    /// Default visitors, days and seed.
    fn dataset(self) -> (u32, u32, u64) {
        match self {
            Mode::Quick => (300, 20, 7),
            Mode::Standard => (100_000, 60, 42),
            Mode::Scale => (1_000_000, 365, 42),
        }
    }
}

impl BenchArgs {
    /// The quick configuration the test suite runs.
    pub fn quick() -> Self {
        Self {
            quick: true,
            scale: false,
            visitors: None,
            days: None,
            seed: None,
            database_url: None,
            json: None,
            server_bin: None,
        }
    }

    /// The run's mode.
    pub fn mode(&self) -> Mode {
        if self.scale {
            Mode::Scale
        } else if self.quick {
            Mode::Quick
        } else {
            Mode::Standard
        }
    }

    /// The dataset: the mode's defaults, overridden by the flags.
    pub fn params(&self) -> anyhow::Result<Params> {
        let (visitors, days, seed) = self.mode().dataset();
        Ok(Params {
            visitors: self.visitors.unwrap_or(visitors),
            days: self.days.unwrap_or(days).max(1),
            seed: self.seed.unwrap_or(seed),
            // A fixed end date: the same dataset on every run and machine.
            end: NaiveDate::from_ymd_opt(2026, 6, 30).context("valid date")?,
        })
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

fn pageview_json(p: &RawPageview) -> Value {
    json!({ "fingerprint": p.fingerprint, "user_id": p.user_id, "url": p.url, "referrer_url": p.referrer_url, "created_at": p.created_at })
}

fn event_json(e: &RawEvent) -> Value {
    json!({ "name": e.name, "fingerprint": e.fingerprint, "user_id": e.user_id, "created_at": e.created_at })
}

/// Rows per webhook batch.
const BATCH: usize = 500;

/// The dataset as webhook bodies, generated one visitor at a time as they
/// are asked for. Pageviews come out in the generator's order; each
/// visitor's events are kept, as 500-event bodies, to be sent after all
/// pageviews (as the standard run always has), with the signed-up users.
struct Feed<I> {
    visitors: I,
    pending: std::vec::IntoIter<RawPageview>,
    pageviews: usize,
    events: usize,
    event_batch: Vec<Value>,
    event_bodies: Vec<Vec<u8>>,
    users: Vec<String>,
}

/// What a drained [`Feed`] leaves: the counts, the event bodies, the users.
struct Drained {
    pageviews: usize,
    events: usize,
    event_bodies: Vec<Vec<u8>>,
    users: Vec<String>,
}

impl Drained {
    fn log(&self, started: Instant) {
        eprintln!(
            "dataset: {} pageviews, {} events, {} signups ({:.1} s)",
            self.pageviews,
            self.events,
            self.users.len(),
            started.elapsed().as_secs_f64()
        );
    }
}

/// The pageview batches of a run: built before the server starts, or
/// generated while they are sent.
enum Pageviews<I> {
    Prebuilt {
        batches: Vec<Vec<u8>>,
        /// Pageviews in `batches`.
        rows: usize,
        drained: Drained,
    },
    Streamed(Feed<I>),
}

impl<I: Iterator<Item = VisitorTraffic>> Feed<I> {
    fn new(visitors: I) -> Self {
        Self {
            visitors,
            pending: Vec::new().into_iter(),
            pageviews: 0,
            events: 0,
            event_batch: Vec::new(),
            event_bodies: Vec::new(),
            users: Vec::new(),
        }
    }

    fn next_pageview(&mut self) -> Option<RawPageview> {
        loop {
            if let Some(p) = self.pending.next() {
                self.pageviews += 1;
                return Some(p);
            }
            let visitor = self.visitors.next()?;
            for e in &visitor.events {
                if e.name.as_deref() == Some("signup") {
                    if let Some(u) = &e.user_id {
                        self.users.push(u.clone());
                    }
                }
                self.event_batch.push(event_json(e));
                self.events += 1;
                if self.event_batch.len() == BATCH {
                    self.flush_events();
                }
            }
            self.pending = visitor.pageviews.into_iter();
        }
    }

    fn flush_events(&mut self) {
        if !self.event_batch.is_empty() {
            let batch = std::mem::take(&mut self.event_batch);
            self.event_bodies
                .push(serde_json::to_vec(&batch).unwrap_or_default());
        }
    }

    /// The next `n` pageviews, one body each.
    fn singles(&mut self, n: usize) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.next_pageview())
            .take(n)
            .map(|p| serde_json::to_vec(&pageview_json(&p)).unwrap_or_default())
            .collect()
    }

    /// The next body of up to [`BATCH`] pageviews; `None` when all are out.
    fn next_batch(&mut self) -> Option<Vec<u8>> {
        let batch: Vec<Value> = std::iter::from_fn(|| self.next_pageview())
            .take(BATCH)
            .map(|p| pageview_json(&p))
            .collect();
        (!batch.is_empty()).then(|| serde_json::to_vec(&batch).unwrap_or_default())
    }

    /// The rest, once [`Feed::next_batch`] has returned `None`.
    fn drained(mut self) -> Drained {
        self.flush_events();
        Drained {
            pageviews: self.pageviews,
            events: self.events,
            event_bodies: self.event_bodies,
            users: self.users,
        }
    }
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
            // A slow report is a figure to print, not a run to abort.
            .env("QUERY_TIMEOUT_SECS", "3600")
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
        peak_memory(&format!("/proc/{}/status", self.child.id()?))
    }
}

/// `VmHWM` of a `/proc/…/status` file, in bytes.
fn peak_memory(status: &str) -> Option<u64> {
    std::fs::read_to_string(status)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Runs the whole benchmark and returns its report.
pub async fn bench(args: &BenchArgs) -> anyhow::Result<Report> {
    let mode = args.mode();
    let params = args.params()?;
    let started = Instant::now();
    eprintln!(
        "{} dataset: {} visitors over {} days, seed {}",
        mode.name(),
        params.visitors,
        params.days,
        params.seed
    );
    let mut feed = Feed::new(demo::visitors(&params));
    // Step sizes: the full run sends the whole dataset; quick sends a slice.
    let (singles, healthz) = match mode {
        Mode::Quick => (vec![50, 100, 200], 500),
        Mode::Standard => (vec![2_000, 10_000, 30_000], 50_000),
        // The write path's single-webhook figures are the standard run's.
        Mode::Scale => (vec![], 50_000),
    };
    let singles: Vec<(usize, Vec<Vec<u8>>)> = [1, 8, 32]
        .into_iter()
        .zip(singles)
        .map(|(connections, n)| (connections, feed.singles(n)))
        .collect();
    // The standard and quick runs build every body before the server starts;
    // the scale run streams them (see the module's doc).
    let pageviews = if mode == Mode::Scale {
        Pageviews::Streamed(feed)
    } else {
        let batches: Vec<Vec<u8>> = std::iter::from_fn(|| feed.next_batch()).collect();
        let single_rows: usize = singles.iter().map(|(_, s)| s.len()).sum();
        let rows = feed.pageviews - single_rows;
        let drained = feed.drained();
        drained.log(started);
        Pageviews::Prebuilt {
            batches,
            rows,
            drained,
        }
    };

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
    let mut report = Report::new(&database_url, mode.name(), &params);
    let http = client::Load::new(&server.base);

    report.push(
        http.get_many(
            "HTTP ceiling: GET /healthz, 32 connections",
            "/healthz",
            32,
            healthz,
        )
        .await?,
    );

    for (connections, bodies) in singles {
        report.push(
            http.post_many(
                &format!("single pageview webhooks, {connections} connection(s)"),
                "/webhooks/pageviews",
                connections,
                bodies,
                1,
            )
            .await?,
        );
    }
    const BATCHED: &str = "batched pageviews (500 a request), 4 connections";
    let drained = match pageviews {
        Pageviews::Prebuilt {
            batches,
            rows,
            drained,
        } => {
            report.push(
                http.post_many(BATCHED, "/webhooks/pageviews", 4, batches, BATCH)
                    .await?
                    .with_rows(rows),
            );
            drained
        }
        Pageviews::Streamed(mut feed) => {
            // A few batches ahead of the workers: enough to keep them busy,
            // a few MB of memory.
            let (tx, rx) = tokio::sync::mpsc::channel(32);
            let producer = tokio::task::spawn_blocking(move || {
                while let Some(body) = feed.next_batch() {
                    if tx.blocking_send(body).is_err() {
                        break; // the workers stopped on an error
                    }
                }
                feed.drained()
            });
            // About ten pageviews a visitor: only the progress bar's length.
            let expected = u64::from(params.visitors) * 10 / BATCH as u64;
            let step = http
                .post_stream(BATCHED, "/webhooks/pageviews", 4, rx, expected, BATCH)
                .await?;
            let drained = producer.await.context("the generator panicked")?;
            drained.log(started);
            report.push(step.with_rows(drained.pageviews));
            drained
        }
    };
    report.pageviews = drained.pageviews;
    report.events = drained.events;
    report.signups = drained.users.len();
    report.push(
        http.post_many(
            "batched events (500 a request), 4 connections",
            "/webhooks/events",
            4,
            drained.event_bodies,
            BATCH,
        )
        .await?
        .with_rows(drained.events),
    );

    let catch_up_limit = Duration::from_secs(if mode == Mode::Scale { 4 * 3600 } else { 3600 });
    report.push(
        http.wait_materialised(
            "materialiser catch-up after ingest (items: fingerprints queued)",
            catch_up_limit,
        )
        .await?,
    );
    report.sizes = Some(
        sizes::measure(&database_url)
            .await
            .context("Failed to measure the tables' size")?,
    );

    let users = drained.users;
    let end = params.end_exclusive();
    let queries = Queries {
        repeats: if mode == Mode::Quick { 3 } else { 5 },
        pages: if mode == Mode::Quick { 3 } else { 20 },
        cached_repeats: if mode == Mode::Quick { 5 } else { 20 },
    };
    queries
        .last_30_days(&http, &mut report, &users, end, mode)
        .await?;
    if mode == Mode::Scale {
        queries
            .whole_range(&http, &mut report, params.start(), end, params.days)
            .await?;
    }

    let late: Vec<String> = users
        .iter()
        .rev()
        .take(if mode == Mode::Quick { 5 } else { 50 })
        .cloned()
        .collect();
    let late_at = (end - chrono::Duration::days(2)).to_rfc3339();
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
    if args.database_url.is_none() && mode != Mode::Scale {
        let ceiling_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("ceiling.db").display()
        );
        report.push(storage_ceiling(&ceiling_url, &params).await?);
    }
    report.peak_bench_memory = peak_memory("/proc/self/status");
    report.finished_at = Utc::now();
    Ok(report)
}

/// A GraphQL `DateRange` literal.
fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!(
        r#"{{from: "{}", to: "{}"}}"#,
        from.to_rfc3339(),
        to.to_rfc3339()
    )
}

/// The query mix. Every line but the cached repeat sends `repeats`
/// different queries: each repeat moves the range back one more whole day
/// (the same work, give or take a day's traffic), so a response cache keyed
/// by the query cannot answer any of them and the line measures the
/// computation. The cached repeat sends one query again and again with no
/// write in between: what a cache hit costs.
struct Queries {
    /// Queries of a report line.
    repeats: usize,
    /// Pages of conversions.
    pages: usize,
    /// Queries of the cached repeat.
    cached_repeats: usize,
}

/// A `campaigns` query over `range` under `model`.
fn campaigns(range: &str, model: crate::attribution::Model) -> String {
    format!(
        r#"{{ campaigns(range: {range}, model: {model}, first: 50) {{ totalCount nodes {{ campaign source conversions visitors spend costPerConversion }} }} }}"#
    )
}

/// An `overview` query over `range`.
fn overview(range: &str) -> String {
    format!("{{ overview(range: {range}) {{ pageviews visitors signups paidShare }} }}")
}

/// A daily `timeseries` by channel over `range` in the zone `tz`.
fn timeseries(range: &str, tz: &str) -> String {
    format!(
        r#"{{ timeseries(range: {range}, interval: DAY, timezone: "{tz}", groupBy: CHANNEL) {{ series {{ channel total }} }} }}"#
    )
}

impl Queries {
    /// `query(range)` for the range `from..to` and its repeats.
    fn shifted(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        query: impl Fn(&str) -> String,
    ) -> Vec<String> {
        self.shifted_n(self.repeats, from, to, query)
    }

    /// `n` queries: `query(range)` for `from..to`, then for the range moved
    /// back one day, two days, …
    fn shifted_n(
        &self,
        n: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        query: impl Fn(&str) -> String,
    ) -> Vec<String> {
        (0..n as i64)
            .map(|k| {
                let back = chrono::Duration::days(k);
                query(&range(from - back, to - back))
            })
            .collect()
    }

    /// Queries over the 30 days before `end`.
    async fn last_30_days(
        &self,
        http: &client::Load,
        report: &mut Report,
        users: &[String],
        end: DateTime<Utc>,
        mode: Mode,
    ) -> anyhow::Result<()> {
        let from = end - chrono::Duration::days(30);
        // Distinct users, so no answer can come from a cache either.
        let wanted = if mode == Mode::Quick { 10 } else { 200 };
        let user_queries: Vec<String> = users
            .iter()
            .step_by((users.len() / wanted).max(1))
            .cycle()
            .take(wanted)
            .map(|u| {
                format!(r#"{{ user(id: "{u}") {{ attribution {{ lastClick {{ source campaign channel }} credits(model: LINEAR) {{ weight touchpoint {{ source }} }} }} }} }}"#)
            })
            .collect();
        report.push(
            http.graphql_many("query: one user's attribution", user_queries)
                .await?,
        );
        let pages = self.shifted_n(self.pages, from, end, |r| {
            format!(r#"{{ conversions(range: {r}, first: 100) {{ nodes {{ id userId at attribution {{ lastClick {{ source channel }} credits(model: POSITION_BASED) {{ weight }} }} }} }} }}"#)
        });
        report.push(
            http.graphql_many("query: 100 conversions with attribution", pages)
                .await?,
        );
        for model in crate::attribution::Model::ALL {
            let queries = self.shifted(from, end, |r| campaigns(r, model));
            report.push(
                http.graphql_many(&format!("query: campaigns, 30 days, {model}"), queries)
                    .await?,
            );
            if model == crate::attribution::Model::LastClick {
                // The first query of the line above, again: nothing was
                // written since, so a cache may answer every one.
                let again = vec![campaigns(&range(from, end), model); self.cached_repeats];
                report.push(
                    http.graphql_many("query: campaigns, 30 days, cached repeat", again)
                        .await?,
                );
            }
        }
        for (field, name, fields) in [
            (
                "sources",
                "sources",
                "source conversions visitors touchpoints spend",
            ),
            (
                "channels",
                "channels",
                "channel conversions visitors touchpoints spend",
            ),
            (
                "landingPages",
                "landingPages",
                "landingPage conversions visitors touchpoints",
            ),
        ] {
            let queries = self.shifted(from, end, |r| {
                format!("{{ {field}(range: {r}, model: LAST_CLICK, first: 50) {{ totalCount nodes {{ {fields} }} }} }}")
            });
            report.push(
                http.graphql_many(&format!("query: {name}, 30 days, LAST_CLICK"), queries)
                    .await?,
            );
        }
        // Ends inside hours (and minutes): a report kept per hour must add
        // the partial hours at both ends from finer data.
        let off_from = from + chrono::Duration::seconds(17 * 60 + 13);
        let off_to = end - chrono::Duration::seconds(3 * 3600 + 41 * 60 + 7);
        let queries = self.shifted(off_from, off_to, |r| {
            campaigns(r, crate::attribution::Model::LastClick)
        });
        report.push(
            http.graphql_many(
                "query: campaigns, 30 days, ends off the hour, LAST_CLICK",
                queries,
            )
            .await?,
        );
        let queries = self.shifted(from, end, overview);
        report.push(
            http.graphql_many("query: overview, 30 days", queries)
                .await?,
        );
        let queries = self.shifted(from, end, |r| timeseries(r, "UTC"));
        report.push(
            http.graphql_many("query: daily timeseries by channel, 30 days", queries)
                .await?,
        );
        // UTC+5:30: every day starts at 18:30 UTC, on no hour boundary.
        let queries = self.shifted(from, end, |r| timeseries(r, "Asia/Kolkata"));
        report.push(
            http.graphql_many(
                "query: daily timeseries by channel, 30 days, Asia/Kolkata",
                queries,
            )
            .await?,
        );
        // Revenue: LTV against CAC per channel, and the 12-month cohort
        // table by channel (issue 15's ≤ 50 ms goal), over every
        // acquisition of the dataset.
        let queries = self.shifted(from, end, |r| {
            format!("{{ channels(range: {r}, first: 50) {{ nodes {{ channel acquisitions spend revenue ltv l90: ltv(days: 90) roas paybackDays churnRate }} }} overview(range: {r}) {{ revenue arpu cac ltv }} }}")
        });
        report.push(
            http.graphql_many("query: channels with LTV and overview, 30 days", queries)
                .await?,
        );
        let year = end - chrono::Duration::days(365);
        let queries = self.shifted(year, end, |r| {
            format!("{{ cohorts(range: {r}, interval: MONTH, groupBy: CHANNEL, periods: 12) {{ start channel users spend cac periods {{ revenue cumulativeRevenue ltv activeUsers retention complete }} }} }}")
        });
        report.push(
            http.graphql_many("query: cohorts, 12 months by channel", queries)
                .await?,
        );
        Ok(())
    }

    /// The scale run's reports over the whole range, `from..to` (`days` days).
    async fn whole_range(
        &self,
        http: &client::Load,
        report: &mut Report,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        days: u32,
    ) -> anyhow::Result<()> {
        for model in [
            crate::attribution::Model::LastClick,
            crate::attribution::Model::Linear,
        ] {
            let queries = self.shifted(from, to, |r| campaigns(r, model));
            report.push(
                http.graphql_many(&format!("query: campaigns, {days} days, {model}"), queries)
                    .await?,
            );
        }
        let queries = self.shifted(from, to, overview);
        report.push(
            http.graphql_many(&format!("query: overview, {days} days"), queries)
                .await?,
        );
        let queries = self.shifted(from, to, |r| timeseries(r, "UTC"));
        report.push(
            http.graphql_many(
                &format!("query: daily timeseries by channel, {days} days"),
                queries,
            )
            .await?,
        );
        Ok(())
    }
}

/// Inserts the pageviews through the store directly (no HTTP, no JSON, no
/// validation) in batches of 500: what the engine itself can take.
/// The pageviews are generated again (the generator is deterministic), so
/// the run never holds them as JSON and as rows at once.
async fn storage_ceiling(database_url: &str, params: &Params) -> anyhow::Result<Step> {
    let store = crate::store::Store::connect(&DatabaseConfig::new(database_url)).await?;
    store.migrate().await?;
    let ingestor = crate::ingest::Ingestor::new(store.clone(), &[], usize::MAX);
    let raws: Vec<RawPageview> = demo::visitors(params).flat_map(|v| v.pageviews).collect();
    let prepared = ingestor
        .prepare_pageviews(raws)
        .map_err(|e| anyhow::anyhow!("the dataset is invalid: {e:?}"))?;
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut total = 0;
    for batch in prepared.rows.chunks(BATCH) {
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
