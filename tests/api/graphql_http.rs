//! GraphQL over HTTP: media types, statuses, error codes, CSRF, and the
//! per-request limits that keep one request from stalling the server.

use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn post(app: &TestApp, accept: Option<&str>, body: &Value) -> Response {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.expect("Failed to send the request")
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn the_answer_has_the_media_type_the_client_accepts() {
    let app = spawn_app().await;
    let query = json!({ "query": "{ events { totalCount } }" });
    for accept in [None, Some("application/json"), Some("*/*")] {
        let response = post(&app, accept, &query).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(content_type(&response), "application/json", "{accept:?}");
    }
    let response = post(&app, Some(GRAPHQL_RESPONSE), &query).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(content_type(&response), GRAPHQL_RESPONSE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["events"]["totalCount"], 0);

    let response = post(&app, Some("text/html"), &query).await;
    assert_eq!(response.status().as_u16(), 406);
}

#[tokio::test]
async fn requests_that_fail_before_execution_are_400_without_data_for_the_spec_type_and_200_for_json(
) {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "query": "{ events { totalCount " }),
            "GRAPHQL_PARSE_FAILED",
        ),
        (
            json!({ "query": "{ noSuchField }" }),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            json!({ "query": "query($d: Int) { overview(lookbackDays: $d) { signups } }", "variables": { "d": "many" } }),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            json!({ "query": "query A { events { totalCount } } query B { events { totalCount } }" }),
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (body, code) in cases {
        let response = post(&app, Some(GRAPHQL_RESPONSE), &body).await;
        assert_eq!(response.status().as_u16(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert!(answer.get("data").is_none(), "{answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], code, "{answer}");

        let response = post(&app, Some("application/json"), &body).await;
        assert_eq!(response.status().as_u16(), 200, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["errors"][0]["extensions"]["code"], code, "{answer}");
    }

    for body in [json!({}), json!({ "query": 5 }), json!(["{ a }"])] {
        let response = post(&app, Some(GRAPHQL_RESPONSE), &body).await;
        assert_eq!(response.status().as_u16(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    }
}

#[tokio::test]
async fn every_error_carries_a_code_even_an_int_literal_beyond_32_bits() {
    let app = spawn_app().await;
    let body = app
        .graphql(
            "{ overview(lookbackDays: 14525411850) { signups } }",
            json!({}),
        )
        .await;
    let errors = body["errors"].as_array().expect("an error");
    assert!(!errors.is_empty());
    for e in errors {
        assert!(e["extensions"]["code"].is_string(), "{e}");
    }
}

#[tokio::test]
async fn a_cross_site_text_plain_post_cannot_write() {
    let app = spawn_app().await;
    let mutation = json!({ "query": "mutation { recordEvent(input: {name: \"signup\", fingerprint: \"f\", createdAt: \"2023-01-01T00:00:00Z\"}) { id } }" });
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app
            .client
            .post(format!("{}/graphql", app.address))
            .body(mutation.to_string());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 415, "{content_type:?}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer["errors"][0]["extensions"]["code"],
            "UNSUPPORTED_MEDIA_TYPE"
        );
    }
    assert_eq!(app.counts().await, (0, 0));
    // The webhook routes still take a body without a Content-Type.
    let response = app
        .post_raw(
            "/webhooks/events",
            r#"{"name":"signup","fingerprint":"f","created_at":"2023-01-01T00:00:00Z"}"#,
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
}

/// `F0` selects one field; each `Fi` spreads `F(i-1)` ten times.
fn fragment_bomb(levels: usize) -> String {
    let mut q = format!(
        "query {{ ...F{levels} }} fragment F0 on Query {{ classify(url:\"https://a.b/\") {{ channel }} }}"
    );
    for i in 1..=levels {
        q.push_str(&format!(" fragment F{i} on Query {{"));
        for _ in 0..10 {
            q.push_str(&format!(" ...F{}", i - 1));
        }
        q.push_str(" }");
    }
    q
}

#[tokio::test]
async fn a_fragment_bomb_is_refused_at_once_and_the_server_stays_responsive() {
    let app = spawn_app().await;
    let started = Instant::now();
    let bomb = fragment_bomb(10);
    let (first, second) =
        tokio::join!(app.graphql(&bomb, json!({})), app.graphql(&bomb, json!({})));
    for body in [first, second] {
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
        assert_eq!(body["errors"][0]["extensions"]["limit"], "nodes", "{body}");
    }
    // Generous: refused in microseconds, not the minutes (or forever) of
    // expanding 2 × 10^10 fields.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);

    // A small fragment-heavy query still runs.
    let body = app.graphql(&fragment_bomb(2), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn one_request_may_ask_for_a_bounded_number_of_reports() {
    let app = spawn_app().await;
    let aliases: String = (0..1000)
        .map(|i| format!(" r{i}: channels(model: LINEAR) {{ totalCount }}"))
        .collect();
    let body = app.graphql(&format!("{{{aliases} }}"), json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "reports",
        "{body}"
    );

    let dashboard = "{ overview { signups } channels { totalCount } campaigns { totalCount } sources { totalCount } landingPages { totalCount } timeseries { interval } }";
    let body = app.graphql(dashboard, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn the_graphql_body_is_limited_too() {
    let app = spawn_app_with(|c| c.limits.max_body_bytes = 64 * 1024).await;
    let padding = " ".repeat(100 * 1024);
    let body = json!({ "query": format!("{{ events {{ totalCount }} }}{padding}") });
    let response = post(&app, None, &body).await;
    assert_eq!(response.status().as_u16(), 413);
}

#[tokio::test]
async fn introspection_is_not_held_to_the_depth_limit_but_queries_are() {
    let app = spawn_app_with(|c| c.limits.max_query_depth = 3).await;
    let body = app
        .graphql(
            "{ __schema { types { fields { type { ofType { ofType { name } } } } } } }",
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app
        .graphql(
            "{ user(id: \"u\") { attribution { firstClick { source } } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "depth", "{body}");
}

#[tokio::test]
async fn a_range_that_ends_before_it_starts_is_refused_and_last_days_needs_no_dates() {
    let app = spawn_app().await;
    let body = app
        .graphql(
            r#"{ overview(range: {from: "2024-02-01T00:00:00Z", to: "2024-01-01T00:00:00Z"}) { signups } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"], "range.from",
        "{body}"
    );

    let now = chrono::Utc::now();
    for (at, fingerprint) in [
        (now - chrono::Duration::days(3), "recent"),
        (now - chrono::Duration::days(40), "old"),
    ] {
        let response = app
            .post_json(
                "/webhooks/events",
                &json!({ "name": "signup", "fingerprint": fingerprint, "created_at": at.to_rfc3339() }),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200);
    }
    let data = app
        .graphql_ok(
            "{ last7: overview(range: {lastDays: 7}) { signups } last90: overview(range: {lastDays: 90}) { signups } }",
            json!({}),
        )
        .await;
    assert_eq!(data["last7"]["signups"], 1);
    assert_eq!(data["last90"]["signups"], 2);

    let body = app
        .graphql(
            r#"{ overview(range: {lastDays: 7, from: "2024-01-01T00:00:00Z"}) { signups } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"], "range.lastDays",
        "{body}"
    );
}

#[tokio::test]
async fn answers_keep_the_fields_in_the_order_the_query_asked_for_them() {
    let app = spawn_app().await;
    // async-graphql finishes sibling fields in any order: ask often enough
    // for a wrong order to show.
    let cases = [
        (
            "{ pageviews { totalCount } events { totalCount } }",
            "pageviews",
            "events",
        ),
        (
            "{ events { totalCount } pageviews { totalCount } }",
            "events",
            "pageviews",
        ),
    ];
    for (query, first, second) in cases.into_iter().cycle().take(40) {
        let text = post(&app, None, &json!({ "query": query }))
            .await
            .text()
            .await
            .unwrap();
        let (a, b) = (text.find(first).unwrap(), text.find(second).unwrap());
        assert!(a < b, "{query} → {text}");
    }
}

#[tokio::test]
async fn a_request_past_its_deadline_is_answered_503_with_retry_after_and_the_server_goes_on() {
    // A microsecond: no report over real data finishes in it.
    let app = spawn_app_with(|c| c.limits.query_timeout_secs = 0.000_001).await;
    for i in 0..50 {
        let at = format!("2023-01-{:02}T10:00:00Z", 1 + i % 28);
        app.post_json(
            "/webhooks/pageviews",
            &json!({ "fingerprint": format!("f{i}"), "url": "https://a.example/?utm_source=google&utm_medium=cpc", "created_at": at }),
        )
        .await;
        app.post_json(
            "/webhooks/events",
            &json!({ "name": "signup", "fingerprint": format!("f{i}"), "created_at": at }),
        )
        .await;
    }
    // Tokio's timers tick in milliseconds, so the work must take longer
    // than one tick: reports at lookbacks that are not materialised, each
    // attributed on the spot from the raw facts. (One report from the
    // rollups could finish inside the tick and escape the deadline.)
    let reports: String = (40..52)
        .map(|days| {
            format!("l{days}: campaigns(model: LINEAR, lookbackDays: {days}) {{ totalCount }} ")
        })
        .collect();
    let response = post(
        &app,
        Some(GRAPHQL_RESPONSE),
        &json!({ "query": format!("{{ {reports}}}") }),
    )
    .await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TIMEOUT");
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}

#[tokio::test]
async fn heavy_reports_cannot_take_the_connection_a_webhook_needs() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.database.max_connections = 4;
        c.database.acquire_timeout_secs = 1;
    })
    .await;
    let pageviews: Vec<Value> = (0..3000)
        .map(|i| {
            json!({
                "fingerprint": format!("f{}", i % 600),
                "url": format!("https://a.example/p{i}?utm_source=s{}&utm_medium=cpc&utm_campaign=c{}", i % 7, i % 13),
                "created_at": format!("2023-01-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60),
            })
        })
        .collect();
    let events: Vec<Value> = (0..600)
        .map(|i| json!({ "name": "signup", "fingerprint": format!("f{i}"), "created_at": "2023-01-29T00:00:00Z" }))
        .collect();
    assert_eq!(
        app.post_json("/webhooks/pageviews", &json!(pageviews))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_json("/webhooks/events", &json!(events))
            .await
            .status(),
        200
    );

    // Reports computed on the spot (a lookback other than the default), many
    // at once, each fanning out into parallel reads.
    let reports: String = (0..6)
        .map(|i| {
            format!(
                " r{i}: campaigns(model: LINEAR, lookbackDays: {}) {{ totalCount }}",
                60 + i
            )
        })
        .collect();
    let query = json!({ "query": format!("{{{reports} }}") });
    let readers: Vec<_> = (0..6)
        .map(|_| {
            let (client, url, query) = (
                app.client.clone(),
                format!("{}/graphql", app.address),
                query.clone(),
            );
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(query.to_string())
                    .send()
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..5 {
        let response = app
            .post_json(
                "/webhooks/pageviews",
                &json!({ "fingerprint": format!("during-{i}"), "url": "https://a.example/", "created_at": "2023-01-30T00:00:00Z" }),
            )
            .await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "a webhook during heavy reports"
        );
    }
    for reader in readers {
        let _ = reader.await;
    }
}
