//! GraphQL subscriptions through a real WebSocket client: both protocols,
//! keys, caps, shutdown, and (on PostgreSQL) a second service process.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{on_postgres, spawn_app, spawn_app_with, TestApp, TEST_ADMIN_KEY};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Long enough for a materialiser step on a busy 2-core machine.
const WAIT: Duration = Duration::from_secs(15);

const TRANSPORT_WS: &str = "graphql-transport-ws";
const OLD_WS: &str = "graphql-ws";

/// Opens `/graphql/ws` on `base` with `protocol`, and `Authorization` if given.
async fn connect(base: &str, protocol: &str, header_key: Option<&str>) -> Socket {
    try_connect(base, protocol, header_key)
        .await
        .expect("the WebSocket upgrade succeeds")
}

async fn try_connect(
    base: &str,
    protocol: &str,
    header_key: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}/graphql/ws", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    if let Some(key) = header_key {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    let (socket, response) = tokio_tungstenite::connect_async(request).await?;
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        protocol,
        "the server speaks the protocol offered"
    );
    Ok(socket)
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("the message is sent");
}

/// The next protocol message (pings and pongs skipped), or the close frame
/// as `{"close": code, "reason": …}`; panics after `wait`.
async fn next(socket: &mut Socket, wait: Duration) -> Value {
    tokio::time::timeout(wait, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(f) => {
                            json!({ "close": u16::from(f.code), "reason": f.reason.as_str() })
                        }
                        None => json!({ "close": null }),
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return json!({ "error": e.to_string() }),
                None => return json!({ "ended": true }),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no message within {wait:?}"))
}

/// Whether nothing but pings arrives within `wait`.
async fn quiet(socket: &mut Socket, wait: Duration) -> Option<Value> {
    tokio::time::timeout(wait, next(socket, wait * 2))
        .await
        .ok()
}

/// `connection_init` with `payload`, expecting the acknowledgement.
async fn init(socket: &mut Socket, payload: Value) {
    send(
        socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    let ack = next(socket, WAIT).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
}

fn bearer(key: &str) -> Value {
    json!({ "authorization": format!("Bearer {key}") })
}

/// Subscribes with `graphql-transport-ws`.
async fn subscribe(socket: &mut Socket, id: &str, query: &str) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
}

/// A `graphql-transport-ws` socket on `base` with the admin key, running
/// subscription `id`, given a beat to start (it starts once the server has
/// read the message).
async fn subscribed(base: &str, id: &str, query: &str) -> Socket {
    let mut socket = connect(base, TRANSPORT_WS, None).await;
    init(&mut socket, bearer(TEST_ADMIN_KEY)).await;
    subscribe(&mut socket, id, query).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    socket
}

/// The next `next` message's data of subscription `id`.
async fn data(socket: &mut Socket, id: &str) -> Value {
    let message = next(socket, WAIT).await;
    assert_eq!(message["id"], id, "{message}");
    assert!(
        message["type"] == "next" || message["type"] == "data",
        "{message}"
    );
    assert!(message["payload"]["errors"].is_null(), "{message}");
    message["payload"]["data"].clone()
}

fn pageview(fingerprint: &str, url: &str, at: &str) -> Value {
    json!({
        "fingerprint": fingerprint,
        "user_id": null,
        "url": url,
        "referrer_url": "https://www.facebook.com/",
        "created_at": at,
    })
}

async fn post(app: &TestApp, path: &str, body: &Value) {
    let response = app.post_json(path, body).await;
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

#[tokio::test]
async fn a_subscriber_hears_each_new_pageview_once_and_a_redelivery_not_at_all() {
    let app = spawn_app().await;
    let mut socket = subscribed(
        &app.address,
        "pv",
        "subscription { pageviewRecorded { fingerprint url campaign } }",
    )
    .await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("\ngrowth_analytics_websockets_open 1\n"),
        "{metrics}"
    );

    let first = pageview(
        "fp-live-1",
        "https://shop.example/?utm_source=facebook&utm_medium=paid&utm_campaign=spring",
        "2026-11-30T10:00:00Z",
    );
    post(&app, "/webhooks/pageviews", &first).await;
    let got = data(&mut socket, "pv").await;
    assert_eq!(got["pageviewRecorded"]["fingerprint"], "fp-live-1");
    assert_eq!(got["pageviewRecorded"]["campaign"], "spring");

    // A redelivery stores nothing, so it sends nothing: the next message is
    // the next genuinely new pageview.
    post(&app, "/webhooks/pageviews", &first).await;
    let second = pageview(
        "fp-live-2",
        "https://shop.example/pricing",
        "2026-11-30T10:05:00Z",
    );
    post(&app, "/webhooks/pageviews", &json!([second])).await;
    let got = data(&mut socket, "pv").await;
    assert_eq!(got["pageviewRecorded"]["fingerprint"], "fp-live-2");
    assert_eq!(
        got["pageviewRecorded"]["url"],
        "https://shop.example/pricing"
    );
    assert_eq!(quiet(&mut socket, Duration::from_millis(500)).await, None);

    // `complete` stops it; the server confirms nothing more on that id.
    send(&mut socket, json!({ "id": "pv", "type": "complete" })).await;
    post(
        &app,
        "/webhooks/pageviews",
        &pageview("fp-live-3", "https://shop.example/", "2026-11-30T10:06:00Z"),
    )
    .await;
    let after = quiet(&mut socket, Duration::from_millis(800)).await;
    assert!(
        after.is_none() || after.as_ref().is_some_and(|m| m["type"] == "complete"),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_conversion_arrives_with_its_attribution_materialised_over_the_older_protocol_too() {
    let app = spawn_app().await;
    // The older `graphql-ws` protocol, the key in the upgrade's header.
    let mut socket = connect(&app.address, OLD_WS, Some(TEST_ADMIN_KEY)).await;
    init(&mut socket, json!({})).await;
    send(
        &mut socket,
        json!({ "id": "cv", "type": "start", "payload": { "query":
            "subscription { conversionRecorded(name: \"signup\") { name userId fingerprint \
             attribution { lastClick { campaign source channel } } } }" } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    post(
        &app,
        "/webhooks/pageviews",
        &pageview(
            "fp-conv",
            "https://shop.example/?utm_source=facebook&utm_medium=paid&utm_campaign=autumn",
            "2026-11-29T09:00:00Z",
        ),
    )
    .await;
    // A trial first: the filter keeps it out.
    for name in ["trial", "signup"] {
        post(
            &app,
            "/webhooks/events",
            &json!({ "name": name, "fingerprint": "fp-conv", "user_id": "user-conv",
                     "created_at": "2026-11-29T09:30:00Z" }),
        )
        .await;
    }
    let got = data(&mut socket, "cv").await;
    let conversion = &got["conversionRecorded"];
    assert_eq!(conversion["name"], "signup", "{got}");
    assert_eq!(conversion["userId"], "user-conv");
    assert_eq!(conversion["fingerprint"], "fp-conv");
    assert_eq!(
        conversion["attribution"]["lastClick"]["campaign"], "autumn",
        "{got}"
    );
    // And it is what the reports say once they have read it.
    let report = app
        .graphql_ok(
            "{ campaigns(range: {from: \"2026-11-01T00:00:00Z\", to: \"2026-12-01T00:00:00Z\"}) { nodes { campaign conversions } } }",
            json!({}),
        )
        .await;
    let nodes = report["campaigns"]["nodes"].as_array().unwrap().clone();
    assert!(
        nodes
            .iter()
            .any(|n| n["campaign"] == "autumn" && n["conversions"].as_f64() == Some(1.0)),
        "{nodes:?}"
    );

    // Redelivered, the signup is no new conversion.
    post(
        &app,
        "/webhooks/events",
        &json!({ "name": "signup", "fingerprint": "fp-conv", "user_id": "user-conv",
                 "created_at": "2026-11-29T09:30:00Z" }),
    )
    .await;
    assert_eq!(quiet(&mut socket, Duration::from_secs(2)).await, None);
}

#[tokio::test]
async fn reports_changed_ticks_with_a_growing_version_after_the_materialiser_commits() {
    let app = spawn_app().await;
    let mut socket = subscribed(
        &app.address,
        "r",
        "subscription { reportsChanged { version at } }",
    )
    .await;
    post(
        &app,
        "/webhooks/pageviews",
        &pageview("fp-tick", "https://shop.example/", "2026-11-30T12:00:00Z"),
    )
    .await;
    let first = data(&mut socket, "r").await["reportsChanged"].clone();
    let version: i64 = first["version"].as_str().unwrap().parse().unwrap();
    assert!(version > 0, "{first}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(first["at"].as_str().unwrap()).is_ok(),
        "{first}"
    );
    post(
        &app,
        "/webhooks/events",
        &json!({ "name": "signup", "fingerprint": "fp-tick", "created_at": "2026-11-30T12:01:00Z" }),
    )
    .await;
    let later = data(&mut socket, "r").await["reportsChanged"].clone();
    let later: i64 = later["version"].as_str().unwrap().parse().unwrap();
    assert!(later > version, "{later} after {version}");
}

#[tokio::test]
async fn a_socket_without_a_valid_read_key_is_refused() {
    let app = spawn_app().await;

    // No key at all: 4401 once connection_init arrives without one.
    let mut socket = connect(&app.address, TRANSPORT_WS, None).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    let closed = next(&mut socket, WAIT).await;
    assert_eq!(closed["close"], 4401, "{closed}");

    // An unknown key in the payload: 4403.
    let mut socket = connect(&app.address, TRANSPORT_WS, None).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": bearer("ga_not_a_key") }),
    )
    .await;
    let closed = next(&mut socket, WAIT).await;
    assert_eq!(closed["close"], 4403, "{closed}");

    // An ingest-only key may write, not read: 4403 naming the scope.
    let ingest = app.create_key("sender", "INGEST").await;
    let mut socket = connect(&app.address, TRANSPORT_WS, None).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": bearer(&ingest) }),
    )
    .await;
    let closed = next(&mut socket, WAIT).await;
    assert_eq!(closed["close"], 4403, "{closed}");
    assert!(
        closed["reason"].as_str().unwrap().contains("read"),
        "{closed}"
    );

    // A bad key in the upgrade's header: the upgrade itself is refused.
    let refused = try_connect(&app.address, TRANSPORT_WS, Some("ga_not_a_key")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401)
        }
        other => panic!("expected a 401, got {:?}", other.map(|_| "a socket")),
    }

    // Plain GET without an upgrade: told what the endpoint is.
    let plain = app.get("/graphql/ws").await;
    assert_eq!(plain.status().as_u16(), 426);
    let body: Value = plain.json().await.unwrap();
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("graphql-transport-ws"));
}

#[tokio::test]
async fn a_silent_client_is_closed_with_4408_after_the_init_timeout() {
    let app = spawn_app_with(|config| config.http.header_read_timeout_secs = 1).await;
    let mut socket = connect(&app.address, TRANSPORT_WS, None).await;
    let closed = next(&mut socket, WAIT).await;
    assert_eq!(closed["close"], 4408, "{closed}");
}

#[tokio::test]
async fn queries_and_mutations_go_to_post_graphql_not_the_socket() {
    let app = spawn_app().await;
    let mut socket = connect(&app.address, TRANSPORT_WS, None).await;
    init(&mut socket, bearer(TEST_ADMIN_KEY)).await;
    subscribe(&mut socket, "q", "{ apiKeys { name } }").await;
    let refused = next(&mut socket, WAIT).await;
    assert_eq!(
        errors_of(&refused)[0]["extensions"]["code"],
        "OPERATION_NOT_SUPPORTED",
        "{refused}"
    );
}

#[tokio::test]
async fn subscriptions_past_the_connection_cap_are_refused_and_a_stopped_one_frees_its_slot() {
    let app = spawn_app_with(|config| config.limits.max_subscriptions_per_connection = 2).await;
    let mut socket = connect(&app.address, TRANSPORT_WS, None).await;
    init(&mut socket, bearer(TEST_ADMIN_KEY)).await;
    let query = "subscription { reportsChanged { version } }";
    // Slots are taken as subscriptions start; a pause lets each start
    // before the next arrives, so `c` is the one past the cap.
    for id in ["a", "b", "c"] {
        subscribe(&mut socket, id, query).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refusals: Vec<Value> = drain(&mut socket)
        .await
        .into_iter()
        .filter(|m| !errors_of(m).is_null())
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["id"], "c", "{refusals:?}");
    assert_eq!(
        errors_of(&refusals[0])[0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );

    send(&mut socket, json!({ "id": "a", "type": "complete" })).await;
    subscribe(&mut socket, "d", query).await;
    // Ticks of commits from before (the app's first steps) may still come.
    drain(&mut socket).await;
    post(
        &app,
        "/webhooks/pageviews",
        &pageview("fp-cap", "https://shop.example/", "2026-11-30T12:00:00Z"),
    )
    .await;
    // The two running subscriptions tick, `d` among them; `a` is stopped.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let message = next(&mut socket, WAIT).await;
        assert!(errors_of(&message).is_null(), "{message}");
        ids.push(message["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    assert_eq!(ids, ["b", "d"]);
}

/// A message's errors: a `next` payload's, or an `error` message's.
fn errors_of(message: &Value) -> Value {
    if message["type"] == "error" {
        message["payload"].clone()
    } else {
        message["payload"]["errors"].clone()
    }
}

/// Every message until none comes for half a second.
async fn drain(socket: &mut Socket) -> Vec<Value> {
    let mut messages = Vec::new();
    while let Some(m) = quiet(socket, Duration::from_millis(500)).await {
        messages.push(m);
    }
    messages
}

#[tokio::test]
async fn a_graceful_stop_closes_every_socket_with_going_away() {
    let app = spawn_app().await;
    let mut socket = subscribed(
        &app.address,
        "r",
        "subscription { reportsChanged { version } }",
    )
    .await;
    let stopping = tokio::spawn(app.stop());
    let closed = next(&mut socket, WAIT).await;
    assert_eq!(closed["close"], u16::from(CloseCode::Away), "{closed}");
    tokio::time::timeout(WAIT, stopping)
        .await
        .expect("the server stops once its sockets are closed")
        .unwrap();
}

#[tokio::test]
async fn on_postgresql_a_subscriber_of_one_process_hears_what_another_process_stored() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    // A second service process on the same database: the real binary.
    let (_other, other_base) = crate::shutdown::start(&app.database_url).await;
    let mut socket = connect(&other_base, TRANSPORT_WS, None).await;
    init(&mut socket, bearer(TEST_ADMIN_KEY)).await;
    subscribe(
        &mut socket,
        "pv",
        "subscription { pageviewRecorded { fingerprint campaign } }",
    )
    .await;
    subscribe(
        &mut socket,
        "cv",
        "subscription { conversionRecorded { name attribution { lastClick { campaign } } } }",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Stored through the first process only.
    post(
        &app,
        "/webhooks/pageviews",
        &pageview(
            "fp-two",
            "https://shop.example/?utm_source=facebook&utm_medium=paid&utm_campaign=winter",
            "2026-11-30T08:00:00Z",
        ),
    )
    .await;
    post(
        &app,
        "/webhooks/events",
        &json!({ "name": "signup", "fingerprint": "fp-two", "user_id": "user-two",
                 "created_at": "2026-11-30T08:10:00Z" }),
    )
    .await;
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 2 {
        let message = next(&mut socket, WAIT).await;
        assert!(message["payload"]["errors"].is_null(), "{message}");
        let id = message["id"].as_str().unwrap().to_owned();
        seen.entry(id).or_insert(message["payload"]["data"].clone());
    }
    assert_eq!(seen["pv"]["pageviewRecorded"]["fingerprint"], "fp-two");
    assert_eq!(seen["pv"]["pageviewRecorded"]["campaign"], "winter");
    assert_eq!(seen["cv"]["conversionRecorded"]["name"], "signup");
    assert_eq!(
        seen["cv"]["conversionRecorded"]["attribution"]["lastClick"]["campaign"],
        "winter"
    );
}
