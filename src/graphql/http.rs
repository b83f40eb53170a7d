//! GraphQL over HTTP, as the spec at graphql.github.io/graphql-over-http
//! says (and `graphql-http`'s `auditServer` checks):
//!
//! - **Media types.** A client that accepts `application/graphql-response+json`
//!   gets it; `application/json`, `*/*` or no `Accept` get
//!   `application/json`; anything else is 406.
//! - **Statuses.** Under `application/graphql-response+json`, a request that
//!   fails before execution (parse, validation, a limit, variables, no
//!   query, an unknown operation) is 400 without `data`; under
//!   `application/json` it stays 200, the spec's rule for legacy clients.
//!   Whatever the type, as the webhooks answer: 503 with `Retry-After` when
//!   the database is unavailable or the request ran out of time
//!   (`QUERY_TIMEOUT_SECS`), 507 when the database's disk is full.
//! - **Every error has `extensions.code`**, here if no resolver gave one.
//! - **CSRF.** POST bodies are taken only as `application/json` (or
//!   `application/graphql-response+json`): a cross-site form or a `fetch`
//!   without a preflight can send `text/plain` or no type, never these, so
//!   no page a staff member opens can write through their browser. GET
//!   executes queries only: a mutation is 405.

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{ServerError, Variables};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::cost::CostMeter;
use super::limits::{Executed, VALIDATION_FAILED};
use crate::auth::service::SigningSecrets;
use crate::auth::Principal;
use crate::http::auth::Refusal;
use crate::http::media::{negotiate, MediaType, GRAPHQL_RESPONSE_JSON, JSON};
use crate::state::AppState;
use crate::store::Fault;

/// `extensions.code` of a request that ran out of time.
pub const QUERY_TIMEOUT: &str = "QUERY_TIMEOUT";

/// A response in GraphQL's error shape, for failures outside execution.
fn request_error(status: StatusCode, media: MediaType, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media.as_str()),
        )],
        body.to_string(),
    )
        .into_response()
}

fn accepted_type(headers: &HeaderMap) -> Option<MediaType> {
    negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
}

fn not_acceptable() -> Response {
    request_error(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        "NOT_ACCEPTABLE",
        "`Accept` must allow application/graphql-response+json or application/json",
    )
}

/// Whether a POST's `Content-Type` is one we execute (see the module doc).
fn is_json_body(headers: &HeaderMap) -> Result<(), &'static str> {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Err("a GraphQL POST needs `Content-Type: application/json`");
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != JSON && essence != GRAPHQL_RESPONSE_JSON {
        return Err("a GraphQL POST is taken only as `Content-Type: application/json`");
    }
    for param in parts {
        if let Some((k, v)) = param.split_once('=') {
            let v = v.trim().trim_matches('"');
            if k.trim().eq_ignore_ascii_case("charset") && !v.eq_ignore_ascii_case("utf-8") {
                return Err("a GraphQL body must be UTF-8");
            }
        }
    }
    Ok(())
}

/// `POST /graphql`.
pub async fn post_graphql(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    secrets: Option<Extension<SigningSecrets>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(media) = accepted_type(&headers) else {
        return not_acceptable();
    };
    if let Err(message) = is_json_body(&headers) {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "UNSUPPORTED_MEDIA_TYPE",
            message,
        );
    }
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "the body exceeds {} bytes (MAX_BODY_BYTES)",
                    state.config.limits.max_body_bytes
                )
            } else {
                format!("the body could not be read: {}", rejection.body_text())
            };
            return request_error(status, media, "BAD_REQUEST", &message);
        }
    };
    // A key with signing secrets is refused unsigned on every surface:
    // its GraphQL POSTs are signed as its webhooks are (on the raw body).
    // Replays are left to the natural keys here; the REST routes also
    // answer a replayed `webhook-id` as a duplicate.
    let mut delivery = None;
    if let Some(Extension(SigningSecrets(secrets))) = &secrets {
        if !secrets.is_empty() {
            let id = match verify_signature(&headers, &body, secrets) {
                Ok(id) => id,
                Err(e) => return Refusal::Unauthenticated(e).graphql(media.as_str()),
            };
            let key = principal.as_ref().and_then(|p| p.key_id);
            if let Some(key) = key {
                let since = chrono::Utc::now()
                    - chrono::Duration::seconds(2 * crate::auth::signature::TOLERANCE_SECS);
                match state.store.webhook_seen(key, &id, since).await {
                    Ok(true) => {
                        return request_error(
                            StatusCode::CONFLICT,
                            media,
                            "DUPLICATE_DELIVERY",
                            "this webhook-id was already accepted: nothing was run again",
                        )
                    }
                    Ok(false) => delivery = Some((key, id)),
                    Err(e) => {
                        return request_error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            media,
                            "DATABASE_UNAVAILABLE",
                            &format!("the delivery could not be checked for a replay: {e}"),
                        )
                    }
                }
            }
        }
    }
    let request = match parse_body(&body) {
        Ok(r) => r,
        Err(message) => {
            return request_error(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", &message)
        }
    };
    let response = execute(&state, principal.as_deref(), request, media).await;
    // Remembered once it ran: a delivery refused with 4xx/5xx may be retried
    // under the same id, as Standard Webhooks senders do.
    if let Some((key, id)) = delivery.filter(|_| response.status().is_success()) {
        if let Err(e) = state
            .store
            .remember_webhook(key, &id, chrono::Utc::now())
            .await
        {
            tracing::warn!(error = %e, "could not remember a signed request's id");
        }
    }
    response
}

/// Checks a signed key's request (see `auth::signature`) and returns its
/// `webhook-id`; the error is the refusal's message.
fn verify_signature(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[String],
) -> Result<String, &'static str> {
    use crate::auth::signature::{verify, SignatureError};
    verify(
        crate::http::auth::signed_headers(headers),
        body,
        secrets,
        chrono::Utc::now().timestamp(),
    )
    .map(|verified| verified.id)
    .map_err(|e| match e {
        SignatureError::Missing(_) => "this key requires signed requests: the webhook-id, webhook-timestamp and webhook-signature headers are missing",
        SignatureError::BadTimestamp => "`webhook-timestamp` must be Unix seconds",
        SignatureError::Stale(_) => "`webhook-timestamp` is more than 300 s from now",
        SignatureError::NoMatch => "`webhook-signature` matches none of this key's signing secrets",
    })
}

/// A POST body as a GraphQL request: a JSON object with a string `query`,
/// optional `operationName`, `variables` and `extensions` (objects or null).
fn parse_body(body: &[u8]) -> Result<async_graphql::Request, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("the body must be a JSON object with a `query`".into());
    };
    let query = match map.get("query") {
        Some(Value::String(q)) => q.clone(),
        Some(_) => return Err("`query` must be a string".into()),
        None => return Err("the body has no `query`".into()),
    };
    request_from_parts(
        query,
        optional_string(map.get("operationName"), "operationName")?,
        optional_object(map.get("variables"), "variables")?,
        optional_object(map.get("extensions"), "extensions")?,
    )
}

fn optional_string(value: Option<&Value>, name: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{name}` must be a string")),
    }
}

fn optional_object(value: Option<&Value>, name: &str) -> Result<Option<Value>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(format!("`{name}` must be an object")),
    }
}

fn request_from_parts(
    query: String,
    operation_name: Option<String>,
    variables: Option<Value>,
    extensions: Option<Value>,
) -> Result<async_graphql::Request, String> {
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    if let Some(v) = variables {
        request = request.variables(Variables::from_json(v));
    }
    if let Some(Value::Object(ext)) = extensions {
        for (k, v) in ext {
            let v = async_graphql::Value::from_json(v)
                .map_err(|e| format!("`extensions.{k}` is not valid: {e}"))?;
            request.extensions.insert(k, v);
        }
    }
    Ok(request)
}

/// `GET /graphql`: `?query=` executes a query; without it a browser gets GraphiQL.
pub async fn get_graphql(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    secrets: Option<Extension<SigningSecrets>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let Some(query) = param("query") else {
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|accept| accept.contains("text/html"));
        if wants_html {
            return crate::graphiql::page();
        }
        let media = accepted_type(&headers).unwrap_or(MediaType::Json);
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            "BAD_REQUEST",
            "GET /graphql needs `?query=`, or `Accept: text/html` for GraphiQL",
        );
    };
    let Some(media) = accepted_type(&headers) else {
        return not_acceptable();
    };
    if secrets.is_some_and(|Extension(SigningSecrets(s))| !s.is_empty()) {
        return Refusal::Unauthenticated(
            "this key requires signed requests, which a GET cannot be: send a signed POST",
        )
        .graphql(media.as_str());
    }
    let json_param = |name: &str| -> Result<Option<Value>, String> {
        match param(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => {
                let v: Value = serde_json::from_str(&text)
                    .map_err(|e| format!("`{name}` is not JSON: {e}"))?;
                optional_object(Some(&v), name)
            }
        }
    };
    let request = json_param("variables").and_then(|variables| {
        let extensions = json_param("extensions")?;
        request_from_parts(
            query,
            param("operationName").filter(|n| !n.is_empty()),
            variables,
            extensions,
        )
    });
    let mut request = match request {
        Ok(r) => r,
        Err(message) => {
            return request_error(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", &message)
        }
    };
    // A GET can be triggered by a link or an <img>: it may read, never write.
    // A document that does not parse goes on to execution, which reports it.
    let operation_name = request.operation_name.clone();
    if let Ok(doc) = request.parsed_query() {
        if selected_operation_is_mutation(doc, operation_name.as_deref()) {
            let mut response = request_error(
                StatusCode::METHOD_NOT_ALLOWED,
                media,
                "METHOD_NOT_ALLOWED",
                "mutations must be sent with POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
    }
    execute(&state, principal.as_deref(), request, media).await
}

fn selected_operation_is_mutation(
    doc: &async_graphql::parser::types::ExecutableDocument,
    name: Option<&str>,
) -> bool {
    use async_graphql::parser::types::DocumentOperations;
    let is_mutation = |ty: OperationType| ty == OperationType::Mutation;
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => is_mutation(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .any(|(n, op)| n.as_str() == name && is_mutation(op.node.ty)),
        // Ambiguous without a name: execution refuses it anyway, but
        // never let a GET get as far as a mutation.
        (DocumentOperations::Multiple(ops), None) => ops.values().any(|op| is_mutation(op.node.ty)),
    }
}

/// Runs a request under the deadline and encodes the answer for `media`.
async fn execute(
    state: &AppState,
    principal: Option<&Principal>,
    mut request: async_graphql::Request,
    media: MediaType,
) -> Response {
    // The auth layer put a principal on every request that gets here.
    let Some(principal) = principal else {
        return Refusal::Unauthenticated("this request needs an API key").graphql(media.as_str());
    };
    // Kept to put the answer's fields back in the query's order.
    let document = request.parsed_query().ok().cloned();
    let operation = request.operation_name.clone();
    if let Some(doc) = &document {
        let needed = super::scopes::required(doc, operation.as_deref());
        if let Some(lacking) = needed.into_iter().find(|s| !principal.allows(*s)) {
            return Refusal::Forbidden(lacking).graphql(media.as_str());
        }
    }
    let executed = Arc::new(Executed::default());
    let meter = Arc::new(CostMeter::new(principal.key_id, state.gate.clone()));
    let request = super::per_request(state, request)
        .data(executed.clone())
        .data(meter.clone())
        .data(principal.clone());
    let deadline = state.config.limits.query_timeout();
    let response = match tokio::time::timeout(deadline, state.schema.execute(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?deadline, "GraphQL request ran out of time; cancelled");
            let message = format!(
                "the request did not finish within {:?} (QUERY_TIMEOUT_SECS): ask for less (a shorter range, fewer reports) or retry later",
                deadline
            );
            let mut response = request_error(
                StatusCode::SERVICE_UNAVAILABLE,
                media,
                QUERY_TIMEOUT,
                &message,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return response;
        }
    };
    let mut response = response;
    if let Some(doc) = &document {
        super::order::in_selection_order(&mut response.data, doc, operation.as_deref());
    }
    if let Some(charge) = meter.charged() {
        response.extensions.insert(
            "cost".into(),
            async_graphql::Value::from_json(json!({
                "requested": charge.requested,
                "remaining": charge.remaining,
            }))
            .unwrap_or_default(),
        );
    }
    let retry_after = meter.charged().and_then(|c| c.retry_after);
    let mut http = encode(response, executed.get(), media);
    if let Some(seconds) = retry_after {
        *http.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        http.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    http
}

/// Gives every error a code: errors from before execution are the
/// document's fault; during execution, async-graphql's own argument
/// coercion errors ("Failed to parse \"Int\"…") are the input's, and
/// anything else without a code is internal.
fn assign_codes(errors: &mut [ServerError], executed: bool) {
    for error in errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if has_code {
            continue;
        }
        // Parse errors got their code where they were found.
        let code = if !executed {
            VALIDATION_FAILED
        } else if error.message.starts_with("Failed to parse")
            || error.message.starts_with("Invalid value")
        {
            "BAD_USER_INPUT"
        } else {
            "INTERNAL_SERVER_ERROR"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

fn error_code(error: &ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn encode(mut response: async_graphql::Response, executed: bool, media: MediaType) -> Response {
    assign_codes(&mut response.errors, executed);
    // A database fault answers as the webhooks do: 503 (or 507 for a full
    // disk, which outranks it) with the fault's `Retry-After`.
    let fault = response
        .errors
        .iter()
        .filter_map(error_code)
        .filter_map(|c| super::ApiErrorCode::fault_of(&c))
        .max_by_key(|f| matches!(f, Fault::StorageFull));
    let (status, body) = if !executed && !response.errors.is_empty() {
        // Refused before execution: no `data` entry at all.
        let status = match media {
            MediaType::GraphqlResponse => StatusCode::BAD_REQUEST,
            MediaType::Json => StatusCode::OK,
        };
        #[derive(serde::Serialize)]
        struct Refused<'a> {
            errors: &'a [ServerError],
            #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
            extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
        }
        let errors = Refused {
            errors: &response.errors,
            extensions: &response.extensions,
        };
        (status, serde_json::to_string(&errors))
    } else {
        // Straight to text: a `serde_json::Value` would sort the fields,
        // and GraphQL answers keep the order the query asked for them in.
        (StatusCode::OK, serde_json::to_string(&response))
    };
    let body = body.unwrap_or_else(|e| {
        tracing::error!(error = %e, "GraphQL response could not be encoded");
        json!({ "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL_SERVER_ERROR" } }] }).to_string()
    });
    let status = fault.map_or(status, crate::http::error::fault_status);
    let mut http = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media.as_str()),
        )],
        body,
    )
        .into_response();
    if let Some(fault) = fault {
        http.headers_mut()
            .insert(header::RETRY_AFTER, crate::http::error::retry_after(fault));
    }
    http
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_bodies_are_taken() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            is_json_body(&h)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=utf-8").is_ok());
        assert!(with("application/graphql-response+json").is_ok());
        assert!(with("text/plain").is_err());
        assert!(with("application/x-www-form-urlencoded").is_err());
        assert!(with("application/json; charset=latin1").is_err());
        assert!(is_json_body(&HeaderMap::new()).is_err());
    }

    #[test]
    fn bodies_without_a_string_query_are_refused() {
        assert!(parse_body(b"{\"query\":\"{ a }\"}").is_ok());
        assert!(parse_body(b"{\"query\":\"{ a }\",\"variables\":null}").is_ok());
        assert!(parse_body(b"{}").is_err());
        assert!(parse_body(b"{\"query\":1}").is_err());
        assert!(parse_body(b"[]").is_err());
        assert!(parse_body(b"{\"query\":\"{ a }\",\"variables\":[]}").is_err());
        assert!(parse_body(b"not json").is_err());
    }
}
