//! The REST webhook adapter: `POST /webhooks/pageviews`, `POST /webhooks/events`
//! and the original service's `POST /pageview` / `POST /event`, plus
//! `POST /webhooks/spend` for daily campaign spend.
//!
//! The body is read as bytes whatever the `Content-Type` says (senders are
//! sloppy about it), then parsed here so errors can name fields and items.
//!
//! A body may come compressed with `Content-Encoding: gzip` (or `x-gzip`);
//! any other coding but `identity` is a 415 naming it. `MAX_BODY_BYTES`
//! bounds the body as received (axum's limit, 413) and again once inflated:
//! decompression stops one byte past the limit, so a gzip bomb costs at
//! most the limit in memory and is a 413 as well. Inflating runs on the
//! request's task like the JSON parse after it (milliseconds for a full
//! 8 MiB batch).

use std::io::Read;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::CONTENT_ENCODING;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use flate2::read::MultiGzDecoder;
use serde::Serialize;

use super::ApiError;
use crate::ingest::{events_from_json, pageviews_from_json, spend_from_json};
use crate::state::AppState;

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

/// The body as sent, decoded: at most `MAX_BODY_BYTES` either way.
fn body(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    let limit = state.config.limits.max_body_bytes;
    let coding = coding(headers)?;
    let bytes = body.map_err(|rejection| ApiError::from_body_rejection(rejection, limit))?;
    match coding {
        Coding::Identity => Ok(bytes),
        Coding::Gzip => gunzip(&bytes, limit).map(Bytes::from),
    }
}

/// The content codings a webhook body may arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
}

/// The body's coding from `Content-Encoding` (every occurrence, each a
/// comma-separated list; `identity` entries mean nothing). One gzip layer
/// is supported; anything else, stacked gzip included, is a 415.
fn coding(headers: &HeaderMap) -> Result<Coding, ApiError> {
    let mut codings = Vec::new();
    for value in headers.get_all(CONTENT_ENCODING) {
        let text = value.to_str().map_err(|_| {
            ApiError::UnsupportedEncoding(String::from_utf8_lossy(value.as_bytes()).into_owned())
        })?;
        codings.extend(
            text.split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty() && c != "identity"),
        );
    }
    match codings.as_slice() {
        [] => Ok(Coding::Identity),
        [one] if one == "gzip" || one == "x-gzip" => Ok(Coding::Gzip),
        _ => Err(ApiError::UnsupportedEncoding(codings.join(", "))),
    }
}

/// Inflates a gzip body (one member or several, RFC 1952), refusing it as
/// soon as it grows past `limit` bytes.
fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut inflated = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(compressed)
        .take(cap)
        .read_to_end(&mut inflated)
        .map_err(|e| ApiError::BadEncoding(format!("the body is not valid gzip: {e}")))?;
    if inflated.len() > limit {
        return Err(ApiError::TooLarge { limit });
    }
    Ok(inflated)
}

#[tracing::instrument(skip_all)]
async fn pageviews(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let bytes = body(&state, &headers, raw)?;
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
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let bytes = body(&state, &headers, raw)?;
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
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<SpendSummary>, ApiError> {
    let bytes = body(&state, &headers, raw)?;
    let (items, batch) = spend_from_json(&bytes)?.map_err(ApiError::Invalid)?;
    let recorded = state.ingestor.spend(items, batch).await?;
    Ok(Json(SpendSummary {
        stored: recorded.outcome.stored,
        replaced: recorded.outcome.replaced,
    }))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::http::HeaderValue;
    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(CONTENT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn gzip_and_identity_are_the_codings_understood() {
        assert_eq!(coding(&headers(&[])).unwrap(), Coding::Identity);
        assert_eq!(coding(&headers(&["identity"])).unwrap(), Coding::Identity);
        assert_eq!(coding(&headers(&["GZip"])).unwrap(), Coding::Gzip);
        assert_eq!(coding(&headers(&["x-gzip"])).unwrap(), Coding::Gzip);
        assert_eq!(coding(&headers(&["identity, gzip"])).unwrap(), Coding::Gzip);
        for bad in [
            &["br"][..],
            &["gzip, gzip"],
            &["gzip", "deflate"],
            &["zstd"],
        ] {
            assert!(
                matches!(coding(&headers(bad)), Err(ApiError::UnsupportedEncoding(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_body_inflating_past_the_limit_is_refused_without_inflating_it_all() {
        let bomb = gzip(&vec![b' '; 16 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
        assert!(matches!(
            gunzip(&bomb, 1024 * 1024),
            Err(ApiError::TooLarge { limit: 1_048_576 })
        ));
        let exact = gzip(&[b'x'; 1000]);
        assert_eq!(gunzip(&exact, 1000).unwrap().len(), 1000);
        assert!(matches!(
            gunzip(&exact, 999),
            Err(ApiError::TooLarge { .. })
        ));
    }

    #[test]
    fn concatenated_members_inflate_and_garbage_is_a_bad_encoding() {
        let mut two = gzip(b"[{},");
        two.extend(gzip(b"{}]"));
        assert_eq!(gunzip(&two, 100).unwrap(), b"[{},{}]");
        assert!(matches!(
            gunzip(b"{\"not\":\"gzip\"}", 100),
            Err(ApiError::BadEncoding(_))
        ));
        let mut truncated = gzip(b"[{}]");
        truncated.truncate(truncated.len() - 4);
        assert!(matches!(
            gunzip(&truncated, 100),
            Err(ApiError::BadEncoding(_))
        ));
    }
}
