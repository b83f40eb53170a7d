//! The load client: N connections working through a shared queue of
//! requests, each latency recorded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::report::Step;

/// Sends requests to one server.
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

pub struct Load {
    base: String,
}

impl Load {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
        }
    }

    /// Runs `bodies` through `connections` concurrent workers, each with its
    /// own keep-alive connection, and fails on any non-2xx answer.
    async fn run(
        &self,
        name: &str,
        connections: usize,
        requests: Vec<Option<Vec<u8>>>,
        path: &str,
        items_per_request: usize,
    ) -> anyhow::Result<Step> {
        let bar = crate::progress::bar(
            requests.len() as u64,
            "  {msg} {bar:30} {pos}/{len} ({per_sec})",
            true,
        );
        bar.set_message(name.to_owned());
        let requests = Arc::new(requests);
        let next = Arc::new(AtomicUsize::new(0));
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..connections.max(1) {
            let (requests, next, url, bar) =
                (requests.clone(), next.clone(), url.clone(), bar.clone());
            let client = builder()
                .pool_max_idle_per_host(1)
                .build()
                .context("Failed to build the HTTP client")?;
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = requests.get(i) else { break };
                    let t = Instant::now();
                    let response = match body {
                        Some(b) => {
                            client
                                .post(&url)
                                .header(reqwest::header::CONTENT_TYPE, "application/json")
                                .body(b.clone())
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
                Ok::<Vec<Duration>, anyhow::Error>(latencies)
            }));
        }
        let mut latencies = Vec::new();
        for w in workers {
            latencies.extend(w.await.context("a load worker panicked")??);
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
        self.run(name, connections, vec![None; count], path, 1)
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
        let requests = bodies.into_iter().map(Some).collect();
        self.run(name, connections, requests, path, items_per_request)
            .await
    }

    /// Waits until the materialiser's queue (`/metrics`) is empty: how long
    /// the derived tables take to catch up with what was ingested.
    pub async fn wait_materialised(&self, name: &str) -> anyhow::Result<Step> {
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
            let dirty: u64 = text
                .lines()
                .find_map(|l| l.strip_prefix("growth_analytics_dirty_fingerprints "))
                .and_then(|v| v.trim().parse().ok())
                .context("no dirty-fingerprint gauge in /metrics")?;
            first.get_or_insert(dirty);
            if dirty == 0 {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(3600),
                "the materialiser did not catch up within an hour"
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
        let bodies = queries
            .into_iter()
            .map(|q| Some(serde_json::to_vec(&json!({ "query": q })).unwrap_or_default()))
            .collect();
        self.run(name, 1, bodies, "/graphql", 1).await
    }
}
