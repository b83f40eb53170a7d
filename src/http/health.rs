//! Liveness, readiness and metrics, for load balancers, orchestrators and monitoring.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// The process is up and serving HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and the schema is in place: send traffic here. 503
/// otherwise (while the database is down, or before the migrations ran), so
/// a balancer routes around an instance that would fail every request.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let readiness = state.store.readiness().await;
    let keys_ready = state.gate.is_ready();
    if readiness.is_ready() && keys_ready {
        return (StatusCode::OK, Json(json!({ "status": "ready" })));
    }
    let message = if !readiness.primary {
        "the database does not answer"
    } else if readiness.replica == Some(false) {
        "the read replica (DATABASE_READ_URL) does not answer"
    } else if !readiness.migrated {
        "the database migrations have not been applied yet"
    } else {
        "the first admin key is being created"
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "status": "unavailable",
            "message": message,
            "migrated": readiness.migrated,
            "database": readiness.primary,
            "replica": readiness.replica,
        })),
    )
}

/// The one database read of a scrape gets this long: a scrape must answer
/// while the database is slow or down, that is when it matters most.
const METRICS_QUERY_TIMEOUT: Duration = Duration::from_millis(500);

/// Counters in the Prometheus text format. Answers at once while the
/// database is down: the gauges it cannot read are `NaN`.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let statements = state.store.statements_executed();
    let replica = state.store.replica_statements_executed();
    let up = u8::from(state.store.database_up());
    // Read after the counters, so this query shows up in the next scrape.
    let (dirty, hours, days) =
        match tokio::time::timeout(METRICS_QUERY_TIMEOUT, state.store.queue_lengths()).await {
            Ok(Ok((f, h, d))) => (f.to_string(), h.to_string(), d.to_string()),
            _ => ("NaN".to_owned(), "NaN".to_owned(), "NaN".to_owned()),
        };
    let cache = state.materializer.cache();
    let body = format!(
        "# HELP growth_analytics_sql_statements_total SQL statements executed since start-up.\n\
         # TYPE growth_analytics_sql_statements_total counter\n\
         growth_analytics_sql_statements_total {}\n\
         # HELP growth_analytics_sql_replica_statements_total SQL statements executed on the read replica (DATABASE_READ_URL), included in the total.\n\
         # TYPE growth_analytics_sql_replica_statements_total counter\n\
         growth_analytics_sql_replica_statements_total {}\n\
         # HELP growth_analytics_dirty_fingerprints Fingerprints whose touchpoints and credits await recomputation.\n\
         # TYPE growth_analytics_dirty_fingerprints gauge\n\
         growth_analytics_dirty_fingerprints {}\n\
         # HELP growth_analytics_database_up Whether the primary database answered its last health probe (1) or not (0).\n\
         # TYPE growth_analytics_database_up gauge\n\
         growth_analytics_database_up {}\n\
         # HELP growth_analytics_dirty_hours Hours whose rollup cells await a rebuild.\n\
         # TYPE growth_analytics_dirty_hours gauge\n\
         growth_analytics_dirty_hours {}\n\
         # HELP growth_analytics_dirty_days Days whose daily rollup cells await a merge of their hours.\n\
         # TYPE growth_analytics_dirty_days gauge\n\
         growth_analytics_dirty_days {}\n\
         # HELP growth_analytics_report_cache_hits_total Reports answered from this process's cache.\n\
         # TYPE growth_analytics_report_cache_hits_total counter\n\
         growth_analytics_report_cache_hits_total {}\n\
         # HELP growth_analytics_report_cache_misses_total Reports computed (not in the cache at the current version).\n\
         # TYPE growth_analytics_report_cache_misses_total counter\n\
         growth_analytics_report_cache_misses_total {}\n\
         # HELP growth_analytics_websockets_open Subscription sockets (/graphql/ws) open on this process.\n\
         # TYPE growth_analytics_websockets_open gauge\n\
         growth_analytics_websockets_open {}\n\
         # HELP growth_analytics_live_signals_dropped_total Live signals dropped because subscriptions' fan-out fell behind.\n\
         # TYPE growth_analytics_live_signals_dropped_total counter\n\
         growth_analytics_live_signals_dropped_total {}\n",
        statements,
        replica,
        dirty,
        up,
        hours,
        days,
        cache.hits(),
        cache.misses(),
        state.sockets.open(),
        state.store.live().dropped(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
