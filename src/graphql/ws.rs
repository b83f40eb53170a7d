//! `GET /graphql/ws`: GraphQL subscriptions over WebSocket.
//!
//! Both protocols clients speak: `graphql-transport-ws` (the `graphql-ws`
//! library's, current) and the older `graphql-ws` (Apollo's
//! subscriptions-transport-ws), chosen by `Sec-WebSocket-Protocol`;
//! async-graphql implements both, this module adds what a service on the
//! internet needs around them:
//!
//! - **Keys**: a `read` key in the upgrade's `Authorization` header (checked
//!   by `http::auth` before the upgrade) or in `connection_init`'s payload
//!   (`{"authorization": "Bearer …"}`), checked like any request's key. A
//!   refused key closes the socket with 4403 (4401 when none was sent), and
//!   a connection that sends no `connection_init` within
//!   `HEADER_READ_TIMEOUT_SECS` is closed with 4408, as the protocol says.
//! - **Subscriptions only**: queries and mutations go to `POST /graphql`,
//!   where their scopes, deadlines and costs are enforced; here they get
//!   `OPERATION_NOT_SUPPORTED`.
//! - **Bounds**: at most `MAX_WEBSOCKETS` sockets (503 past it), and
//!   `MAX_SUBSCRIPTIONS_PER_CONNECTION` / `MAX_SUBSCRIPTIONS_PER_KEY`
//!   subscriptions (`TOO_MANY_SUBSCRIPTIONS`). A client that stops reading
//!   is closed (1008) once a message waited [`SEND_TIMEOUT`] to be sent, and
//!   its subscriptions, which then fall behind, end with
//!   `SUBSCRIBER_TOO_SLOW` (see `subscription`): nothing buffers without end.
//! - **Shutdown**: a graceful stop closes every socket with 1001 ("going
//!   away") before the process exits; clients reconnect elsewhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::futures_util::SinkExt;
use async_graphql::http::{WebSocketProtocols as Protocols, WsMessage};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Data, Executor, Request, Response};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use serde_json::json;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};

use super::error::{coded, ApiErrorCode};
use super::subscription::Slots;
use super::AppSchema;
use crate::auth::{Principal, Scope};
use crate::http::auth::{check_key, ClientAddress, KeyRefused};
use crate::state::AppState;

/// A message that waits this long to be sent means a client that does not
/// read: it is closed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// WebSocket pings this often keep proxies from closing a quiet socket and
/// find dead peers (a ping that cannot be sent hits [`SEND_TIMEOUT`]).
const PING_EVERY: Duration = Duration::from_secs(30);

/// The largest message a client may send: subscribe messages are small.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The sockets of this process: the caps, and the signal that closes them.
pub struct Sockets {
    open: Arc<Semaphore>,
    per_connection: usize,
    per_key: usize,
    keys: Mutex<HashMap<Option<i64>, Arc<Semaphore>>>,
    closing: watch::Sender<bool>,
    /// Sockets still open, and a wake-up when one closes.
    live: std::sync::atomic::AtomicUsize,
    closed: Notify,
}

impl Sockets {
    pub fn new(max_sockets: usize, per_connection: usize, per_key: usize) -> Self {
        Self {
            open: Arc::new(Semaphore::new(max_sockets)),
            per_connection,
            per_key,
            keys: Mutex::default(),
            closing: watch::channel(false).0,
            live: Default::default(),
            closed: Notify::new(),
        }
    }

    fn slots(&self, principal: &Principal) -> Slots {
        let key = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(principal.key_id)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_key)))
            .clone();
        Slots {
            connection: Arc::new(Semaphore::new(self.per_connection)),
            key,
        }
    }

    /// Sockets open now.
    pub fn open(&self) -> usize {
        self.live.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Closes every socket (1001) and waits until they are closed.
    pub async fn close_all(&self) {
        self.closing.send_replace(true);
        loop {
            let closed = self.closed.notified();
            if self.live.load(std::sync::atomic::Ordering::Acquire) == 0 {
                return;
            }
            closed.await;
        }
    }
}

/// Counts a socket as open until dropped.
struct OpenSocket {
    sockets: Arc<Sockets>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.sockets
            .live
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.sockets.closed.notify_waiters();
    }
}

/// A JSON refusal of the upgrade.
fn refuse(status: StatusCode, error: &str, message: &str) -> HttpResponse {
    (
        status,
        axum::Json(json!({ "error": error, "message": message })),
    )
        .into_response()
}

/// The protocol the client offers first among those served.
fn protocol(headers: &HeaderMap) -> Option<Protocols> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| match p.trim() {
            "graphql-transport-ws" => Some(Protocols::GraphQLWS),
            "graphql-ws" => Some(Protocols::SubscriptionsTransportWS),
            _ => None,
        })
}

/// The upgrade handler.
pub async fn graphql_ws(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    address: Option<Extension<ClientAddress>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> HttpResponse {
    let Ok(upgrade) = upgrade else {
        return refuse(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "/graphql/ws serves GraphQL subscriptions over WebSocket \
             (Sec-WebSocket-Protocol: graphql-transport-ws or graphql-ws); \
             send queries and mutations to POST /graphql",
        );
    };
    let Some(protocol) = protocol(&headers) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_protocol",
            "the `Sec-WebSocket-Protocol` header must offer `graphql-transport-ws` or `graphql-ws`",
        );
    };
    let sockets = state.sockets.clone();
    let Ok(permit) = sockets.open.clone().try_acquire_owned() else {
        let mut response = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_websockets",
            "this server has as many WebSocket connections open as it may (MAX_WEBSOCKETS): retry later",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(5));
        return response;
    };
    sockets
        .live
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let open = OpenSocket {
        sockets,
        _permit: permit,
    };
    let principal = principal.map(|Extension(p)| p);
    let address = address.and_then(|Extension(a)| a.0);
    upgrade
        .protocols([protocol.sec_websocket_protocol()])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(socket, state, protocol, principal, address, open))
}

/// Why a connection's `connection_init` was refused, for its close code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InitRefusal {
    None,
    NoKey,
    Refused,
}

/// The key a `connection_init` payload carries.
fn payload_key(payload: &serde_json::Value) -> Option<String> {
    let value = ["authorization", "Authorization"]
        .iter()
        .find_map(|k| payload.get(k))
        .and_then(|v| v.as_str())?;
    let value = value.trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        None if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    (!token.is_empty()).then(|| token.to_owned())
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: Protocols,
    principal: Option<Principal>,
    address: Option<std::net::IpAddr>,
    open: OpenSocket,
) {
    let sockets = open.sockets.clone();
    let mut closing = sockets.closing.subscribe();
    let (mut sink, incoming) = socket.split();
    let input = incoming
        .take_while(|m| std::future::ready(m.is_ok()))
        .filter_map(|m| {
            std::future::ready(match m {
                Ok(Message::Text(text)) => Some(text.as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            })
        });
    let refusal = Arc::new(Mutex::new((InitRefusal::None, String::new())));
    let init = {
        let (state, sockets, refusal) = (state.clone(), sockets.clone(), refusal.clone());
        move |payload: serde_json::Value| async move {
            let principal = match principal {
                Some(p) => p,
                None => {
                    let refuse = |kind, message: String| {
                        *refusal.lock().unwrap_or_else(PoisonError::into_inner) =
                            (kind, message.clone());
                        async_graphql::Error::new(message)
                    };
                    let Some(key) = payload_key(&payload) else {
                        return Err(refuse(
                            InitRefusal::NoKey,
                            "this connection needs a `read` key: send \
                             {\"authorization\": \"Bearer <key>\"} as the connection_init payload"
                                .into(),
                        ));
                    };
                    match check_key(&state, &key, address, Some(Scope::Read)).await {
                        Ok((p, _)) => p,
                        Err(KeyRefused::Refused(r)) => {
                            return Err(refuse(InitRefusal::Refused, r.message()))
                        }
                        Err(KeyRefused::Fault(f)) => {
                            return Err(refuse(InitRefusal::Refused, f.message().to_owned()))
                        }
                        Err(KeyRefused::Internal(e)) => {
                            tracing::error!(error = ?e, "WebSocket key check failed");
                            return Err(refuse(InitRefusal::Refused, "internal error".into()));
                        }
                    }
                }
            };
            let mut data = Data::default();
            data.insert(sockets.slots(&principal));
            data.insert(principal);
            Ok(data)
        }
    };
    let executor = SubscriptionExecutor {
        schema: state.schema.clone(),
        state: state.clone(),
    };
    let mut messages = async_graphql::http::WebSocket::new(executor, input, protocol)
        .on_connection_init(init)
        .boxed();
    let init_deadline = tokio::time::Instant::now()
        + Duration::from_secs(state.config.http.header_read_timeout_secs);
    let mut acknowledged = false;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let close = |code: u16, reason: &str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_owned().into(),
        }))
    };
    let last = loop {
        let outgoing = tokio::select! {
            message = messages.next() => match message {
                Some(WsMessage::Text(text)) => {
                    acknowledged |= is_ack(&text);
                    Message::Text(text.into())
                }
                Some(WsMessage::Close(code, reason)) => {
                    let (kind, why) = refusal.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    break match kind {
                        InitRefusal::NoKey => close(4401, &why),
                        InitRefusal::Refused => close(4403, &why),
                        InitRefusal::None => close(code, &reason),
                    };
                }
                None => {
                    // The older protocol refuses with a `connection_error`
                    // message, then ends.
                    let (kind, why) = refusal.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    break match kind {
                        InitRefusal::NoKey => close(4401, &why),
                        InitRefusal::Refused => close(4403, &why),
                        InitRefusal::None => close(1000, "closed"),
                    };
                }
            },
            () = tokio::time::sleep_until(init_deadline), if !acknowledged => {
                break close(4408, "Connection initialisation timeout");
            }
            _ = ping.tick() => Message::Ping(Vec::new().into()),
            _ = closing.wait_for(|c| *c) => break close(1001, "the server is shutting down"),
        };
        match tokio::time::timeout(SEND_TIMEOUT, sink.send(outgoing)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => break close(1008, "the client does not read what it is sent"),
        }
    };
    // A peer that is gone or does not read cannot stall the close either.
    let _ = tokio::time::timeout(SEND_TIMEOUT, async {
        let _ = sink.send(last).await;
        let _ = sink.close().await;
    })
    .await;
    drop(open);
}

/// Whether a server message is the protocol's acknowledgement of
/// `connection_init`.
fn is_ack(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|m| m.get("type").and_then(|t| t.as_str()) == Some("connection_ack"))
}

/// The schema as the WebSocket runs it: subscriptions only, each with its
/// own uncached DataLoader (a stream lives long, and a journey read for one
/// conversion must not answer for the next).
#[derive(Clone)]
struct SubscriptionExecutor {
    schema: AppSchema,
    state: AppState,
}

impl SubscriptionExecutor {
    fn refusal(error: async_graphql::Error) -> Response {
        Response::from_errors(vec![error.into_server_error(async_graphql::Pos::default())])
    }
}

/// Why a request is not run here, if it is not.
fn not_a_subscription(request: &Request) -> Option<async_graphql::Error> {
    // A document that does not parse is the schema's to refuse.
    let document = async_graphql::parser::parse_query(&request.query).ok()?;
    let ty = match &document.operations {
        DocumentOperations::Single(op) => Some(op.node.ty),
        DocumentOperations::Multiple(ops) => match &request.operation_name {
            Some(name) => ops.get(name.as_str()).map(|op| op.node.ty),
            None => None,
        },
    }?;
    (ty != OperationType::Subscription).then(|| {
        coded(
            ApiErrorCode::OperationNotSupported,
            "only subscriptions are served over /graphql/ws: send queries and mutations to POST /graphql",
        )
    })
}

impl Executor for SubscriptionExecutor {
    async fn execute(&self, request: Request) -> Response {
        match not_a_subscription(&request) {
            Some(error) => Self::refusal(error),
            None => Self::refusal(coded(
                ApiErrorCode::OperationNotSupported,
                "subscriptions are served as streams",
            )),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        if let Some(error) = not_a_subscription(&request) {
            return stream::once(std::future::ready(Self::refusal(error))).boxed();
        }
        let request = request.data(super::loaders::uncached(
            self.state.store.clone(),
            self.state.settings.clone(),
        ));
        Executor::execute_stream(&self.schema, request, session_data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_comes_from_the_payloads_authorization_with_or_without_bearer() {
        assert_eq!(
            payload_key(&json!({"authorization": "Bearer ga_x"})).as_deref(),
            Some("ga_x")
        );
        assert_eq!(
            payload_key(&json!({"Authorization": "bearer  ga_y "})).as_deref(),
            Some("ga_y")
        );
        assert_eq!(
            payload_key(&json!({"authorization": "ga_z"})).as_deref(),
            Some("ga_z")
        );
        assert_eq!(payload_key(&json!({"authorization": "Bearer "})), None);
        assert_eq!(payload_key(&json!({})), None);
        assert_eq!(payload_key(&json!(null)), None);
    }

    #[test]
    fn only_subscriptions_run_over_the_socket() {
        let refused = |q: &str, op: Option<&str>| {
            let mut r = Request::new(q);
            if let Some(op) = op {
                r = r.operation_name(op);
            }
            not_a_subscription(&r).is_some()
        };
        assert!(!refused(
            "subscription { reportsChanged { version } }",
            None
        ));
        assert!(refused("{ __typename }", None));
        assert!(refused("mutation { eraseUser(id: \"u\") { users } }", None));
        let both = "query A { __typename } subscription B { reportsChanged { version } }";
        assert!(refused(both, Some("A")));
        assert!(!refused(both, Some("B")));
        assert!(
            !refused("not graphql", None),
            "the schema refuses what does not parse"
        );
    }

    #[test]
    fn the_first_protocol_offered_that_is_served_wins() {
        let mut h = HeaderMap::new();
        assert_eq!(protocol(&h), None);
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "chat, graphql-ws, graphql-transport-ws".parse().unwrap(),
        );
        assert_eq!(protocol(&h), Some(Protocols::SubscriptionsTransportWS));
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "graphql-transport-ws".parse().unwrap(),
        );
        assert_eq!(protocol(&h), Some(Protocols::GraphQLWS));
    }
}
