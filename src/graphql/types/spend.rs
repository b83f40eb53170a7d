//! Campaign spend: the input the mutations take, the row they answer with,
//! and [`SpendQuery`], which reads stored spend back.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use entity::campaign_spend;

use crate::domain::{parse_date, Amount, NewSpend, RawSpend};
use crate::graphql::error::{bad_input, internal};
use crate::store::Store;

/// One day's spend of one campaign, as the REST payload but in camelCase.
#[derive(Debug, Clone, InputObject)]
pub struct CampaignSpendInput {
    /// The campaign's name, as in `utm_campaign` (kept as sent, trimmed).
    pub campaign: String,
    /// The traffic source, as in `utm_source`; stored lower-cased.
    pub source: String,
    /// The medium, as in `utm_medium`; stored lower-cased.
    pub medium: String,
    /// The day the money was spent, `YYYY-MM-DD`.
    pub date: String,
    /// A decimal string with at most 6 fraction digits (`"123.45"`), from 0
    /// to 10^12. A string, not a float, so that money stays exact.
    pub amount: String,
    /// ISO 4217 code; the deployment's reporting currency when left out, and
    /// refused when it is any other.
    pub currency: Option<String>,
}

impl From<CampaignSpendInput> for RawSpend {
    fn from(i: CampaignSpendInput) -> Self {
        RawSpend {
            campaign: Some(i.campaign),
            source: Some(i.source),
            medium: Some(i.medium),
            date: Some(i.date),
            amount: Some(i.amount),
            currency: i.currency,
        }
    }
}

/// One day's spend of one (campaign, source, medium). A later delivery for
/// the same key replaces the amount.
#[derive(Debug, Clone, SimpleObject)]
pub struct CampaignSpend {
    /// The campaign's name, as sent.
    pub campaign: String,
    /// The traffic source, lower-cased (as pageviews' `source`).
    pub source: String,
    /// The medium, lower-cased (as pageviews' `medium`).
    pub medium: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// The exact amount as a canonical decimal: no trailing zeros beyond two
    /// fraction digits (`"123.45"`, `"0.00"`, `"12.345"`).
    pub amount: String,
    /// ISO 4217 code: the deployment's reporting currency.
    pub currency: String,
}

impl From<NewSpend> for CampaignSpend {
    fn from(s: NewSpend) -> Self {
        Self {
            campaign: s.campaign,
            source: s.source,
            medium: s.medium,
            date: s.date.format("%Y-%m-%d").to_string(),
            amount: s.amount.to_string(),
            currency: s.currency.as_str().to_owned(),
        }
    }
}

impl From<campaign_spend::Model> for CampaignSpend {
    fn from(m: campaign_spend::Model) -> Self {
        Self {
            campaign: m.campaign,
            source: m.source,
            medium: m.medium,
            date: m.date.format("%Y-%m-%d").to_string(),
            amount: Amount::from_micros(m.amount_micros).to_string(),
            currency: m.currency,
        }
    }
}

/// What a batch spend mutation stored.
#[derive(Debug, Clone, Copy, SimpleObject)]
pub struct SpendSummary {
    /// Rows for a (campaign, source, medium, date) not stored before.
    pub stored: u64,
    /// Rows whose key was already stored: their amount replaced the old one.
    pub replaced: u64,
}

/// Reads of campaign spend; merged into the root query.
#[derive(Default)]
pub struct SpendQuery;

/// A `YYYY-MM-DD` argument, or a `BAD_USER_INPUT` naming it.
fn date_arg(name: &str, value: Option<String>) -> async_graphql::Result<Option<chrono::NaiveDate>> {
    value
        .map(|v| parse_date(&v).map_err(|m| bad_input(format!("{name}: {m}"))))
        .transpose()
}

#[Object]
impl SpendQuery {
    /// Stored spend with `from <= date < to` (`YYYY-MM-DD`; either end may be
    /// left open), by date, then campaign, source and medium. One row per
    /// campaign and day, so a range of a year is a few thousand rows at most.
    async fn campaign_spend(
        &self,
        ctx: &Context<'_>,
        from: Option<String>,
        to: Option<String>,
    ) -> async_graphql::Result<Vec<CampaignSpend>> {
        let (from, to) = (date_arg("from", from)?, date_arg("to", to)?);
        let store = ctx.data::<Store>()?;
        let rows = store.spend_between(from, to).await.map_err(internal)?;
        Ok(rows.into_iter().map(CampaignSpend::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Schema};
    use chrono::{NaiveDate, Utc};
    use serde_json::json;

    use super::SpendQuery;
    use crate::config::DatabaseConfig;
    use crate::store::{SpendRow, Store};

    fn row(date: &str, amount_micros: i64) -> SpendRow {
        SpendRow {
            campaign: "Spring".into(),
            source: "google".into(),
            medium: "cpc".into(),
            date: NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
            amount_micros,
            currency: "EUR".into(),
        }
    }

    // Until `SpendQuery` is merged into the root `Query`, this is where its
    // resolver is exercised end to end against a real database.
    #[tokio::test]
    async fn campaign_spend_lists_a_half_open_range_with_canonical_amounts() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&DatabaseConfig::new(url)).await.unwrap();
        store.migrate().await.unwrap();
        store
            .insert_spend(
                vec![
                    row("2023-01-01", 100_000),
                    row("2023-01-02", 12_345_678),
                    row("2023-01-03", 5_000_000),
                ],
                Utc::now(),
            )
            .await
            .unwrap();
        let schema = Schema::build(SpendQuery, EmptyMutation, EmptySubscription)
            .data(store)
            .finish();
        let response = schema
            .execute(
                r#"{ campaignSpend(from: "2023-01-02", to: "2023-01-03") { campaign source medium date amount currency } }"#,
            )
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        assert_eq!(
            response.data.into_json().unwrap(),
            json!({ "campaignSpend": [{
                "campaign": "Spring", "source": "google", "medium": "cpc",
                "date": "2023-01-02", "amount": "12.345678", "currency": "EUR",
            }] })
        );

        let response = schema
            .execute(r#"{ campaignSpend(from: "2023-1-2") { date } }"#)
            .await;
        assert_eq!(response.errors.len(), 1);
        assert!(response.errors[0].message.starts_with("from: "));
    }
}
