//! The load client: N connections working through a shared queue of
//! requests, each latency recorded.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use tokio::sync::mpsc;

use super::report::Step;

/// The admin key of the benchmark's throwaway server (`BOOTSTRAP_ADMIN_KEY`).
pub const BENCH_KEY: &str = "ga_bench_admin_key_of_a_throwaway_database_0001";

/// A client builder that sends [`BENCH_KEY`] on every request.
pub fn builder() -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {BENCH_KEY}"))
            .expect("the key is a header value"),
    );
    reqwest::Client::builder().default_headers(headers)
}

/// A client that sends [`BENCH_KEY`].
pub fn client() -> anyhow::Result<reqwest::Client> {
    builder().build().context("Failed to build the HTTP client")
}

/// Sends requests to one server.
pub struct Load {
    base: String,
}

/// The requests of one step, shared by its workers: a list built
/// beforehand (the standard run: nothing but the requests competes with the
/// server for the cores while it is measured), or a bounded stream fed by a
/// generator as the workers drain it (the scale run, whose dataset does not
/// fit in memory). `None` is a GET, `Some` a POST body.
enum Queue {
    List {
        requests: Vec<Option<Vec<u8>>>,
        next: AtomicUsize,
    },
    Stream(tokio::sync::Mutex<mpsc::Receiver<Vec<u8>>>),
}

impl Queue {
    fn list(requests: Vec<Option<Vec<u8>>>) -> Self {
        Queue::List {
            requests,
            next: AtomicUsize::new(0),
        }
    }

    /// The next request, or `None` when the step is done.
    async fn next(&self) -> Option<Option<Vec<u8>>> {
        match self {
            Queue::List { requests, next } => {
                requests.get(next.fetch_add(1, Ordering::Relaxed)).cloned()
            }
            Queue::Stream(bodies) => bodies.lock().await.recv().await.map(Some),
        }
    }
}

impl Load {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
        }
    }

    /// Runs the requests of `queue` through `connections` concurrent
    /// workers, each with its own keep-alive connection, and fails on any
    /// non-2xx answer. `expected` only sizes the progress bar.
    async fn run(
        &self,
        name: &str,
        connections: usize,
        queue: Queue,
        expected: u64,
        path: &str,
        items_per_request: usize,
    ) -> anyhow::Result<Step> {
        let bar = crate::progress::bar(expected, "  {msg} {bar:30} {pos}/{len} ({per_sec})", true);
        bar.set_message(name.to_owned());
        let queue = Arc::new(queue);
        // Set by the first worker to fail, so the others stop too (and a
        // streamed dataset stops being generated) rather than run on.
        let failed = Arc::new(AtomicBool::new(false));
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..connections.max(1) {
            let (queue, failed, url, bar) =
                (queue.clone(), failed.clone(), url.clone(), bar.clone());
            let client = builder()
                .pool_max_idle_per_host(1)
                .build()
                .context("Failed to build the HTTP client")?;
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let outcome = async {
                    while let Some(body) = queue.next().await {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let t = Instant::now();
                        let response = match body {
                            Some(b) => {
                                client
                                    .post(&url)
                                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                                    .body(b)
                                    .send()
                                    .await
                            }
                            None => client.get(&url).send().await,
                        }?;
                        let status = response.status();
                        let text = response.text().await?;
                        latencies.push(t.elapsed());
                        bar.inc(1);
                        if !status.is_success() || text.contains("\"errors\"") {
                            anyhow::bail!(
                                "{url} answered {status}: {}",
                                text.chars().take(300).collect::<String>()
                            );
                        }
                    }
                    Ok(())
                }
                .await;
                if outcome.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                outcome.map(|()| latencies)
            }));
        }
        // Every worker is awaited, so none runs on after an error returns.
        let mut latencies = Vec::new();
        let mut first_error = None;
        for w in workers {
            match w.await.context("a load worker panicked")? {
                Ok(l) => latencies.extend(l),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            bar.finish_and_clear();
            return Err(e);
        }
        let elapsed = started.elapsed();
        bar.finish_and_clear();
        let n = latencies.len();
        Ok(Step::new(name, latencies, elapsed).with_rows(n * items_per_request))
    }

    /// `count` GETs of `path`.
    pub async fn get_many(
        &self,
        name: &str,
        path: &str,
        connections: usize,
        count: usize,
    ) -> anyhow::Result<Step> {
        let queue = Queue::list(vec![None; count]);
        self.run(name, connections, queue, count as u64, path, 1)
            .await
    }

    /// POSTs every body.
    pub async fn post_many(
        &self,
        name: &str,
        path: &str,
        connections: usize,
        bodies: Vec<Vec<u8>>,
        items_per_request: usize,
    ) -> anyhow::Result<Step> {
        let expected = bodies.len() as u64;
        let queue = Queue::list(bodies.into_iter().map(Some).collect());
        self.run(name, connections, queue, expected, path, items_per_request)
            .await
    }

    /// POSTs every body received from `bodies` until its sender is dropped:
    /// the dataset never has to be in memory at once. The step's items are
    /// `requests × items_per_request`; the caller corrects the last, partial
    /// batch with [`Step::with_rows`] once it knows the total.
    pub async fn post_stream(
        &self,
        name: &str,
        path: &str,
        connections: usize,
        bodies: mpsc::Receiver<Vec<u8>>,
        expected: u64,
        items_per_request: usize,
    ) -> anyhow::Result<Step> {
        let queue = Queue::Stream(tokio::sync::Mutex::new(bodies));
        self.run(name, connections, queue, expected, path, items_per_request)
            .await
    }

    /// Waits until the materialiser's queue (`/metrics`) is empty: how long
    /// the derived tables take to catch up with what was ingested. Fails
    /// after `limit`.
    pub async fn wait_materialised(&self, name: &str, limit: Duration) -> anyhow::Result<Step> {
        let client = client()?;
        let started = Instant::now();
        let mut first = None;
        loop {
            let text = client
                .get(format!("{}/metrics", self.base))
                .send()
                .await?
                .text()
                .await?;
            let gauge = |name: &str| -> Option<u64> {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse().ok())
            };
            let dirty = gauge("growth_analytics_dirty_fingerprints ")
                .context("no dirty-fingerprint gauge in /metrics")?;
            // Older servers (`--server-bin`) have no rollups and no gauge.
            let hours = gauge("growth_analytics_dirty_hours ").unwrap_or(0)
                + gauge("growth_analytics_dirty_days ").unwrap_or(0);
            first.get_or_insert(dirty);
            // Caught up: every fingerprint recomputed and every hour's
            // rollups rebuilt.
            if dirty == 0 && hours == 0 {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < limit,
                "the materialiser did not catch up within {} s",
                limit.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let elapsed = started.elapsed();
        Ok(Step::new(name, vec![elapsed], elapsed).with_rows(first.unwrap_or(0) as usize))
    }

    /// For each user: a late pageview linking a new device (delivered after
    /// the signup, dated before it), then that user's attribution, which
    /// must already include it. Latency is the pair's.
    pub async fn late_pageviews(
        &self,
        name: &str,
        users: &[String],
        at: &str,
    ) -> anyhow::Result<Step> {
        let client = client()?;
        let mut latencies = Vec::with_capacity(users.len());
        let started = Instant::now();
        for (i, user) in users.iter().enumerate() {
            let pageview = json!({
                "fingerprint": format!("late-device-{i}"),
                "user_id": user,
                "url": "https://www.blinkist.com/en/?utm_source=late&utm_medium=email&utm_campaign=late_link",
                "created_at": at,
            });
            let query = json!({ "query": format!(
                r#"{{ user(id: "{user}") {{ fingerprints attribution {{ touchpoints {{ campaign }} }} }} }}"#
            ) });
            let t = Instant::now();
            let r = client
                .post(format!("{}/webhooks/pageviews", self.base))
                .json(&pageview)
                .send()
                .await?;
            anyhow::ensure!(
                r.status().is_success(),
                "late pageview refused: {}",
                r.status()
            );
            let answer: serde_json::Value = client
                .post(format!("{}/graphql", self.base))
                .json(&query)
                .send()
                .await?
                .json()
                .await?;
            latencies.push(t.elapsed());
            let fingerprints = answer["data"]["user"]["fingerprints"].to_string();
            anyhow::ensure!(
                fingerprints.contains(&format!("late-device-{i}")),
                "the late device is missing from {user}'s answer: {answer}"
            );
        }
        Ok(Step::new(name, latencies, started.elapsed()))
    }

    /// Runs GraphQL queries one at a time (latency, not throughput, is the point).
    pub async fn graphql_many(&self, name: &str, queries: Vec<String>) -> anyhow::Result<Step> {
        let bodies: Vec<Option<Vec<u8>>> = queries
            .into_iter()
            .map(|q| Some(serde_json::to_vec(&json!({ "query": q })).unwrap_or_default()))
            .collect();
        let expected = bodies.len() as u64;
        self.run(name, 1, Queue::list(bodies), expected, "/graphql", 1)
            .await
    }
}
