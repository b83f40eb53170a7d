//! What senders really send, through real HTTP on either backend: NUL bytes
//! and invisible ids, timestamps outside reality and leap seconds, gzip
//! bodies and byte-order marks, full-size batches, repeated keys.

use std::io::Write;

use chrono::{Duration, SecondsFormat, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use growth_analytics::config::{DatabaseConfig, DEFAULT_MAX_BODY_BYTES};
use growth_analytics::store::Store;
use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};

fn pageview(fingerprint: &str, url: &str, at: &str) -> Value {
    json!({ "fingerprint": fingerprint, "user_id": null, "url": url, "referrer_url": null, "created_at": at })
}

/// A pageview as a real site sends it: a UUID cookie, a UTM-tagged landing
/// URL, a referrer, and the brief's timestamp form.
fn realistic_pageview(i: usize) -> Value {
    json!({
        "fingerprint": format!("b998efcb-1af3-4149-9b56-{i:012x}"),
        "user_id": if i.is_multiple_of(4) { Value::from(format!("6666bd053866341d6a{i:06x}")) } else { Value::Null },
        "url": format!("https://www.blinkist.com/en/landing-pages/meet-blinkist?utm_source=facebook&utm_medium=paid&utm_campaign=202301_US_{}", i % 97),
        "referrer_url": "https://www.facebook.com/",
        "created_at": format!("2023-01-20 14:{:02}:{:02}.{:06} UTC", (i / 60) % 60, i % 60, i),
    })
}

/// The body's `errors` as (index, field) pairs.
async fn refused(response: Response) -> Vec<(Option<u64>, String)> {
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"], "invalid_payload", "{body}");
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| {
            (
                e["index"].as_u64(),
                e["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

impl TestApp {
    async fn post_encoded(&self, path: &str, encoding: &str, body: Vec<u8>) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", encoding)
            .body(body)
            .send()
            .await
            .expect("Failed to send the request")
    }
}

#[tokio::test]
async fn a_nul_in_any_text_field_is_a_422_naming_it_and_stores_nothing() {
    let app = spawn_app().await;
    let batch = json!([
        pageview("fp-ok", "https://a.example/", "2025-01-01T00:00:00Z"),
        pageview("a\u{0}b", "https://a.example/", "2025-01-01T00:00:00Z"),
        { "fingerprint": "fp", "user_id": "u\u{0}", "url": "https://a.example/\u{0}", "created_at": "2025-01-01T00:00:00Z" },
    ]);
    let response = app.post_json("/webhooks/pageviews", &batch).await;
    assert_eq!(
        refused(response).await,
        [
            (Some(1), "fingerprint".into()),
            (Some(2), "user_id".into()),
            (Some(2), "url".into())
        ]
    );
    let event =
        json!({ "name": "sign\u{0}up", "fingerprint": "fp", "created_at": "2025-01-01T00:00:00Z" });
    let response = app.post_json("/webhooks/events", &event).await;
    assert_eq!(refused(response).await, [(None, "name".into())]);
    assert_eq!(app.counts().await, (0, 0));
}

#[tokio::test]
async fn ids_made_only_of_invisible_characters_are_refused() {
    let app = spawn_app().await;
    let invisible = [
        "\u{200B}",
        "\u{200C}\u{200D}",
        "\u{FEFF}",
        "\u{2060}",
        "\u{3000}",
    ];
    let batch: Vec<Value> = invisible
        .iter()
        .map(|fp| pageview(fp, "https://a.example/", "2025-01-01T00:00:00Z"))
        .collect();
    let response = app.post_json("/webhooks/pageviews", &json!(batch)).await;
    let expected: Vec<_> = (0..invisible.len() as u64)
        .map(|i| (Some(i), "fingerprint".to_owned()))
        .collect();
    assert_eq!(refused(response).await, expected);

    let event = json!({ "name": "\u{200B}", "fingerprint": "fp", "user_id": "\u{FEFF}", "created_at": "2025-01-01T00:00:00Z" });
    let response = app.post_json("/webhooks/events", &event).await;
    assert_eq!(
        refused(response).await,
        [(None, "name".into()), (None, "user_id".into())]
    );
    // A visible id with a zero-width joiner inside is an id like any other.
    let ok = pageview("fp\u{200D}1", "https://a.example/", "2025-01-01T00:00:00Z");
    let response = app.post_json("/webhooks/pageviews", &ok).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.counts().await, (1, 0));
}

#[tokio::test]
async fn a_nul_in_a_graphql_filter_is_bad_user_input_naming_the_field() {
    let app = spawn_app().await;
    let query = "query($f: String) { pageviews(filter: {fingerprint: $f}) { totalCount } }";
    let body = app.graphql(query, json!({ "f": "a\u{0}b" })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "fingerprint"
    );

    let query =
        "query($u: String) { events(filter: {name: \"signup\", userId: $u}) { totalCount } }";
    let body = app.graphql(query, json!({ "u": "\u{0}" })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "userId"
    );

    // Other arguments the database compares follow the same rule.
    for (query, field) in [
        (
            "query($s: String!) { conversions(name: $s) { totalCount } }",
            "name",
        ),
        ("query($s: ID!) { user(id: $s) { id } }", "id"),
        (
            "query($s: String!) { channels(conversion: $s) { totalCount } }",
            "conversion",
        ),
    ] {
        let body = app.graphql(query, json!({ "s": "a\u{0}b" })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{query}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["fields"][0]["field"], field);
    }

    // The mutation takes the webhooks' path, so it refuses the same.
    let mutation = r#"mutation($fp: String!) { recordPageview(input: {fingerprint: $fp, url: "https://a.example/", createdAt: "2025-01-01T00:00:00Z"}) { id } }"#;
    let body = app.graphql(mutation, json!({ "fp": "a\u{0}b" })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "fingerprint"
    );
    assert_eq!(app.counts().await, (0, 0));
}

#[tokio::test]
async fn timestamps_outside_1970_to_tomorrow_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let day_after_tomorrow = (Utc::now() + Duration::days(2)).to_rfc3339();
    let bad = [
        "0000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:00:00-05:00",
        "+10000-01-01T00:00:00Z",
        day_after_tomorrow.as_str(),
    ];
    let batch: Vec<Value> = bad
        .iter()
        .map(|at| pageview("fp", "https://a.example/", at))
        .collect();
    let response = app.post_json("/webhooks/pageviews", &json!(batch)).await;
    let expected: Vec<_> = (0..bad.len() as u64)
        .map(|i| (Some(i), "created_at".to_owned()))
        .collect();
    assert_eq!(refused(response).await, expected);

    let event =
        json!({ "name": "signup", "fingerprint": "fp", "created_at": "9999-12-31 23:59:59 UTC" });
    let response = app.post_json("/webhooks/events", &event).await;
    assert_eq!(refused(response).await, [(None, "created_at".into())]);

    let in_window = [
        "1970-01-01T00:00:00Z".to_owned(),
        (Utc::now() + Duration::hours(23)).to_rfc3339(),
    ];
    for at in in_window {
        let response = app
            .post_json(
                "/webhooks/pageviews",
                &pageview("fp", "https://a.example/", &at),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200, "{at}");
    }
    assert_eq!(app.counts().await, (2, 0));
}

#[tokio::test]
async fn the_window_is_configurable() {
    let app = spawn_app_with(|c| {
        c.limits.earliest_timestamp = "2020-01-01T00:00:00Z".parse().unwrap();
        c.limits.max_future_secs = 0;
    })
    .await;
    let soon = (Utc::now() + Duration::minutes(5)).to_rfc3339();
    for at in ["2019-12-31T23:59:59Z", soon.as_str()] {
        let response = app
            .post_json(
                "/webhooks/pageviews",
                &pageview("fp", "https://a.example/", at),
            )
            .await;
        assert_eq!(
            refused(response).await,
            [(None, "created_at".into())],
            "{at}"
        );
    }
    let response = app
        .post_json(
            "/webhooks/pageviews",
            &pageview("fp", "https://a.example/", "2020-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn stored_instants_order_and_filter_the_same_on_both_backends() {
    let app = spawn_app().await;
    // Whole seconds, milli- and microsecond fractions (SQLite's text has 0,
    // 3 or 6 fraction digits), the earliest accepted instant, and offsets.
    let ats = [
        "2023-01-20T13:59:56.437947Z",
        "2023-01-20T13:59:56Z",
        "2023-01-20T13:59:56.437Z",
        "2023-01-20T13:59:56.000001Z",
        "1970-01-01T00:00:00Z",
        "2023-01-20T15:59:56.5+02:00",
        "2001-01-01T00:00:00Z",
        "1999-12-31T23:59:59.999999Z",
    ];
    let batch: Vec<Value> = ats
        .iter()
        .enumerate()
        .map(|(i, at)| pageview(&format!("fp{i}"), "https://a.example/", at))
        .collect();
    let response = app.post_json("/webhooks/pageviews", &json!(batch)).await;
    assert_eq!(response.status().as_u16(), 200);
    // What the issue saw: a year past 9999 in UTC stored as `+10000-…` text,
    // which SQLite sorted before 2000. Whatever the service answers to
    // these, no range may see them out of order.
    for at in [
        "9999-12-31T23:00:00-05:00",
        "+10000-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
    ] {
        let odd = pageview("odd", "https://a.example/", at);
        app.post_json("/webhooks/pageviews", &odd).await;
    }

    let range = |from: &str, to: &str| json!({ "r": { "from": from, "to": to } });
    let query = "query($r: DateRange) { pageviews(filter: {range: $r}, first: 50) { totalCount nodes { createdAt } } }";
    // The database's order (the list is oldest first), not ours.
    let all = app
        .graphql_ok(query, range("0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"))
        .await;
    let listed: Vec<&str> = all["pageviews"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["createdAt"].as_str().unwrap())
        .collect();
    let mut expected: Vec<String> = ats
        .iter()
        .map(|at| {
            chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Micros, true)
        })
        .collect();
    expected.sort();
    assert_eq!(listed, expected);

    let count = |data: Value| data["pageviews"]["totalCount"].as_u64().unwrap();
    let before_2000 = app
        .graphql_ok(query, range("0000-01-01T00:00:00Z", "2000-01-01T00:00:00Z"))
        .await;
    assert_eq!(
        before_2000["pageviews"]["nodes"],
        json!([
            { "createdAt": "1970-01-01T00:00:00.000000Z" },
            { "createdAt": "1999-12-31T23:59:59.999999Z" }
        ])
    );
    let same_second = app
        .graphql_ok(
            query,
            range("2023-01-20T13:59:56Z", "2023-01-20T13:59:56.437947Z"),
        )
        .await;
    assert_eq!(
        count(same_second),
        3,
        "[56, 56.437947) holds .0, .000001, .437"
    );
    let from_fraction = app
        .graphql_ok(
            query,
            range("2023-01-20T13:59:56.437001Z", "2023-01-20T13:59:57Z"),
        )
        .await;
    assert_eq!(count(from_fraction), 2, "56.437947 and 56.5");
}

#[tokio::test]
async fn a_leap_second_is_stored_as_the_next_minutes_first_second_on_both_backends() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/webhooks/pageviews",
            &pageview("fp", "https://a.example/", "2016-12-31T23:59:60.5Z"),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let data = app
        .graphql_ok(
            r#"{ pageviews(filter: {range: {from: "2017-01-01T00:00:00Z"}}) { nodes { createdAt } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["pageviews"]["nodes"],
        json!([{ "createdAt": "2017-01-01T00:00:00.500000Z" }])
    );
    // The same instant written without the leap second is a redelivery.
    let response = app
        .post_json(
            "/webhooks/pageviews",
            &pageview("fp", "https://a.example/", "2017-01-01T00:00:00.5Z"),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "stored": 0, "duplicates": 1 }));
}

#[tokio::test]
async fn spend_dates_outside_the_window_are_refused() {
    let app = spawn_app().await;
    let spend = |date: &str| json!({ "campaign": "Spring", "source": "google", "medium": "cpc", "date": date, "amount": "1" });
    let in_three_days = (Utc::now() + Duration::days(3)).date_naive().to_string();
    let batch = json!([
        spend("2023-01-20"),
        spend("0000-01-01"),
        spend("9999-12-31"),
        spend(&in_three_days)
    ]);
    let response = app.post_json("/webhooks/spend", &batch).await;
    assert_eq!(
        refused(response).await,
        [
            (Some(1), "date".into()),
            (Some(2), "date".into()),
            (Some(3), "date".into())
        ]
    );
    let bad_text = json!({ "campaign": "\u{200B}", "source": "goo\u{0}gle", "medium": "cpc", "date": "2023-01-20", "amount": "1" });
    let response = app.post_json("/webhooks/spend", &bad_text).await;
    assert_eq!(
        refused(response).await,
        [(None, "campaign".into()), (None, "source".into())]
    );
    let store = Store::connect(&DatabaseConfig::new(app.database_url.clone()))
        .await
        .expect("Failed to connect to the test database");
    let rows = store.spend_between(None, None).await.expect("spend");
    assert!(rows.is_empty(), "{rows:?}");
}

#[tokio::test]
async fn a_gzip_body_is_inflated_and_stored() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..50).map(realistic_pageview).collect();
    let body = gzip(json!(batch).to_string().as_bytes());
    let response = app.post_encoded("/webhooks/pageviews", "gzip", body).await;
    assert_eq!(response.status().as_u16(), 200);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary, json!({ "stored": 50, "duplicates": 0 }));

    let event =
        json!({ "name": "signup", "fingerprint": "fp", "created_at": "2025-01-01T00:00:00Z" });
    let response = app
        .post_encoded("/event", "x-gzip", gzip(event.to_string().as_bytes()))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.counts().await, (50, 1));
}

#[tokio::test]
async fn a_gzip_bomb_is_a_413_and_is_not_inflated_past_the_limit() {
    let limit = 64 * 1024;
    let app = spawn_app_with(|c| c.limits.max_body_bytes = limit).await;
    // 32 MiB of a valid JSON array once inflated; ~32 KiB on the wire.
    let mut inflated = Vec::with_capacity(32 << 20);
    inflated.push(b'[');
    inflated.resize(32 << 20, b' ');
    inflated.push(b']');
    let bomb = gzip(&inflated);
    assert!(bomb.len() < limit, "the bomb itself is under the limit");
    let started = std::time::Instant::now();
    let response = app.post_encoded("/webhooks/pageviews", "gzip", bomb).await;
    assert_eq!(response.status().as_u16(), 413);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "body_too_large", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string()),
        "{error}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // Just under the limit once inflated is fine.
    let batch = json!([pageview("fp", "https://a.example/", "2025-01-01T00:00:00Z")]);
    let mut fits = batch.to_string().into_bytes();
    fits.resize(limit, b' ');
    let response = app
        .post_encoded("/webhooks/pageviews", "gzip", gzip(&fits))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.counts().await, (1, 0));
}

#[tokio::test]
async fn an_unknown_content_encoding_is_a_415_and_a_corrupt_gzip_a_400() {
    let app = spawn_app().await;
    let body = pageview("fp", "https://a.example/", "2025-01-01T00:00:00Z").to_string();
    for coding in ["br", "deflate", "zstd", "gzip, gzip"] {
        let response = app
            .post_encoded("/webhooks/pageviews", coding, body.clone().into_bytes())
            .await;
        assert_eq!(response.status().as_u16(), 415, "{coding}");
        assert_eq!(
            response
                .headers()
                .get("accept-encoding")
                .map(|v| v.as_bytes()),
            Some(&b"gzip"[..])
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "unsupported_encoding", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains(coding),
            "{error}"
        );
    }
    let response = app
        .post_encoded("/webhooks/pageviews", "gzip", body.clone().into_bytes())
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "malformed_body", "{error}");
    let response = app
        .post_encoded("/webhooks/pageviews", "identity", body.into_bytes())
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.counts().await, (1, 0));
}

#[tokio::test]
async fn a_utf8_byte_order_mark_before_the_body_is_accepted() {
    let app = spawn_app().await;
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend(
        pageview("fp", "https://a.example/", "2025-01-01T00:00:00Z")
            .to_string()
            .bytes(),
    );
    let response = app.post_raw("/webhooks/pageviews", body.clone()).await;
    assert_eq!(response.status().as_u16(), 200);
    // And inside gzip, as a file exported with a BOM and compressed would be.
    let event = format!(
        "\u{FEFF}{}",
        json!({ "name": "signup", "fingerprint": "fp", "created_at": "2025-01-01T00:00:00Z" })
    );
    let response = app
        .post_encoded("/webhooks/events", "gzip", gzip(event.as_bytes()))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.counts().await, (1, 1));
}

#[tokio::test]
async fn a_full_default_batch_of_realistic_pageviews_fits_the_default_body_limit() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..10_000).map(realistic_pageview).collect();
    let body = json!(batch).to_string();
    assert!(
        body.len() > 1024 * 1024,
        "{} bytes: over the old 1 MiB",
        body.len()
    );
    assert!(body.len() < DEFAULT_MAX_BODY_BYTES);
    let response = app.post_raw("/webhooks/pageviews", body).await;
    assert_eq!(response.status().as_u16(), 200);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary, json!({ "stored": 10_000, "duplicates": 0 }));
}

#[tokio::test]
async fn a_field_sent_twice_is_a_422_naming_it_and_the_item() {
    let app = spawn_app().await;
    let body = r#"[
        {"fingerprint":"fp","url":"https://a.example/","created_at":"2025-01-01T00:00:00Z"},
        {"fingerprint":"fp","url":"https://a.example/","url":"https://b.example/","created_at":"2025-01-01T00:00:00Z"}
    ]"#;
    let response = app.post_raw("/webhooks/pageviews", body).await;
    let body: Value = {
        assert_eq!(response.status().as_u16(), 422);
        response.json().await.unwrap()
    };
    assert_eq!(body["errors"][0]["index"], 1, "{body}");
    assert_eq!(body["errors"][0]["field"], "url", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("more than once"),
        "{body}"
    );

    let event = r#"{"name":"signup","name":"trial","fingerprint":"fp","created_at":"2025-01-01T00:00:00Z"}"#;
    let response = app.post_raw("/webhooks/events", event).await;
    assert_eq!(refused(response).await, [(None, "name".into())]);
    let spend = r#"{"campaign":"S","source":"g","medium":"cpc","date":"2023-01-20","amount":"1","amount":"100"}"#;
    let response = app.post_raw("/webhooks/spend", spend).await;
    assert_eq!(refused(response).await, [(None, "amount".into())]);

    // A repeated key the service does not read is ignored, like the field.
    let extra = r#"{"name":"signup","fingerprint":"fp","plan":"a","plan":"b","created_at":"2025-01-01T00:00:00Z"}"#;
    let response = app.post_raw("/webhooks/events", extra).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.counts().await, (0, 1));
}
