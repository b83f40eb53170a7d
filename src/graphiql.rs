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

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The page's policy: scripts, styles and connections to this origin only.
/// The page has no inline script; GraphiQL sets element styles through the
/// DOM (which CSP does not restrict), and its dialogs add one `<style>`
/// element, allowed by a nonce fresh for each response. Fonts and a few icons
/// are `data:` URLs inside GraphiQL's CSS.
fn content_security_policy(style_nonce: Option<&str>) -> String {
    let nonce = style_nonce
        .map(|n| format!(" 'nonce-{n}'"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'{nonce}; \
         font-src 'self' data:; img-src 'self' data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// 128 random bits, hex: a CSP nonce. `None` if the OS has no randomness to
/// give, in which case the page still works, minus the dialogs' scroll lock.
fn fresh_nonce() -> Option<String> {
    let mut bytes = [0u8; 16];
    match getrandom::fill(&mut bytes) {
        Ok(()) => Some(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        Err(error) => {
            tracing::warn!(%error, "no randomness for a CSP nonce; serving GraphiQL without one");
            None
        }
    }
}

const PAGE: &str = include_str!("../assets/graphiql/index.html");
/// Where the page's nonce goes (on the script tag that hands it to GraphiQL).
const NONCE_SLOT: &str = "{{style-nonce}}";

/// One file under `/graphql/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// The name changes whenever the content does (it carries the version).
    immutable: bool,
}

macro_rules! vendored {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../assets/graphiql/vendor/", $name)),
            immutable: true,
        }
    };
}

macro_rules! ours {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../assets/graphiql/", $name)),
            immutable: false,
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: [Asset; 6] = [
    vendored!("graphiql-4.1.2.min.js", JS),
    vendored!("graphiql-4.1.2.min.css", CSS),
    vendored!("react-18.3.1.production.min.js", JS),
    vendored!("react-dom-18.3.1.production.min.js", JS),
    ours!("graphiql-init.js", JS),
    ours!("graphiql-page.css", CSS),
];

/// Strong ETags, one per asset in [`ASSETS`]' order: a content hash, computed
/// once on first use.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.bytes);
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        })
        .collect()
});

/// The GraphiQL page: our HTML, with its security headers.
pub fn page() -> Response {
    let nonce = fresh_nonce();
    let html = PAGE.replace(NONCE_SLOT, nonce.as_deref().unwrap_or(""));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                content_security_policy(nonce.as_deref()).as_str(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

/// `GET /graphql/assets/{file}`: the files [`page`] loads.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/graphql/assets/{file}", get(asset))
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == file) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "error": "not_found",
                "message": format!("no GraphiQL asset is named `{file}`"),
            })),
        )
            .into_response();
    };
    let asset = &ASSETS[index];
    let etag = ETAGS[index].as_str();
    let cache_control = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, cache_control),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    if if_none_match(&headers, etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, asset.content_type)],
        asset.bytes,
    )
        .into_response()
}

/// Whether `If-None-Match` names `etag` (or `*`); weak comparison, as RFC 9110
/// asks for this header.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut served: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
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
        let sums = include_str!("../assets/graphiql/vendor/SHA256SUMS");
        for asset in ASSETS.iter().filter(|a| a.immutable) {
            let line = sums
                .lines()
                .find(|l| l.ends_with(&format!("  {}", asset.name)))
                .unwrap_or_else(|| panic!("{} is not in SHA256SUMS", asset.name));
            let hex: String = Sha256::digest(asset.bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(
                line.split_whitespace().next(),
                Some(hex.as_str()),
                "{}",
                asset.name
            );
        }
    }

    #[test]
    fn vendored_file_names_carry_a_version_and_ours_do_not_claim_to() {
        for asset in &ASSETS {
            let versioned = asset.name.chars().any(|c| c.is_ascii_digit());
            assert_eq!(versioned, asset.immutable, "{}", asset.name);
        }
    }

    #[test]
    fn if_none_match_matches_a_listed_weak_or_wildcard_tag() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, value.parse().unwrap());
            headers
        };
        assert!(if_none_match(&with("\"abc\""), "\"abc\""));
        assert!(if_none_match(&with("\"x\", W/\"abc\""), "\"abc\""));
        assert!(if_none_match(&with("*"), "\"abc\""));
        assert!(!if_none_match(&with("\"abd\""), "\"abc\""));
        assert!(!if_none_match(&HeaderMap::new(), "\"abc\""));
    }
}
