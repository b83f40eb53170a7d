//! The `Channel` enum as GraphQL shows it.

use async_graphql::Enum;

/// Google Analytics 4's default channel group, in its order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "Channel", remote = "crate::domain::Channel")]
pub enum ChannelGql {
    /// No campaign, click id or external referrer: typed in, bookmarked, or a new session.
    Direct,
    /// Campaign name contains `cross-network` (e.g. Performance Max).
    CrossNetwork,
    /// Paid medium on a shopping site or shopping campaign.
    PaidShopping,
    /// Paid medium on a search engine, or an ads click id.
    PaidSearch,
    /// Paid medium on a social network.
    PaidSocial,
    /// Paid medium on a video site.
    PaidVideo,
    /// Medium display, banner, expandable, interstitial or cpm.
    Display,
    /// Any other paid medium (`cpc`, `ppc`, `paid…`, `retargeting`).
    PaidOther,
    /// A shopping site or shopping campaign, unpaid.
    OrganicShopping,
    /// A social network, or a social medium, unpaid.
    OrganicSocial,
    /// A video site, or a medium containing `video`, unpaid.
    OrganicVideo,
    /// A search engine, or medium `organic`.
    OrganicSearch,
    /// Medium referral, app or link (including unknown external referrers).
    Referral,
    /// Source or medium email.
    Email,
    /// Medium affiliate.
    Affiliates,
    /// Medium audio or podcast.
    Audio,
    /// Source or medium sms.
    Sms,
    /// Push notifications.
    MobilePush,
    /// An AI assistant (ChatGPT, Perplexity, Claude, Gemini, Copilot).
    AiAssistants,
    /// None of the rules matched.
    Unassigned,
}
