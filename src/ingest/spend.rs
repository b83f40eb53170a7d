//! Campaign spend ingestion: validated whole like the webhooks, stored in one
//! transaction, idempotent per (campaign, source, medium, date).

use chrono::Utc;

use super::{IngestError, Ingestor};
use crate::domain::{NewSpend, RawSpend};
use crate::store::{SpendOutcome, SpendRow};

/// The result of a stored spend request.
#[derive(Debug, Clone)]
pub struct RecordedSpend {
    pub outcome: SpendOutcome,
    /// The rows as parsed (canonical values), in request order.
    pub spend: Vec<NewSpend>,
}

impl Ingestor {
    /// The deployment's reporting currency (ISO 4217).
    pub fn currency(&self) -> &str {
        self.currency.as_str()
    }

    /// Stores spend rows, replacing the amount of any (campaign, source,
    /// medium, date) already stored. `batch` says whether errors should name
    /// item indexes.
    pub async fn spend(
        &self,
        raws: Vec<RawSpend>,
        batch: bool,
    ) -> Result<RecordedSpend, IngestError> {
        let window = self.window_now();
        let parsed = self.validate(raws, batch, |raw| {
            NewSpend::parse(raw, &self.currency, &window)
        })?;
        let rows = parsed
            .iter()
            .map(|s| SpendRow {
                campaign: s.campaign.clone(),
                source: s.source.clone(),
                medium: s.medium.clone(),
                date: s.date,
                amount_micros: s.amount.micros(),
                currency: s.currency.as_str().to_owned(),
            })
            .collect();
        let outcome = self.store.insert_spend(rows, Utc::now()).await?;
        Ok(RecordedSpend {
            outcome,
            spend: parsed,
        })
    }
}
