//! `User` and its connection.

use std::sync::Arc;

use async_graphql::connection::PageInfo;
use async_graphql::{Context, Object, SimpleObject, ID};

use super::attribution::Attribution;
use super::conversion::ConversionNode;
use super::event::Event;
use super::pageview::PageviewConnection;
use crate::attribution::Settings;
use crate::config::ServeConfig;
use crate::graphql::args::{days, lookback_days};
use crate::graphql::error::{bad_input, internal};
use crate::graphql::loaders;
use crate::graphql::pagination::{after, page_size};
use crate::graphql::scalars::DateTime;
use crate::journeys::JourneyKey;
use crate::store::{PageviewFilter, Store, TimeRange, UserCursor};

/// An account, with every device (fingerprint) it was ever seen on.
pub struct User {
    pub id: String,
}

impl User {
    fn key(&self) -> JourneyKey {
        JourneyKey::User(self.id.clone())
    }
}

#[Object]
impl User {
    /// The account id, as the webhooks send it.
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }

    /// Every fingerprint ever seen together with this user id, sorted.
    async fn fingerprints(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(loaders::journey(ctx, self.key())
            .await?
            .fingerprints
            .clone())
    }

    /// When any of the user's devices was first seen with the user id.
    async fn first_seen_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime>> {
        Ok(loaders::journey(ctx, self.key())
            .await?
            .first_seen_at
            .map(Into::into))
    }

    /// The user's events (sent with their id, or anonymously from a device
    /// they own), oldest first.
    async fn events(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Event>> {
        let journey = loaders::journey(ctx, self.key()).await?;
        Ok(journey
            .events
            .iter()
            .map(|e| Event::from(e.row.clone()))
            .collect())
    }

    /// The pageviews of all the user's devices, oldest first — including
    /// those from before the device was linked to the user.
    #[graphql(complexity = "1 + first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn pageviews(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<PageviewConnection> {
        let config = ctx.data::<Arc<ServeConfig>>()?;
        let limit = page_size(first, config.limits.max_page_size)?;
        let cursor = self::after(after)?;
        let journey = loaders::journey(ctx, self.key()).await?;
        let filter = PageviewFilter {
            fingerprints: Some(journey.fingerprints.clone()),
            ..PageviewFilter::default()
        };
        let store = ctx.data::<Store>()?;
        let mut rows = store
            .pageviews(&filter, cursor, limit as u64 + 1)
            .await
            .map_err(internal)?;
        let has_next_page = rows.len() > limit;
        rows.truncate(limit);
        Ok(PageviewConnection {
            nodes: rows.into_iter().map(Into::into).collect(),
            has_next_page,
            has_previous_page: cursor.is_some(),
            filter,
        })
    }

    /// Every conversion of the user (events in `CONVERSION_EVENTS`), oldest first.
    async fn conversions(
        &self,
        ctx: &Context<'_>,
        lookback_days: Option<i32>,
    ) -> async_graphql::Result<Vec<ConversionNode>> {
        let days = self::lookback_days(ctx, lookback_days)?;
        let settings = ctx.data::<Arc<Settings>>()?;
        let journey = loaders::journey(ctx, self.key()).await?;
        Ok(journey
            .conversion_events(settings)
            .map(|e| ConversionNode {
                event: e.clone(),
                key: self.key(),
                lookback_days: days,
            })
            .collect())
    }

    /// Which touchpoints brought the user: the attribution of their first
    /// `signup`; null when they have not signed up.
    async fn attribution(
        &self,
        ctx: &Context<'_>,
        lookback_days: Option<i32>,
    ) -> async_graphql::Result<Option<Attribution>> {
        let days = self::lookback_days(ctx, lookback_days)?;
        let journey = loaders::journey(ctx, self.key()).await?;
        Ok(journey.first_signup().map(|signup| Attribution {
            conversion: Arc::new(journey.journey.evaluate(&signup.fact, self::days(days))),
            lookback_days: days,
        }))
    }
}

/// An edge of a [`UserConnection`].
#[derive(SimpleObject)]
pub struct UserEdge {
    pub cursor: String,
    pub node: User,
}

/// A page of users, by first seen.
pub struct UserConnection {
    pub users: Vec<(String, chrono::DateTime<chrono::Utc>)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub range: TimeRange,
}

/// Encodes a user cursor: opaque to clients.
pub fn encode_user_cursor(first_seen: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("u{}_{id}", first_seen.timestamp_micros())
}

/// Decodes a user cursor.
pub fn decode_user_cursor(s: &str) -> async_graphql::Result<UserCursor> {
    let invalid = || bad_input(format!("'{s}' is not a cursor returned by this API"));
    let (micros, id) = s
        .strip_prefix('u')
        .and_then(|r| r.split_once('_'))
        .ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    Ok(UserCursor {
        first_seen_at: chrono::DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?,
        user_id: id.to_owned(),
    })
}

#[Object]
impl UserConnection {
    /// How many users were first seen in the range.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        ctx.data::<Store>()?
            .count_users(&self.range)
            .await
            .map_err(internal)
    }

    /// The users of this page.
    async fn nodes(&self) -> Vec<User> {
        self.users
            .iter()
            .map(|(id, _)| User { id: id.clone() })
            .collect()
    }

    /// The users of this page with their cursors.
    async fn edges(&self) -> Vec<UserEdge> {
        self.users
            .iter()
            .map(|(id, at)| UserEdge {
                cursor: encode_user_cursor(*at, id),
                node: User { id: id.clone() },
            })
            .collect()
    }

    /// Where this page sits.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self
                .users
                .first()
                .map(|(id, at)| encode_user_cursor(*at, id)),
            end_cursor: self
                .users
                .last()
                .map(|(id, at)| encode_user_cursor(*at, id)),
        }
    }
}
