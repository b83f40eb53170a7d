//! Authentication at the door: which routes need a key, the key's lookup,
//! the scope a route needs, and the rate limits — before any handler runs.
//!
//! - Open: `/healthz`, `/readyz`, GraphiQL's page (`GET /graphql` without
//!   `?query=`) and its assets, the dashboard (`/`) and its assets (pages
//!   whose requests carry a key), the browser tracker (`/tracker.js`).
//!   Everything else needs a key.
//! - Webhook routes need `ingest`; the key may come as `?key=` there too
//!   (for senders that cannot set headers; weaker, since URLs get logged).
//! - `/graphql` needs any valid key here; which operations it may run is
//!   decided from the document, before execution (`graphql::http`).
//! - `/metrics` needs an `admin` key or `METRICS_TOKEN`.
//! - `/graphql/ws` (subscriptions) needs a `read` key: in the upgrade's
//!   `Authorization` header, checked here, or in the protocol's
//!   `connection_init` payload, checked by the socket with [`check_key`].
//!
//! A request with no key or a bad one counts against its client address;
//! past `UNAUTHENTICATED_RATE_LIMIT_*` the address is answered 429 before
//! any database work.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::limiter::{Class, RetryAfter};
use crate::auth::{service, Principal, Scope};
use crate::state::AppState;

/// What a route asks of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Open,
    /// A key with `ingest` (webhooks), which may also come as `?key=`.
    Ingest,
    /// Any valid key; the operation decides the rest (`/graphql`).
    Graphql,
    /// An admin key or `METRICS_TOKEN`.
    Metrics,
    /// A `read` key, or none yet: the WebSocket then authenticates in its
    /// `connection_init` message.
    Websocket,
}

/// The client address of a request, for the WebSocket's own key check.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

/// The webhook routes of the REST adapter.
pub fn is_webhook_path(path: &str) -> bool {
    path.starts_with("/webhooks/") || path == "/pageview" || path == "/event"
}

fn need(method: &Method, path: &str, query: Option<&str>) -> Need {
    match path {
        "/healthz" | "/readyz" | "/" => Need::Open,
        "/metrics" => Need::Metrics,
        "/graphql" => {
            // GraphiQL's page itself loads without a key; its requests carry one.
            let executes = method != Method::GET
                || query.is_some_and(|q| {
                    url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "query")
                });
            if executes {
                Need::Graphql
            } else {
                Need::Open
            }
        }
        "/graphql/ws" => Need::Websocket,
        p if p.starts_with("/graphql/assets/") || p.starts_with("/dashboard/assets/") => Need::Open,
        // Loaded by every visitor of the tracked sites, who have no key.
        "/tracker.js" => Need::Open,
        p if is_webhook_path(p) => Need::Ingest,
        // Unknown paths answer 404 whoever asks.
        _ => Need::Open,
    }
}

/// The key a request presents: `Authorization: Bearer …`, or on webhook
/// routes `?key=`.
fn presented_key(headers: &HeaderMap, query: Option<&str>, allow_query: bool) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .filter(|t| !t.is_empty());
    bearer.or_else(|| {
        if !allow_query {
            return None;
        }
        url::form_urlencoded::parse(query?.as_bytes())
            .find(|(k, _)| k == "key")
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    })
}

/// The Standard Webhooks headers of a request, as sent.
pub fn signed_headers(headers: &HeaderMap) -> crate::auth::signature::SignedHeaders<'_> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    crate::auth::signature::SignedHeaders {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    }
}

/// The client's address: the peer, or behind a trusted proxy the right-most
/// `X-Forwarded-For` entry that is not a trusted proxy.
fn client_address(request: &Request, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

/// The refusals of this layer, in the shape of the surface asked.
#[derive(Debug)]
pub enum Refusal {
    /// 401: no key, or one that is unknown or revoked.
    Unauthenticated(&'static str),
    /// 403: the key lacks `scope`.
    Forbidden(Scope),
    /// 429.
    Limited(RetryAfter, &'static str),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
            Refusal::Limited(..) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::Unauthenticated(why) => (*why).to_owned(),
            Refusal::Forbidden(scope) => {
                format!("this key lacks the `{scope}` scope, which this request needs")
            }
            Refusal::Limited(retry, why) => {
                format!("{why}: retry after {} s", retry.seconds())
            }
        }
    }

    /// The code: REST's `error` (snake case), GraphQL's `extensions.code`.
    fn codes(&self) -> (&'static str, &'static str) {
        match self {
            Refusal::Unauthenticated(_) => ("unauthenticated", "UNAUTHENTICATED"),
            Refusal::Forbidden(_) => ("forbidden", "FORBIDDEN"),
            Refusal::Limited(..) => ("rate_limited", "RATE_LIMITED"),
        }
    }

    fn headers(&self, response: &mut Response) {
        match self {
            Refusal::Unauthenticated(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"growth-analytics\""),
                );
            }
            Refusal::Limited(retry, _) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry.seconds()));
            }
            Refusal::Forbidden(_) => {}
        }
    }

    /// A REST answer: `{"error": …, "message": …, "scope"?: …}`.
    pub fn rest(&self) -> Response {
        let mut body = json!({ "error": self.codes().0, "message": self.message() });
        if let Refusal::Forbidden(scope) = self {
            body["scope"] = json!(scope.as_str());
        }
        let mut response = (self.status(), axum::Json(body)).into_response();
        self.headers(&mut response);
        response
    }

    /// A GraphQL answer: `{"errors": [{message, extensions: {code}}]}`.
    pub fn graphql(&self, media: &'static str) -> Response {
        let mut extensions = json!({ "code": self.codes().1 });
        if let Refusal::Forbidden(scope) = self {
            extensions["scope"] = json!(scope.as_str());
        }
        if let Refusal::Limited(retry, _) = self {
            extensions["retryAfterSeconds"] = json!(retry.seconds());
        }
        let body = json!({ "errors": [{ "message": self.message(), "extensions": extensions }] });
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, HeaderValue::from_static(media))],
            body.to_string(),
        )
            .into_response();
        self.headers(&mut response);
        response
    }
}

fn refuse(path: &str, accept: Option<&str>, refusal: Refusal) -> Response {
    if path == "/graphql" {
        let media = super::media::negotiate(accept).unwrap_or(super::media::MediaType::Json);
        refusal.graphql(media.as_str())
    } else {
        refusal.rest()
    }
}

/// A database fault during the key lookup, in the surface's shape: 503
/// (or 507) with `Retry-After`, `extensions.code` on `/graphql`.
fn fault_response(path: &str, accept: Option<&str>, fault: crate::store::Fault) -> Response {
    if path != "/graphql" {
        return crate::http::ApiError::Fault(fault).into_response();
    }
    let media = super::media::negotiate(accept).unwrap_or(super::media::MediaType::Json);
    let seconds = fault.retry_after().as_secs();
    let body = json!({ "errors": [{
        "message": fault.message(),
        "extensions": { "code": fault.code().to_ascii_uppercase(), "retryAfterSeconds": seconds },
    }] });
    (
        super::error::fault_status(fault),
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(media.as_str()),
            ),
            (header::RETRY_AFTER, HeaderValue::from(seconds)),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The middleware: authenticates, checks the route's scope and the key's
/// rate, and hands the handlers a [`Principal`].
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let need = need(request.method(), &path, query.as_deref());
    if need == Need::Open {
        return next.run(request).await;
    }
    let config = &state.config.auth;
    if config.auth_disabled {
        request
            .extensions_mut()
            .insert(Principal::unauthenticated_development());
        return next.run(request).await;
    }
    let limiters = &state.gate.limiters;
    // Owned: the request's body is not `Sync`, so no borrow of the request
    // may live across an await.
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let accept = accept.as_deref();
    let address = client_address(&request, &config.trusted_proxies);
    let presented = presented_key(request.headers(), query.as_deref(), need == Need::Ingest);
    let failed = |why: &'static str| {
        let refusal = match address.map(|a| limiters.failed(a)) {
            Some(Err(retry)) => Refusal::Limited(
                retry,
                "too many requests without a valid key from this address",
            ),
            _ => Refusal::Unauthenticated(why),
        };
        refuse(&path, accept, refusal)
    };
    let Some(presented) = presented else {
        if need == Need::Websocket {
            request.extensions_mut().insert(ClientAddress(address));
            return next.run(request).await;
        }
        return failed("this request needs an API key: send `Authorization: Bearer <key>`");
    };
    if need == Need::Metrics {
        if let Some(token) = &config.metrics_token {
            if crate::auth::secret::same(token, &presented) {
                return next.run(request).await;
            }
        }
    }
    let hash = crate::auth::secret::hash_key(&presented);
    let scope = match need {
        Need::Ingest => Some(Scope::Ingest),
        Need::Metrics => Some(Scope::Admin),
        Need::Websocket => Some(Scope::Read),
        Need::Graphql | Need::Open => None,
    };
    let (principal, secrets) = match check_key(&state, &presented, address, scope).await {
        Ok(found) => {
            if need == Need::Metrics {
                state.gate.remember_admin(&hash, &found.0);
            }
            found
        }
        Err(KeyRefused::Refused(refusal)) => return refuse(&path, accept, refusal),
        Err(KeyRefused::Internal(e)) => return crate::http::ApiError::Internal(e).into_response(),
        Err(KeyRefused::Fault(fault)) => {
            // Monitoring matters most while the database is down: an admin
            // key this process verified minutes ago still reads /metrics.
            if need == Need::Metrics && state.gate.recently_admin(&hash) {
                return next.run(request).await;
            }
            return fault_response(&path, accept, fault);
        }
    };
    request.extensions_mut().insert(principal);
    request.extensions_mut().insert(secrets);
    next.run(request).await
}

/// Why [`check_key`] turned a key away.
pub enum KeyRefused {
    /// 401, 403 or 429.
    Refused(Refusal),
    /// The database could not be asked (503/507 with `Retry-After`).
    Fault(crate::store::Fault),
    /// Anything else: a logged 500.
    Internal(anyhow::Error),
}

/// Checks a presented key as every request's is checked: the address's
/// failed-attempt limit, the lookup, `scope` (when given) and the key's
/// rate. Used by the middleware and by the WebSocket's `connection_init`.
pub async fn check_key(
    state: &AppState,
    presented: &str,
    address: Option<IpAddr>,
    scope: Option<Scope>,
) -> Result<(Principal, service::SigningSecrets), KeyRefused> {
    let limiters = &state.gate.limiters;
    let failed = |why: &'static str| {
        KeyRefused::Refused(match address.map(|a| limiters.failed(a)) {
            Some(Err(retry)) => Refusal::Limited(
                retry,
                "too many requests without a valid key from this address",
            ),
            _ => Refusal::Unauthenticated(why),
        })
    };
    if let Some(retry) = address.and_then(|a| limiters.is_blocked(a)) {
        return Err(KeyRefused::Refused(Refusal::Limited(
            retry,
            "too many requests without a valid key from this address",
        )));
    }
    let (principal, secrets) = match service::authenticate(&state.store, presented).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(failed("the API key is unknown or revoked")),
        Err(e) => {
            return Err(match crate::store::fault(&e) {
                Some(fault) => KeyRefused::Fault(fault),
                None => KeyRefused::Internal(
                    anyhow::Error::new(e).context("Failed to look up an API key"),
                ),
            })
        }
    };
    if let Some(scope) = scope {
        if !principal.allows(scope) {
            return Err(KeyRefused::Refused(Refusal::Forbidden(scope)));
        }
    }
    if let Some(id) = principal.key_id {
        let class = if principal.scopes.is_ingest_only() {
            Class::Ingest
        } else {
            Class::Read
        };
        if let Err(retry) = limiters.request(class, id) {
            return Err(KeyRefused::Refused(Refusal::Limited(
                retry,
                "this key is over its rate limit",
            )));
        }
        if state.gate.should_touch(id) {
            let store = state.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.touch_key(id, chrono::Utc::now()).await {
                    tracing::debug!(error = %e, "could not note a key's last use");
                }
            });
        }
    }
    Ok((principal, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_probes_graphiql_and_the_dashboard_are_open() {
        assert_eq!(need(&Method::GET, "/healthz", None), Need::Open);
        assert_eq!(need(&Method::GET, "/", None), Need::Open);
        assert_eq!(
            need(&Method::GET, "/dashboard/assets/dashboard.js", None),
            Need::Open
        );
        assert_eq!(need(&Method::GET, "/graphql", None), Need::Open);
        assert_eq!(
            need(&Method::GET, "/graphql/assets/graphiql.js", None),
            Need::Open
        );
        assert_eq!(
            need(&Method::GET, "/graphql", Some("query=%7Ba%7D")),
            Need::Graphql
        );
        assert_eq!(need(&Method::POST, "/graphql", None), Need::Graphql);
        assert_eq!(
            need(&Method::POST, "/webhooks/pageviews", None),
            Need::Ingest
        );
        assert_eq!(need(&Method::POST, "/pageview", None), Need::Ingest);
        assert_eq!(need(&Method::GET, "/metrics", None), Need::Metrics);
        assert_eq!(need(&Method::GET, "/tracker.js", None), Need::Open);
    }

    #[test]
    fn the_key_comes_from_the_bearer_header_or_on_webhooks_the_query() {
        let mut h = HeaderMap::new();
        assert_eq!(
            presented_key(&h, Some("key=ga_x"), true).as_deref(),
            Some("ga_x")
        );
        assert_eq!(presented_key(&h, Some("key=ga_x"), false), None);
        h.insert(header::AUTHORIZATION, "bearer ga_y".parse().unwrap());
        assert_eq!(
            presented_key(&h, Some("key=ga_x"), true).as_deref(),
            Some("ga_y")
        );
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(presented_key(&h, None, true), None);
    }
}
