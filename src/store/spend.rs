//! Campaign spend: one row per (campaign, source, medium, date), upserted so
//! that a later delivery for the same day replaces the amount (ad platforms
//! restate yesterday's spend as late clicks are billed).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use entity::campaign_spend;
use sea_orm::sea_query::{Condition, OnConflict};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::Store;

/// Rows per statement: 7 bound columns a row stays far below SQLite's and
/// PostgreSQL's bind-parameter limits.
const CHUNK: usize = 500;

/// One day's spend to store. The store deals in columns, not domain types:
/// amounts arrive already as exact micros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRow {
    pub campaign: String,
    pub source: String,
    pub medium: String,
    pub date: NaiveDate,
    pub amount_micros: i64,
    pub currency: String,
}

/// The natural key of a spend row.
type SpendKey = (String, String, String, NaiveDate);

impl SpendRow {
    fn key(&self) -> SpendKey {
        (
            self.campaign.clone(),
            self.source.clone(),
            self.medium.clone(),
            self.date,
        )
    }
}

/// What a spend write did. `stored + replaced` is the number of rows sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpendOutcome {
    /// Rows whose key was new.
    pub stored: u64,
    /// Rows whose key was already stored (before, or earlier in the same
    /// request), whose amount they replaced.
    pub replaced: u64,
}

impl Store {
    /// Upserts spend rows atomically; for a key sent twice in one request the
    /// later row wins, as it would over two requests.
    pub async fn insert_spend(
        &self,
        rows: Vec<SpendRow>,
        received_at: DateTime<Utc>,
    ) -> Result<SpendOutcome, DbErr> {
        let total = rows.len() as u64;
        // One row per key: PostgreSQL refuses an ON CONFLICT DO UPDATE that
        // touches the same row twice in one statement.
        let latest: BTreeMap<SpendKey, SpendRow> =
            rows.into_iter().map(|row| (row.key(), row)).collect();
        let latest: Vec<SpendRow> = latest.into_values().collect();

        let _turn = self.write_turn().await;
        let txn = self.begin().await?;
        // Spend is a report input: cached reports must not outlive it. Bumped
        // first, so that on SQLite the transaction holds the write lock before
        // it reads: a deferred transaction that reads and then writes fails
        // at once ("database is locked") when another process wrote meanwhile,
        // where a first write waits its turn (`busy_timeout`).
        let signal = super::rollups::bump_version_live(&txn, &self.live).await?;
        let mut new_keys = 0;
        for chunk in latest.chunks(CHUNK) {
            // Counted inside the transaction, before the upsert, only to
            // report `replaced`. Under the SQLite gate it is exact; on
            // PostgreSQL a concurrent delivery of the same key may make both
            // report it as new, while the upsert itself stays correct.
            let existing = existing_keys(&txn, chunk).await?;
            new_keys += chunk
                .iter()
                .filter(|row| !existing.contains(&row.key()))
                .count() as u64;
            let models = chunk.iter().map(|row| campaign_spend::ActiveModel {
                id: Default::default(),
                campaign: Set(row.campaign.clone()),
                source: Set(row.source.clone()),
                medium: Set(row.medium.clone()),
                date: Set(row.date),
                amount_micros: Set(row.amount_micros),
                currency: Set(row.currency.clone()),
                received_at: Set(received_at),
            });
            campaign_spend::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::columns([
                        campaign_spend::Column::Campaign,
                        campaign_spend::Column::Source,
                        campaign_spend::Column::Medium,
                        campaign_spend::Column::Date,
                    ])
                    .update_columns([
                        campaign_spend::Column::AmountMicros,
                        campaign_spend::Column::Currency,
                        campaign_spend::Column::ReceivedAt,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        // Only after this returns is the request acknowledged: a 2xx means durable.
        txn.commit().await?;
        self.live.publish([signal]);
        Ok(SpendOutcome {
            stored: new_keys,
            replaced: total - new_keys,
        })
    }

    /// Spend rows with `from <= date < to` (either end open), by date, then
    /// campaign, source and medium.
    pub async fn spend_between(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<campaign_spend::Model>, DbErr> {
        let mut cond = Condition::all();
        if let Some(from) = from {
            cond = cond.add(campaign_spend::Column::Date.gte(from));
        }
        if let Some(to) = to {
            cond = cond.add(campaign_spend::Column::Date.lt(to));
        }
        campaign_spend::Entity::find()
            .filter(cond)
            .order_by_asc(campaign_spend::Column::Date)
            .order_by_asc(campaign_spend::Column::Campaign)
            .order_by_asc(campaign_spend::Column::Source)
            .order_by_asc(campaign_spend::Column::Medium)
            .all(&self.primary())
            .await
    }
}

/// Which of `rows`' keys are already stored.
async fn existing_keys(
    txn: &sea_orm::DatabaseTransaction,
    rows: &[SpendRow],
) -> Result<HashSet<SpendKey>, DbErr> {
    let cond = rows.iter().fold(Condition::any(), |cond, row| {
        cond.add(
            Condition::all()
                .add(campaign_spend::Column::Campaign.eq(row.campaign.as_str()))
                .add(campaign_spend::Column::Source.eq(row.source.as_str()))
                .add(campaign_spend::Column::Medium.eq(row.medium.as_str()))
                .add(campaign_spend::Column::Date.eq(row.date)),
        )
    });
    let keys: Vec<SpendKey> = campaign_spend::Entity::find()
        .select_only()
        .column(campaign_spend::Column::Campaign)
        .column(campaign_spend::Column::Source)
        .column(campaign_spend::Column::Medium)
        .column(campaign_spend::Column::Date)
        .filter(cond)
        .into_tuple()
        .all(txn)
        .await?;
    Ok(keys.into_iter().collect())
}
