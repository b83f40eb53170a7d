//! The browser tracker, `GET /tracker.js`: one small dependency-free script
//! (`assets/tracker/tracker.js`, embedded in the binary) that a website
//! loads with `<script defer src=".../tracker.js" data-key="ga_…">` and that
//! sends the very webhooks a backend would (see the README's "Browser
//! tracker" section and the script's own header for its design).
//!
//! Served without a key (`http::auth` lists it as open), to pages on any
//! origin: a plain script tag needs no CORS, and
//! `Cross-Origin-Resource-Policy: cross-origin` lets pages that set
//! `Cross-Origin-Embedder-Policy: require-corp` load it too. Its name
//! carries no version, so caches keep it an hour and then revalidate by
//! ETag: a new release reaches every visitor within the hour.

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

/// The script, as shipped.
pub const SCRIPT: &str = include_str!("../assets/tracker/tracker.js");

/// How long browsers and CDNs may use their copy before revalidating.
const CACHE_CONTROL: &str = "public, max-age=3600";

/// A strong ETag: the script's content hash, computed once.
static ETAG: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(SCRIPT.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
});

/// `GET /tracker.js` (and `HEAD`).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/tracker.js", get(script))
}

async fn script(headers: HeaderMap) -> Response {
    let etag = ETAG.as_str();
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, CACHE_CONTROL),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "cross-origin",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    if crate::web::assets::if_none_match(&headers, etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_stays_small_and_self_contained() {
        assert!(SCRIPT.len() < 20 * 1024, "{} bytes", SCRIPT.len());
        for needle in ["import ", "require(", "eval(", "sendBeacon("] {
            assert!(!SCRIPT.contains(needle), "the script contains `{needle}`");
        }
    }

    #[test]
    fn the_script_posts_to_the_webhook_routes_the_service_serves() {
        for path in ["/webhooks/pageviews", "/webhooks/events"] {
            assert!(SCRIPT.contains(&format!("\"{path}\"")), "{path}");
            assert!(crate::http::auth::is_webhook_path(path), "{path}");
        }
    }
}
