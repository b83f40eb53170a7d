//! The browser tracker (`GET /tracker.js`): its headers here, without a
//! browser; its behaviour in headless Chromium through
//! `tests/browser/tracker.mjs`, which serves a shop on another origin and
//! checks what the browser sent and what GraphQL then answers. This file
//! checks the other side of that run: what the service stored, in total,
//! so that nothing from the opted-out pages or the origin outside
//! `CORS_ORIGINS` slipped in.

use reqwest::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use serde_json::{json, Value};

use crate::browser::{run_script, tools_ready};
use crate::helpers::{client_with_key, spawn_app, spawn_app_with, TestApp};

/// The script as it is in the repository: what the service must serve.
const SOURCE: &str = include_str!("../../assets/tracker/tracker.js");

#[tokio::test]
async fn the_tracker_script_is_served_to_anyone_small_cacheable_and_loadable_from_other_origins() {
    let app = spawn_app().await;
    // Visitors of the tracked site have no key, and a wrong one changes nothing.
    for client in [reqwest::Client::new(), client_with_key("ga_not_a_key")] {
        let response = client.get(app.url("/tracker.js")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers[CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(headers[CACHE_CONTROL], "public, max-age=3600");
        assert_eq!(headers["cross-origin-resource-policy"], "cross-origin");
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        let etag = headers[ETAG].to_str().unwrap().to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
            "ETag {etag:?}"
        );
        let body = response.text().await.unwrap();
        assert_eq!(body, SOURCE, "the served script is the repository's");
        assert!(body.len() < 20 * 1024, "{} bytes", body.len());

        let revalidated = client
            .get(app.url("/tracker.js"))
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status().as_u16(), 304);
        assert_eq!(revalidated.headers()[ETAG], etag.as_str());
        assert_eq!(
            revalidated.headers()["cross-origin-resource-policy"],
            "cross-origin"
        );
        assert!(revalidated.text().await.unwrap().is_empty());

        let stale = client
            .get(app.url("/tracker.js"))
            .header(IF_NONE_MATCH, "\"an-older-release\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status().as_u16(), 200);
    }
    let head = reqwest::Client::new()
        .head(app.url("/tracker.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(
        head.headers()[CONTENT_LENGTH].to_str().unwrap(),
        SOURCE.len().to_string()
    );
}

#[tokio::test]
async fn an_ingest_key_with_a_signing_secret_refuses_the_trackers_unsigned_sends() {
    let app = spawn_app().await;
    let created = app
        .graphql_ok(
            r#"mutation { createApiKey(name: "signed-site", scopes: [INGEST], signingSecret: true) { secret } }"#,
            json!({}),
        )
        .await;
    let key = created["createApiKey"]["secret"].as_str().unwrap();
    // The tracker's pageview, as it sends it.
    let pageview = json!({
        "fingerprint": "0b9c6f3e-0d7a-4c1e-9a51-6f0f2a1c9d11",
        "user_id": null,
        "url": "https://shop.example.com/",
        "referrer_url": null,
        "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let response = client_with_key(key)
        .post(app.url("/webhooks/pageviews"))
        .json(&pageview)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "bad_signature", "{body}");
    assert_eq!(app.counts().await, (0, 0));

    // The same send with a key without a secret is what the tracker relies on.
    let plain = app.create_key("site", "INGEST").await;
    let response = client_with_key(&plain)
        .post(app.url("/webhooks/pageviews"))
        .json(&pageview)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.counts().await, (1, 0));
}

/// Two distinct free ports on 127.0.0.1 for the Node script's shop: the
/// service's CORS_ORIGINS must name one before the script starts. They are
/// released just before it binds them; if another process takes one
/// meanwhile, the script says so and fails.
fn two_free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("Failed to find a free port");
    let (a, b) = (bind(), bind());
    let port = |l: &std::net::TcpListener| l.local_addr().expect("a bound address").port();
    (port(&a), port(&b))
}

/// How many pageviews and events the service stored for one visitor id.
async fn stored_for(app: &TestApp, fingerprint: &str) -> (u64, u64) {
    let data = app
        .graphql_ok(
            "query ($f: String!) { pageviews(filter: { fingerprint: $f }) { totalCount } events(filter: { fingerprint: $f }) { totalCount } }",
            json!({ "f": fingerprint }),
        )
        .await;
    (
        data["pageviews"]["totalCount"].as_u64().unwrap(),
        data["events"]["totalCount"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn a_shop_on_another_origin_records_its_visits_through_the_tracker_and_opted_out_or_unlisted_pages_record_nothing(
) {
    if !tools_ready("tracker browser test", true).await {
        return;
    }
    let (site_port, other_port) = two_free_ports();
    let app = spawn_app_with(|c| {
        c.auth.cors_origins = vec![format!("http://localhost:{site_port}")];
    })
    .await;
    let key = app.create_key("website", "INGEST").await;
    let stdout = run_script(
        "tracker.mjs",
        &app.address,
        &[
            &format!("--site-port={site_port}"),
            &format!("--other-port={other_port}"),
        ],
        &[("GA_INGEST_KEY", &key)],
    )
    .await;
    let summary: Value = stdout
        .lines()
        .find_map(|line| line.strip_prefix("SUMMARY "))
        .map(|json| serde_json::from_str(json).expect("the SUMMARY line is JSON"))
        .expect("tracker.mjs printed no SUMMARY line");
    let id = |path: &str| {
        summary
            .pointer(path)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {path} in {summary}"))
            .to_owned()
    };

    // What each browser sent, as the service stored it: the visit's four
    // pageviews (load, two navigations, reload) and three events (identify,
    // signup, trial); two for the cookie visitor; one control pageview in
    // each opted-out browser, from a page without data-respect-dnt.
    let visit = stored_for(&app, &id("/visit/fingerprint")).await;
    assert_eq!(visit, (4, 3), "the visit");
    let cookie = stored_for(&app, &id("/cookie/fingerprint")).await;
    assert_eq!(cookie, (2, 0), "the data-cookie visitor");
    let gpc = stored_for(&app, &id("/gpc/control")).await;
    let dnt = stored_for(&app, &id("/dnt/control")).await;
    assert_eq!((gpc, dnt), ((1, 0), (1, 0)), "the opt-out controls");
    assert_eq!(
        stored_for(&app, &id("/foreign/fingerprint")).await,
        (0, 0),
        "the origin outside CORS_ORIGINS"
    );
    // Nothing else: the opted-out pages had no visitor id to look up, so the
    // totals show that they sent nothing.
    let expected = [visit, cookie, gpc, dnt]
        .iter()
        .fold((0, 0), |(p, e), (vp, ve)| (p + vp, e + ve));
    assert_eq!(app.counts().await, expected, "pageviews and events stored");

    let user = app
        .graphql_ok(
            "query ($id: ID!) { user(id: $id) { fingerprints events { name } } }",
            json!({ "id": id("/user") }),
        )
        .await;
    assert_eq!(
        user["user"]["fingerprints"],
        json!([id("/visit/fingerprint")])
    );
    let names: Vec<&str> = user["user"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["identify", "signup", "trial"]);
}
