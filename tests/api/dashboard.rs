//! The dashboard at `/`: in a real browser against the demo data (the
//! Node script compares what the page shows with the API's own answers),
//! and its headers and assets without a browser.

use crate::browser::{run_script, tools_ready};
use crate::helpers::{spawn_app, spawn_demo_app};

#[tokio::test]
async fn the_dashboard_shows_the_apis_numbers_in_a_real_browser_and_a_new_signup_within_seconds() {
    if !tools_ready("dashboard browser test", true).await {
        return;
    }
    let app = spawn_demo_app().await;
    // The dashboard is a read-only client: it gets a read key, as a person
    // given the dashboard would; the script sends its webhooks with an
    // ingest key.
    let read = app.create_key("dashboard", "READ").await;
    let ingest = app.create_key("dashboard-webhooks", "INGEST").await;
    run_script(
        "dashboard.mjs",
        &app.address,
        &[],
        &[
            ("GA_KEY", read.as_str()),
            ("GA_INGEST_KEY", ingest.as_str()),
        ],
    )
    .await;
}

/// The files the page loads: its `src`/`href`s under `dashboard/assets/`,
/// and the relative `import`s of the scripts among them, transitively.
async fn loaded_assets(app: &crate::helpers::TestApp, html: &str) -> Vec<String> {
    let mut queue: Vec<String> = html
        .split("dashboard/assets/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    let mut seen = Vec::new();
    while let Some(asset) = queue.pop() {
        if seen.contains(&asset) {
            continue;
        }
        if asset.ends_with(".js") {
            let text = app
                .get(&format!("/dashboard/assets/{asset}"))
                .await
                .text()
                .await
                .unwrap();
            queue.extend(
                text.split("from \"./")
                    .skip(1)
                    .filter_map(|rest| rest.split('"').next())
                    .map(str::to_owned),
            );
        }
        seen.push(asset);
    }
    seen
}

#[tokio::test]
async fn the_dashboard_and_its_assets_come_from_the_service_without_a_key_with_a_strict_policy_and_caching(
) {
    let app = spawn_app().await;
    // No key: the page and its files are open, as GraphiQL's are; the data
    // is not.
    let anonymous = reqwest::Client::new();
    let page = anonymous.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert!(header(&page, "content-type").starts_with("text/html"));
    let policy = header(&page, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} not in {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "referrer-policy"), "no-referrer");
    let page_etag = header(&page, "etag");
    assert!(page_etag.starts_with('"'), "the page's ETag: {page_etag:?}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"));
    let again = anonymous
        .get(app.url("/"))
        .header("if-none-match", &page_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(header(&again, "content-security-policy"), policy);

    let assets = loaded_assets(&app, &html).await;
    assert!(
        assets.iter().any(|a| a.starts_with("uPlot-")) && assets.len() >= 5,
        "the page loads {assets:?}"
    );
    for asset in &assets {
        let response = anonymous
            .get(app.url(&format!("/dashboard/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{asset}");
        let expected_type = if asset.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(
            header(&response, "content-type").starts_with(expected_type),
            "{asset}"
        );
        let versioned = asset.chars().any(|c| c.is_ascii_digit());
        let cache = header(&response, "cache-control");
        assert_eq!(cache.contains("immutable"), versioned, "{asset}: {cache}");
        if !versioned {
            assert_eq!(cache, "no-cache", "{asset}");
        }
        let etag = header(&response, "etag");
        assert!(etag.starts_with('"'), "{asset}: ETag {etag:?}");
        let again = anonymous
            .get(app.url(&format!("/dashboard/assets/{asset}")))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{asset}");
        assert_eq!(header(&again, "etag"), etag, "{asset}");
    }

    let missing = anonymous
        .get(app.url("/dashboard/assets/dashboard.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let data = anonymous
        .post(app.url("/graphql"))
        .json(&serde_json::json!({ "query": "{ overview { signups } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(data.status().as_u16(), 401, "the reports need a key");
}
