//! HTTP: the router that puts the surfaces together, errors, health checks.
//!
//! Layer order matters and reads bottom-up in `router()`: the body limit sits
//! closest to the handlers so that a too-large body is refused before it is
//! buffered; authentication (`auth`) runs before any handler, inside CORS
//! so that preflights are answered without a key; tracing wraps everything
//! so refusals are logged too.

pub mod auth;
pub mod error;
mod health;
pub mod media;
pub mod server;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

pub use error::ApiError;

/// CORS for `/graphql` and the webhook routes: exact origins only
/// (`CORS_ORIGINS`), no credentials (keys travel as bearer tokens, never
/// cookies), preflights cached ten minutes. Without origins, no CORS
/// headers at all: browsers keep cross-origin requests blocked. Other
/// paths never get CORS headers.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let allow = AllowOrigin::predicate(move |origin, request| {
        let path = request.uri.path();
        (path == "/graphql" || auth::is_webhook_path(path)) && origins.contains(origin)
    });
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            HeaderName::from_static("webhook-id"),
            HeaderName::from_static("webhook-timestamp"),
            HeaderName::from_static("webhook-signature"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

/// The whole service as an axum router: the probes and webhooks of this
/// module plus `surfaces` (GraphQL and GraphiQL, which `startup` passes in,
/// so that `http` never imports them), under one set of layers.
pub fn router(state: AppState, surfaces: Router<AppState>) -> Router {
    let max_body = state.config.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(webhooks::router())
        .merge(surfaces)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(cors(&state.config.auth.cors_origins))
        // The span names the path, never the query string: `?key=` and
        // GET queries must not reach the logs.
        .layer(TraceLayer::new_for_http().make_span_with(
            |request: &axum::http::Request<axum::body::Body>| {
                tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
            },
        ))
        .with_state(state)
}
