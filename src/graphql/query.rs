//! The root query.

use std::sync::Arc;

use async_graphql::{Context, MergedObject, Object, ID};

use super::args::{days as days_of, lookback_days, text};
use super::error::{bad_input, internal};
use super::loaders;
use super::pagination::{after, page_size};
use super::types::{
    decode_user_cursor, resolve_range, AttributionModelGql, ChannelGql, Classification,
    ConversionConnection, ConversionNode, DateRange, Event, EventConnection, EventFilterInput,
    Pageview, PageviewConnection, PageviewFilterInput, Total, User, UserConnection,
};
use crate::attribution::Model;
use crate::config::ServeConfig;
use crate::domain::WebUrl;
use crate::ingest::Ingestor;
use crate::journeys::{self, CreditFilter, JourneyKey, StoredEvent};
use crate::store::{EventFilter, PageviewFilter, Store, TimeRange};

/// Read access to everything the service knows.
#[derive(MergedObject, Default)]
#[graphql(name = "ReadQuery")]
pub struct Query(
    WebhookQuery,
    AttributionQuery,
    super::reports::ReportsQuery,
    super::paths::PathsQuery,
    super::types::SpendQuery,
);

/// Stored webhooks and classification.
#[derive(Default)]
pub struct WebhookQuery;

/// Users, conversions and their attribution.
#[derive(Default)]
pub struct AttributionQuery;

#[Object]
impl WebhookQuery {
    /// Stored pageviews, oldest first, filtered by visitor, account and time.
    #[graphql(complexity = "1 + first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn pageviews(
        &self,
        ctx: &Context<'_>,
        filter: Option<PageviewFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<PageviewConnection> {
        let store = ctx.data::<Store>()?;
        let config = ctx.data::<Arc<ServeConfig>>()?;
        let limit = page_size(first, config.limits.max_page_size)?;
        let cursor = self::after(after)?;
        let filter = PageviewFilter::try_from(filter.unwrap_or_default())?;
        let mut rows = store
            .pageviews(&filter, cursor, limit as u64 + 1)
            .await
            .map_err(internal)?;
        let has_next_page = rows.len() > limit;
        rows.truncate(limit);
        Ok(PageviewConnection {
            nodes: rows.into_iter().map(Pageview::from).collect(),
            has_next_page,
            has_previous_page: cursor.is_some(),
            filter,
        })
    }

    /// Stored events, oldest first, filtered by name, visitor, account and time.
    #[graphql(complexity = "1 + first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<EventConnection> {
        let store = ctx.data::<Store>()?;
        let config = ctx.data::<Arc<ServeConfig>>()?;
        let limit = page_size(first, config.limits.max_page_size)?;
        let cursor = self::after(after)?;
        let filter = EventFilter::try_from(filter.unwrap_or_default())?;
        let mut rows = store
            .events(&filter, cursor, limit as u64 + 1)
            .await
            .map_err(internal)?;
        let has_next_page = rows.len() > limit;
        rows.truncate(limit);
        Ok(EventConnection {
            nodes: rows.into_iter().map(Event::from).collect(),
            has_next_page,
            has_previous_page: cursor.is_some(),
            filter,
        })
    }

    /// How a page URL and referrer would be classified, without storing
    /// anything: check a campaign's tagging before it goes live.
    async fn classify(
        &self,
        ctx: &Context<'_>,
        url: String,
        referrer_url: Option<String>,
    ) -> async_graphql::Result<Classification> {
        let ingestor = ctx.data::<Ingestor>()?;
        let url =
            WebUrl::parse("url", &url).map_err(|e| bad_input(format!("url {}", e.message)))?;
        let referrer = match referrer_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(r) => Some(
                WebUrl::parse("referrerUrl", r)
                    .map_err(|e| bad_input(format!("referrerUrl {}", e.message)))?,
            ),
        };
        Ok(ingestor
            .classify(url.as_url(), referrer.as_ref().map(WebUrl::as_url))
            .into())
    }
}

#[Object]
impl AttributionQuery {
    /// A user by account id; null when the id was never seen.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        text("id", &id)?;
        let journey = loaders::journey(ctx, JourneyKey::User(id.to_string())).await?;
        Ok(journey.is_known().then(|| User { id: id.to_string() }))
    }

    /// Users by when they were first seen (the earliest link between their id
    /// and a device), oldest first.
    #[graphql(complexity = "1 + first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        let store = ctx.data::<Store>()?;
        let config = ctx.data::<Arc<ServeConfig>>()?;
        let limit = page_size(first, config.limits.max_page_size)?;
        let cursor = after.as_deref().map(decode_user_cursor).transpose()?;
        let range: TimeRange = resolve_range(range)?;
        let mut rows = store
            .users(&range, cursor.as_ref(), limit as u64 + 1)
            .await
            .map_err(internal)?;
        let has_next_page = rows.len() > limit;
        rows.truncate(limit);
        Ok(UserConnection {
            users: rows
                .into_iter()
                .map(|r| (r.user_id, r.first_seen_at))
                .collect(),
            has_next_page,
            has_previous_page: cursor.is_some(),
            range,
        })
    }

    /// Conversions named `name` in `range`, oldest first. `channel`, `source`
    /// and `campaign` filter on the touchpoint credited under `model` (under a
    /// multi-touch model: any touchpoint with a share of the credit); a
    /// conversion without touchpoints has source `(not set)` and channel
    /// UNASSIGNED. `lookbackDays` overrides `LOOKBACK_DAYS` for the
    /// attribution of every conversion returned.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "1 + first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn conversions(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default = "signup")] name: String,
        channel: Option<ChannelGql>,
        source: Option<String>,
        campaign: Option<String>,
        #[graphql(default_with = "AttributionModelGql::LastClick")] model: AttributionModelGql,
        lookback_days: Option<i32>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ConversionConnection> {
        let store = ctx.data::<Store>()?;
        let config = ctx.data::<Arc<ServeConfig>>()?;
        let limit = page_size(first, config.limits.max_page_size)?;
        let cursor = self::after(after)?;
        let days = self::lookback_days(ctx, lookback_days)?;
        text("name", &name)?;
        let filter = EventFilter {
            name: Some(name),
            range: resolve_range(range)?,
            ..EventFilter::default()
        };
        let credit = CreditFilter {
            channel: channel.map(Into::into),
            source,
            campaign,
        };
        let node = |event: StoredEvent, key: JourneyKey| ConversionNode {
            event,
            key,
            lookback_days: days,
        };

        if credit.is_empty() {
            // No condition on attribution: the database pages and counts.
            let mut rows = store
                .events(&filter, cursor, limit as u64 + 1)
                .await
                .map_err(internal)?;
            let has_next_page = rows.len() > limit;
            rows.truncate(limit);
            let nodes = with_keys(store, rows).await?;
            if needs_journeys(ctx) {
                // One batch for the whole page, decided here rather than left
                // to the loader's timing window: resolvers then hit its cache.
                loaders::journeys(ctx, nodes.iter().map(|(_, k)| k.clone())).await?;
            }
            return Ok(ConversionConnection {
                nodes: nodes.into_iter().map(|(e, k)| node(e, k)).collect(),
                has_next_page,
                has_previous_page: cursor.is_some(),
                total: Total::Count(filter),
            });
        }

        // A condition on the credited touchpoint: attribute every conversion
        // in range (one batch), keep the matching ones, then page.
        let rows = store.all_events(&filter).await.map_err(internal)?;
        let candidates = with_keys(store, rows).await?;
        let journeys = loaders::journeys(ctx, candidates.iter().map(|(_, k)| k.clone())).await?;
        let model = Model::from(model);
        let lookback = days_of(days);
        let matching: Vec<(StoredEvent, JourneyKey)> = candidates
            .into_iter()
            .filter(|(event, key)| {
                journeys.get(key).is_some_and(|j| {
                    credit.matches(&j.journey.evaluate(&event.fact, lookback), model)
                })
            })
            .collect();
        let total = matching.len() as u64;
        let mut page: Vec<_> = matching
            .into_iter()
            .filter(|(e, _)| {
                cursor.is_none_or(|c| (e.row.created_at, e.row.id) > (c.created_at, c.id))
            })
            .take(limit + 1)
            .collect();
        let has_next_page = page.len() > limit;
        page.truncate(limit);
        Ok(ConversionConnection {
            nodes: page.into_iter().map(|(e, k)| node(e, k)).collect(),
            has_next_page,
            has_previous_page: cursor.is_some(),
            total: Total::Known(total),
        })
    }
}

/// Whether the selected conversion fields need the users' journeys.
fn needs_journeys(ctx: &Context<'_>) -> bool {
    const JOURNEY_FIELDS: [&str; 6] = [
        "user",
        "fromTrial",
        "timeToConvertSeconds",
        "pageviewsBefore",
        "pageviewsAfter",
        "attribution",
    ];
    let look = ctx.look_ahead();
    [look.field("nodes"), look.field("edges").field("node")]
        .iter()
        .any(|n| JOURNEY_FIELDS.iter().any(|f| n.field(f).exists()))
}

/// Resolves whose journey each event belongs to (one query for the owners of
/// anonymous fingerprints).
pub(super) async fn with_keys(
    store: &Store,
    rows: Vec<entity::event::Model>,
) -> async_graphql::Result<Vec<(StoredEvent, JourneyKey)>> {
    let anonymous: Vec<String> = rows
        .iter()
        .filter(|r| r.user_id.is_none())
        .map(|r| r.fingerprint.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let owners = journeys::owners(store, &anonymous)
        .await
        .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let key = journeys::key_of(&r, &owners);
            (StoredEvent::from(r), key)
        })
        .collect())
}
