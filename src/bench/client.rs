//! The load client: N connections working through a shared queue of
//! requests, each latency recorded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::report::Step;

/// Sends requests to one server.
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
        let requests = Arc::new(requests);
        let next = Arc::new(AtomicUsize::new(0));
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..connections.max(1) {
            let (requests, next, url) = (requests.clone(), next.clone(), url.clone());
            let client = reqwest::Client::builder()
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
                        Some(b) => client.post(&url).body(b.clone()).send().await,
                        None => client.get(&url).send().await,
                    }?;
                    let status = response.status();
                    let text = response.text().await?;
                    latencies.push(t.elapsed());
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

    /// Runs GraphQL queries one at a time (latency, not throughput, is the point).
    pub async fn graphql_many(&self, name: &str, queries: Vec<String>) -> anyhow::Result<Step> {
        let bodies = queries
            .into_iter()
            .map(|q| Some(serde_json::to_vec(&json!({ "query": q })).unwrap_or_default()))
            .collect();
        self.run(name, 1, bodies, "/graphql", 1).await
    }
}
