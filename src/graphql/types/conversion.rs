//! `Conversion` and its connection.

use std::sync::Arc;

use async_graphql::connection::{CursorType, PageInfo};
use async_graphql::{Context, Object, SimpleObject, ID};

use super::attribution::Attribution;
use super::user::User;
use crate::attribution::Conversion;
use crate::graphql::args::{days, lookback_days};
use crate::graphql::error::internal;
use crate::graphql::loaders;
use crate::graphql::pagination::Cursor;
use crate::graphql::scalars::DateTime;
use crate::journeys::{JourneyKey, StoredEvent};
use crate::store::{EventFilter, PageCursor, Store};

/// A conversion event (`signup`, `trial`, or any of `CONVERSION_EVENTS`) with
/// what led to it.
#[derive(Clone)]
pub struct ConversionNode {
    pub event: StoredEvent,
    /// Whose journey the conversion is part of.
    pub key: JourneyKey,
    /// The lookback the enclosing query asked for.
    pub lookback_days: i64,
}

impl ConversionNode {
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.event.row.created_at,
            id: self.event.row.id,
        }
    }

    async fn evaluate(
        &self,
        ctx: &Context<'_>,
        lookback_days: i64,
    ) -> async_graphql::Result<Arc<Conversion>> {
        let journey = loaders::journey(ctx, self.key.clone()).await?;
        Ok(Arc::new(
            journey
                .journey
                .evaluate(&self.event.fact, days(lookback_days)),
        ))
    }
}

#[Object(name = "Conversion")]
impl ConversionNode {
    /// Stable across databases: derived from the event's content.
    async fn id(&self) -> ID {
        ID(self.event.id.clone())
    }

    /// The converting user: the event's `user_id`, or for an event sent
    /// without one, the user its fingerprint is linked to (if any).
    async fn user_id(&self) -> Option<&str> {
        match &self.key {
            JourneyKey::User(u) => Some(u.as_str()),
            JourneyKey::Anonymous(_) => None,
        }
    }

    /// The converting user, when known.
    async fn user(&self) -> Option<User> {
        match &self.key {
            JourneyKey::User(u) => Some(User { id: u.clone() }),
            JourneyKey::Anonymous(_) => None,
        }
    }

    /// The fingerprint that sent the event.
    async fn fingerprint(&self) -> &str {
        &self.event.fact.fingerprint
    }

    /// The event name (`signup`, `trial`, …).
    async fn name(&self) -> &str {
        &self.event.fact.name
    }

    /// When the conversion happened.
    async fn at(&self) -> DateTime {
        self.event.fact.at.into()
    }

    /// A `signup` of a user who started a `trial` earlier.
    #[graphql(name = "fromTrial")]
    async fn was_trial(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.evaluate(ctx, self.lookback_days).await?.from_trial)
    }

    /// Seconds from the first touchpoint in the window to the conversion;
    /// null when no touchpoint is in play.
    async fn time_to_convert_seconds(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<i64>> {
        Ok(self
            .evaluate(ctx, self.lookback_days)
            .await?
            .time_to_convert_seconds)
    }

    /// The user's pageviews in the lookback window up to the conversion.
    async fn pageviews_before(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(self
            .evaluate(ctx, self.lookback_days)
            .await?
            .pageviews_before)
    }

    /// The user's pageviews after the conversion.
    async fn pageviews_after(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(self
            .evaluate(ctx, self.lookback_days)
            .await?
            .pageviews_after)
    }

    /// Which touchpoints brought the conversion. `lookbackDays` overrides the
    /// window (default: the enclosing query's, else `LOOKBACK_DAYS`).
    async fn attribution(
        &self,
        ctx: &Context<'_>,
        lookback_days: Option<i32>,
    ) -> async_graphql::Result<Attribution> {
        let days = match lookback_days {
            Some(_) => self::lookback_days(ctx, lookback_days)?,
            None => self.lookback_days,
        };
        Ok(Attribution {
            conversion: self.evaluate(ctx, days).await?,
            lookback_days: days,
        })
    }
}

/// An edge of a [`ConversionConnection`].
#[derive(Clone, SimpleObject)]
pub struct ConversionEdge {
    pub cursor: String,
    pub node: ConversionNode,
}

/// How a connection knows its total.
pub enum Total {
    /// Already counted (the query had to attribute every conversion anyway).
    Known(u64),
    /// Counted by the database when asked.
    Count(EventFilter),
}

/// A page of conversions, oldest first.
pub struct ConversionConnection {
    pub nodes: Vec<ConversionNode>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub total: Total,
}

#[Object]
impl ConversionConnection {
    /// How many conversions match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        match &self.total {
            Total::Known(n) => Ok(*n),
            Total::Count(filter) => ctx
                .data::<Store>()?
                .count_events(filter)
                .await
                .map_err(internal),
        }
    }

    /// The conversions of this page.
    async fn nodes(&self) -> &[ConversionNode] {
        &self.nodes
    }

    /// The conversions of this page with their cursors.
    async fn edges(&self) -> Vec<ConversionEdge> {
        self.nodes
            .iter()
            .map(|n| ConversionEdge {
                cursor: Cursor(n.cursor()).encode_cursor(),
                node: n.clone(),
            })
            .collect()
    }

    /// Where this page sits.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self
                .nodes
                .first()
                .map(|n| Cursor(n.cursor()).encode_cursor()),
            end_cursor: self
                .nodes
                .last()
                .map(|n| Cursor(n.cursor()).encode_cursor()),
        }
    }
}
