//! The REST surface's one error type. User errors say which field and why;
//! internal errors are logged with their cause chain and shown as a generic
//! message, so no SQL or stack detail ever reaches a client. A database
//! fault (unreachable, disk full) is neither: it says so, with the status
//! and `Retry-After` of [`Fault`], so a sender knows nothing was stored and
//! when to try again.

use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::domain::FieldError;
use crate::ingest::{IngestError, JsonBodyError};
use crate::store::{self, Fault};

/// Everything a REST handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or not an object/array (400).
    #[error(transparent)]
    BadJson(#[from] JsonBodyError),
    /// The body could not be read in full (400): a malformed chunked
    /// encoding, a body shorter than its `Content-Length`. The client's
    /// fault, and worth a retry, never a 500.
    #[error("the request body could not be read: it is malformed (chunked encoding) or shorter than its Content-Length")]
    UnreadableBody,
    /// The body exceeds the configured limit, as sent or decompressed (413).
    #[error("body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// A `Content-Encoding` other than gzip or identity (415).
    #[error("Content-Encoding '{0}' is not supported; send the body uncompressed or with gzip")]
    UnsupportedEncoding(String),
    /// The body does not decode as its `Content-Encoding` says (400).
    #[error("{0}")]
    BadEncoding(String),
    /// Valid JSON, invalid fields (422).
    #[error("invalid payload")]
    Invalid(Vec<FieldError>),
    /// A batch over the limit (422): its items may all be fine, the size is not.
    #[error("a batch holds at most {max} payloads, this one has {got}")]
    TooMany { max: usize, got: usize },
    /// The database is unreachable or overloaded (503), or its disk is full
    /// (507): nothing was stored, retry after the `Retry-After` it carries.
    #[error("{}", .0.message())]
    Fault(Fault),
    /// A key with signing secrets sent a request that is unsigned, wrongly
    /// signed, or stale (401).
    #[error("{0}")]
    BadSignature(crate::auth::signature::SignatureError),
    /// Anything else (500), logged, never shown.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(errors) => ApiError::Invalid(errors),
            IngestError::TooMany { max, got } => ApiError::TooMany { max, got },
            IngestError::Store(db) => match store::fault(&db) {
                Some(fault) => {
                    // Per request at debug: the fault itself is logged once
                    // where it starts (health probe, group commit).
                    tracing::debug!(error = %db, "webhook refused on a database fault");
                    ApiError::Fault(fault)
                }
                None => {
                    ApiError::Internal(anyhow::Error::new(db).context("Failed to store webhooks"))
                }
            },
        }
    }
}

impl ApiError {
    /// A database error outside ingestion: a fault says so, anything else
    /// is internal.
    pub fn from_db(e: sea_orm::DbErr) -> Self {
        match store::fault(&e) {
            Some(fault) => ApiError::Fault(fault),
            None => ApiError::Internal(anyhow::Error::new(e)),
        }
    }

    /// What a failure to read the request body means: over `limit` is 413,
    /// any other failure is the client's (400).
    pub fn from_body_rejection(rejection: BytesRejection, limit: usize) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit }
        } else {
            tracing::debug!(error = %rejection.body_text(), "unreadable request body");
            ApiError::UnreadableBody
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            ApiError::UnreadableBody => (StatusCode::BAD_REQUEST, "unreadable_body"),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::UnsupportedEncoding(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding")
            }
            ApiError::BadEncoding(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload"),
            ApiError::TooMany { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "batch_too_large"),
            ApiError::Fault(fault) => (fault_status(*fault), fault.code()),
            ApiError::BadSignature(_) => (StatusCode::UNAUTHORIZED, "bad_signature"),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
            }
        };
        let mut body = json!({ "error": code, "message": self.to_string() });
        if let ApiError::Invalid(errors) = &self {
            body["errors"] = json!(errors);
            if let Some(first) = errors.first() {
                // A one-line summary for logs and humans; `errors` has them all.
                let at = first
                    .index
                    .map(|i| format!("item {i}: "))
                    .unwrap_or_default();
                body["message"] = json!(format!("{at}`{}` {}", first.field, first.message));
            }
        }
        let mut response = (status, Json(body)).into_response();
        match &self {
            ApiError::UnsupportedEncoding(_) => {
                // RFC 7694: say which coding would have been understood.
                response
                    .headers_mut()
                    .insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
            }
            ApiError::Fault(fault) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after(*fault));
            }
            _ => {}
        }
        response
    }
}

/// The HTTP status of a database fault, on every surface.
pub fn fault_status(fault: Fault) -> StatusCode {
    match fault {
        Fault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Fault::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
    }
}

/// The `Retry-After` of a database fault, in whole seconds.
pub fn retry_after(fault: Fault) -> HeaderValue {
    HeaderValue::from(fault.retry_after().as_secs())
}
