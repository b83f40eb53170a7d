//! Conversion paths, path lengths, assists and the model comparison
//! (issue 16), computed by hand on a few journeys.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, TestApp};

fn pv(fp: &str, url: &str, referrer: Option<&str>, at: &str) -> Value {
    json!({ "fingerprint": fp, "url": url, "referrer_url": referrer, "created_at": at })
}

fn signup(fp: &str, user: &str, at: &str) -> Value {
    json!({ "name": "signup", "fingerprint": fp, "user_id": user, "created_at": at })
}

const SPRING: &str =
    "https://www.blinkist.com/lp?utm_source=facebook&utm_medium=paid&utm_campaign=spring";
const FACEBOOK: Option<&str> = Some("https://www.facebook.com/");
const NEWSLETTER: &str =
    "https://www.blinkist.com/?utm_source=newsletter&utm_medium=email&utm_campaign=march";
const HOME: &str = "https://www.blinkist.com/";

/// Six signups in March 2023 (and one in April, out of range):
/// - u1: paid social, direct two days later, signup: 2.0 days;
/// - u2: email, signup: 0.5 days;
/// - u3: a signup without pageviews (the empty path);
/// - u4: paid social twice, direct, signup: 3.0 days;
/// - u5: paid social, direct, signup: 1.0 day;
/// - u6: email, direct, signup: 2.25 days;
/// - u7: paid social, signup in April.
async fn journeys(app: &TestApp) {
    let pageviews = json!([
        pv("f1", SPRING, FACEBOOK, "2023-03-01T12:00:00Z"),
        pv("f1", HOME, None, "2023-03-03T11:50:00Z"),
        pv("f2", NEWSLETTER, None, "2023-03-05T00:00:00Z"),
        pv("f4", SPRING, FACEBOOK, "2023-03-10T00:00:00Z"),
        pv("f4", SPRING, FACEBOOK, "2023-03-11T00:00:00Z"),
        pv("f4", HOME, None, "2023-03-12T00:00:00Z"),
        pv("f5", SPRING, FACEBOOK, "2023-03-15T00:00:00Z"),
        pv("f5", HOME, None, "2023-03-15T23:50:00Z"),
        pv("f6", NEWSLETTER, None, "2023-03-20T00:00:00Z"),
        pv("f6", HOME, None, "2023-03-22T05:50:00Z"),
        pv("f7", SPRING, FACEBOOK, "2023-04-02T00:00:00Z"),
    ]);
    let events = json!([
        signup("f1", "u1", "2023-03-03T12:00:00Z"),
        signup("f2", "u2", "2023-03-05T12:00:00Z"),
        signup("f3", "u3", "2023-03-08T00:00:00Z"),
        signup("f4", "u4", "2023-03-13T00:00:00Z"),
        signup("f5", "u5", "2023-03-16T00:00:00Z"),
        signup("f6", "u6", "2023-03-22T06:00:00Z"),
        signup("f7", "u7", "2023-04-02T01:00:00Z"),
    ]);
    for (path, body) in [
        ("/webhooks/pageviews", pageviews),
        ("/webhooks/events", events),
    ] {
        app.post_ok(path, &body).await;
    }
}

const MARCH: &str = r#"{from: "2023-03-01T00:00:00Z", to: "2023-04-01T00:00:00Z"}"#;

const PATH_FIELDS: &str =
    "totalCount nodes { steps conversions avgTouchpoints avgDaysToConvert medianDaysToConvert } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }";

fn path(steps: &[&str], conversions: u64, touchpoints: f64, avg: Value, median: Value) -> Value {
    json!({
        "steps": steps,
        "conversions": conversions,
        "avgTouchpoints": touchpoints,
        "avgDaysToConvert": avg,
        "medianDaysToConvert": median,
    })
}

#[tokio::test]
async fn paths_are_the_channels_of_each_conversion_s_touchpoints_ordered_by_conversions_then_text()
{
    let app = spawn_app().await;
    journeys(&app).await;
    let data = app
        .graphql_ok(
            &format!("{{ paths(range: {MARCH}) {{ {PATH_FIELDS} }} }}"),
            json!({}),
        )
        .await;
    let paths = &data["paths"];
    assert_eq!(paths["totalCount"], 5, "{paths}");
    assert_eq!(
        paths["nodes"],
        json!([
            // u1 (2 days) and u5 (1 day).
            path(&["PAID_SOCIAL", "DIRECT"], 2, 2.0, json!(1.5), json!(1.5)),
            // u3: the empty path sorts first among the ties; no days to count.
            path(&[], 1, 0.0, Value::Null, Value::Null),
            path(&["EMAIL"], 1, 1.0, json!(0.5), json!(0.5)),
            path(&["EMAIL", "DIRECT"], 1, 2.0, json!(2.25), json!(2.25)),
            path(
                &["PAID_SOCIAL", "PAID_SOCIAL", "DIRECT"],
                1,
                3.0,
                json!(3.0),
                json!(3.0)
            ),
        ])
    );
    assert_eq!(paths["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn collapsing_repeats_merges_paths_and_keeps_their_touchpoint_counts() {
    let app = spawn_app().await;
    journeys(&app).await;
    let data = app
        .graphql_ok(
            &format!("{{ paths(range: {MARCH}, collapseRepeats: true) {{ {PATH_FIELDS} }} }}"),
            json!({}),
        )
        .await;
    let nodes = &data["paths"]["nodes"];
    assert_eq!(data["paths"]["totalCount"], 4);
    // u1, u5 and u4: touchpoints 2 + 2 + 3, days 2, 1 and 3.
    assert_eq!(nodes[0]["steps"], json!(["PAID_SOCIAL", "DIRECT"]));
    assert_eq!(nodes[0]["conversions"], 3);
    assert_eq!(nodes[0]["avgTouchpoints"], 7.0 / 3.0);
    assert_eq!(nodes[0]["avgDaysToConvert"], 2.0);
    assert_eq!(nodes[0]["medianDaysToConvert"], 2.0);
    let rest: Vec<&Value> = nodes.as_array().unwrap()[1..]
        .iter()
        .map(|n| &n["steps"])
        .collect();
    assert_eq!(
        rest,
        [&json!([]), &json!(["EMAIL"]), &json!(["EMAIL", "DIRECT"])]
    );
}

#[tokio::test]
async fn source_and_campaign_paths_read_those_values_with_not_set_for_no_campaign() {
    let app = spawn_app().await;
    journeys(&app).await;
    let data = app
        .graphql_ok(
            &format!(
                r#"{{
                  bySource: paths(range: {MARCH}, dimension: SOURCE, first: 1) {{ nodes {{ steps conversions }} }}
                  byCampaign: paths(range: {MARCH}, dimension: CAMPAIGN, collapseRepeats: true) {{ nodes {{ steps conversions }} }}
                }}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        data["bySource"]["nodes"],
        json!([{ "steps": ["facebook", "(direct)"], "conversions": 2 }])
    );
    assert_eq!(
        data["byCampaign"]["nodes"],
        json!([
            { "steps": ["spring", "(not set)"], "conversions": 3 },
            { "steps": [], "conversions": 1 },
            { "steps": ["march"], "conversions": 1 },
            { "steps": ["march", "(not set)"], "conversions": 1 },
        ])
    );
}

#[tokio::test]
async fn paths_page_with_the_cursors_of_the_other_reports() {
    let app = spawn_app().await;
    journeys(&app).await;
    let page = |after: Value| {
        let app = &app;
        async move {
            app.graphql_ok(
                &format!(
                    "query($after: String) {{ paths(range: {MARCH}, first: 2, after: $after) {{ {PATH_FIELDS} }} }}"
                ),
                json!({ "after": after }),
            )
            .await["paths"]
                .clone()
        }
    };
    let first = page(Value::Null).await;
    assert_eq!(first["totalCount"], 5);
    assert_eq!(first["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    let second = page(first["pageInfo"]["endCursor"].clone()).await;
    assert_eq!(second["nodes"][0]["steps"], json!(["EMAIL"]));
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    let third = page(second["pageInfo"]["endCursor"].clone()).await;
    assert_eq!(
        third["nodes"][0]["steps"],
        json!(["PAID_SOCIAL", "PAID_SOCIAL", "DIRECT"])
    );
    assert_eq!(third["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn path_lengths_count_conversions_per_number_of_touchpoints() {
    let app = spawn_app().await;
    journeys(&app).await;
    let data = app
        .graphql_ok(
            &format!(
                "{{ march: pathLengths(range: {MARCH}) {{ touchpoints conversions }} all: pathLengths {{ touchpoints conversions }} }}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        data["march"],
        json!([
            { "touchpoints": 0, "conversions": 1 },
            { "touchpoints": 1, "conversions": 1 },
            { "touchpoints": 2, "conversions": 3 },
            { "touchpoints": 3, "conversions": 1 },
        ])
    );
    // All time adds u7's April signup, one touchpoint.
    assert_eq!(
        data["all"][1],
        json!({ "touchpoints": 1, "conversions": 2 })
    );
}

fn assists_of<'a>(rows: &'a Value, field: &str, value: &str) -> &'a Value {
    rows["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no {field} {value} in {rows}"))
}

const ASSISTS: &str = "assistedConversions lastClickConversions assistRatio";

#[tokio::test]
async fn assists_count_the_conversions_a_key_helped_but_did_not_close() {
    let app = spawn_app().await;
    journeys(&app).await;
    let data = app
        .graphql_ok(
            &format!(
                r#"{{
                  channels(range: {MARCH}) {{ nodes {{ channel conversions {ASSISTS} }} }}
                  linear: channels(range: {MARCH}, model: LINEAR) {{ nodes {{ channel {ASSISTS} }} }}
                  sources(range: {MARCH}) {{ nodes {{ source {ASSISTS} }} }}
                  campaigns(range: {MARCH}) {{ nodes {{ campaign source medium {ASSISTS} }} }}
                  landingPages(range: {MARCH}) {{ nodes {{ landingPage {ASSISTS} }} }}
                }}"#
            ),
            json!({}),
        )
        .await;
    let channels = &data["channels"];
    let of = |c: &str| assists_of(channels, "channel", c);
    // Paid social helped u1, u4 (twice, counted once) and u5, closed none.
    assert_eq!(
        (
            &of("PAID_SOCIAL")["assistedConversions"],
            &of("PAID_SOCIAL")["lastClickConversions"],
            &of("PAID_SOCIAL")["assistRatio"]
        ),
        (&json!(3), &json!(0), &Value::Null)
    );
    assert_eq!(
        (
            &of("DIRECT")["assistedConversions"],
            &of("DIRECT")["lastClickConversions"],
            &of("DIRECT")["assistRatio"]
        ),
        (&json!(0), &json!(4), &json!(0.0))
    );
    // Email closed u2 and helped u6.
    assert_eq!(
        (
            &of("EMAIL")["assistedConversions"],
            &of("EMAIL")["lastClickConversions"],
            &of("EMAIL")["assistRatio"]
        ),
        (&json!(1), &json!(1), &json!(1.0))
    );
    assert_eq!(of("UNASSIGNED")["lastClickConversions"], 1, "u3");
    // Under LAST_CLICK, the last-click conversions are the row's conversions.
    for row in channels["nodes"].as_array().unwrap() {
        assert_eq!(
            row["lastClickConversions"].as_f64(),
            row["conversions"].as_f64(),
            "{row}"
        );
    }
    // Assists do not depend on the report's model.
    let mut by_linear: Vec<String> = data["linear"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    let mut by_last: Vec<String> = channels["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!({
                "channel": r["channel"],
                "assistedConversions": r["assistedConversions"],
                "lastClickConversions": r["lastClickConversions"],
                "assistRatio": r["assistRatio"],
            })
            .to_string()
        })
        .collect();
    by_linear.sort();
    by_last.sort();
    assert_eq!(by_linear, by_last);

    let facebook = assists_of(&data["sources"], "source", "facebook");
    assert_eq!(
        (
            &facebook["assistedConversions"],
            &facebook["lastClickConversions"]
        ),
        (&json!(3), &json!(0))
    );
    let newsletter = assists_of(&data["sources"], "source", "newsletter");
    assert_eq!(newsletter["assistRatio"], 1.0);
    let not_set = assists_of(&data["sources"], "source", "(not set)");
    assert_eq!(not_set["lastClickConversions"], 1);

    let spring = assists_of(&data["campaigns"], "campaign", "spring");
    assert_eq!(
        (
            &spring["source"],
            &spring["medium"],
            &spring["assistedConversions"]
        ),
        (&json!("facebook"), &json!("paid"), &json!(3))
    );

    // Landing pages have no assists.
    for row in data["landingPages"]["nodes"].as_array().unwrap() {
        assert_eq!(row["assistedConversions"], Value::Null, "{row}");
        assert_eq!(row["lastClickConversions"], Value::Null, "{row}");
    }
}

#[tokio::test]
async fn model_comparison_lines_up_each_model_s_report_with_changes_from_the_first() {
    let app = spawn_app().await;
    journeys(&app).await;
    let data = app
        .graphql_ok(
            &format!(
                r#"{{
                  modelComparison(range: {MARCH}, models: [LAST_CLICK, FIRST_CLICK, LINEAR]) {{ channel source campaign conversions change }}
                  lastClick: channels(range: {MARCH}, model: LAST_CLICK) {{ nodes {{ channel conversions }} }}
                  firstClick: channels(range: {MARCH}, model: FIRST_CLICK) {{ nodes {{ channel conversions }} }}
                  linear: channels(range: {MARCH}, model: LINEAR) {{ nodes {{ channel conversions }} }}
                }}"#
            ),
            json!({}),
        )
        .await;
    let rows = data["modelComparison"].as_array().unwrap();
    let channels: Vec<&str> = rows
        .iter()
        .map(|r| r["channel"].as_str().unwrap())
        .collect();
    // LAST_CLICK descending (DIRECT 4; EMAIL and UNASSIGNED 1, by key);
    // PAID_SOCIAL is credited only by the other two models.
    assert_eq!(channels, ["DIRECT", "EMAIL", "UNASSIGNED", "PAID_SOCIAL"]);
    assert_eq!(rows[0]["source"], Value::Null);

    // Each column is that model's `channels` report.
    for (i, report) in ["lastClick", "firstClick", "linear"].iter().enumerate() {
        for row in rows {
            let in_report = data[report]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["channel"] == row["channel"])
                .map_or(0.0, |r| r["conversions"].as_f64().unwrap());
            assert_eq!(
                row["conversions"][i].as_f64(),
                Some(in_report),
                "{report}: {row}"
            );
        }
    }

    // By hand. LINEAR: u1, u5 and u6 split a half to DIRECT, u4 a third.
    let direct_linear = 0.5 + 1.0 / 3.0 + 0.5 + 0.5;
    let values = |i: usize| -> Vec<f64> {
        rows[i]["conversions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let close = |a: &[f64], b: &[f64]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
    };
    assert!(
        close(&values(0), &[4.0, 0.0, direct_linear]),
        "{:?}",
        values(0)
    );
    assert!(close(&values(1), &[1.0, 2.0, 1.5]), "{:?}", values(1));
    assert!(close(&values(2), &[1.0, 1.0, 1.0]), "{:?}", values(2));
    assert!(
        close(&values(3), &[0.0, 3.0, 0.5 + 2.0 / 3.0 + 0.5]),
        "{:?}",
        values(3)
    );
    let change = |i: usize| rows[i]["change"].clone();
    assert_eq!(change(0)[0], 0.0);
    assert_eq!(change(0)[1], -1.0);
    assert!((change(0)[2].as_f64().unwrap() - (direct_linear - 4.0) / 4.0).abs() < 1e-9);
    assert_eq!(change(1), json!([0.0, 1.0, 0.5]));
    assert_eq!(change(2), json!([0.0, 0.0, 0.0]));
    assert_eq!(change(3), json!([null, null, null]), "no LAST_CLICK credit");
}

#[tokio::test]
async fn model_comparison_keys_are_named_as_in_the_reports() {
    let app = spawn_app().await;
    journeys(&app).await;
    let data = app
        .graphql_ok(
            &format!(
                r#"{{
                  campaigns: modelComparison(range: {MARCH}, models: [FIRST_CLICK], dimension: CAMPAIGN, first: 1) {{ campaign source medium channel conversions change }}
                  pages: modelComparison(range: {MARCH}, models: [LINEAR, LINEAR], dimension: LANDING_PAGE) {{ landingPage conversions }}
                }}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        data["campaigns"],
        json!([{
            "campaign": "spring", "source": "facebook", "medium": "paid", "channel": "PAID_SOCIAL",
            "conversions": [3.0], "change": [0.0],
        }])
    );
    let pages = data["pages"].as_array().unwrap();
    assert!(
        pages
            .iter()
            .all(|p| p["conversions"][0] == p["conversions"][1]),
        "a model asked twice is the same column twice: {pages:?}"
    );
    let total: f64 = pages
        .iter()
        .map(|p| p["conversions"][0].as_f64().unwrap())
        .sum();
    assert!(
        (total - 6.0).abs() < 1e-9,
        "the rows split the six signups: {pages:?}"
    );
    assert!(pages.iter().any(|p| p["landingPage"] == "(not set)"), "u3");
}

#[tokio::test]
async fn a_path_dimension_without_paths_and_an_empty_model_list_are_refused() {
    let app = spawn_app().await;
    let body = app
        .graphql(
            "{ paths(dimension: LANDING_PAGE) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    let body = app
        .graphql("{ modelComparison(models: []) { conversions } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`models`"),
        "{body}"
    );
    let body = app
        .graphql(r#"{ paths(conversion: "") { totalCount } }"#, json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let body = app
        .graphql(r#"{ paths(after: "nope") { totalCount } }"#, json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
}
