//! Campaign spend through REST and GraphQL: idempotent per (campaign, source,
//! medium, date), exact amounts, one reporting currency per deployment.

use growth_analytics::config::DatabaseConfig;
use growth_analytics::domain::Amount;
use growth_analytics::store::Store;
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};

fn spend(campaign: &str, date: &str, amount: &str) -> Value {
    json!({ "campaign": campaign, "source": "google", "medium": "cpc", "date": date, "amount": amount })
}

/// Every stored row as (campaign, source, medium, date, amount, currency),
/// read straight from the database the app writes to.
async fn stored(app: &TestApp) -> Vec<(String, String, String, String, String, String)> {
    let store = Store::connect(&DatabaseConfig::new(app.database_url.clone()))
        .await
        .expect("Failed to connect to the test database");
    store
        .spend_between(None, None)
        .await
        .expect("Failed to read spend")
        .into_iter()
        .map(|m| {
            (
                m.campaign,
                m.source,
                m.medium,
                m.date.to_string(),
                Amount::from_micros(m.amount_micros).to_string(),
                m.currency,
            )
        })
        .collect()
}

fn row(
    campaign: &str,
    date: &str,
    amount: &str,
) -> (String, String, String, String, String, String) {
    (
        campaign.into(),
        "google".into(),
        "cpc".into(),
        date.into(),
        amount.into(),
        "EUR".into(),
    )
}

#[tokio::test]
async fn spend_is_stored_singly_and_in_batches_through_rest() {
    let app = spawn_app().await;
    let response = app
        .post_json("/webhooks/spend", &spend("Spring", "2023-01-20", "123.45"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "stored": 1, "replaced": 0 }));

    let batch = json!([
        spend("Spring", "2023-01-21", "10"),
        { "campaign": "Brand", "source": "Bing", "medium": "CPC", "date": "2023-01-21", "amount": 7.5, "currency": "eur" },
    ]);
    let body: Value = app
        .post_json("/webhooks/spend", &batch)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "stored": 2, "replaced": 0 }));
    assert_eq!(
        stored(&app).await,
        vec![
            row("Spring", "2023-01-20", "123.45"),
            (
                "Brand".into(),
                "bing".into(),
                "cpc".into(),
                "2023-01-21".into(),
                "7.50".into(),
                "EUR".into()
            ),
            row("Spring", "2023-01-21", "10.00"),
        ]
    );
}

#[tokio::test]
async fn a_later_delivery_for_the_same_day_replaces_the_amount() {
    let app = spawn_app().await;
    app.post_json("/webhooks/spend", &spend("Spring", "2023-01-20", "100"))
        .await;
    let body: Value = app
        .post_json(
            "/webhooks/spend",
            &json!([
                spend("Spring", "2023-01-20", "120.50"),
                spend("Spring", "2023-01-21", "5"),
            ]),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "stored": 1, "replaced": 1 }));

    // Source and medium are keys in their lower-cased form.
    let mut shouted = spend("Spring", "2023-01-20", "130");
    shouted["source"] = json!("GOOGLE");
    let body: Value = app
        .post_json("/webhooks/spend", &shouted)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "stored": 0, "replaced": 1 }));
    assert_eq!(
        stored(&app).await,
        vec![
            row("Spring", "2023-01-20", "130.00"),
            row("Spring", "2023-01-21", "5.00"),
        ]
    );
}

#[tokio::test]
async fn a_key_repeated_in_one_batch_keeps_the_last_amount() {
    let app = spawn_app().await;
    let body: Value = app
        .post_json(
            "/webhooks/spend",
            &json!([
                spend("Spring", "2023-01-20", "1"),
                spend("Spring", "2023-01-20", "2"),
            ]),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "stored": 1, "replaced": 1 }));
    assert_eq!(
        stored(&app).await,
        vec![row("Spring", "2023-01-20", "2.00")]
    );
}

#[tokio::test]
async fn another_currency_is_a_422_naming_currency_and_stores_nothing() {
    let app = spawn_app().await;
    let mut usd = spend("Spring", "2023-01-20", "10");
    usd["currency"] = json!("USD");
    let response = app.post_json("/webhooks/spend", &usd).await;
    assert_eq!(response.status().as_u16(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "invalid_payload");
    assert_eq!(error["errors"][0]["field"], "currency");
    assert_eq!(
        error["errors"][0]["message"],
        "'USD' is not this deployment's reporting currency (EUR); send amounts in EUR"
    );

    let body = app
        .graphql(
            "mutation($i: CampaignSpendInput!) { recordCampaignSpend(input: $i) { amount } }",
            json!({ "i": { "campaign": "Spring", "source": "google", "medium": "cpc", "date": "2023-01-20", "amount": "10", "currency": "USD" } }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "currency"
    );
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn every_invalid_field_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    for (field, value, words) in [
        ("campaign", json!(""), "empty"),
        ("campaign", json!("c".repeat(257)), "at most 256"),
        ("source", json!(null), "required"),
        ("medium", json!(4), "must be a string"),
        ("date", json!("2023-02-30"), "YYYY-MM-DD"),
        ("date", json!("20/01/2023"), "YYYY-MM-DD"),
        ("amount", json!("-1"), "negative"),
        ("amount", json!("1.0000001"), "more than 6 fraction digits"),
        ("amount", json!("1,50"), "not a decimal"),
        ("amount", json!("1000000000001"), "at most"),
        ("amount", json!(null), "required"),
        ("currency", json!("euro"), "three letters"),
    ] {
        let mut payload = spend("Spring", "2023-01-20", "10");
        payload[field] = value;
        let response = app.post_json("/webhooks/spend", &payload).await;
        assert_eq!(response.status().as_u16(), 422, "{field}: {payload}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["errors"][0]["field"], field, "{error}");
        let message = error["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(words),
            "{field}: '{message}' lacks '{words}'"
        );
    }
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn a_spend_batch_with_one_bad_item_stores_nothing() {
    let app = spawn_app().await;
    let batch = json!([
        spend("Spring", "2023-01-20", "10"),
        spend("Spring", "2023-01-21", "ten"),
    ]);
    let response = app.post_json("/webhooks/spend", &batch).await;
    assert_eq!(response.status().as_u16(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["errors"][0]["index"], 1);
    assert_eq!(error["errors"][0]["field"], "amount");

    let body = app
        .graphql(
            "mutation($i: [CampaignSpendInput!]!) { recordCampaignSpends(inputs: $i) { stored } }",
            json!({ "i": [
                { "campaign": "Spring", "source": "google", "medium": "cpc", "date": "2023-01-20", "amount": "10" },
                { "campaign": "Spring", "source": "google", "medium": "cpc", "date": "yesterday", "amount": "10" },
            ] }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["fields"][0]["index"], 1);
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "date"
    );
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn amounts_stay_exact() {
    let app = spawn_app().await;
    app.post_json(
        "/webhooks/spend",
        &json!([
            spend("Spring", "2023-01-20", "0.10"),
            spend("Spring", "2023-01-21", "0.20"),
            spend("Spring", "2023-01-22", "12.345678"),
        ]),
    )
    .await;
    let store = Store::connect(&DatabaseConfig::new(app.database_url.clone()))
        .await
        .unwrap();
    let rows = store
        .spend_between(
            Some("2023-01-20".parse().unwrap()),
            Some("2023-01-22".parse().unwrap()),
        )
        .await
        .unwrap();
    let total: i64 = rows.iter().map(|r| r.amount_micros).sum();
    assert_eq!(Amount::from_micros(total).to_string(), "0.30");
    let all = stored(&app).await;
    assert_eq!(all[2], row("Spring", "2023-01-22", "12.345678"));
}

#[tokio::test]
async fn the_mutation_answers_the_canonical_row_in_the_default_currency() {
    let app = spawn_app().await;
    let data = app
        .graphql_ok(
            "mutation($i: CampaignSpendInput!) { recordCampaignSpend(input: $i) { campaign source medium date amount currency } }",
            json!({ "i": { "campaign": " Spring ", "source": "Google", "medium": "CPC", "date": "2023-01-20", "amount": "12.3450" } }),
        )
        .await;
    assert_eq!(
        data["recordCampaignSpend"],
        json!({ "campaign": "Spring", "source": "google", "medium": "cpc", "date": "2023-01-20", "amount": "12.345", "currency": "EUR" })
    );
    let data = app
        .graphql_ok(
            "mutation($i: [CampaignSpendInput!]!) { recordCampaignSpends(inputs: $i) { stored replaced } }",
            json!({ "i": [
                { "campaign": "Spring", "source": "google", "medium": "cpc", "date": "2023-01-20", "amount": "0" },
                { "campaign": "Spring", "source": "google", "medium": "cpc", "date": "2023-01-21", "amount": "1" },
            ] }),
        )
        .await;
    assert_eq!(
        data["recordCampaignSpends"],
        json!({ "stored": 1, "replaced": 1 })
    );
    assert_eq!(stored(&app).await[0], row("Spring", "2023-01-20", "0.00"));
}

#[tokio::test]
async fn a_deployment_reporting_in_usd_accepts_usd_and_refuses_eur() {
    let app = spawn_app_with(|c| c.attribution.currency = "USD".into()).await;
    let mut usd = spend("Spring", "2023-01-20", "10");
    usd["currency"] = json!("USD");
    let response = app.post_json("/webhooks/spend", &usd).await;
    assert_eq!(response.status().as_u16(), 200);
    let data = app
        .graphql_ok(
            "mutation($i: CampaignSpendInput!) { recordCampaignSpend(input: $i) { currency } }",
            json!({ "i": { "campaign": "Spring", "source": "google", "medium": "cpc", "date": "2023-01-21", "amount": "1" } }),
        )
        .await;
    assert_eq!(data["recordCampaignSpend"]["currency"], "USD");

    let mut eur = spend("Spring", "2023-01-22", "10");
    eur["currency"] = json!("EUR");
    let response = app.post_json("/webhooks/spend", &eur).await;
    assert_eq!(response.status().as_u16(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error["errors"][0]["message"],
        "'EUR' is not this deployment's reporting currency (USD); send amounts in USD"
    );
    assert_eq!(stored(&app).await.len(), 2);
}
