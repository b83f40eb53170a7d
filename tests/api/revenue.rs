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
