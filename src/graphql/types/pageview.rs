//! `Pageview` and its connection.

use async_graphql::connection::{CursorType, PageInfo};
use async_graphql::{ComplexObject, Context, Object, SimpleObject, ID};
use entity::pageview;

use super::ChannelGql;
use crate::domain::Channel;
use crate::graphql::error::internal;
use crate::graphql::pagination::Cursor;
use crate::graphql::scalars::DateTime;
use crate::store::{PageCursor, PageviewFilter, Store};

/// A stored pageview with what ingestion derived from it.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Pageview {
    pub id: ID,
    /// The visitor's cookie id.
    pub fingerprint: String,
    /// The account id sent with the pageview, if any.
    pub user_id: Option<String>,
    /// The page's URL as sent.
    pub url: String,
    /// The referrer's URL as sent.
    pub referrer_url: Option<String>,
    /// The referrer's host as sent (`www.facebook.com`).
    pub referrer_host: Option<String>,
    /// When the page was viewed.
    pub created_at: DateTime,
    /// The URL's path, without query or fragment.
    pub landing_page: String,
    /// Where the visit came from (`google`, `facebook`, `(direct)`).
    pub source: String,
    /// How it came (`organic`, `cpc`, `paid`, `referral`, `(none)`).
    pub medium: String,
    /// `utm_campaign`, as sent.
    pub campaign: Option<String>,
    /// `utm_content`, as sent.
    pub content: Option<String>,
    /// `utm_term`, as sent.
    pub term: Option<String>,
    /// The ads click-id parameter that was present (`gclid`, `msclkid`, …).
    pub click_id: Option<String>,
    /// The GA4 default channel.
    pub channel: ChannelGql,
    /// Which rule decided source, medium and channel, in words.
    pub rule: String,
    #[graphql(skip)]
    pub cursor: PageCursor,
}

#[ComplexObject]
impl Pageview {
    /// Whether the pageview carries a marketing signal (campaign parameters,
    /// a click id or an external referrer).
    async fn is_marketing(&self) -> bool {
        self.source != "(direct)"
    }
}

impl From<pageview::Model> for Pageview {
    fn from(m: pageview::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            fingerprint: m.fingerprint,
            user_id: m.user_id,
            url: m.url,
            referrer_url: m.referrer_url,
            referrer_host: m.referrer_host,
            created_at: m.created_at.into(),
            landing_page: m.landing_page,
            source: m.source,
            medium: m.medium,
            campaign: m.campaign,
            content: m.content,
            term: m.term,
            click_id: m.click_id,
            // Stored values are written by `classify`; an unknown one means a
            // newer writer, and UNASSIGNED is the honest answer for it.
            channel: m.channel.parse().unwrap_or(Channel::Unassigned).into(),
            rule: m.rule,
            cursor: PageCursor {
                created_at: m.created_at,
                id: m.id,
            },
        }
    }
}

/// An edge of a [`PageviewConnection`].
#[derive(Debug, Clone, SimpleObject)]
pub struct PageviewEdge {
    pub cursor: String,
    pub node: Pageview,
}

/// A page of pageviews, oldest first.
pub struct PageviewConnection {
    pub nodes: Vec<Pageview>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub filter: PageviewFilter,
}

#[Object]
impl PageviewConnection {
    /// How many pageviews match the filter, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let store = ctx.data::<Store>()?;
        store.count_pageviews(&self.filter).await.map_err(internal)
    }

    /// The pageviews of this page.
    async fn nodes(&self) -> &[Pageview] {
        &self.nodes
    }

    /// The pageviews of this page with their cursors.
    async fn edges(&self) -> Vec<PageviewEdge> {
        self.nodes
            .iter()
            .map(|n| PageviewEdge {
                cursor: Cursor(n.cursor).encode_cursor(),
                node: n.clone(),
            })
            .collect()
    }

    /// Where this page sits.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self.nodes.first().map(|n| Cursor(n.cursor).encode_cursor()),
            end_cursor: self.nodes.last().map(|n| Cursor(n.cursor).encode_cursor()),
        }
    }
}
