//! Keys, scopes, signed webhooks, CORS and rate limits, through real HTTP.

use std::process::Stdio;
use std::time::Duration;

use growth_analytics::auth::signature::sign;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{
    client_with_key, fixture, spawn_app, spawn_app_with, TestApp, TEST_ADMIN_KEY,
};

const PAGEVIEW: &str = "webhooks/pageview-facebook-ad.json";

fn pageview(i: usize) -> Value {
    let mut pv = fixture(PAGEVIEW);
    pv["fingerprint"] = json!(format!("auth-test-{i}"));
    pv
}

fn spend() -> Value {
    json!({ "campaign": "Spring", "source": "google", "medium": "cpc", "date": "2023-01-20", "amount": "12.50", "currency": "EUR" })
}

async fn post(client: &Client, url: String, body: &Value) -> Response {
    client.post(url).json(body).send().await.unwrap()
}

async fn gql(client: &Client, app: &TestApp, query: &str) -> (StatusCode, Value) {
    let r = post(client, app.url("/graphql"), &json!({ "query": query })).await;
    let status = r.status();
    (status, r.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

/// What each scope may reach: every route and kind of GraphQL operation.
#[tokio::test]
async fn each_scope_reaches_exactly_its_routes_and_operations() {
    let app = spawn_app().await;
    let ingest = client_with_key(&app.create_key("sender", "INGEST").await);
    let read = client_with_key(&app.create_key("dashboard", "READ").await);
    let admin = client_with_key(TEST_ADMIN_KEY);

    let webhook_routes = [
        ("/webhooks/pageviews", pageview(1)),
        ("/pageview", pageview(2)),
        (
            "/webhooks/events",
            json!({ "fingerprint": "auth-test-1", "name": "signup", "created_at": "2023-01-20 14:05:00 UTC" }),
        ),
        (
            "/event",
            json!({ "fingerprint": "auth-test-2", "name": "trial", "created_at": "2023-01-20 14:05:00 UTC" }),
        ),
        ("/webhooks/spend", spend()),
    ];
    for (path, body) in &webhook_routes {
        for (who, client, allowed) in [
            ("ingest", &ingest, true),
            ("admin", &admin, true),
            ("read", &read, false),
        ] {
            let r = post(client, app.url(path), body).await;
            if allowed {
                assert_eq!(r.status(), 200, "{who} on {path}");
            } else {
                assert_eq!(r.status(), 403, "{who} on {path}");
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error"], "forbidden");
                assert_eq!(body["scope"], "ingest", "the error names the scope: {body}");
            }
        }
    }

    let operations = [
        ("{ pageviews { totalCount } }", [false, true, true]),
        (
            "{ channels(range: {lastDays: 7}) { totalCount } }",
            [false, true, true],
        ),
        (
            r#"mutation { recordEvent(input: {fingerprint: "auth-test-3", name: "signup", createdAt: "2023-01-20T14:05:00Z"}) { id } }"#,
            [true, false, true],
        ),
        ("{ auditLog { entries { action } } }", [false, false, true]),
        ("{ apiKeys { name } }", [false, false, true]),
        (
            r#"mutation { revokeApiKey(name: "nobody") }"#,
            [false, false, true],
        ),
        (
            r#"mutation { eraseUser(id: "nobody") { events } }"#,
            [false, false, true],
        ),
        (
            "{ __typename __schema { queryType { name } } }",
            [true, true, true],
        ),
    ];
    for (query, allowed) in operations {
        for ((who, client), allowed) in [("ingest", &ingest), ("read", &read), ("admin", &admin)]
            .into_iter()
            .zip(allowed)
        {
            let (status, body) = gql(client, &app, query).await;
            if allowed {
                assert_eq!(status, 200, "{who}: {query}: {body}");
                assert_ne!(code(&body), "FORBIDDEN", "{who}: {query}: {body}");
            } else {
                assert_eq!(status, 403, "{who}: {query}: {body}");
                assert_eq!(code(&body), "FORBIDDEN", "{body}");
                assert!(
                    body["errors"][0]["extensions"]["scope"].is_string(),
                    "{body}"
                );
                assert!(body.get("data").is_none(), "nothing executed: {body}");
            }
        }
    }

    for (who, client, status) in [
        ("admin", &admin, 200),
        ("read", &read, 403),
        ("ingest", &ingest, 403),
    ] {
        let r = client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), status, "{who} on /metrics");
    }
    let anonymous = Client::new();
    for open in ["/healthz", "/readyz"] {
        assert_eq!(
            anonymous.get(app.url(open)).send().await.unwrap().status(),
            200,
            "{open}"
        );
    }
    let page = anonymous
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "GraphiQL's page loads without a key");
}

#[tokio::test]
async fn a_request_that_needs_a_scope_the_key_lacks_runs_no_part_of_it() {
    let app = spawn_app().await;
    let ingest = client_with_key(&app.create_key("sender", "INGEST").await);
    let query = r#"mutation {
        recordEvent(input: {fingerprint: "half", name: "signup", createdAt: "2023-01-20T14:05:00Z"}) { id }
        ...Admin
    }
    fragment Admin on Mutation { createApiKey(name: "sneaky", scopes: [ADMIN]) { secret } }"#;
    let (status, body) = gql(&ingest, &app, query).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["scope"], "admin");
    assert_eq!(
        app.counts().await,
        (0, 0),
        "the record mutation did not run either"
    );
    let keys = app.graphql_ok("{ apiKeys { name } }", json!({})).await;
    assert!(!keys.to_string().contains("sneaky"));
}

#[tokio::test]
async fn no_key_or_an_unknown_key_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let anonymous = Client::new();
    let bad = client_with_key("ga_not_a_key_of_this_service_at_all_000000000");
    for client in [&anonymous, &bad] {
        let r = post(client, app.url("/webhooks/pageviews"), &pageview(1)).await;
        assert_eq!(r.status(), 401);
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "unauthenticated", "{body}");

        let r = post(
            client,
            app.url("/graphql"),
            &json!({ "query": "{ pageviews { totalCount } }" }),
        )
        .await;
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");

        let r = client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(app.counts().await, (0, 0));
}

#[tokio::test]
async fn a_revoked_key_fails_from_the_next_request_on_every_process() {
    let first = spawn_app().await;
    let url = first.database_url.clone();
    let second = spawn_app_with(move |c| c.database.database_url = url).await;
    let key = first.create_key("rotating", "READ").await;
    let client = client_with_key(&key);
    for app in [&first, &second] {
        assert_eq!(
            gql(&client, app, "{ pageviews { totalCount } }").await.0,
            200
        );
    }
    first
        .graphql_ok(r#"mutation { revokeApiKey(name: "rotating") }"#, json!({}))
        .await;
    for app in [&first, &second] {
        let (status, body) = gql(&client, app, "{ pageviews { totalCount } }").await;
        assert_eq!(status, 401, "{body}");
    }
    let keys = second
        .graphql_ok("{ apiKeys { name revokedAt } }", json!({}))
        .await;
    let rotating = keys["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "rotating")
        .unwrap();
    assert!(rotating["revokedAt"].is_string());
}

#[tokio::test]
async fn the_key_may_ride_in_the_query_string_on_webhook_routes_only() {
    let app = spawn_app().await;
    let key = app.create_key("pixel", "INGEST").await;
    let anonymous = Client::new();
    let r = post(
        &anonymous,
        app.url(&format!("/webhooks/pageviews?key={key}")),
        &pageview(1),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &anonymous,
        app.url(&format!("/graphql?key={key}")),
        &json!({ "query": "{ __typename }" }),
    )
    .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn metrics_take_the_metrics_token_too() {
    let token = "scrape-token-0123456789abcdefghijklmnop";
    let app = spawn_app_with(|c| c.auth.metrics_token = Some(token.into())).await;
    let r = client_with_key(token)
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("growth_analytics"));
    let (status, _) = gql(
        &client_with_key(token),
        &app,
        "{ pageviews { totalCount } }",
    )
    .await;
    assert_eq!(status, 401, "the token is good for /metrics only");
}

/// A signed request, as a Standard Webhooks sender makes it.
async fn send_signed(
    app: &TestApp,
    client: &Client,
    path: &str,
    body: &Value,
    secret: &str,
    id: &str,
    timestamp: i64,
) -> Response {
    let bytes = serde_json::to_vec(body).unwrap();
    client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            sign(secret, id, timestamp, &bytes).unwrap(),
        )
        .body(bytes)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_with_a_signing_secret_takes_only_fresh_correctly_signed_requests_once() {
    let app = spawn_app().await;
    let created = app
        .graphql_ok(
            r#"mutation { createApiKey(name: "signed", scopes: [INGEST], signingSecret: true) { secret signingSecret } }"#,
            json!({}),
        )
        .await;
    let key = created["createApiKey"]["secret"].as_str().unwrap();
    let secret = created["createApiKey"]["signingSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("whsec_"));
    let client = client_with_key(key);
    let now = chrono::Utc::now().timestamp();
    let batch = json!([pageview(1), pageview(2)]);

    let unsigned = post(&client, app.url("/webhooks/pageviews"), &batch).await;
    assert_eq!(unsigned.status(), 401);
    let body: Value = unsigned.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("webhook-id"),
        "{body}"
    );

    let other = growth_analytics::auth::secret::new_signing_secret().unwrap();
    let wrong = send_signed(
        &app,
        &client,
        "/webhooks/pageviews",
        &batch,
        &other,
        "msg_1",
        now,
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let stale = send_signed(
        &app,
        &client,
        "/webhooks/pageviews",
        &batch,
        &secret,
        "msg_1",
        now - 301,
    )
    .await;
    assert_eq!(stale.status(), 401);
    let body: Value = stale.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("tolerance"),
        "{body}"
    );
    assert_eq!(app.counts().await, (0, 0), "refusals store nothing");

    let ok = send_signed(
        &app,
        &client,
        "/webhooks/pageviews",
        &batch,
        &secret,
        "msg_1",
        now,
    )
    .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({ "stored": 2, "duplicates": 0 })
    );
    let replay = send_signed(
        &app,
        &client,
        "/webhooks/pageviews",
        &batch,
        &secret,
        "msg_1",
        now,
    )
    .await;
    assert_eq!(replay.status(), 200);
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        json!({ "stored": 0, "duplicates": 2 })
    );

    // Spend replaces amounts, so a replay is where the id matters most.
    let ok = send_signed(
        &app,
        &client,
        "/webhooks/spend",
        &spend(),
        &secret,
        "msg_2",
        now,
    )
    .await;
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({ "stored": 1, "replaced": 0 })
    );
    let replay = send_signed(
        &app,
        &client,
        "/webhooks/spend",
        &spend(),
        &secret,
        "msg_2",
        now,
    )
    .await;
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        json!({ "stored": 0, "replaced": 0, "duplicates": 1 })
    );
    assert_eq!(app.counts().await, (2, 0));

    // The key's GraphQL requests must be signed too.
    let mutation = json!({ "query": r#"mutation { recordEvent(input: {fingerprint: "auth-test-1", name: "signup", createdAt: "2023-01-20T14:05:00Z"}) { id } }"# });
    let (status, body) = gql(&client, &app, mutation["query"].as_str().unwrap()).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(code(&body), "UNAUTHENTICATED");
    let signed = send_signed(&app, &client, "/graphql", &mutation, &secret, "msg_3", now).await;
    assert_eq!(signed.status(), 200);
    let body: Value = signed.json().await.unwrap();
    assert!(body["data"]["recordEvent"]["id"].is_string(), "{body}");
    assert_eq!(app.counts().await, (2, 1));
    let replay = send_signed(&app, &client, "/graphql", &mutation, &secret, "msg_3", now).await;
    assert_eq!(
        replay.status(),
        409,
        "a replayed signed GraphQL request runs nothing"
    );
    let body: Value = replay.json().await.unwrap();
    assert_eq!(code(&body), "DUPLICATE_DELIVERY");
}

#[tokio::test]
async fn signing_secrets_rotate_old_and_new_both_valid_until_the_old_is_removed() {
    let app = spawn_app().await;
    let created = app
        .graphql_ok(
            r#"mutation { createApiKey(name: "rot", scopes: [INGEST], signingSecret: true) { secret signingSecret } }"#,
            json!({}),
        )
        .await;
    let client = client_with_key(created["createApiKey"]["secret"].as_str().unwrap());
    let old = created["createApiKey"]["signingSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let new = app
        .graphql_ok(r#"mutation { addSigningSecret(name: "rot") }"#, json!({}))
        .await["addSigningSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    for (i, secret) in [&old, &new].into_iter().enumerate() {
        let r = send_signed(
            &app,
            &client,
            "/webhooks/pageviews",
            &pageview(i),
            secret,
            &format!("m{i}"),
            now,
        )
        .await;
        assert_eq!(r.status(), 200, "secret {i}");
    }
    app.graphql_ok(
        "mutation($s: String!) { removeSigningSecret(name: \"rot\", secret: $s) }",
        json!({ "s": old }),
    )
    .await;
    let r = send_signed(
        &app,
        &client,
        "/webhooks/pageviews",
        &pageview(5),
        &old,
        "m5",
        now,
    )
    .await;
    assert_eq!(r.status(), 401, "the removed secret no longer signs");
    let r = send_signed(
        &app,
        &client,
        "/webhooks/pageviews",
        &pageview(6),
        &new,
        "m6",
        now,
    )
    .await;
    assert_eq!(r.status(), 200);
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> Response {
    Client::new()
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, webhook-signature",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_preflights_are_answered_for_listed_origins_only() {
    let allowed = "https://dash.example.com";
    let app = spawn_app_with(|c| c.auth.cors_origins = vec![allowed.into()]).await;
    for path in ["/graphql", "/webhooks/pageviews"] {
        let r = preflight(&app, path, allowed).await;
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], allowed, "{path}");
        let headers = h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for needed in ["authorization", "content-type", "webhook-signature"] {
            assert!(headers.contains(needed), "{path}: {headers}");
        }
        assert!(h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"));
        assert!(!h.contains_key("access-control-allow-credentials"));
    }
    let r = preflight(&app, "/graphql", "https://evil.example.net").await;
    assert!(
        !r.headers().contains_key("access-control-allow-origin"),
        "an unlisted origin gets no CORS"
    );
    let r = preflight(&app, "/metrics", allowed).await;
    assert!(
        !r.headers().contains_key("access-control-allow-origin"),
        "other paths get no CORS"
    );

    let r = app
        .client
        .post(app.url("/graphql"))
        .header("origin", allowed)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], allowed);

    let closed = spawn_app().await;
    let r = preflight(&closed, "/graphql", allowed).await;
    assert!(
        !r.headers().contains_key("access-control-allow-origin"),
        "no CORS_ORIGINS, no CORS"
    );
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after_and_nothing_is_stored() {
    let app = spawn_app_with(|c| {
        c.auth.ingest_rate_limit_rps = 1;
        c.auth.ingest_rate_limit_burst = 2;
        c.auth.rate_limit_rps = 1;
        c.auth.rate_limit_burst = 2;
    })
    .await;
    let ingest = client_with_key(&app.create_key("sender", "INGEST").await);
    let mut statuses = Vec::new();
    for i in 0..4 {
        let r = post(&ingest, app.url("/webhooks/pageviews"), &pageview(i)).await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&retry), "{retry}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "rate_limited");
        }
    }
    assert_eq!(statuses[..2], [200, 200]);
    assert!(statuses[2..].iter().all(|s| *s == 429), "{statuses:?}");

    let read = client_with_key(&app.create_key("dashboard", "READ").await);
    let mut limited = None;
    for _ in 0..4 {
        let (status, body) = gql(&read, &app, "{ pageviews { totalCount } }").await;
        if status == 429 {
            limited = Some(body);
        }
    }
    let body = limited.expect("the read key was limited too");
    assert_eq!(code(&body), "RATE_LIMITED");
    // The admin key that created the keys has its own bucket.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (pageviews, _) = app.counts().await;
    assert_eq!(pageviews, 2, "the refused webhooks stored nothing");
}

#[tokio::test]
async fn a_flood_of_bad_keys_from_one_address_is_refused_before_any_database_work() {
    let token = "scrape-token-0123456789abcdefghijklmnop";
    let app = spawn_app_with(|c| {
        c.auth.unauthenticated_rate_limit_rps = 1;
        c.auth.unauthenticated_rate_limit_burst = 3;
        c.auth.metrics_token = Some(token.into());
    })
    .await;
    let scraper = client_with_key(token);
    let statements = || async {
        let text = scraper
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("growth_analytics_sql_statements_total"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<u64>().ok())
            .expect("the statements counter")
    };
    let bad = client_with_key("ga_guess_0000000000000000000000000000000000000000");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            post(&bad, app.url("/webhooks/pageviews"), &pageview(1))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses[..3], [401, 401, 401], "{statuses:?}");
    assert_eq!(statuses[4], 429, "{statuses:?}");
    let before = statements().await;
    for _ in 0..20 {
        let r = post(&bad, app.url("/webhooks/pageviews"), &pageview(1)).await;
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
    }
    let after = statements().await;
    // A key lookup is one statement each: 20 refusals that looked keys up
    // would add 20. What remains is the scrape's own query and the
    // materialiser's idle polls (five a second) while the loop ran.
    assert!(
        after - before < 10,
        "20 refused requests ran no SQL: {before} → {after}"
    );
}

#[tokio::test]
async fn each_query_reports_its_cost_and_a_key_over_its_budget_waits() {
    let app = spawn_app_with(|c| c.auth.query_cost_per_minute = 2_500).await;
    let read = client_with_key(&app.create_key("dashboard", "READ").await);
    let report = "{ channels(range: {lastDays: 7}) { totalCount } }";
    let (status, first) = gql(&read, &app, report).await;
    assert_eq!(status, 200);
    let requested = first["extensions"]["cost"]["requested"].as_u64().unwrap();
    assert!(
        requested >= 1000,
        "a report costs at least REPORT_COMPLEXITY: {first}"
    );
    assert_eq!(
        first["extensions"]["cost"]["remaining"].as_u64().unwrap(),
        2_500 - requested
    );
    let (_, second) = gql(&read, &app, report).await;
    // The bucket leaks back continuously (a minute's budget per minute),
    // so between the two queries a few units may have returned.
    let remaining = second["extensions"]["cost"]["remaining"].as_u64().unwrap();
    assert!(
        (2_500 - 2 * requested..2_500 - requested).contains(&remaining),
        "{remaining} left after two queries of {requested}"
    );
    let r = post(&read, app.url("/graphql"), &json!({ "query": report })).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "RATE_LIMITED");
    assert!(body.get("data").is_none());
    // Another key has a budget of its own.
    let (status, _) = gql(&app.client, &app, report).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_audit_log_names_the_acting_key_and_pages_newest_first() {
    let app = spawn_app().await;
    app.create_key("one", "READ").await;
    app.create_key("two", "INGEST").await;
    app.graphql_ok(r#"mutation { revokeApiKey(name: "one") }"#, json!({}))
        .await;
    let page = app
        .graphql_ok(
            "{ auditLog(first: 2) { entries { at actor action subject } endCursor hasNextPage } }",
            json!({}),
        )
        .await;
    let log = &page["auditLog"];
    assert_eq!(log["entries"][0]["action"], "key.revoke");
    assert_eq!(log["entries"][0]["subject"], "one");
    assert_eq!(
        log["entries"][0]["actor"], "admin",
        "the bootstrap key's name"
    );
    assert_eq!(log["entries"][1]["action"], "key.create");
    assert_eq!(log["hasNextPage"], true);
    let next = app
        .graphql_ok(
            "query($a: String) { auditLog(first: 10, after: $a) { entries { actor action subject } hasNextPage } }",
            json!({ "a": log["endCursor"] }),
        )
        .await;
    let rest = next["auditLog"]["entries"].as_array().unwrap();
    assert_eq!(rest[0]["subject"], "one (read)");
    assert_eq!(rest.last().unwrap()["actor"], "bootstrap");
    assert_eq!(next["auditLog"]["hasNextPage"], false);
    assert!(
        !page.to_string().contains("ga_") && !next.to_string().contains("ga_"),
        "no secret is logged"
    );

    app.graphql_ok(
        r#"mutation { eraseUser(id: "user-to-forget") { events } }"#,
        json!({}),
    )
    .await;
    let log = app
        .graphql_ok(
            "{ auditLog(first: 1) { entries { actor action subject } } }",
            json!({}),
        )
        .await;
    let entry = &log["auditLog"]["entries"][0];
    assert_eq!(entry["action"], "user.erase");
    assert_eq!(entry["actor"], "admin");
    let subject = entry["subject"].as_str().unwrap();
    assert!(subject.starts_with("user sha256:"), "{subject}");
    assert!(
        !subject.contains("user-to-forget"),
        "the erased id is not kept: {subject}"
    );
}

#[tokio::test]
async fn auth_disabled_is_refused_off_loopback_and_serves_without_a_key_on_it() {
    let config = growth_analytics::config::ServeConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        auth: growth_analytics::config::AuthConfig {
            auth_disabled: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let refused = growth_analytics::startup::Application::build(config).await;
    let error = format!("{:#}", refused.err().expect("refused off loopback"));
    assert!(error.contains("AUTH_DISABLED"), "{error}");

    let app = spawn_app_with(|c| c.auth.auth_disabled = true).await;
    let (status, body) = gql(&Client::new(), &app, "{ pageviews { totalCount } }").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn pageview_urls_keep_only_campaign_parameters_when_asked() {
    let app = spawn_app_with(|c| c.attribution.strip_query_params = true).await;
    let mut pv = pageview(1);
    pv["url"] = json!("https://www.blinkist.com/en/?utm_source=newsletter&email=jane%40example.com&gclid=abc&token=s3cret#access_token=x");
    pv["referrer_url"] = json!("https://mail.example.com/read?msg=42&utm_medium=email");
    assert_eq!(
        app.post_json("/webhooks/pageviews", &pv).await.status(),
        200
    );
    let data = app
        .graphql_ok(
            "{ pageviews { nodes { url referrerUrl source clickId } } }",
            json!({}),
        )
        .await;
    let node = &data["pageviews"]["nodes"][0];
    assert_eq!(
        node["url"],
        "https://www.blinkist.com/en/?utm_source=newsletter&gclid=abc"
    );
    assert_eq!(
        node["referrerUrl"],
        "https://mail.example.com/read?utm_medium=email"
    );
    assert_eq!(
        node["clickId"], "gclid",
        "classification still sees the click id"
    );
}

/// The README's first command, as a newcomer runs it: the printed link
/// carries a working admin key.
#[tokio::test]
async fn the_first_start_prints_an_admin_key_that_works_and_a_restart_prints_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("first.db").display());
    let start = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_growth-analytics"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &db])
            .env_remove("BOOTSTRAP_ADMIN_KEY")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts")
    };
    let read_banner = |mut child: tokio::process::Child| async move {
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut banner = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let done = line.contains("webhooks:");
                banner.push(line);
                if done {
                    break;
                }
            }
        })
        .await
        .expect("the banner within a minute");
        (child, banner.join("\n"))
    };
    let (child, banner) = read_banner(start()).await;
    let link = banner
        .split_whitespace()
        .find(|w| w.contains("/graphql#key="))
        .unwrap_or_else(|| panic!("no key link in:\n{banner}"))
        .to_owned();
    let (base, key) = link.split_once("/graphql#key=").unwrap();
    assert!(key.starts_with("ga_"), "{key}");
    let r = client_with_key(key)
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "{ apiKeys { name scopes } }" }))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["data"]["apiKeys"],
        json!([{ "name": "admin", "scopes": ["ADMIN"] }])
    );
    drop(child);

    let (_child, banner) = read_banner(start()).await;
    assert!(!banner.contains("ga_"), "a restart shows no key:\n{banner}");
}

#[tokio::test]
async fn the_keys_command_creates_lists_and_revokes_without_showing_secrets_twice() {
    let app = spawn_app().await;
    // Awaited, not blocking: the app runs on this test's runtime, and a
    // blocked runtime would hold whatever SQLite lock its materialiser had
    // taken while the command waits for it.
    let run = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let database_url = app.database_url.clone();
        async move {
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_growth-analytics"))
                .arg("keys")
                .args(&args)
                .env("DATABASE_URL", &database_url)
                .env("RUST_LOG", "warn")
                .output()
                .await
                .expect("the binary runs");
            assert!(
                output.status.success(),
                "keys {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        }
    };
    let out = run(&[
        "create",
        "--name",
        "cli-sender",
        "--scope",
        "ingest",
        "--signing-secret",
    ])
    .await;
    let mut lines = out.lines();
    let key = lines.next().unwrap().to_owned();
    let secret = lines.next().unwrap().to_owned();
    assert!(
        key.starts_with("ga_") && secret.starts_with("whsec_"),
        "{out}"
    );
    let r = post(
        &client_with_key(&key),
        app.url("/webhooks/pageviews"),
        &pageview(1),
    )
    .await;
    assert_eq!(r.status(), 401, "the key needs signed requests");
    let now = chrono::Utc::now().timestamp();
    let r = send_signed(
        &app,
        &client_with_key(&key),
        "/webhooks/pageviews",
        &pageview(1),
        &secret,
        "c1",
        now,
    )
    .await;
    assert_eq!(r.status(), 200);

    let listed = run(&["list"]).await;
    assert!(
        listed.contains("cli-sender") && listed.contains("ingest"),
        "{listed}"
    );
    assert!(!listed.contains(&key) && !listed.contains(&secret));

    run(&["revoke", "cli-sender"]).await;
    let r = post(
        &client_with_key(&key),
        app.url("/webhooks/pageviews"),
        &pageview(2),
    )
    .await;
    assert_eq!(r.status(), 401);
    let log = app
        .graphql_ok(
            "{ auditLog { entries { actor action subject } } }",
            json!({}),
        )
        .await;
    let actors: Vec<&str> = log["auditLog"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["actor"].as_str())
        .collect();
    assert!(actors.iter().any(|a| a.starts_with("cli")), "{log}");
}
