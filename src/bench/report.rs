//! Benchmark figures: a table for people, JSON for machines.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::sizes::Sizes;

/// One measured step.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub requests: usize,
    /// Items (payloads, rows) the step moved; equals `requests` for queries.
    pub rows: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Step {
    pub fn new(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        Self {
            name: name.to_owned(),
            requests: latencies.len(),
            rows: latencies.len(),
            elapsed,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }

    pub fn with_rows(mut self, rows: usize) -> Self {
        self.rows = rows;
        self
    }

    /// Items per second over the step's wall time.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.rows as f64 / secs
        } else {
            0.0
        }
    }
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Report {
    pub database: String,
    /// `"quick"`, `"standard"` or `"scale"`.
    pub mode: &'static str,
    pub visitors: u32,
    pub days: u32,
    pub seed: u64,
    pub pageviews: usize,
    pub events: usize,
    pub signups: usize,
    pub quick: bool,
    pub steps: Vec<Step>,
    /// Tables on disk after the materialiser caught up.
    pub sizes: Option<Sizes>,
    pub peak_server_memory: Option<u64>,
    /// Peak resident memory of the bench process (client and generator).
    pub peak_bench_memory: Option<u64>,
    pub finished_at: DateTime<Utc>,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Report {
    /// An empty report of a run in `mode` over `params`; the dataset's
    /// counts are filled in as it is sent.
    pub fn new(database: &str, mode: &'static str, params: &crate::demo::Params) -> Self {
        Self {
            database: crate::store::redact(database),
            mode,
            visitors: params.visitors,
            days: params.days,
            seed: params.seed,
            pageviews: 0,
            events: 0,
            signups: 0,
            quick: mode == "quick",
            steps: Vec::new(),
            sizes: None,
            peak_server_memory: None,
            peak_bench_memory: None,
            finished_at: Utc::now(),
        }
    }

    pub fn push(&mut self, step: Step) {
        eprintln!(
            "  {:<64} {:>10.0}/s  p50 {:>8.2} ms  p99 {:>8.2} ms",
            step.name,
            step.throughput(),
            ms(step.p50),
            ms(step.p99)
        );
        self.steps.push(step);
    }

    fn step(&self, prefix: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name.starts_with(prefix))
    }

    /// Ingest as a fraction of the two ceilings.
    pub fn ratios(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        if let (Some(single), Some(http)) = (
            self.step("single pageview webhooks, 32"),
            self.step("HTTP ceiling"),
        ) {
            out.push((
                "single webhooks at 32 connections / HTTP ceiling".into(),
                single.throughput() / http.throughput(),
            ));
        }
        if let (Some(batched), Some(storage)) =
            (self.step("batched pageviews"), self.step("storage ceiling"))
        {
            out.push((
                "batched pageviews / storage ceiling".into(),
                batched.throughput() / storage.throughput(),
            ));
        }
        out
    }

    /// A fixed-width table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "growth-analytics benchmark ({}: {} visitors over {} days, seed {}) — {} pageviews, {} events, {} signups, database {}\n\n",
            self.mode,
            self.visitors,
            self.days,
            self.seed,
            self.pageviews,
            self.events,
            self.signups,
            self.database
        );
        out.push_str(&format!(
            "| {:<64} | {:>9} | {:>12} | {:>9} | {:>9} | {:>9} |\n|{}|{}|{}|{}|{}|{}|\n",
            "step",
            "requests",
            "items/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "-".repeat(66),
            "-".repeat(11),
            "-".repeat(14),
            "-".repeat(11),
            "-".repeat(11),
            "-".repeat(11)
        ));
        for s in &self.steps {
            out.push_str(&format!(
                "| {:<64} | {:>9} | {:>12.0} | {:>9.2} | {:>9.2} | {:>9.2} |\n",
                s.name,
                s.requests,
                s.throughput(),
                ms(s.p50),
                ms(s.p99),
                ms(s.max)
            ));
        }
        out.push('\n');
        for (name, ratio) in self.ratios() {
            out.push_str(&format!("{name}: {:.0}%\n", ratio * 100.0));
        }
        if let Some(peak) = self.peak_server_memory {
            out.push_str(&format!(
                "peak server memory (VmHWM): {:.1} MiB\n",
                mib(peak)
            ));
        }
        if let Some(peak) = self.peak_bench_memory {
            out.push_str(&format!(
                "peak bench-process memory (VmHWM): {:.1} MiB\n",
                mib(peak)
            ));
        }
        if let Some(sizes) = &self.sizes {
            out.push_str(&format!(
                "\nsize on disk after the materialiser caught up ({}{}):\n\n| {:<16} | {:>12} | {:>12} |\n|{}|{}|{}|\n",
                sizes.method,
                match sizes.method {
                    "dbstat" => ": table and its indexes",
                    "file size" => ": no dbstat, whole file only",
                    _ => ": heap, indexes, TOAST",
                },
                "table",
                "MiB",
                "rows",
                "-".repeat(18),
                "-".repeat(14),
                "-".repeat(14)
            ));
            for t in &sizes.tables {
                let (size, rows) = if t.present {
                    (
                        t.bytes.map_or("—".to_owned(), |b| format!("{:.1}", mib(b))),
                        t.rows.map_or("—".to_owned(), |r| r.to_string()),
                    )
                } else {
                    ("absent".to_owned(), String::new())
                };
                out.push_str(&format!(
                    "| {:<16} | {:>12} | {:>12} |\n",
                    t.table, size, rows
                ));
            }
            if let Some(file) = sizes.file_bytes {
                out.push_str(&format!(
                    "database file with its WAL: {:.1} MiB\n",
                    mib(file)
                ));
            }
        }
        out
    }

    /// The same figures as JSON.
    pub fn json(&self) -> Value {
        json!({
            "database": self.database,
            "quick": self.quick,
            "mode": self.mode,
            "dataset": {
                "visitors": self.visitors,
                "days": self.days,
                "seed": self.seed,
                "pageviews": self.pageviews,
                "events": self.events,
                "signups": self.signups,
            },
            "finished_at": self.finished_at.to_rfc3339(),
            "peak_server_memory_bytes": self.peak_server_memory,
            "peak_bench_memory_bytes": self.peak_bench_memory,
            "table_sizes": self.sizes.as_ref().map(|s| json!({
                "method": s.method,
                "file_bytes": s.file_bytes,
                "tables": s.tables.iter().map(|t| json!({
                    "table": t.table,
                    "present": t.present,
                    "bytes": t.bytes,
                    "rows": t.rows,
                })).collect::<Vec<_>>(),
            })),
            "steps": self.steps.iter().map(|s| json!({
                "name": s.name,
                "requests": s.requests,
                "items": s.rows,
                "seconds": s.elapsed.as_secs_f64(),
                "items_per_second": s.throughput(),
                "p50_ms": ms(s.p50),
                "p99_ms": ms(s.p99),
                "max_ms": ms(s.max),
            })).collect::<Vec<_>>(),
            "ratios": self.ratios().into_iter().map(|(k, v)| json!({ "name": k, "ratio": v })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let l: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Step::new("x", l, Duration::from_secs(1));
        assert_eq!(
            (s.p50, s.p99, s.max),
            (
                Duration::from_millis(50),
                Duration::from_millis(99),
                Duration::from_millis(100)
            )
        );
        assert_eq!(s.throughput(), 100.0);
    }
}
