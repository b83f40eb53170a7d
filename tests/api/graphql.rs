//! The GraphQL surface: mutations share the REST path, reads paginate and
//! filter, errors carry codes, limits hold, GraphiQL is served.

use serde_json::{json, Value};

use crate::helpers::{error_code, fixture, spawn_app, spawn_app_with, PAGEVIEW_FIXTURES};

const RECORD_PAGEVIEW: &str = r#"
mutation($input: PageviewInput!) {
  recordPageview(input: $input) {
    id fingerprint userId url referrerUrl referrerHost createdAt
    landingPage source medium campaign content term channel rule
  }
}"#;

/// A webhook fixture as a GraphQL input (camelCase).
fn as_input(payload: &Value) -> Value {
    json!({
        "fingerprint": payload["fingerprint"],
        "userId": payload["user_id"],
        "url": payload["url"],
        "referrerUrl": payload["referrer_url"],
        "createdAt": payload["created_at"],
    })
}

#[tokio::test]
async fn every_fixture_is_stored_through_graphql_with_its_classification() {
    let app = spawn_app().await;
    let mut recorded = Vec::new();
    for path in PAGEVIEW_FIXTURES {
        let data = app
            .graphql_ok(
                RECORD_PAGEVIEW,
                json!({ "input": as_input(&fixture(path)) }),
            )
            .await;
        recorded.push(data["recordPageview"].clone());
    }
    let ad = &recorded[2];
    assert_eq!(ad["source"], "facebook");
    assert_eq!(ad["medium"], "paid");
    assert_eq!(ad["campaign"], "202301_US_NY_Resolutions");
    assert_eq!(ad["channel"], "PAID_SOCIAL");
    assert_eq!(ad["rule"], "utm_medium 'paid' on social source 'facebook'");
    assert_eq!(ad["landingPage"], "/en/landing-pages/meet-blinkist");
    assert_eq!(ad["createdAt"], "2023-01-20T14:02:21.168080Z");
    assert_eq!(recorded[1]["channel"], "ORGANIC_SEARCH");
    assert_eq!(recorded[0]["channel"], "DIRECT");
    assert_eq!(recorded[3]["userId"], "6666bd053866341d6ad30000");

    let signup = fixture("webhooks/event-signup.json");
    let data = app
        .graphql_ok(
            "mutation($i: EventInput!) { recordEvent(input: $i) { id name fingerprint userId createdAt } }",
            json!({ "i": {
                "name": "SIGNUP",
                "fingerprint": signup["fingerprint"],
                "userId": signup["user_id"],
                "createdAt": signup["created_at"],
            }}),
        )
        .await;
    assert_eq!(data["recordEvent"]["name"], "signup");
    assert_eq!(
        data["recordEvent"]["createdAt"],
        "2023-01-18T12:33:41.127641Z"
    );
    assert_eq!(app.counts().await, (4, 1));
}

#[tokio::test]
async fn rest_and_graphql_share_one_path_so_a_redelivery_across_them_is_a_duplicate() {
    let app = spawn_app().await;
    let payload = fixture("webhooks/pageview-facebook-ad.json");
    let first = app
        .graphql_ok(RECORD_PAGEVIEW, json!({ "input": as_input(&payload) }))
        .await;
    let rest: Value = app
        .post_json("/webhooks/pageviews", &payload)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest, json!({ "stored": 0, "duplicates": 1 }));
    let again = app
        .graphql_ok(RECORD_PAGEVIEW, json!({ "input": as_input(&payload) }))
        .await;
    assert_eq!(first["recordPageview"]["id"], again["recordPageview"]["id"]);
    assert_eq!(app.counts().await, (1, 0));
}

#[tokio::test]
async fn batch_mutations_report_stored_and_duplicates() {
    let app = spawn_app().await;
    let inputs: Vec<Value> = PAGEVIEW_FIXTURES
        .iter()
        .map(|p| as_input(&fixture(p)))
        .collect();
    let query = "mutation($inputs: [PageviewInput!]!) { recordPageviews(inputs: $inputs) { stored duplicates } }";
    let data = app.graphql_ok(query, json!({ "inputs": inputs })).await;
    assert_eq!(
        data["recordPageviews"],
        json!({ "stored": 4, "duplicates": 0 })
    );
    let data = app.graphql_ok(query, json!({ "inputs": inputs })).await;
    assert_eq!(
        data["recordPageviews"],
        json!({ "stored": 0, "duplicates": 4 })
    );

    let events = json!([
        { "name": "trial", "fingerprint": "f", "userId": "u", "createdAt": "2023-01-01T00:00:00Z" },
        { "name": "signup", "fingerprint": "f", "userId": "", "createdAt": "2023-01-08 00:00:00 UTC" },
    ]);
    let data = app
        .graphql_ok(
            "mutation($e: [EventInput!]!) { recordEvents(inputs: $e) { stored duplicates } }",
            json!({ "e": events }),
        )
        .await;
    assert_eq!(
        data["recordEvents"],
        json!({ "stored": 2, "duplicates": 0 })
    );
}

#[tokio::test]
async fn invalid_graphql_inputs_are_bad_user_input_naming_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let mut input = as_input(&fixture("webhooks/pageview-direct.json"));
    input["referrerUrl"] = json!("mailto:someone@example.com");
    let body = app
        .graphql(RECORD_PAGEVIEW, json!({ "input": input }))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "referrerUrl"
    );
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("referrerUrl"));

    let good = as_input(&fixture("webhooks/pageview-google-search.json"));
    let mut bad = good.clone();
    bad["fingerprint"] = json!("");
    let body = app
        .graphql(
            "mutation($inputs: [PageviewInput!]!) { recordPageviews(inputs: $inputs) { stored } }",
            json!({ "inputs": [good, bad] }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let field = &body["errors"][0]["extensions"]["fields"][0];
    assert_eq!(
        (&field["index"], &field["field"]),
        (&json!(1), &json!("fingerprint"))
    );

    let mut input = as_input(&fixture("webhooks/pageview-direct.json"));
    input["createdAt"] = json!("last tuesday");
    let body = app
        .graphql(RECORD_PAGEVIEW, json!({ "input": input }))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "createdAt"
    );
    assert_eq!(app.counts().await, (0, 0));
}

#[tokio::test]
async fn pageviews_paginate_with_cursors_and_filter_by_visitor_user_and_range() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..25)
        .map(|i| {
            json!({
                "fingerprint": if i % 2 == 0 { "even" } else { "odd" },
                "user_id": if i < 5 { json!("u-early") } else { json!(null) },
                "url": format!("https://www.blinkist.com/page/{i}"),
                "created_at": format!("2023-03-01T00:{i:02}:00Z"),
            })
        })
        .collect();
    app.post_json("/webhooks/pageviews", &json!(batch)).await;

    let query = r#"query($after: String) {
        pageviews(first: 10, after: $after) {
          totalCount
          edges { cursor node { url } }
          pageInfo { hasNextPage hasPreviousPage endCursor }
        }
    }"#;
    let mut after = Value::Null;
    let mut urls = Vec::new();
    loop {
        let data = app.graphql_ok(query, json!({ "after": after })).await;
        let page = &data["pageviews"];
        assert_eq!(page["totalCount"], 25);
        for edge in page["edges"].as_array().unwrap() {
            urls.push(edge["node"]["url"].as_str().unwrap().to_owned());
        }
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> = (0..25)
        .map(|i| format!("https://www.blinkist.com/page/{i}"))
        .collect();
    assert_eq!(urls, expected, "every pageview once, in time order");

    let data = app
        .graphql_ok(
            r#"{ even: pageviews(filter: {fingerprint: "even"}) { totalCount }
                 user: pageviews(filter: {userId: "u-early"}) { totalCount }
                 range: pageviews(filter: {range: {from: "2023-03-01T00:10:00Z", to: "2023-03-01T00:20:00Z"}}) { totalCount nodes { url } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["even"]["totalCount"], 13);
    assert_eq!(data["user"]["totalCount"], 5);
    assert_eq!(
        data["range"]["totalCount"], 10,
        "half-open: 10..19 inclusive"
    );
    assert_eq!(
        data["range"]["nodes"][0]["url"],
        "https://www.blinkist.com/page/10"
    );
}

#[tokio::test]
async fn events_filter_by_name_case_insensitively() {
    let app = spawn_app().await;
    let events = json!([
        { "name": "signup", "fingerprint": "a", "user_id": "1", "created_at": "2023-01-01T00:00:00Z" },
        { "name": "trial", "fingerprint": "b", "user_id": "2", "created_at": "2023-01-02T00:00:00Z" },
        { "name": "unsubscribe", "fingerprint": "a", "user_id": "1", "created_at": "2023-01-03T00:00:00Z" },
    ]);
    app.post_json("/webhooks/events", &events).await;
    let data = app
        .graphql_ok(
            r#"{ s: events(filter: {name: "SignUp"}) { totalCount nodes { userId } }
                 a: events(filter: {fingerprint: "a"}) { totalCount }
                 u: events(filter: {userId: "2"}) { nodes { name } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["s"]["totalCount"], 1);
    assert_eq!(data["a"]["totalCount"], 2);
    assert_eq!(data["u"]["nodes"], json!([{ "name": "trial" }]));
}

#[tokio::test]
async fn classify_answers_for_any_url_pair_without_storing() {
    let app = spawn_app().await;
    let data = app
        .graphql_ok(
            r#"{
              ad: classify(url: "https://www.blinkist.com/en/landing-pages/meet-blinkist?utm_source=facebook&utm_campaign=202301_US_NY_Resolutions&utm_medium=paid", referrerUrl: "https://www.facebook.com/") { source medium campaign channel rule landingPage }
              search: classify(url: "https://www.blinkist.com/en", referrerUrl: "https://www.google.de/") { source medium channel }
              direct: classify(url: "https://www.blinkist.com/en") { source medium channel rule }
              gclid: classify(url: "https://www.blinkist.com/?gclid=abc") { source medium channel clickId }
            }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["ad"],
        json!({ "source": "facebook", "medium": "paid", "campaign": "202301_US_NY_Resolutions", "channel": "PAID_SOCIAL",
                "rule": "utm_medium 'paid' on social source 'facebook'", "landingPage": "/en/landing-pages/meet-blinkist" })
    );
    assert_eq!(
        data["search"],
        json!({ "source": "google", "medium": "organic", "channel": "ORGANIC_SEARCH" })
    );
    assert_eq!(data["direct"]["channel"], "DIRECT");
    assert_eq!(
        data["gclid"],
        json!({ "source": "google", "medium": "cpc", "channel": "PAID_SEARCH", "clickId": "gclid" })
    );
    assert_eq!(app.counts().await, (0, 0));

    let body = app
        .graphql(r#"{ classify(url: "not-a-url") { source } }"#, json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn page_size_and_complexity_limits_come_from_config() {
    let app = spawn_app_with(|c| {
        c.limits.max_page_size = 50;
        c.limits.max_query_complexity = 200;
    })
    .await;
    let body = app
        .graphql("{ pageviews(first: 51) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("at most 50"));

    let body = app
        .graphql(
            "{ pageviews(first: 50) { nodes { id url source medium campaign channel rule createdAt } } }",
            json!({}),
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{body}"
    );
    let body = app
        .graphql("{ pageviews(first: 5) { nodes { id } } }", json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn internal_details_never_reach_a_client_and_unknown_cursors_are_user_errors() {
    let app = spawn_app().await;
    let body = app
        .graphql(
            r#"{ pageviews(after: "DROP TABLE") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("cursor"));
}

#[tokio::test]
async fn graphiql_is_served_to_browsers_and_get_queries_execute_but_never_mutate() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.to_lowercase().contains("graphiql"));

    let get = app
        .get("/graphql?query=%7B%20events%20%7B%20totalCount%20%7D%20%7D")
        .await;
    assert_eq!(get.status().as_u16(), 200);
    let body: Value = get.json().await.unwrap();
    assert_eq!(body["data"]["events"]["totalCount"], 0);

    let mutation = "mutation { recordEvent(input: {name: \"signup\", fingerprint: \"f\", createdAt: \"2023-01-01T00:00:00Z\"}) { id } }";
    let url = format!("{}/graphql", app.address);
    let get = app
        .client
        .get(url)
        .query(&[("query", mutation)])
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(app.counts().await, (0, 0));
}
