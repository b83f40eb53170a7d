//! The dashboard at `GET /`: a page of reports for people, embedded in the
//! binary (no CDN: it works air-gapped) and talking to the service only
//! through the public GraphQL API with a `read` key, so that it is also the
//! reference client for dashboards built elsewhere.
//!
//! The page and its scripts are ours (`assets/dashboard/`); the charts are
//! uPlot, vendored byte for byte from npm with its licence
//! (`assets/dashboard/vendor/`, see its README). The key never reaches this
//! module: the link printed at start carries it in the URL fragment, which
//! browsers do not send, and the page keeps it in the browser's storage.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::assets::{self, embedded, Asset, Catalog, Policy, CSS, HTML, JS};

static PAGE_FILE: [Asset; 1] = [embedded!(ours "assets/dashboard", "index.html", HTML)];
/// The page itself: static, so it gets an ETag like any other file.
static PAGE: Catalog = Catalog::new(&PAGE_FILE);

static FILES: [Asset; 7] = [
    embedded!(vendored "assets/dashboard/vendor", "uPlot-1.6.32.iife.min.js", JS),
    embedded!(vendored "assets/dashboard/vendor", "uPlot-1.6.32.min.css", CSS),
    embedded!(ours "assets/dashboard", "dashboard.js", JS),
    embedded!(ours "assets/dashboard", "api.js", JS),
    embedded!(ours "assets/dashboard", "live.js", JS),
    embedded!(ours "assets/dashboard", "format.js", JS),
    embedded!(ours "assets/dashboard", "dashboard.css", CSS),
];

/// The files under `/dashboard/assets/`.
static ASSETS: Catalog = Catalog::new(&FILES);

/// The page's policy: this origin only, no inline script or style. uPlot
/// sizes its elements through the DOM's style properties, which CSP does not
/// restrict; the live updates' WebSocket is a connection to this origin.
fn content_security_policy() -> String {
    Policy::default().header()
}

/// `GET /` (the page) and `GET /dashboard/assets/{file}` (what it loads).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(page))
        .route("/dashboard/assets/{file}", get(asset))
}

async fn page(headers: HeaderMap) -> Response {
    let policy = content_security_policy();
    PAGE.serve("index.html", &headers, &assets::page_headers(&policy))
        .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    ASSETS.serve(&file, &headers, &[]).unwrap_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Json(json!({
                "error": "not_found",
                "message": format!("no dashboard asset is named `{file}`"),
            })),
        )
            .into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTML_TEXT: &str = include_str!("../../assets/dashboard/index.html");

    /// What the page and its scripts load from `dashboard/assets/`: the
    /// page's `src`/`href`s and the scripts' relative `import`s.
    fn referenced_assets() -> Vec<String> {
        let mut names: Vec<String> = HTML_TEXT
            .split("dashboard/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect();
        for asset in FILES
            .iter()
            .filter(|a| a.name.ends_with(".js") && !a.immutable)
        {
            let text = std::str::from_utf8(asset.bytes).unwrap();
            names.extend(
                text.split("from \"./")
                    .skip(1)
                    .filter_map(|rest| rest.split('"').next())
                    .map(str::to_owned),
            );
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    #[test]
    fn every_file_the_page_loads_is_served_and_every_served_file_is_loaded() {
        let mut served: Vec<String> = FILES.iter().map(|a| a.name.to_owned()).collect();
        served.sort_unstable();
        assert_eq!(referenced_assets(), served);
    }

    #[test]
    fn the_page_and_its_scripts_name_no_other_origin() {
        for needle in ["http:", "https:", "//"] {
            assert!(!HTML_TEXT.contains(needle), "the page contains `{needle}`");
        }
        for asset in FILES.iter().filter(|a| !a.immutable) {
            let text = std::str::from_utf8(asset.bytes).unwrap();
            for needle in ["http:", "https:"] {
                assert!(!text.contains(needle), "{} contains `{needle}`", asset.name);
            }
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        assert!(!HTML_TEXT.contains("<style"));
        assert!(!HTML_TEXT.contains(" style="));
        let handler = HTML_TEXT.match_indices(" on").any(|(i, _)| {
            let rest = &HTML_TEXT[i + 3..];
            let name = rest.chars().take_while(char::is_ascii_lowercase).count();
            name > 0 && rest[name..].starts_with('=')
        });
        assert!(!handler, "an inline event handler");
        for script in HTML_TEXT.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap_or("");
            assert!(tag.contains("src="), "an inline script: <script{tag}>");
        }
    }

    #[test]
    fn the_vendored_files_are_the_ones_listed_in_sha256sums() {
        assets::checks::vendored_files_match(
            &ASSETS,
            include_str!("../../assets/dashboard/vendor/SHA256SUMS"),
        );
    }

    #[test]
    fn vendored_file_names_carry_a_version_and_ours_do_not_claim_to() {
        assets::checks::names_carry_versions_iff_immutable(&ASSETS);
    }
}
