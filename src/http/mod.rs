//! HTTP: the router that puts the surfaces together, errors, health checks.
//!
//! Layer order matters and reads bottom-up in `router()`: the body limit sits
//! closest to the handlers so that a too-large body is refused before it is
//! buffered, and tracing wraps everything so refusals are logged too.

pub mod error;
mod health;
pub mod server;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

pub use error::ApiError;

/// The whole service as an axum router (tests can drive it without a socket).
pub fn router(state: AppState) -> Router {
    let max_body = state.config.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(webhooks::router())
        .merge(crate::graphql::router())
        .merge(crate::graphiql::router())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
