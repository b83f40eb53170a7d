//! The REST webhook adapter: `POST /webhooks/pageviews`, `POST /webhooks/events`
//! and the original service's `POST /pageview` / `POST /event`, plus
//! `POST /webhooks/spend` for daily campaign spend.
//!
//! The body is read as bytes whatever the `Content-Type` says (senders are
//! sloppy about it), then parsed here so errors can name fields and items.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;

use crate::http::ApiError;
use crate::startup::AppState;

use super::{events_from_json, pageviews_from_json, spend_from_json};

/// The answer to a stored webhook request.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Payloads newly stored.
    pub stored: u64,
    /// Payloads that were already stored (redeliveries).
    pub duplicates: u64,
}

/// The webhook routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/pageviews", post(pageviews))
        .route("/pageview", post(pageviews))
        .route("/webhooks/events", post(events))
        .route("/event", post(events))
        .route("/webhooks/spend", post(spend))
}

/// The answer to a stored spend request.
#[derive(Debug, Serialize)]
pub struct SpendSummary {
    /// Rows for a (campaign, source, medium, date) not stored before.
    pub stored: u64,
    /// Rows whose key was already stored: their amount replaced the old one.
    pub replaced: u64,
}

fn body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        ApiError::from_body_rejection(rejection, state.config.limits.max_body_bytes)
    })
}

#[tracing::instrument(skip_all)]
async fn pageviews(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let bytes = body(&state, raw)?;
    let (items, batch) = pageviews_from_json(&bytes)?.map_err(ApiError::Invalid)?;
    let recorded = state.ingestor.pageviews(items, batch).await?;
    Ok(Json(Summary {
        stored: recorded.outcome.stored,
        duplicates: recorded.outcome.duplicates,
    }))
}

#[tracing::instrument(skip_all)]
async fn events(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let bytes = body(&state, raw)?;
    let (items, batch) = events_from_json(&bytes)?.map_err(ApiError::Invalid)?;
    let recorded = state.ingestor.events(items, batch).await?;
    Ok(Json(Summary {
        stored: recorded.outcome.stored,
        duplicates: recorded.outcome.duplicates,
    }))
}

#[tracing::instrument(skip_all)]
async fn spend(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<SpendSummary>, ApiError> {
    let bytes = body(&state, raw)?;
    let (items, batch) = spend_from_json(&bytes)?.map_err(ApiError::Invalid)?;
    let recorded = state.ingestor.spend(items, batch).await?;
    Ok(Json(SpendSummary {
        stored: recorded.outcome.stored,
        replaced: recorded.outcome.replaced,
    }))
}
