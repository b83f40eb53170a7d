//! GraphiQL, served from the binary itself: no CDN, so it works on an
//! air-gapped machine and hands the admin page to no third party.
//!
//! The vendored files (`assets/graphiql/vendor/`, see its README) are pinned
//! production builds copied byte for byte from the npm packages: GraphiQL
//! 4.1.2's UMD bundle and React/ReactDOM 18.3.1. GraphiQL 4 rather than 3:
//! every 3.x release ships its `graphiql.min.js` as an unminified development
//! build (3.5 MB), 4.1.2's is a real production build (1 MB) that still runs
//! on React 18, the last React with UMD builds.
//!
//! [`page`] is our own small HTML page with a Content-Security-Policy that
//! allows scripts, styles and connections to this origin only; [`router`]
//! serves the files under `/graphql/assets/{file}`. Vendored file names carry
//! their version, so they are cached for a year as immutable; our own files
//! (the page script and style) are revalidated by ETag on every load.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::web::assets::{self, embedded, Asset, Catalog, Policy, CSS, JS};

/// The page's policy: scripts, styles and connections to this origin only.
/// The page has no inline script; GraphiQL sets element styles through the
/// DOM (which CSP does not restrict), and its dialogs add one `<style>`
/// element, allowed by a nonce fresh for each response. Fonts and a few icons
/// are `data:` URLs inside GraphiQL's CSS.
fn content_security_policy(style_nonce: Option<&str>) -> String {
    Policy {
        style_nonce,
        data_fonts: true,
    }
    .header()
}

/// 128 random bits, hex: a CSP nonce. `None` if the OS has no randomness to
/// give, in which case the page still works, minus the dialogs' scroll lock.
fn fresh_nonce() -> Option<String> {
    let mut bytes = [0u8; 16];
    match getrandom::fill(&mut bytes) {
        Ok(()) => Some(assets::hex(&bytes)),
        Err(error) => {
            tracing::warn!(%error, "no randomness for a CSP nonce; serving GraphiQL without one");
            None
        }
    }
}

const PAGE: &str = include_str!("../assets/graphiql/index.html");
/// Where the page's nonce goes (on the script tag that hands it to GraphiQL).
const NONCE_SLOT: &str = "{{style-nonce}}";

static FILES: [Asset; 6] = [
    embedded!(vendored "assets/graphiql/vendor", "graphiql-4.1.2.min.js", JS),
    embedded!(vendored "assets/graphiql/vendor", "graphiql-4.1.2.min.css", CSS),
    embedded!(vendored "assets/graphiql/vendor", "react-18.3.1.production.min.js", JS),
    embedded!(vendored "assets/graphiql/vendor", "react-dom-18.3.1.production.min.js", JS),
    embedded!(ours "assets/graphiql", "graphiql-init.js", JS),
    embedded!(ours "assets/graphiql", "graphiql-page.css", CSS),
];

/// The files under `/graphql/assets/`.
static ASSETS: Catalog = Catalog::new(&FILES);

/// The GraphiQL page: our HTML, with its security headers.
pub fn page() -> Response {
    let nonce = fresh_nonce();
    let html = PAGE.replace(NONCE_SLOT, nonce.as_deref().unwrap_or(""));
    assets::page(html, &content_security_policy(nonce.as_deref()))
}

/// `GET /graphql/assets/{file}`: the files [`page`] loads.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/graphql/assets/{file}", get(asset))
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    ASSETS.serve(&file, &headers, &[]).unwrap_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Json(json!({
                "error": "not_found",
                "message": format!("no GraphiQL asset is named `{file}`"),
            })),
        )
            .into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    /// The `graphql/assets/…` references of the page, in order.
    fn referenced_assets() -> Vec<&'static str> {
        PAGE.split("graphql/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect()
    }

    #[test]
    fn every_file_the_page_loads_is_served_and_every_served_file_is_loaded() {
        let mut referenced = referenced_assets();
        let mut served: Vec<&str> = ASSETS.assets().iter().map(|a| a.name).collect();
        referenced.sort_unstable();
        served.sort_unstable();
        assert_eq!(referenced, served);
    }

    #[tokio::test]
    async fn each_page_carries_a_fresh_nonce_that_its_policy_allows_for_styles() {
        let nonce_of = |response: &Response| {
            let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .to_owned();
            let nonce = policy
                .split("'nonce-")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .map(str::to_owned)
                .expect("a nonce in the policy");
            (policy, nonce)
        };
        let response = page();
        let (policy, first) = nonce_of(&response);
        let (_, second) = nonce_of(&page());
        assert_ne!(first, second);
        assert_eq!(first.len(), 32);
        assert!(policy.contains(&format!("style-src 'self' 'nonce-{first}';")));
        assert!(policy.contains("script-src 'self';"));
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains(&format!("graphiql-init.js\" nonce=\"{first}\"")));
    }

    #[test]
    fn the_page_names_no_other_origin() {
        for needle in ["http:", "https:", "//"] {
            assert!(!PAGE.contains(needle), "the page contains `{needle}`");
        }
    }

    #[test]
    fn the_vendored_files_are_the_ones_listed_in_sha256sums() {
        assets::checks::vendored_files_match(
            &ASSETS,
            include_str!("../assets/graphiql/vendor/SHA256SUMS"),
        );
    }

    #[test]
    fn vendored_file_names_carry_a_version_and_ours_do_not_claim_to() {
        assets::checks::names_carry_versions_iff_immutable(&ASSETS);
    }
}
