//! The root query.

use std::sync::Arc;

use async_graphql::{Context, Object};

use super::error::{bad_input, internal};
use super::pagination::{after, page_size};
use super::types::{
    Classification, Event, EventConnection, EventFilterInput, Pageview, PageviewConnection,
    PageviewFilterInput,
};
use crate::config::ServeConfig;
use crate::domain::WebUrl;
use crate::ingest::Ingestor;
use crate::store::{EventFilter, PageviewFilter, Store};

/// Read access to everything the service knows.
pub struct Query;

#[Object]
impl Query {
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
        let filter: PageviewFilter = filter.unwrap_or_default().into();
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
        let filter: EventFilter = filter.unwrap_or_default().into();
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
