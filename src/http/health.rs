//! Liveness, readiness and metrics, for load balancers, orchestrators and monitoring.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use crate::startup::AppState;

/// The process is up and serving HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers: send traffic here. 503 otherwise, so a balancer
/// routes around an instance that would fail every write.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.store.ping().await {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "message": "the database does not answer" })),
        )
    }
}

/// Counters in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = format!(
        "# HELP growth_analytics_sql_statements_total SQL statements executed since start-up.\n\
         # TYPE growth_analytics_sql_statements_total counter\n\
         growth_analytics_sql_statements_total {}\n",
        state.store.statements_executed()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
