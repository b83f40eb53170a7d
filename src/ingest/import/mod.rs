//! `growth-analytics import`: bring history in from CSV or NDJSON files, such
//! as the original service's export.
//!
//! Rows take the webhooks' own road: each is validated by the same rules
//! (see [`rows`]) and stored through [`Ingestor`], so an imported pageview is
//! classified and deduplicated exactly as if it had arrived live, and a file
//! can never hold something a webhook would have refused.
//!
//! **Two passes, constant memory.** A file may be far larger than memory, so
//! it is never loaded whole. Pass 1 reads every row and validates it,
//! keeping only counts and the first [`MAX_KEPT_ERRORS`] errors. A file with
//! an invalid row is refused before anything is stored (unless
//! `--skip-invalid`), which keeps "nothing or everything" for the common case
//! of a bad export. Pass 2 reads the file again and stores it in batches of
//! [`BATCH_ROWS`].
//!
//! **Crash safety.** Each batch is its own transaction: one transaction for a
//! whole file would hold SQLite's single write lock for minutes and stall the
//! live webhooks. So an import that dies mid-way (killed, disk full) leaves a
//! prefix of the file stored, whole batches only. Re-running the same import
//! completes it: every row has a natural key and the store absorbs the rows
//! already present as duplicates, so the import is idempotent.

mod rows;

use std::collections::VecDeque;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use crate::config::{AttributionConfig, DatabaseConfig};
use crate::domain::{RawEvent, RawPageview};
use crate::ingest::{IngestError, Ingestor, Recorded};
use crate::store::Store;

use rows::Row;
pub use rows::{format_errors, ImportFormat, RowError, ROW};

/// Rows stored per transaction: large enough that the per-commit cost
/// (an fsync on SQLite) is spread thin, small enough that the write lock is
/// released often for the live webhooks.
pub const BATCH_ROWS: usize = 2_000;

/// Errors kept in a summary: enough to see a systematic mistake, bounded so
/// that a file of bad rows does not fill memory.
pub const MAX_KEPT_ERRORS: usize = 100;

/// Errors printed by the command; the rest are counted.
pub const MAX_PRINTED_ERRORS: usize = 20;

/// Batches being prepared or written at once (see `import_rows`).
const IN_FLIGHT: usize = 3;

/// An import that takes longer than this shows a progress bar.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportKind {
    /// Pageview webhooks: `fingerprint,user_id,url,referrer_url,created_at`.
    Pageviews,
    /// Event webhooks: `name,fingerprint,user_id,created_at`.
    Events,
}

impl ImportKind {
    /// The command-line spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pageviews => "pageviews",
            Self::Events => "events",
        }
    }
}

/// `growth-analytics import` arguments.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// `pageviews` or `events`.
    pub kind: ImportKind,
    /// A CSV file (header row with the webhook field names) or NDJSON.
    pub file: PathBuf,
    /// The file's format, when its extension does not say (.csv, .ndjson, .jsonl, .json).
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// Store the valid rows and report the invalid ones, instead of refusing the file.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Leave the attribution of the imported rows to the service's
    /// materialiser instead of computing it before the command returns.
    #[arg(long)]
    pub no_materialize: bool,
    /// Classification and attribution settings, as for `serve` (the same
    /// flags and variables): imported pageviews are classified as live ones
    /// would be, and their attribution computed with these settings. A
    /// service started with other ones notices and recomputes it.
    #[command(flatten)]
    pub attribution: AttributionConfig,
    #[command(flatten)]
    pub database: DatabaseConfig,
}

/// How to import a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// The file's format; `None` detects it from the extension.
    pub format: Option<ImportFormat>,
    /// Store the valid rows instead of refusing a file with invalid ones.
    pub skip_invalid: bool,
    /// Whether a progress bar may be drawn (on a terminal, outside CI, after a second).
    pub progress: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Data rows in the file (not the header, not blank lines).
    pub read: u64,
    /// Rows newly stored.
    pub stored: u64,
    /// Valid rows already stored (by an earlier import or a webhook).
    pub duplicates: u64,
    /// Invalid rows, skipped.
    pub rejected: u64,
    /// The first [`MAX_KEPT_ERRORS`] errors of the rejected rows, in file order.
    pub errors: Vec<RowError>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows read, {} stored, {} duplicates, {} rejected",
            self.read, self.stored, self.duplicates, self.rejected
        )
    }
}

/// A file refused because some rows are invalid; nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The file.
    pub path: PathBuf,
    /// Data rows in the file.
    pub read: u64,
    /// Invalid rows.
    pub rejected: u64,
    /// The first [`MAX_KEPT_ERRORS`] errors, in file order.
    pub errors: Vec<RowError>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} of {} rows are invalid, so nothing was stored \
             (--skip-invalid stores the valid rows):",
            self.path.display(),
            self.rejected,
            self.read
        )?;
        f.write_str(format_errors(&self.errors, self.rejected, MAX_PRINTED_ERRORS).trim_end())
    }
}

impl std::error::Error for Refused {}

/// Runs `import`: migrates the database, imports the file, computes the
/// attribution of what it stored (unless `--no-materialize`), prints a
/// summary.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let store = Store::connect(&args.database).await?;
    store.migrate().await?;
    let ingestor = Ingestor::new(store.clone(), &args.attribution.site_hosts, BATCH_ROWS)
        .with_query_stripping(args.attribution.strip_query_params)
        // Events' revenue is held to the deployment's currency, as webhooks' is.
        .with_currency(&args.attribution.currency);
    let options = ImportOptions {
        format: args.format,
        skip_invalid: args.skip_invalid,
        progress: true,
    };
    let started = Instant::now();
    let summary = import(&ingestor, args.kind, &args.file, options).await?;
    if summary.rejected > 0 {
        eprintln!("skipped {} invalid rows:", summary.rejected);
        eprint!(
            "{}",
            format_errors(&summary.errors, summary.rejected, MAX_PRINTED_ERRORS)
        );
    }
    let stored_in = started.elapsed();
    println!(
        "imported {} from {}: {summary} in {:.1} s ({:.0} rows/s)",
        args.kind.as_str(),
        args.file.display(),
        stored_in.as_secs_f64(),
        summary.read as f64 / stored_in.as_secs_f64().max(1e-9)
    );
    if !args.no_materialize {
        // The same materialiser as the service's, so reports are ready
        // when the command returns rather than after the service's
        // background task has caught up.
        let materialized = Instant::now();
        let settings = std::sync::Arc::new(crate::journeys::settings(&args.attribution));
        let plan = crate::materialize::Plan::from_config(&args.attribution);
        crate::materialize::Materializer::new(store, settings, plan)
            .flush()
            .await
            .context("Failed to compute the attribution of the imported rows")?;
        println!(
            "attribution computed in {:.1} s",
            materialized.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Imports a file of pageviews or events through `ingestor`. A file with an
/// invalid row fails with [`Refused`] (downcast the error to inspect it) and
/// stores nothing, unless `options.skip_invalid`.
pub async fn import(
    ingestor: &Ingestor,
    kind: ImportKind,
    path: &Path,
    options: ImportOptions,
) -> anyhow::Result<ImportSummary> {
    match kind {
        ImportKind::Pageviews => {
            import_rows::<RawPageview, _, _>(path, options, |batch| {
                let ingestor = ingestor.clone();
                async move { ingestor.pageviews(batch, true).await }
            })
            .await
        }
        ImportKind::Events => {
            import_rows::<RawEvent, _, _>(path, options, |batch| {
                let ingestor = ingestor.clone();
                async move { ingestor.events(batch, true).await }
            })
            .await
        }
    }
}

/// Both passes for one kind of row; `store` is the ingestion call.
async fn import_rows<R, F, Fut>(
    path: &Path,
    options: ImportOptions,
    store: F,
) -> anyhow::Result<ImportSummary>
where
    R: Row,
    F: Fn(Vec<R>) -> Fut,
    Fut: Future<Output = Result<Recorded, IngestError>> + Send + 'static,
{
    let format = match options.format {
        Some(format) => format,
        None => ImportFormat::detect(path).map_err(anyhow::Error::msg)?,
    };
    let size = std::fs::metadata(path)
        .with_context(|| format!("Failed to read {}", path.display()))?
        .len();
    // One bar over both passes: the file's bytes are read twice.
    let progress = Progress::new(options.progress, size * 2);

    // Pass 1, on a blocking thread: file IO must not stall the async runtime
    // (the service's own tasks, in tests).
    progress.set_message("validating");
    let checked = {
        let (path, progress) = (path.to_owned(), progress.clone());
        tokio::task::spawn_blocking(move || {
            let input = progress.wrap(open(&path)?);
            check::<R, _>(format, input, &progress)
                .with_context(|| format!("Failed to read {}", path.display()))
        })
        .await
        .context("The validation pass panicked")??
    };
    if checked.rejected > 0 && !options.skip_invalid {
        progress.finish();
        return Err(Refused {
            path: path.to_owned(),
            read: checked.read,
            rejected: checked.rejected,
            errors: checked.errors,
        }
        .into());
    }

    // Pass 2: a blocking thread reads batches into a channel of one, so at
    // most three batches are in memory while the database writes.
    progress.set_message("storing");
    let (sender, mut receiver) = mpsc::channel::<Batch<R>>(1);
    let reader = {
        let (path, progress) = (path.to_owned(), progress.clone());
        let skip_invalid = options.skip_invalid;
        tokio::task::spawn_blocking(move || {
            let input = progress.wrap(open(&path)?);
            batches::<R, _>(format, input, skip_invalid, &progress, |batch| {
                sender.blocking_send(batch).is_ok()
            })
            .with_context(|| format!("Failed to import {}", path.display()))
        })
    };
    let mut summary = ImportSummary {
        read: checked.read,
        rejected: checked.rejected,
        errors: checked.errors,
        ..ImportSummary::default()
    };
    // Up to IN_FLIGHT batches are validated, classified and queued for the
    // writer at once, so preparing the next batches overlaps writing this
    // one (and the group commit takes several into one transaction). They
    // are submitted, and so committed, in file order.
    let storing = Instant::now();
    let mut in_flight: VecDeque<(Batch<()>, tokio::task::JoinHandle<_>)> = VecDeque::new();
    let mut failure = None;
    while let Some(batch) = receiver.recv().await {
        let lines = Batch {
            rows: Vec::new(),
            first_line: batch.first_line,
            last_line: batch.last_line,
        };
        in_flight.push_back((lines, tokio::spawn(store(batch.rows))));
        if in_flight.len() < IN_FLIGHT {
            continue;
        }
        let Some((lines, handle)) = in_flight.pop_front() else {
            continue;
        };
        match stored(handle.await, &lines, path) {
            Ok(recorded) => {
                summary.stored += recorded.outcome.stored;
                summary.duplicates += recorded.outcome.duplicates;
                progress.rate(summary.stored + summary.duplicates, storing);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // Every batch in flight finishes before the import returns, even after
    // a failure: nothing keeps writing behind the caller's back.
    drop(receiver);
    while let Some((lines, handle)) = in_flight.pop_front() {
        match stored(handle.await, &lines, path) {
            Ok(recorded) if failure.is_none() => {
                summary.stored += recorded.outcome.stored;
                summary.duplicates += recorded.outcome.duplicates;
            }
            Ok(_) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failure {
        let _ = reader.await;
        progress.finish();
        return Err(e);
    }
    reader.await.context("The storing pass panicked")??;
    progress.finish();
    Ok(summary)
}

/// A stored batch's outcome, or the error that names its lines.
fn stored(
    joined: Result<Result<Recorded, IngestError>, tokio::task::JoinError>,
    lines: &Batch<()>,
    path: &Path,
) -> anyhow::Result<Recorded> {
    let result = joined.context("A storing task panicked")?;
    result.map_err(|e| {
        let cause = match e {
            IngestError::Invalid(errors) => anyhow::anyhow!(
                "a row became invalid after validation: {}",
                errors
                    .first()
                    .map(|e| format!("{} {}", e.field, e.message))
                    .unwrap_or_default()
            ),
            other => anyhow::Error::new(other),
        };
        cause.context(format!(
            "Failed to store lines {}-{} of {}; the rows before line {} are stored (and \
             perhaps some after it), and re-running the import completes it without duplicates",
            lines.first_line,
            lines.last_line,
            path.display(),
            lines.first_line
        ))
    })
}

fn open(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::open(path).with_context(|| format!("Failed to read {}", path.display()))
}

/// Pass 1's findings.
#[derive(Debug, Default, PartialEq, Eq)]
struct Checked {
    read: u64,
    rejected: u64,
    errors: Vec<RowError>,
}

/// Pass 1: validates every row, keeping counts and the first errors only.
fn check<R: Row, In: std::io::Read>(
    format: ImportFormat,
    input: In,
    progress: &Progress,
) -> anyhow::Result<Checked> {
    let mut checked = Checked::default();
    for parsed in rows::rows::<R, _>(format, input)? {
        let parsed = parsed?;
        progress.tick();
        checked.read += 1;
        if let Err(errors) = parsed.row {
            checked.rejected += 1;
            let room = MAX_KEPT_ERRORS.saturating_sub(checked.errors.len());
            checked.errors.extend(
                errors
                    .into_iter()
                    .take(room)
                    .map(|e| RowError::new(parsed.line, e)),
            );
        }
    }
    Ok(checked)
}

/// Valid rows bound for one transaction, with the lines they span for messages.
struct Batch<R> {
    rows: Vec<R>,
    first_line: u64,
    last_line: u64,
}

/// Pass 2: hands the valid rows to `send` in batches of [`BATCH_ROWS`]. An
/// invalid row is skipped if `skip_invalid`; otherwise the file changed
/// since pass 1 and the import stops. Stops early when `send` returns false
/// (the receiver gave up).
fn batches<R: Row, In: std::io::Read>(
    format: ImportFormat,
    input: In,
    skip_invalid: bool,
    progress: &Progress,
    mut send: impl FnMut(Batch<R>) -> bool,
) -> anyhow::Result<()> {
    let mut batch = Batch {
        rows: Vec::with_capacity(BATCH_ROWS),
        first_line: 0,
        last_line: 0,
    };
    for parsed in rows::rows::<R, _>(format, input)? {
        let parsed = parsed?;
        progress.tick();
        let row = match parsed.row {
            Ok(row) => row,
            Err(_) if skip_invalid => continue,
            Err(errors) => {
                let reasons: Vec<String> = errors
                    .into_iter()
                    .map(|e| RowError::new(parsed.line, e).to_string())
                    .collect();
                anyhow::bail!(
                    "the file changed during the import: {}; the rows before it may be stored, \
                     and re-running the import completes it without duplicates",
                    reasons.join("; ")
                );
            }
        };
        if batch.rows.is_empty() {
            batch.first_line = parsed.line;
        }
        batch.last_line = parsed.line;
        batch.rows.push(row);
        if batch.rows.len() >= BATCH_ROWS {
            let full = std::mem::replace(
                &mut batch,
                Batch {
                    rows: Vec::with_capacity(BATCH_ROWS),
                    first_line: 0,
                    last_line: 0,
                },
            );
            if !send(full) {
                return Ok(());
            }
        }
    }
    if !batch.rows.is_empty() {
        send(batch);
    }
    Ok(())
}

/// A progress bar over the bytes read, drawn only on a terminal, outside CI,
/// and once the import has taken [`PROGRESS_AFTER`]: a quick import prints
/// its summary and nothing else.
#[derive(Clone)]
struct Progress {
    bar: ProgressBar,
    allowed: bool,
    started: Instant,
    shown: Arc<AtomicBool>,
}

impl Progress {
    fn new(allowed: bool, bytes: u64) -> Self {
        let allowed = allowed && crate::progress::watching();
        let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(
            "{msg:>22} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        Self {
            bar,
            allowed,
            started: Instant::now(),
            shown: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Counts the bytes read through `input`.
    fn wrap<In: std::io::Read>(&self, input: In) -> indicatif::ProgressBarIter<In> {
        self.bar.wrap_read(input)
    }

    fn set_message(&self, message: &'static str) {
        self.bar.set_message(message);
    }

    /// Called per row: shows the bar once the import has become slow.
    fn tick(&self) {
        if self.allowed
            && !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() >= PROGRESS_AFTER
        {
            self.shown.store(true, Ordering::Relaxed);
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Shows the storing pass's rate: rows stored (or found duplicate) per
    /// second since `since`.
    fn rate(&self, rows: u64, since: Instant) {
        let per_second = rows as f64 / since.elapsed().as_secs_f64().max(1e-3);
        self.bar
            .set_message(format!("storing {per_second:.0} rows/s"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "name,fingerprint,user_id,created_at\n";

    fn event_line(i: usize) -> String {
        format!("signup,fp-{i},,2023-01-20 13:59:56.437947 UTC\n")
    }

    fn quiet() -> Progress {
        Progress::new(false, 0)
    }

    #[test]
    fn the_check_pass_counts_rows_and_keeps_errors_with_their_lines() {
        let text = format!("{HEADER}{}signup,,,never\n{}", event_line(1), event_line(2));
        let checked = check::<RawEvent, _>(ImportFormat::Csv, text.as_bytes(), &quiet()).unwrap();
        assert_eq!((checked.read, checked.rejected), (3, 1));
        let fields: Vec<_> = checked.errors.iter().map(|e| (e.line, e.field)).collect();
        assert_eq!(fields, [(3, "fingerprint"), (3, "created_at")]);
    }

    #[test]
    fn the_check_pass_keeps_a_bounded_number_of_errors() {
        let text = format!("{HEADER}{}", "signup,,,\n".repeat(MAX_KEPT_ERRORS * 2));
        let checked = check::<RawEvent, _>(ImportFormat::Csv, text.as_bytes(), &quiet()).unwrap();
        assert_eq!(checked.rejected, (MAX_KEPT_ERRORS * 2) as u64);
        assert_eq!(checked.errors.len(), MAX_KEPT_ERRORS);
    }

    #[test]
    fn batches_hold_at_most_batch_rows_and_name_the_lines_they_span() {
        let rows: String = (0..BATCH_ROWS + 3).map(event_line).collect();
        let text = format!("{HEADER}{rows}");
        let mut seen = Vec::new();
        batches::<RawEvent, _>(ImportFormat::Csv, text.as_bytes(), false, &quiet(), |b| {
            seen.push((b.rows.len(), b.first_line, b.last_line));
            true
        })
        .unwrap();
        let last = (BATCH_ROWS + 4) as u64;
        assert_eq!(
            seen,
            [
                (BATCH_ROWS, 2, BATCH_ROWS as u64 + 1),
                (3, BATCH_ROWS as u64 + 2, last)
            ]
        );
    }

    #[test]
    fn the_store_pass_skips_invalid_rows_only_when_asked() {
        let text = format!("{HEADER}{}signup,,,\n{}", event_line(1), event_line(2));
        let mut stored = 0;
        batches::<RawEvent, _>(ImportFormat::Csv, text.as_bytes(), true, &quiet(), |b| {
            stored += b.rows.len();
            true
        })
        .unwrap();
        assert_eq!(stored, 2);
        let err =
            batches::<RawEvent, _>(ImportFormat::Csv, text.as_bytes(), false, &quiet(), |_| {
                true
            })
            .unwrap_err();
        assert!(err.to_string().contains("line 3: fingerprint"), "{err}");
    }

    #[test]
    fn a_refusal_names_the_file_and_lists_the_errors() {
        let refused = Refused {
            path: PathBuf::from("events.csv"),
            read: 10,
            rejected: 1,
            errors: vec![RowError {
                line: 4,
                field: "created_at",
                message: "is required".into(),
            }],
        };
        assert_eq!(
            refused.to_string(),
            "events.csv: 1 of 10 rows are invalid, so nothing was stored \
             (--skip-invalid stores the valid rows):\n  line 4: created_at is required"
        );
    }

    #[test]
    fn a_summary_reads_as_one_line_of_counts() {
        let summary = ImportSummary {
            read: 5,
            stored: 3,
            duplicates: 1,
            rejected: 1,
            errors: Vec::new(),
        };
        assert_eq!(
            summary.to_string(),
            "5 rows read, 3 stored, 1 duplicates, 1 rejected"
        );
    }
}
