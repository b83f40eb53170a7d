//! Demo data: realistic, deterministic traffic for a newcomer to explore.
//!
//! [`generator`] makes the payloads (pure, no IO); [`seed`] feeds them through
//! [`Ingestor`], the very path webhooks take, so demo rows are validated,
//! classified and de-duplicated exactly like real ones. Seeding the same
//! parameters twice therefore stores nothing new the second time.

mod catalog;
pub mod generator;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::Args;
use indicatif::ProgressBar;

use crate::config::DatabaseConfig;
use crate::domain::{RawEvent, RawPageview, RawSpend};
use crate::ingest::Ingestor;
use crate::store::{InsertOutcome, Store};

pub use generator::{spend, visitors, Params, SpendRecord, VisitorTraffic};

/// Payloads per ingestion call: big enough to amortise a transaction, well
/// under the default webhook batch limit (10,000).
pub const BATCH_SIZE: usize = 2_000;

/// The data `serve --demo` seeds into an empty database.
pub const DEFAULT_VISITORS: u32 = 5_000;
/// Days of traffic `serve --demo` seeds, ending today.
pub const DEFAULT_DAYS: u32 = 60;
/// The seed `serve --demo` uses.
pub const DEFAULT_SEED: u64 = 42;

/// A first GraphQL query to paste into GraphiQL once demo data is in.
pub const FIRST_QUERY: &str = "{ conversions(first: 5) { totalCount nodes { userId at attribution { lastClick { source channel campaign } } } } }";

/// `growth-analytics seed` arguments.
///
/// The data is a function of (`--seed`, `--visitors`, `--days`, `--end-date`)
/// only: the same four values give the same payloads on every machine, so
/// seeding twice stores nothing new. Without `--end-date` the range ends today
/// (UTC), so runs on different days differ.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Visitors (people, with one or two browsers each) to generate.
    #[arg(long, default_value_t = DEFAULT_VISITORS)]
    pub visitors: u32,
    /// Days of traffic, ending with --end-date.
    #[arg(long, default_value_t = DEFAULT_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(generator::MAX_DAYS)))]
    pub days: u32,
    /// Random seed. The data is a function of (seed, visitors, days, end-date):
    /// the same four give the same payloads, so seeding again stores nothing new.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Last day with traffic, YYYY-MM-DD (UTC) [default: today].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub end_date: Option<NaiveDate>,
    #[command(flatten)]
    pub database: DatabaseConfig,
}

/// What a seeding run sent and stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedSummary {
    /// Visitors generated.
    pub visitors: u32,
    /// Pageviews sent to ingestion.
    pub pageviews: u64,
    /// Events sent to ingestion.
    pub events: u64,
    /// Payloads newly stored.
    pub stored: u64,
    /// Payloads already present (an earlier run with the same parameters).
    pub duplicates: u64,
    /// Campaign-days of spend recorded (a rerun replaces them with the same amounts).
    pub spend_days: u64,
}

impl std::fmt::Display for SeedSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} visitors: {} pageviews and {} events sent, {} stored, {} already present; {} campaign-days of spend",
            self.visitors, self.pageviews, self.events, self.stored, self.duplicates, self.spend_days
        )
    }
}

impl SeedSummary {
    fn add(&mut self, outcome: InsertOutcome) {
        self.stored += outcome.stored;
        self.duplicates += outcome.duplicates;
    }
}

/// Generates `params`' traffic and stores it through `ingestor`, in batches of
/// [`BATCH_SIZE`]. Shows a progress bar over visitors when `progress` and
/// stderr is a terminal (and not CI).
pub async fn seed(
    ingestor: &Ingestor,
    params: &Params,
    progress: bool,
) -> anyhow::Result<SeedSummary> {
    seed_in_batches(ingestor, params, progress, BATCH_SIZE).await
}

/// Seeds the default demo data when the database holds no pageviews; returns
/// what was seeded, or `None` when there was data already.
pub async fn seed_if_empty(
    store: &Store,
    ingestor: &Ingestor,
    max_batch_size: usize,
    progress: bool,
) -> anyhow::Result<Option<SeedSummary>> {
    let existing = store
        .count_pageviews(&Default::default())
        .await
        .context("Failed to count pageviews")?;
    if existing > 0 {
        return Ok(None);
    }
    let params = Params {
        visitors: DEFAULT_VISITORS,
        days: DEFAULT_DAYS,
        seed: DEFAULT_SEED,
        end: Utc::now().date_naive(),
    };
    // The serving ingestor refuses batches above the configured limit.
    let batch = BATCH_SIZE.min(max_batch_size.max(1));
    seed_in_batches(ingestor, &params, progress, batch)
        .await
        .map(Some)
}

/// Runs `seed`: connects, migrates, seeds, prints a summary.
pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let store = Store::connect(&args.database).await?;
    store.migrate().await?;
    let ingestor = Ingestor::new(store, &[], 10_000);
    let params = Params {
        visitors: args.visitors,
        days: args.days,
        seed: args.seed,
        end: args.end_date.unwrap_or_else(|| Utc::now().date_naive()),
    };
    let started = std::time::Instant::now();
    let summary = seed(&ingestor, &params, true).await?;
    eprintln!(
        "seeded {} (seed {}, {} days ending {}) into {} in {:.1?}",
        summary,
        params.seed,
        params.days,
        params.end,
        crate::store::redact(&args.database.database_url),
        started.elapsed()
    );
    Ok(())
}

async fn seed_in_batches(
    ingestor: &Ingestor,
    params: &Params,
    progress: bool,
    batch: usize,
) -> anyhow::Result<SeedSummary> {
    let bar = progress_bar(u64::from(params.visitors), progress);
    let mut summary = SeedSummary::default();
    let mut pageviews: Vec<RawPageview> = Vec::with_capacity(batch * 2);
    let mut events: Vec<RawEvent> = Vec::with_capacity(batch);
    for traffic in visitors(params) {
        summary.visitors += 1;
        summary.pageviews += traffic.pageviews.len() as u64;
        summary.events += traffic.events.len() as u64;
        pageviews.extend(traffic.pageviews);
        events.extend(traffic.events);
        while pageviews.len() >= batch {
            let rest = pageviews.split_off(batch);
            let full = std::mem::replace(&mut pageviews, rest);
            summary.add(store_pageviews(ingestor, full).await?);
        }
        while events.len() >= batch {
            let rest = events.split_off(batch);
            let full = std::mem::replace(&mut events, rest);
            summary.add(store_events(ingestor, full).await?);
        }
        bar.inc(1);
    }
    if !pageviews.is_empty() {
        summary.add(store_pageviews(ingestor, pageviews).await?);
    }
    if !events.is_empty() {
        summary.add(store_events(ingestor, events).await?);
    }
    // Campaign spend, so cost per signup has something to divide.
    let spend_records: Vec<RawSpend> = spend(params)
        .into_iter()
        .map(|s| RawSpend {
            campaign: Some(s.campaign),
            source: Some(s.source),
            medium: Some(s.medium),
            date: Some(s.date.to_string()),
            amount: Some(s.amount),
            currency: None,
        })
        .collect();
    summary.spend_days = spend_records.len() as u64;
    for chunk in spend_records.chunks(batch.max(1)) {
        ingestor
            .spend(chunk.to_vec(), true)
            .await
            .context("Failed to store demo spend")?;
    }
    bar.finish_and_clear();
    Ok(summary)
}

async fn store_pageviews(
    ingestor: &Ingestor,
    batch: Vec<RawPageview>,
) -> anyhow::Result<InsertOutcome> {
    let recorded = ingestor
        .pageviews(batch, true)
        .await
        .context("Failed to store demo pageviews")?;
    Ok(recorded.outcome)
}

async fn store_events(ingestor: &Ingestor, batch: Vec<RawEvent>) -> anyhow::Result<InsertOutcome> {
    let recorded = ingestor
        .events(batch, true)
        .await
        .context("Failed to store demo events")?;
    Ok(recorded.outcome)
}

/// A bar over visitors, hidden unless someone is watching a terminal.
fn progress_bar(visitors: u64, wanted: bool) -> ProgressBar {
    crate::progress::bar(
        visitors,
        "seeding {bar:40} {pos}/{len} visitors ({per_sec}, {eta} left)",
        wanted,
    )
}

#[cfg(test)]
mod tests;
