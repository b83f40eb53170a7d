//! `Classification`: how a URL pair is classified, without storing anything.

use async_graphql::SimpleObject;

use super::ChannelGql;
use crate::ingest::classify;

/// What ingestion derives from a page URL and its referrer.
#[derive(Debug, Clone, SimpleObject)]
pub struct Classification {
    /// The URL's path, without query or fragment.
    pub landing_page: String,
    /// The referrer's host as sent.
    pub referrer_host: Option<String>,
    pub source: String,
    pub medium: String,
    pub campaign: Option<String>,
    pub content: Option<String>,
    pub term: Option<String>,
    /// The ads click-id parameter that was present (`gclid`, `msclkid`, …).
    pub click_id: Option<String>,
    pub channel: ChannelGql,
    /// Which rule decided source, medium and channel, in words.
    pub rule: String,
    /// Whether such a pageview starts a touchpoint even inside a session.
    pub is_marketing: bool,
}

impl From<classify::Classification> for Classification {
    fn from(c: classify::Classification) -> Self {
        Self {
            is_marketing: c.is_marketing(),
            landing_page: c.landing_page,
            referrer_host: c.referrer_host,
            source: c.source,
            medium: c.medium,
            campaign: c.campaign,
            content: c.content,
            term: c.term,
            click_id: c.click_id,
            channel: c.channel.into(),
            rule: c.rule,
        }
    }
}
