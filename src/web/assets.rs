//! Serving files embedded at build time, as GraphiQL and the dashboard do:
//! one [`Catalog`] per page, whose files answer with a strong ETag (a
//! content hash) and `304` when the browser has them already. Vendored file
//! names carry their version, so they are cached for a year as immutable;
//! our own files are revalidated by ETag on every load.
//!
//! [`page`] answers a page's HTML with the security headers every embedded
//! page gets, and [`Policy`] builds its Content-Security-Policy: scripts,
//! styles and connections to this origin only.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub const JS: &str = "text/javascript; charset=utf-8";
pub const CSS: &str = "text/css; charset=utf-8";
pub const HTML: &str = "text/html; charset=utf-8";

/// An [`Asset`] embedded from `$dir` (relative to the repository root):
/// `vendored` for a pinned third-party file whose name carries its version
/// (cached as immutable), `ours` for the pages' own files (revalidated by
/// ETag).
macro_rules! embedded {
    (vendored $dir:literal, $name:literal, $content_type:expr) => {
        $crate::web::assets::Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $name)),
            immutable: true,
        }
    };
    (ours $dir:literal, $name:literal, $content_type:expr) => {
        $crate::web::assets::Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $name)),
            immutable: false,
        }
    };
}
pub(crate) use embedded;

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// The name changes whenever the content does (it carries the version).
    pub immutable: bool,
}

/// The files of one page, with their ETags computed once on first use.
pub struct Catalog {
    assets: &'static [Asset],
    etags: OnceLock<Vec<String>>,
}

impl Catalog {
    pub const fn new(assets: &'static [Asset]) -> Self {
        Self {
            assets,
            etags: OnceLock::new(),
        }
    }

    /// Every file, in the order given.
    pub fn assets(&self) -> &'static [Asset] {
        self.assets
    }

    fn etag(&self, index: usize) -> &str {
        let etags = self.etags.get_or_init(|| {
            self.assets
                .iter()
                .map(|asset| format!("\"{}\"", hex(&Sha256::digest(asset.bytes)[..16])))
                .collect()
        });
        &etags[index]
    }

    /// The file named `name` (`None`: no such file, the caller says 404 in
    /// its own words), or `304` if `headers` show the browser has it.
    /// `extra` headers go on both answers (a page's security headers).
    pub fn serve(
        &self,
        name: &str,
        headers: &HeaderMap,
        extra: &[(header::HeaderName, &str)],
    ) -> Option<Response> {
        let index = self.assets.iter().position(|a| a.name == name)?;
        let asset = &self.assets[index];
        let etag = self.etag(index);
        let cache_control = if asset.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let mut response = if if_none_match(headers, etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
        };
        let out = response.headers_mut();
        for (name, value) in [
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache_control),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ]
        .into_iter()
        .chain(extra.iter().map(|(n, v)| (n.clone(), *v)))
        {
            if let Ok(value) = value.parse() {
                out.insert(name, value);
            }
        }
        Some(response)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A page's Content-Security-Policy: nothing by default; scripts, styles,
/// images and connections (`fetch`, and WebSockets to the same host and
/// port) to this origin only; no inline script, no `<base>`, no form
/// posts, no framing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Policy<'a> {
    /// Also allows `<style>` elements carrying this nonce.
    pub style_nonce: Option<&'a str>,
    /// Also allows fonts from `data:` URLs (GraphiQL's CSS embeds its fonts).
    pub data_fonts: bool,
}

impl Policy<'_> {
    pub fn header(&self) -> String {
        let nonce = self
            .style_nonce
            .map(|n| format!(" 'nonce-{n}'"))
            .unwrap_or_default();
        let fonts = if self.data_fonts {
            "font-src 'self' data:; "
        } else {
            ""
        };
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'{nonce}; \
             {fonts}img-src 'self' data:; connect-src 'self'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
    }
}

/// The headers every embedded page is served with, beside its policy.
pub fn page_headers(policy: &str) -> [(header::HeaderName, &str); 3] {
    [
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ]
}

/// A page made per request (GraphiQL's carries a fresh nonce): its HTML
/// with the page headers, never cached without revalidation.
pub fn page(html: String, policy: &str) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, HTML),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response();
    for (name, value) in page_headers(policy) {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Whether `If-None-Match` names `etag` (or `*`); weak comparison, as RFC 9110
/// asks for this header.
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// Checks shared by every catalog's unit tests.
#[cfg(test)]
pub mod checks {
    use super::*;

    /// Each vendored file's hash is the one its `SHA256SUMS` lists.
    pub fn vendored_files_match(catalog: &Catalog, sums: &str) {
        for asset in catalog.assets().iter().filter(|a| a.immutable) {
            let line = sums
                .lines()
                .find(|l| l.ends_with(&format!("  {}", asset.name)))
                .unwrap_or_else(|| panic!("{} is not in SHA256SUMS", asset.name));
            let hash = hex(&Sha256::digest(asset.bytes));
            assert_eq!(
                line.split_whitespace().next(),
                Some(hash.as_str()),
                "{}",
                asset.name
            );
        }
    }

    /// Vendored names carry a version (a digit); ours do not.
    pub fn names_carry_versions_iff_immutable(catalog: &Catalog) {
        for asset in catalog.assets() {
            let versioned = asset.name.chars().any(|c| c.is_ascii_digit());
            assert_eq!(versioned, asset.immutable, "{}", asset.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_policy_allows_this_origin_only_and_a_nonce_or_data_fonts_when_asked() {
        let plain = Policy::default().header();
        assert!(
            plain.starts_with("default-src 'none'; script-src 'self'; style-src 'self'; img-src")
        );
        assert!(plain.contains("connect-src 'self';"));
        assert!(!plain.contains("font-src"));
        let graphiql = Policy {
            style_nonce: Some("abc"),
            data_fonts: true,
        }
        .header();
        assert!(graphiql.contains("style-src 'self' 'nonce-abc'; font-src 'self' data:;"));
    }

    static FILES: [Asset; 2] = [
        Asset {
            name: "a-1.0.js",
            content_type: JS,
            bytes: b"a",
            immutable: true,
        },
        Asset {
            name: "b.css",
            content_type: CSS,
            bytes: b"b",
            immutable: false,
        },
    ];
    static CATALOG: Catalog = Catalog::new(&FILES);

    #[test]
    fn a_file_answers_with_its_etag_and_then_304_and_an_unknown_name_with_none() {
        let first = CATALOG.serve("b.css", &HeaderMap::new(), &[]).unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = first.headers()[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        let second = CATALOG.serve("b.css", &again, &[]).unwrap();
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
        let vendored = CATALOG.serve("a-1.0.js", &again, &[]).unwrap();
        assert_eq!(vendored.status(), StatusCode::OK);
        assert!(vendored.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable"));
        assert!(CATALOG.serve("c.js", &HeaderMap::new(), &[]).is_none());
    }
}
