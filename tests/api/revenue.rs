//! Revenue on events: exact decimals in and out, refunds, the natural key,
//! and the one currency of a deployment.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn event(revenue: Value) -> Value {
    json!({
        "name": "payment",
        "fingerprint": "fp-rev",
        "user_id": "user-rev",
        "created_at": "2026-11-20T10:00:00Z",
        "revenue": revenue,
    })
}

async fn stored(app: &TestApp, body: &Value) -> Value {
    let response = app.post_json("/webhooks/events", body).await;
    assert_eq!(response.status().as_u16(), 200, "{body}");
    response.json().await.unwrap()
}

async fn revenues(app: &TestApp) -> Vec<(Value, Value)> {
    let data = app
        .graphql_ok(
            "{ events(filter: {userId: \"user-rev\"}, first: 50) { nodes { name revenue currency } } }",
            json!({}),
        )
        .await;
    data["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["revenue"].clone(), n["currency"].clone()))
        .collect()
}

#[tokio::test]
async fn revenue_is_stored_exactly_a_redelivery_is_a_duplicate_and_a_corrected_amount_a_new_fact() {
    let app = spawn_app().await;
    // A JSON number and the same amount as a string are one fact.
    assert_eq!(stored(&app, &event(json!(9.99))).await["stored"], 1);
    let again = stored(&app, &event(json!("9.990"))).await;
    assert_eq!(
        (again["stored"].clone(), again["duplicates"].clone()),
        (json!(0), json!(1))
    );
    // Another amount at the same instant is another fact; so is a refund.
    assert_eq!(stored(&app, &event(json!("10.00"))).await["stored"], 1);
    let mut refund = event(json!("-9.99"));
    refund["name"] = json!("refund");
    assert_eq!(stored(&app, &refund).await["stored"], 1);
    // An event without revenue still stores as before, with nulls.
    let mut signup = event(Value::Null);
    signup["name"] = json!("signup");
    assert_eq!(stored(&app, &signup).await["stored"], 1);

    let mut got = revenues(&app).await;
    got.sort_by_key(|(r, _)| r.to_string());
    assert_eq!(
        got,
        [
            (json!("-9.99"), json!("EUR")),
            (json!("10.00"), json!("EUR")),
            (json!("9.99"), json!("EUR")),
            (Value::Null, Value::Null),
        ]
    );
}

#[tokio::test]
async fn revenue_in_another_currency_or_not_a_decimal_is_refused_naming_the_field_and_the_batch_stores_nothing(
) {
    let app = spawn_app().await;
    let mut usd = event(json!("5"));
    usd["currency"] = json!("USD");
    let batch = json!([event(json!("1.00")), usd]);
    let response = app.post_json("/webhooks/events", &batch).await;
    assert_eq!(response.status().as_u16(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["errors"][0]["index"], 1, "{error}");
    assert_eq!(error["errors"][0]["field"], "currency", "{error}");
    assert!(
        error["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("EUR"),
        "{error}"
    );

    for (revenue, currency, field) in [
        (json!("12,50"), Value::Null, "revenue"),
        (json!(true), Value::Null, "revenue"),
        // More significant digits than a double keeps exactly.
        (
            serde_json::from_str("0.12345678901234567").unwrap(),
            Value::Null,
            "revenue",
        ),
        (Value::Null, json!("EUR"), "currency"),
        (json!("1"), json!("euro"), "currency"),
    ] {
        let mut body = event(revenue);
        body["currency"] = currency;
        let response = app.post_json("/webhooks/events", &body).await;
        assert_eq!(response.status().as_u16(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["errors"][0]["field"], field, "{body}: {error}");
    }
    assert_eq!(app.counts().await, (0, 0));

    // The deployment's own currency, named, is fine.
    let mut eur = event(json!("2.50"));
    eur["currency"] = json!("eur");
    assert_eq!(stored(&app, &eur).await["stored"], 1);
}

#[tokio::test]
async fn graphql_records_revenue_as_a_decimal_string_and_refuses_a_bad_one_naming_the_field() {
    let app = spawn_app().await;
    let data = app
        .graphql_ok(
            "mutation { recordEvent(input: {name: \"renewal\", fingerprint: \"fp-rev\", \
             userId: \"user-rev\", createdAt: \"2026-11-21T00:00:00Z\", revenue: \"49.90\"}) \
             { name revenue currency } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["recordEvent"],
        json!({ "name": "renewal", "revenue": "49.90", "currency": "EUR" })
    );
    let refused = app
        .graphql(
            "mutation { recordEvent(input: {name: \"renewal\", fingerprint: \"fp-rev\", \
             createdAt: \"2026-11-21T00:00:00Z\", revenue: \"49.9.0\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert_eq!(
        refused["errors"][0]["extensions"]["fields"][0]["field"], "revenue",
        "{refused}"
    );
}

// --- LTV, ROAS, payback, churn, cohorts: one hand-computed story ---------
//
// User A clicks a paid search ad ("spring", google / cpc) on one device and
// signs up on another (10.00), after a payment made before the signup
// (5.00, never LTV); renews exactly 30 days later (10.00), is refunded
// 32 days after the signup (-10.00), unsubscribes on day 35 and signs up
// again on day 61 (10.00: revenue of the same acquisition, not a new one).
// User B comes direct and pays a yearly 80.00. Spend on "spring": 20.00.

fn pageview(fp: &str, user: Option<&str>, url: &str, at: &str) -> Value {
    json!({ "fingerprint": fp, "user_id": user, "url": url, "referrer_url": null, "created_at": at })
}

fn paid(name: &str, fp: &str, user: &str, at: &str, revenue: Option<&str>) -> Value {
    json!({ "name": name, "fingerprint": fp, "user_id": user, "created_at": at, "revenue": revenue })
}

async fn story(app: &TestApp) {
    let ad = "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring";
    let pageviews = json!([
        pageview("a1", None, ad, "2026-03-01T10:00:00Z"),
        pageview("b1", None, "https://shop.example/", "2026-03-10T10:00:00Z"),
    ]);
    app.post_ok("/webhooks/pageviews", &pageviews).await;
    let events = json!([
        paid("payment", "a1", "A", "2026-02-28T12:00:00Z", Some("5.00")),
        paid("signup", "a2", "A", "2026-03-01T12:00:00Z", Some("10.00")),
        paid("renewal", "a1", "A", "2026-03-31T12:00:00Z", Some("10.00")),
        paid("refund", "a1", "A", "2026-04-02T12:00:00Z", Some("-10.00")),
        paid("unsubscribe", "a2", "A", "2026-04-05T12:00:00Z", None),
        paid("signup", "a2", "A", "2026-05-01T12:00:00Z", Some("10.00")),
        paid("signup", "b1", "B", "2026-03-10T10:05:00Z", Some("80.00")),
    ]);
    app.post_ok("/webhooks/events", &events).await;
    let spend = json!({ "campaign": "spring", "source": "google", "medium": "cpc", "date": "2026-03-01", "amount": "20.00" });
    app.post_ok("/webhooks/spend", &spend).await;
}

const MARCH: &str = "{from: \"2026-03-01T00:00:00Z\", to: \"2026-04-01T00:00:00Z\"}";

#[tokio::test]
async fn report_rows_weigh_each_acquisitions_revenue_churn_and_maturity_as_defined() {
    let app = spawn_app().await;
    story(&app).await;
    let data = app
        .graphql_ok(
            &format!(
                "{{ channels(range: {MARCH}) {{ nodes {{ channel acquisitions spend \
                 revenue r30: revenue(days: 30) r31: revenue(days: 31) r33: revenue(days: 33) \
                 ltv l30: ltv(days: 30) roas paybackDays netConversions n36: netConversions(days: 36) \
                 churnRate c36: churnRate(days: 36) revenueComplete(days: 30) \
                 young: revenueComplete(days: 3000) maturedShare(days: 3000) }} }} }}"
            ),
            json!({}),
        )
        .await;
    let nodes = data["channels"]["nodes"].as_array().unwrap();
    let row = |channel: &str| {
        nodes
            .iter()
            .find(|n| n["channel"] == channel)
            .unwrap_or_else(|| panic!("no {channel} row in {data}"))
            .clone()
    };
    let search = row("PAID_SEARCH");
    assert_eq!(
        search,
        json!({
            "channel": "PAID_SEARCH", "acquisitions": 1.0, "spend": "20.00",
            // 10 + 10 − 10 + 10; the payment before the signup never counts.
            "revenue": "20.00",
            // The renewal came exactly 30 days on: outside "within 30 days".
            "r30": "10.00", "r31": "20.00", "r33": "10.00",
            "ltv": "20.00", "l30": "10.00", "roas": 1.0,
            // revenue(31) = 20 ≥ 20: the first crossing, though the refund dips below.
            "paybackDays": 31,
            // The unsubscribe on day 35, and the later signup does not undo it.
            "netConversions": 1.0, "n36": 0.0, "churnRate": 0.0, "c36": 1.0,
            "revenueComplete": true, "young": false, "maturedShare": 0.0,
        })
    );
    let direct = row("DIRECT");
    assert_eq!(direct["revenue"], "80.00");
    assert_eq!(direct["ltv"], "80.00");
    assert_eq!(direct["roas"], Value::Null, "no spend: {direct}");
    assert_eq!(direct["paybackDays"], Value::Null, "no spend: {direct}");

    // The resubscription is no acquisition of May; nor is anything in range.
    let may = app
        .graphql_ok(
            "{ channels(range: {from: \"2026-05-01T00:00:00Z\", to: \"2026-06-01T00:00:00Z\"}) \
             { nodes { channel conversions acquisitions revenue } } }",
            json!({}),
        )
        .await;
    for n in may["channels"]["nodes"].as_array().unwrap() {
        assert_eq!(n["acquisitions"], 0.0, "{may}");
        assert_eq!(n["revenue"], "0.00", "{may}");
    }
    // Other conversions have no revenue fields; a bad `days` is refused.
    let trials = app
        .graphql_ok(
            &format!(
                "{{ channels(range: {MARCH}, conversion: \"trial\") {{ nodes {{ revenue }} }} }}"
            ),
            json!({}),
        )
        .await;
    for n in trials["channels"]["nodes"].as_array().unwrap() {
        assert_eq!(n["revenue"], Value::Null, "{trials}");
    }
    let refused = app
        .graphql(
            &format!("{{ channels(range: {MARCH}) {{ nodes {{ revenue(days: -1) }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("days"),
        "{refused}"
    );
}

#[tokio::test]
async fn every_reports_rows_split_the_acquisitions_revenue_exactly_under_every_model() {
    let app = spawn_app().await;
    story(&app).await;
    let models = [
        "FIRST_CLICK",
        "LAST_CLICK",
        "LAST_NON_DIRECT_CLICK",
        "LINEAR",
        "POSITION_BASED",
        "TIME_DECAY",
    ];
    for model in models {
        for report in ["campaigns", "sources", "channels", "landingPages"] {
            let data = app
                .graphql_ok(
                    &format!("{{ r: {report}(range: {MARCH}, model: {model}) {{ nodes {{ revenue acquisitions }} }} }}"),
                    json!({}),
                )
                .await;
            let nodes = data["r"]["nodes"].as_array().unwrap();
            let cents: i64 = nodes
                .iter()
                .map(|n| {
                    let (units, fraction) = n["revenue"].as_str().unwrap().split_once('.').unwrap();
                    units.parse::<i64>().unwrap() * 100
                        + format!("{fraction:0<2}")[..2].parse::<i64>().unwrap()
                })
                .sum();
            let acquisitions: f64 = nodes
                .iter()
                .map(|n| n["acquisitions"].as_f64().unwrap())
                .sum();
            assert_eq!(cents, 10_000, "{model} {report}: {data}");
            assert!(
                (acquisitions - 2.0).abs() < 1e-9,
                "{model} {report}: {data}"
            );
        }
    }
}

#[tokio::test]
async fn the_overview_books_revenue_in_range_and_divides_by_acquisitions_and_paying_users() {
    let app = spawn_app().await;
    story(&app).await;
    let data = app
        .graphql_ok(
            &format!(
                "{{ overview(range: {MARCH}) {{ revenue acquisitions arpu cac ltv l30: ltv(days: 30) \
                 ltvToCac }} }}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        data["overview"],
        json!({
            // A's signup and renewal, B's year: what was booked in March.
            "revenue": "100.00", "acquisitions": 2, "arpu": "50.00", "cac": "10.00",
            // (20 + 80) / 2 and (10 + 80) / 2.
            "ltv": "50.00", "l30": "45.00", "ltvToCac": 5.0,
        })
    );
    let april = app
        .graphql_ok(
            "{ overview(range: {from: \"2026-04-01T00:00:00Z\", to: \"2026-05-01T00:00:00Z\"}) \
             { revenue acquisitions arpu cac ltv } }",
            json!({}),
        )
        .await;
    // Only the refund was booked in April: no paying user, no acquisition.
    assert_eq!(
        april["overview"],
        json!({ "revenue": "-10.00", "acquisitions": 0, "arpu": null, "cac": null, "ltv": null })
    );
}

#[tokio::test]
async fn cohorts_follow_each_months_acquisitions_period_by_period() {
    let app = spawn_app().await;
    story(&app).await;
    let data = app
        .graphql_ok(
            "{ cohorts(range: {from: \"2026-03-01T00:00:00Z\", to: \"2026-04-01T00:00:00Z\"}, \
             groupBy: CHANNEL, periods: 3) { start channel users spend cac \
             periods { index start revenue cumulativeRevenue ltv activeUsers retention complete } } }",
            json!({}),
        )
        .await;
    let cohorts = data["cohorts"].as_array().unwrap();
    assert_eq!(cohorts.len(), 2, "{data}");
    let search = cohorts
        .iter()
        .find(|c| c["channel"] == "PAID_SEARCH")
        .unwrap();
    assert_eq!(search["start"], "2026-03-01T00:00:00.000000Z");
    assert_eq!(
        (
            search["users"].clone(),
            search["spend"].clone(),
            search["cac"].clone()
        ),
        (json!(1.0), json!("20.00"), json!("20.00"))
    );
    let periods = search["periods"].as_array().unwrap();
    let col = |f: &str| periods.iter().map(|p| p[f].clone()).collect::<Vec<_>>();
    assert_eq!(
        col("start"),
        [
            json!("2026-03-01T00:00:00.000000Z"),
            json!("2026-04-01T00:00:00.000000Z"),
            json!("2026-05-01T00:00:00.000000Z")
        ]
    );
    assert_eq!(
        col("revenue"),
        [json!("20.00"), json!("-10.00"), json!("10.00")]
    );
    assert_eq!(
        col("cumulativeRevenue"),
        [json!("20.00"), json!("10.00"), json!("20.00")]
    );
    assert_eq!(col("ltv"), [json!("20.00"), json!("10.00"), json!("20.00")]);
    // Unsubscribed on April 5th: active at March's end, not at April's.
    assert_eq!(col("activeUsers"), [json!(1.0), json!(0.0), json!(0.0)]);
    assert_eq!(col("retention"), [json!(1.0), json!(0.0), json!(0.0)]);
    assert_eq!(col("complete"), [json!(true), json!(true), json!(true)]);
    let direct = cohorts.iter().find(|c| c["channel"] == "DIRECT").unwrap();
    assert_eq!(
        (direct["spend"].clone(), direct["cac"].clone()),
        (json!("0.00"), json!("0.00"))
    );
    assert_eq!(direct["periods"][0]["revenue"], "80.00");
}

#[tokio::test]
async fn a_cohort_still_running_is_flagged_incomplete_and_its_rows_immature() {
    let app = spawn_app().await;
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let body = json!([paid("signup", "c1", "C", &yesterday, Some("9.99"))]);
    app.post_ok("/webhooks/events", &body).await;
    let data = app
        .graphql_ok(
            "{ cohorts(interval: WEEK, periods: 2) { users periods { revenue complete } } \
             channels(range: {lastDays: 7}) { nodes { revenueComplete(days: 7) maturedShare(days: 7) ltv(days: 7) } } }",
            json!({}),
        )
        .await;
    let cohorts = data["cohorts"].as_array().unwrap();
    assert_eq!(cohorts.len(), 1, "{data}");
    assert_eq!(cohorts[0]["users"], 1.0);
    assert_eq!(cohorts[0]["periods"][0]["revenue"], "9.99");
    // Period 1 is the week after the one holding yesterday: not over yet.
    assert_eq!(cohorts[0]["periods"][1]["complete"], false, "{data}");
    let row = &data["channels"]["nodes"][0];
    assert_eq!(
        (row["revenueComplete"].clone(), row["maturedShare"].clone()),
        (json!(false), json!(0.0)),
        "{data}"
    );
    assert_eq!(row["ltv"], "9.99");
}
