//! Connections through real sockets: slow and idle clients are closed after
//! their timeouts, the connection cap keeps others answered, oversized heads
//! and unreadable bodies get 4xx, not a hang or a 500.

use std::time::{Duration, Instant};

use growth_analytics::config::ServeConfig;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app_with, TestApp};

/// An app with short connection timeouts, so that tests can wait them out.
async fn app_with_timeouts(header_secs: u64, idle_secs: u64) -> TestApp {
    spawn_app_with(|c: &mut ServeConfig| {
        c.http.header_read_timeout_secs = header_secs;
        c.http.keep_alive_idle_timeout_secs = idle_secs;
    })
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address)
        .await
        .expect("Failed to connect to the server")
}

/// How long until the server closes `stream` (whatever it sends before);
/// panics if it stays open past `limit`.
async fn closed_after(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server kept the connection open for {limit:?}"));
    start.elapsed()
}

/// Whether the server closes `stream` within `limit`.
async fn is_closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Reads one response with a `Content-Length` body: its status and body.
/// `None` when the connection closes first.
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().expect("a numeric Content-Length"));
                if data.len() >= end + 4 + length {
                    let status = head.split(' ').nth(1)?.parse().ok()?;
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]);
                    return Some((status, body.into_owned()));
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("no response within 10 s")
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn a_client_that_stalls_halfway_through_its_request_line_is_closed_after_the_header_timeout()
{
    let app = app_with_timeouts(1, 30).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /heal").await.unwrap();
    let after = closed_after(&mut stream, Duration::from_secs(5)).await;
    assert!(
        after >= Duration::from_millis(800),
        "closed too early: {after:?}"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_anything_is_closed_after_the_header_timeout() {
    let app = app_with_timeouts(1, 30).await;
    let mut stream = connect(&app).await;
    let after = closed_after(&mut stream, Duration::from_secs(5)).await;
    assert!(
        after >= Duration::from_millis(800),
        "closed too early: {after:?}"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_serves_several_requests_then_closes_after_the_idle_timeout() {
    let app = app_with_timeouts(1, 3).await;
    let mut stream = connect(&app).await;
    for _ in 0..2 {
        stream.write_all(HEALTHZ).await.unwrap();
        let (status, _) = read_response(&mut stream)
            .await
            .expect("a kept-alive connection answers");
        assert_eq!(status, 200);
        // Longer than the header timeout: waiting between requests is idle
        // time, not a slow head.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    // 1.5 s of the idle timeout have passed already.
    let after = closed_after(&mut stream, Duration::from_secs(5)).await;
    assert!(
        after >= Duration::from_millis(1000),
        "closed before the idle timeout: {after:?}"
    );
}

#[tokio::test]
async fn a_client_that_stops_sending_its_body_midway_is_closed_after_the_header_timeout() {
    let app = app_with_timeouts(1, 30).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            concat!(
                "POST /webhooks/pageviews HTTP/1.1\r\nHost: localhost\r\n",
                "Authorization: Bearer ",
                crate::test_admin_key!(),
                "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"url\":"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let after = closed_after(&mut stream, Duration::from_secs(5)).await;
    assert!(
        after >= Duration::from_millis(800),
        "closed too early: {after:?}"
    );
    assert_eq!(app.counts().await, (0, 0), "nothing stored");
}

#[tokio::test]
async fn slow_connections_beyond_the_cap_do_not_keep_another_client_from_being_answered() {
    const CAP: usize = 8;
    const EXTRA: usize = 4;
    let app = spawn_app_with(|c| {
        c.http.max_client_connections = CAP as u64;
        // The slow clients are not timed out during the test: only the cap acts.
        c.http.header_read_timeout_secs = 60;
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..CAP + EXTRA {
        let mut stream = connect(&app).await;
        stream.write_all(b"GET /heal").await.unwrap();
        slow.push(stream);
    }
    // Old enough to be closed for a newcomer.
    tokio::time::sleep(Duration::from_millis(700)).await;

    let started = Instant::now();
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("/healthz is answered at the connection cap");
    assert_eq!(health.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(3));

    // At most CAP connections are open: the oldest slow ones made room.
    let mut closed = 0;
    for stream in &mut slow {
        closed += usize::from(is_closed_within(stream, Duration::from_millis(300)).await);
    }
    assert!(
        closed > EXTRA,
        "only {closed} of {} slow connections were closed",
        CAP + EXTRA
    );
}

#[tokio::test]
async fn a_request_head_over_the_header_limit_gets_431_and_one_under_it_is_served() {
    let app = spawn_app_with(|c| c.http.max_header_bytes = 16 * 1024).await;
    for (pad, expected) in [(8 * 1024, 200), (20 * 1024, 431)] {
        let mut stream = connect(&app).await;
        let request = format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(pad)
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let (status, _) = read_response(&mut stream)
            .await
            .expect("the server answers before closing");
        assert_eq!(status, expected, "a {pad}-byte header");
    }
}

/// Sends `request` raw, half-closes, and reads the answer.
async fn answer_to(app: &TestApp, request: &[u8]) -> (u16, Value) {
    let mut stream = connect(app).await;
    stream.write_all(request).await.unwrap();
    stream.shutdown().await.unwrap();
    let (status, body) = read_response(&mut stream)
        .await
        .expect("the server answers before closing");
    let body = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    (status, body)
}

#[tokio::test]
async fn a_malformed_chunked_body_gets_400_with_a_json_error() {
    let app = app_with_timeouts(5, 30).await;
    let (status, body) = answer_to(
        &app,
        concat!(
            "POST /webhooks/pageviews HTTP/1.1\r\nHost: localhost\r\n",
            "Authorization: Bearer ",
            crate::test_admin_key!(),
            "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            "zz\r\n[]\r\n0\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unreadable_body");
    assert_eq!(app.counts().await, (0, 0), "nothing stored");
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_gets_400_with_a_json_error() {
    let app = app_with_timeouts(5, 30).await;
    let item = r#"{"fingerprint":"f","url":"https://www.blinkist.com/","created_at":"2023-05-01T10:00:00Z"}"#;
    let request = format!(
        "POST /webhooks/pageviews HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n[{item}",
        crate::helpers::TEST_ADMIN_KEY,
        item.len() + 100
    );
    let (status, body) = answer_to(&app, request.as_bytes()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unreadable_body");
    assert_eq!(app.counts().await, (0, 0), "nothing stored");
}

#[tokio::test]
async fn at_shutdown_an_idle_kept_alive_connection_is_closed_at_once() {
    let app = app_with_timeouts(30, 30).await;
    let mut stream = connect(&app).await;
    stream.write_all(HEALTHZ).await.unwrap();
    let (status, _) = read_response(&mut stream).await.expect("an answer");
    assert_eq!(status, 200);
    // Dropping the app asks the server to stop.
    drop(app);
    let after = closed_after(&mut stream, Duration::from_secs(5)).await;
    assert!(after < Duration::from_secs(2), "closed after {after:?}");
}
