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
use axum::extract::{Extension, State};
use axum::http::header::CONTENT_ENCODING;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use flate2::read::MultiGzDecoder;
use serde::Serialize;

use super::ApiError;
use crate::auth::service::SigningSecrets;
use crate::auth::signature;
use crate::auth::Principal;
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

impl Summary {
    /// The answer to a replayed signed delivery of `items` payloads.
    fn replay(items: usize) -> Self {
        Summary {
            stored: 0,
            duplicates: items as u64,
        }
    }
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
    /// Only on a replayed signed delivery: its rows, none stored again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u64>,
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

/// How long an accepted `webhook-id` is remembered: a replay later than
/// this carries a timestamp outside the tolerance and fails verification.
const REPLAY_MEMORY_SECS: i64 = 2 * crate::auth::signature::TOLERANCE_SECS;

/// A signed request's id, to remember once its rows are stored.
struct Delivery {
    key_id: i64,
    id: String,
}

/// What the signature check decided about a request.
enum Admission {
    /// Store it; remember the delivery (if signed) afterwards.
    Store(Option<Delivery>),
    /// A `webhook-id` already accepted: answer as a duplicate, store nothing.
    Replay,
}

/// Checks the signature of a request whose key has signing secrets, on the
/// body as the sender's library signed it (decoded, before any parsing).
async fn admit(
    state: &AppState,
    principal: Option<&Principal>,
    secrets: Option<&SigningSecrets>,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Admission, ApiError> {
    let Some(key_id) = principal.and_then(|p| p.key_id) else {
        return Ok(Admission::Store(None));
    };
    let secrets = match secrets {
        Some(SigningSecrets(s)) if !s.is_empty() => s,
        _ => return Ok(Admission::Store(None)),
    };
    let now = chrono::Utc::now();
    let verified = signature::verify(
        super::auth::signed_headers(headers),
        bytes,
        secrets,
        now.timestamp(),
    )
    .map_err(ApiError::BadSignature)?;
    let since = now - chrono::Duration::seconds(REPLAY_MEMORY_SECS);
    if state
        .store
        .webhook_seen(key_id, &verified.id, since)
        .await
        .map_err(ApiError::from_db)?
    {
        return Ok(Admission::Replay);
    }
    Ok(Admission::Store(Some(Delivery {
        key_id,
        id: verified.id,
    })))
}

/// The body of a webhook request, decoded, and what its signature (if its
/// key needs one) decided.
async fn received(
    state: &AppState,
    principal: Option<Extension<Principal>>,
    secrets: Option<Extension<SigningSecrets>>,
    headers: &HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(Bytes, Admission), ApiError> {
    let bytes = body(state, headers, raw)?;
    let admission = admit(
        state,
        principal.as_deref(),
        secrets.as_deref(),
        headers,
        &bytes,
    )
    .await?;
    Ok((bytes, admission))
}

/// Remembers a stored signed delivery. Its rows are committed already, so
/// a failure here only weakens replay protection (the natural key still
/// deduplicates); it is logged, not answered.
async fn remember(state: &AppState, delivery: Option<Delivery>) {
    if let Some(d) = delivery {
        if let Err(e) = state
            .store
            .remember_webhook(d.key_id, &d.id, chrono::Utc::now())
            .await
        {
            tracing::warn!(error = %e, "could not remember a signed webhook's id");
        }
    }
}

#[tracing::instrument(skip_all)]
async fn pageviews(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    secrets: Option<Extension<SigningSecrets>>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let (bytes, admission) = received(&state, principal, secrets, &headers, raw).await?;
    let (items, batch) = pageviews_from_json(&bytes)?.map_err(ApiError::Invalid)?;
    let delivery = match admission {
        Admission::Replay => return Ok(Json(Summary::replay(items.len()))),
        Admission::Store(delivery) => delivery,
    };
    let recorded = state.ingestor.pageviews(items, batch).await?;
    remember(&state, delivery).await;
    Ok(Json(Summary {
        stored: recorded.outcome.stored,
        duplicates: recorded.outcome.duplicates,
    }))
}

#[tracing::instrument(skip_all)]
async fn events(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    secrets: Option<Extension<SigningSecrets>>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let (bytes, admission) = received(&state, principal, secrets, &headers, raw).await?;
    let (items, batch) = events_from_json(&bytes)?.map_err(ApiError::Invalid)?;
    let delivery = match admission {
        Admission::Replay => return Ok(Json(Summary::replay(items.len()))),
        Admission::Store(delivery) => delivery,
    };
    let recorded = state.ingestor.events(items, batch).await?;
    remember(&state, delivery).await;
    Ok(Json(Summary {
        stored: recorded.outcome.stored,
        duplicates: recorded.outcome.duplicates,
    }))
}

#[tracing::instrument(skip_all)]
async fn spend(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    secrets: Option<Extension<SigningSecrets>>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<SpendSummary>, ApiError> {
    let (bytes, admission) = received(&state, principal, secrets, &headers, raw).await?;
    let (items, batch) = spend_from_json(&bytes)?.map_err(ApiError::Invalid)?;
    let delivery = match admission {
        Admission::Replay => {
            return Ok(Json(SpendSummary {
                stored: 0,
                replaced: 0,
                duplicates: Some(items.len() as u64),
            }))
        }
        Admission::Store(delivery) => delivery,
    };
    let recorded = state.ingestor.spend(items, batch).await?;
    remember(&state, delivery).await;
    Ok(Json(SpendSummary {
        stored: recorded.outcome.stored,
        replaced: recorded.outcome.replaced,
        duplicates: None,
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
