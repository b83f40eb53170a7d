//! The REST webhook adapter: fixtures, duplicates, every bad-input class.

use serde_json::{json, Value};

use crate::helpers::{fixture, spawn_app, spawn_app_with, PAGEVIEW_FIXTURES};

fn pageview(fingerprint: &str, url: &str, at: &str) -> Value {
    json!({ "fingerprint": fingerprint, "user_id": null, "url": url, "referrer_url": null, "created_at": at })
}

#[tokio::test]
async fn every_fixture_is_stored_through_rest_and_classified_as_the_brief_says() {
    let app = spawn_app().await;
    for path in PAGEVIEW_FIXTURES {
        let response = app
            .post_raw("/webhooks/pageviews", fixture(path).to_string())
            .await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "stored": 1, "duplicates": 0 }), "{path}");
    }
    let response = app
        .post_raw(
            "/webhooks/events",
            fixture("webhooks/event-signup.json").to_string(),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);

    let data = app
        .graphql_ok(
            "{ pageviews { nodes { url source medium campaign content channel landingPage referrerHost createdAt userId } } }",
            json!({}),
        )
        .await;
    let nodes = data["pageviews"]["nodes"].as_array().unwrap();
    let by_url = |needle: &str| {
        nodes
            .iter()
            .find(|n| n["url"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no pageview with {needle}"))
    };
    let ad = by_url("meet-blinkist");
    assert_eq!(ad["source"], "facebook");
    assert_eq!(ad["medium"], "paid");
    assert_eq!(ad["campaign"], "202301_US_NY_Resolutions");
    assert_eq!(ad["content"], "19284192381935");
    assert_eq!(ad["channel"], "PAID_SOCIAL");
    assert_eq!(ad["landingPage"], "/en/landing-pages/meet-blinkist");
    assert_eq!(ad["referrerHost"], "www.facebook.com");
    assert_eq!(ad["createdAt"], "2023-01-20T14:02:21.168080Z");
    let search = by_url("lives-of-the-stoics");
    assert_eq!(
        (&search["source"], &search["medium"], &search["channel"]),
        (
            &json!("google"),
            &json!("organic"),
            &json!("ORGANIC_SEARCH")
        )
    );
    let direct = nodes
        .iter()
        .find(|n| n["url"] == "https://www.blinkist.com/en")
        .unwrap();
    assert_eq!(
        (&direct["source"], &direct["medium"], &direct["channel"]),
        (&json!("(direct)"), &json!("(none)"), &json!("DIRECT"))
    );
    let logged_in = by_url("/en/library");
    assert_eq!(logged_in["userId"], "6666bd053866341d6ad30000");

    let events = app
        .graphql_ok("{ events { nodes { name userId createdAt } } }", json!({}))
        .await;
    assert_eq!(
        events["events"]["nodes"],
        json!([{ "name": "signup", "userId": "6666bd053866341d6ad30000", "createdAt": "2023-01-18T12:33:41.127641Z" }])
    );
}

#[tokio::test]
async fn the_original_services_routes_are_aliases() {
    let app = spawn_app().await;
    let response = app
        .post_raw(
            "/pageview",
            fixture("webhooks/pageview-direct.json").to_string(),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let response = app
        .post_raw("/event", fixture("webhooks/event-signup.json").to_string())
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.counts().await, (1, 1));
}

#[tokio::test]
async fn a_redelivered_payload_is_stored_once_and_reported_as_a_duplicate() {
    let app = spawn_app().await;
    let payload = fixture("webhooks/pageview-facebook-ad.json");
    let first: Value = app
        .post_json("/webhooks/pageviews", &payload)
        .await
        .json()
        .await
        .unwrap();
    let second: Value = app
        .post_json("/webhooks/pageviews", &payload)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first, json!({ "stored": 1, "duplicates": 0 }));
    assert_eq!(second, json!({ "stored": 0, "duplicates": 1 }));

    // A batch that repeats itself and an already stored payload.
    let other = pageview(
        "fp-2",
        "https://www.blinkist.com/x",
        "2023-01-21 10:00:00 UTC",
    );
    let batch = json!([payload, other, other]);
    let third: Value = app
        .post_json("/webhooks/pageviews", &batch)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(third, json!({ "stored": 1, "duplicates": 2 }));
    assert_eq!(app.counts().await, (2, 0));
}

#[tokio::test]
async fn empty_and_null_optional_fields_are_the_same_payload() {
    let app = spawn_app().await;
    let mut with_empty = fixture("webhooks/pageview-direct.json");
    with_empty["user_id"] = json!("");
    with_empty["referrer_url"] = json!("");
    app.post_json(
        "/webhooks/pageviews",
        &fixture("webhooks/pageview-direct.json"),
    )
    .await;
    let body: Value = app
        .post_json("/webhooks/pageviews", &with_empty)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "stored": 0, "duplicates": 1 }));
}

#[tokio::test]
async fn concurrent_deliveries_of_one_payload_store_it_once() {
    let app = spawn_app().await;
    let payload = fixture("webhooks/event-signup.json");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (client, url, payload) = (
                app.client.clone(),
                format!("{}/webhooks/events", app.address),
                payload.clone(),
            );
            tokio::spawn(async move {
                let response = client.post(url).json(&payload).send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
                response.json::<Value>().await.unwrap()
            })
        })
        .collect();
    let (mut stored, mut duplicates) = (0, 0);
    for task in tasks {
        let body = task.await.unwrap();
        stored += body["stored"].as_u64().unwrap();
        duplicates += body["duplicates"].as_u64().unwrap();
    }
    assert_eq!((stored, duplicates), (1, 15));
    assert_eq!(app.counts().await, (0, 1));
}

#[tokio::test]
async fn a_missing_or_odd_content_type_is_tolerated() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/webhooks/events", app.address))
        .header("content-type", "text/plain; charset=latin1")
        .body(fixture("webhooks/event-signup.json").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let mut payload = fixture("webhooks/event-signup.json");
    payload["plan"] = json!("annual");
    payload["properties"] = json!({ "nested": [1, 2] });
    let response = app.post_json("/webhooks/events", &payload).await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn malformed_json_is_a_400_with_a_json_message_and_stores_nothing() {
    let app = spawn_app().await;
    for body in ["{", "not json", "[{\"fingerprint\": }]", "42"] {
        let response = app.post_raw("/webhooks/pageviews", body).await;
        assert_eq!(response.status().as_u16(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "malformed_json", "{body}");
        assert!(error["message"].as_str().unwrap().len() > 10);
    }
    assert_eq!(app.counts().await, (0, 0));
}

/// Each invalid field class: (field, a bad value, words the message must contain).
fn invalid_pageviews() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("fingerprint", json!(""), "empty"),
        ("fingerprint", json!("x".repeat(257)), "at most 256"),
        ("fingerprint", json!(null), "required"),
        ("url", json!("/relative/path"), "absolute URL"),
        ("url", json!("ftp://example.com/file"), "http(s)"),
        (
            "url",
            json!(format!("https://example.com/{}", "a".repeat(8200))),
            "at most 8192",
        ),
        ("url", json!(17), "must be a string"),
        ("referrer_url", json!("javascript:alert(1)"), "http(s)"),
        ("created_at", json!("yesterday"), "not a timestamp"),
        (
            "created_at",
            json!("2023-13-45 99:00:00 UTC"),
            "not a timestamp",
        ),
        ("created_at", json!(null), "required"),
        ("user_id", json!("u".repeat(300)), "at most 256"),
        ("user_id", json!(true), "must be a string"),
    ]
}

#[tokio::test]
async fn every_invalid_field_is_a_422_naming_the_field_and_stores_nothing() {
    let app = spawn_app().await;
    for (field, value, words) in invalid_pageviews() {
        let mut payload = fixture("webhooks/pageview-google-search.json");
        payload[field] = value;
        let response = app.post_json("/webhooks/pageviews", &payload).await;
        assert_eq!(response.status().as_u16(), 422, "{field}: {payload}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_payload");
        assert_eq!(error["errors"][0]["field"], field, "{error}");
        assert!(
            error["errors"][0].get("index").is_none(),
            "a single payload has no index"
        );
        let message = error["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(words),
            "{field}: '{message}' lacks '{words}'"
        );
    }
    for (field, value) in [
        ("name", json!("")),
        ("name", json!(null)),
        ("fingerprint", json!(3.5)),
    ] {
        let mut payload = fixture("webhooks/event-signup.json");
        payload[field] = value;
        let response = app.post_json("/webhooks/events", &payload).await;
        assert_eq!(response.status().as_u16(), 422, "{field}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["errors"][0]["field"], field);
    }
    assert_eq!(app.counts().await, (0, 0));
}

#[tokio::test]
async fn a_batch_with_one_bad_item_is_rejected_whole_naming_the_item() {
    let app = spawn_app().await;
    let mut bad = fixture("webhooks/pageview-direct.json");
    bad["url"] = json!("not a url");
    let batch = json!([
        fixture("webhooks/pageview-google-search.json"),
        fixture("webhooks/pageview-facebook-ad.json"),
        bad,
    ]);
    let response = app.post_json("/webhooks/pageviews", &batch).await;
    assert_eq!(response.status().as_u16(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error["errors"],
        json!([{ "index": 2, "field": "url", "message": error["errors"][0]["message"] }])
    );
    assert!(error["message"]
        .as_str()
        .unwrap()
        .starts_with("item 2: `url`"));
    assert_eq!(app.counts().await, (0, 0));

    let not_an_object = json!([fixture("webhooks/pageview-direct.json"), "oops"]);
    let response = app.post_json("/webhooks/pageviews", &not_an_object).await;
    assert_eq!(response.status().as_u16(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["errors"][0]["index"], 1);
    assert_eq!(app.counts().await, (0, 0));
}

#[tokio::test]
async fn a_valid_batch_is_stored_in_one_go() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..1200)
        .map(|i| {
            pageview(
                &format!("fp-{}", i % 50),
                &format!("https://www.blinkist.com/p/{i}"),
                &format!("2023-02-01T10:{:02}:{:02}Z", (i / 60) % 60, i % 60),
            )
        })
        .collect();
    let response = app.post_json("/webhooks/pageviews", &json!(batch)).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "stored": 1200, "duplicates": 0 }));
    assert_eq!(app.counts().await, (1200, 0));
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_with_a_json_message() {
    let app = spawn_app_with(|c| c.limits.max_body_bytes = 1024 * 1024).await;
    let big = format!(
        "[{}]",
        vec![fixture("webhooks/pageview-facebook-ad.json").to_string(); 4000].join(",")
    );
    assert!(big.len() > 1024 * 1024);
    let response = app.post_raw("/webhooks/pageviews", big).await;
    assert_eq!(response.status().as_u16(), 413);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "body_too_large");
    assert!(error["message"].as_str().unwrap().contains("1048576"));
    assert_eq!(app.counts().await, (0, 0));
}

#[tokio::test]
async fn a_batch_over_the_configured_size_is_refused_whole() {
    let app = spawn_app_with(|c| c.limits.max_batch_size = 3).await;
    let batch: Vec<Value> = (0..4)
        .map(|i| {
            pageview(
                "fp",
                &format!("https://a.example/{i}"),
                "2023-01-01 00:00:00 UTC",
            )
        })
        .collect();
    let response = app.post_json("/webhooks/pageviews", &json!(batch)).await;
    assert_eq!(response.status().as_u16(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "batch_too_large");
    assert!(error["message"].as_str().unwrap().contains("at most 3"));
    assert_eq!(app.counts().await, (0, 0));
}

#[tokio::test]
async fn event_names_are_case_normalised_and_any_name_is_accepted() {
    let app = spawn_app().await;
    let batch = json!([
        { "name": "SignUp", "fingerprint": "f1", "user_id": "u1", "created_at": "2023-01-18 12:33:41.127641 UTC" },
        { "name": "plan_upgraded", "fingerprint": "f1", "user_id": "u1", "created_at": "2023-01-19T12:00:00+02:00" },
    ]);
    let response = app.post_json("/webhooks/events", &batch).await;
    assert_eq!(response.status().as_u16(), 200);
    let data = app
        .graphql_ok("{ events { nodes { name createdAt } } }", json!({}))
        .await;
    assert_eq!(
        data["events"]["nodes"],
        json!([
            { "name": "signup", "createdAt": "2023-01-18T12:33:41.127641Z" },
            { "name": "plan_upgraded", "createdAt": "2023-01-19T10:00:00.000000Z" },
        ])
    );
}
