//! GraphiQL in a real browser, and the GraphQL over HTTP audit.
//!
//! The Node scripts in tests/browser/ do the work (see its README): they drive
//! Debian's Chromium through playwright-core, and run graphql-http's
//! `auditServer`. Without node, `tests/browser/node_modules` (`npm ci`) or
//! Chromium these tests print "skipped: …" and pass, unless
//! `BROWSER_TESTS=required` (as in CI), where a missing tool fails them.
//! The page's headers and assets are checked here too, without a browser.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::helpers::spawn_app;

const CHROMIUM: &str = "/usr/bin/chromium";
/// Generous: a cold Chromium start on a busy 2-core machine takes seconds.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What is missing to run the Node scripts, if anything.
async fn missing_tools(needs_chromium: bool) -> Option<String> {
    let node = tokio::process::Command::new("node")
        .arg("--version")
        .output()
        .await;
    if !node.is_ok_and(|out| out.status.success()) {
        return Some("`node` is not on PATH".into());
    }
    if !browser_dir().join("node_modules").is_dir() {
        return Some(
            "tests/browser/node_modules is missing (run `npm ci` in tests/browser)".into(),
        );
    }
    if needs_chromium && !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing (apt-get install chromium)"));
    }
    None
}

/// `true` if the test should go on; panics if tools are missing but required.
pub(crate) async fn tools_ready(test: &str, needs_chromium: bool) -> bool {
    let Some(missing) = missing_tools(needs_chromium).await else {
        return true;
    };
    if std::env::var("BROWSER_TESTS").is_ok_and(|v| v == "required") {
        panic!("BROWSER_TESTS=required, but {missing}");
    }
    // Straight to stderr: libtest captures `println!`/`eprintln!` of passing
    // tests, and a skip should be seen.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {test}: {missing} (BROWSER_TESTS=required makes this a failure)"
    );
    false
}

/// Runs `node tests/browser/<script> <address> <args…>` with `GA_KEY` (the
/// admin key) and `env` set, prints its output, panics with that output
/// unless it succeeded, and returns its standard output.
pub(crate) async fn run_script(
    script: &str,
    address: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> String {
    let mut command = tokio::process::Command::new("node");
    command
        .arg(script)
        .arg(address)
        .args(args)
        .env("GA_KEY", crate::helpers::TEST_ADMIN_KEY)
        .envs(env.iter().copied())
        .current_dir(browser_dir())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("Failed to run node {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- node {script} {address}\n{stdout}{stderr}");
    assert!(
        output.status.success(),
        "node {script} failed ({}):\n{stdout}{stderr}",
        output.status
    );
    stdout.into_owned()
}

#[tokio::test]
async fn graphiql_runs_a_query_in_a_real_browser_with_every_request_going_to_the_service() {
    if !tools_ready("GraphiQL browser test", true).await {
        return;
    }
    let app = spawn_app().await;
    run_script("graphiql.mjs", &app.address, &[], &[]).await;
}

#[tokio::test]
async fn the_graphql_over_http_audit_finds_no_failure_the_readme_does_not_accept() {
    if !tools_ready("GraphQL over HTTP audit", false).await {
        return;
    }
    let app = spawn_app().await;
    run_script("audit.mjs", &app.address, &[], &[]).await;
}

#[tokio::test]
async fn the_graphiql_page_and_its_assets_come_from_the_service_with_a_strict_policy_and_caching() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(directive), "{directive} not in {policy}");
    }
    let html = page.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"));

    let assets: Vec<&str> = html
        .split("graphql/assets/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(assets.len() >= 4, "the page loads {assets:?}");
    for asset in assets {
        let response = app.get(&format!("/graphql/assets/{asset}")).await;
        assert_eq!(response.status().as_u16(), 200, "{asset}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let expected_type = if asset.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(header("content-type").starts_with(expected_type), "{asset}");
        let versioned = asset.chars().any(|c| c.is_ascii_digit());
        let cache = header("cache-control");
        assert_eq!(cache.contains("immutable"), versioned, "{asset}: {cache}");
        let etag = header("etag");
        assert!(etag.starts_with('"'), "{asset}: ETag {etag:?}");

        let again = app
            .client
            .get(format!("{}/graphql/assets/{asset}", app.address))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{asset}");
    }

    let missing = app.get("/graphql/assets/graphiql.js").await;
    assert_eq!(missing.status().as_u16(), 404);
}
