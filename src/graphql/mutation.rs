//! The root mutation: webhooks sent through GraphQL, which take the same
//! ingestion path as the REST adapter (so both accept and refuse alike),
//! and the erasure of a user.

use async_graphql::{Context, Object, ID};

use super::error::{from_ingest, internal, invalid};
use super::types::{
    CampaignSpend, CampaignSpendInput, ErasureSummary, Event, EventInput, IngestSummary, Pageview,
    PageviewInput, SpendSummary,
};
use crate::domain::{RawEvent, RawPageview, RawSpend, UserId};
use crate::ingest::{Ingestor, Recorded};
use crate::materialize::Materializer;
use crate::store::Store;

/// Writes.
pub struct Mutation;

fn summary(r: &Recorded) -> IngestSummary {
    IngestSummary {
        stored: r.outcome.stored,
        duplicates: r.outcome.duplicates,
    }
}

#[Object(name = "RecordMutation")]
impl Mutation {
    /// Records one pageview and returns it as stored (a redelivery returns
    /// the row stored the first time).
    async fn record_pageview(
        &self,
        ctx: &Context<'_>,
        input: PageviewInput,
    ) -> async_graphql::Result<Pageview> {
        let ingestor = ctx.data::<Ingestor>()?;
        let recorded = ingestor
            .pageviews(vec![RawPageview::from(input)], false)
            .await
            .map_err(from_ingest)?;
        let store = ctx.data::<Store>()?;
        let row = store
            .pageviews_by_keys(recorded.keys)
            .await
            .map_err(internal)?
            .into_iter()
            .next()
            .ok_or_else(|| internal(anyhow::anyhow!("stored pageview not found")))?;
        Ok(row.into())
    }

    /// Records one event and returns it as stored.
    async fn record_event(
        &self,
        ctx: &Context<'_>,
        input: EventInput,
    ) -> async_graphql::Result<Event> {
        let ingestor = ctx.data::<Ingestor>()?;
        let recorded = ingestor
            .events(vec![RawEvent::from(input)], false)
            .await
            .map_err(from_ingest)?;
        let store = ctx.data::<Store>()?;
        let row = store
            .events_by_keys(recorded.keys)
            .await
            .map_err(internal)?
            .into_iter()
            .next()
            .ok_or_else(|| internal(anyhow::anyhow!("stored event not found")))?;
        Ok(row.into())
    }

    /// Records a batch of pageviews atomically: one invalid input stores none.
    async fn record_pageviews(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<PageviewInput>,
    ) -> async_graphql::Result<IngestSummary> {
        let ingestor = ctx.data::<Ingestor>()?;
        let raws = inputs.into_iter().map(RawPageview::from).collect();
        let recorded = ingestor.pageviews(raws, true).await.map_err(from_ingest)?;
        Ok(summary(&recorded))
    }

    /// Records a batch of events atomically: one invalid input stores none.
    async fn record_events(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<EventInput>,
    ) -> async_graphql::Result<IngestSummary> {
        let ingestor = ctx.data::<Ingestor>()?;
        let raws = inputs.into_iter().map(RawEvent::from).collect();
        let recorded = ingestor.events(raws, true).await.map_err(from_ingest)?;
        Ok(summary(&recorded))
    }

    /// Records one day's spend of one (campaign, source, medium) and returns
    /// it as stored: a later call for the same key and date replaces the
    /// amount. Spend in any currency but the deployment's is refused.
    async fn record_campaign_spend(
        &self,
        ctx: &Context<'_>,
        input: CampaignSpendInput,
    ) -> async_graphql::Result<CampaignSpend> {
        let ingestor = ctx.data::<Ingestor>()?;
        let recorded = ingestor
            .spend(vec![RawSpend::from(input)], false)
            .await
            .map_err(from_ingest)?;
        // The parsed row is what the upsert wrote, so no read-back is needed.
        let spend = recorded
            .spend
            .into_iter()
            .next()
            .ok_or_else(|| internal(anyhow::anyhow!("recorded spend is empty")))?;
        Ok(spend.into())
    }

    /// Records spend rows atomically: one invalid input stores none.
    async fn record_campaign_spends(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<CampaignSpendInput>,
    ) -> async_graphql::Result<SpendSummary> {
        let ingestor = ctx.data::<Ingestor>()?;
        let raws = inputs.into_iter().map(RawSpend::from).collect();
        let recorded = ingestor.spend(raws, true).await.map_err(from_ingest)?;
        Ok(SpendSummary {
            stored: recorded.outcome.stored,
            replaced: recorded.outcome.replaced,
        })
    }

    /// Erases a user (right to erasure): their identity links and every
    /// device linked to them or seen with their id, whole — its pageviews,
    /// its events and its links to other users. A device the user shared
    /// with another user is erased for both; the other user keeps their
    /// other devices. Reports, touchpoints and credits no longer count any
    /// of it once this returns. An id never seen (or already erased) erases
    /// nothing and answers zeros. Admin only; recorded in the audit log
    /// under the SHA-256 of the id.
    async fn erase_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ErasureSummary> {
        let user = UserId::parse("id", &id).map_err(|e| invalid(&[e]))?;
        let store = ctx.data::<Store>()?;
        let materializer = ctx.data::<Materializer>()?;
        let summary = crate::privacy::erase_user(store, Some(materializer), &user)
            .await
            .map_err(|e| internal(anyhow::Error::new(e).context("Failed to erase a user")))?;
        let actor = ctx
            .data_opt::<crate::auth::Principal>()
            .map_or("unknown", |p| p.name.as_str());
        crate::privacy::audit_erasure(store, actor, &user, &summary).await;
        Ok(summary.into())
    }
}
