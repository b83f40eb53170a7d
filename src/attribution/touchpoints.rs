//! Sessionisation: turning a user's pageviews into touchpoints.
//!
//! Pageviews reach us from several devices (fingerprints), through retries and
//! batched uploads, so their arrival order means nothing and exact duplicates
//! are common. Everything here therefore works on a *content-based* total order
//! (`at`, then `url`, then `referrer_url`, then every other field): two callers
//! holding the same set of facts always get the same touchpoints, whatever
//! order the store returned them in. Because the order compares every field,
//! identical facts end up adjacent and collapse with a single `dedup`.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::domain::Channel;

/// A stored pageview as the engine needs it (already classified at ingestion).
#[derive(Debug, Clone, PartialEq)]
pub struct PageviewFact {
    /// The device/browser fingerprint that sent the pageview.
    pub fingerprint: String,
    /// When the pageview happened.
    pub at: DateTime<Utc>,
    /// The full URL viewed.
    pub url: String,
    /// The landing page of the visit.
    pub landing_page: String,
    /// The `document.referrer`, if any.
    pub referrer_url: Option<String>,
    /// Traffic source; `"(direct)"` when there is no marketing signal.
    pub source: String,
    /// Traffic medium; `"(none)"` for direct traffic.
    pub medium: String,
    /// `utm_campaign`, if any.
    pub campaign: Option<String>,
    /// `utm_content`, if any.
    pub content: Option<String>,
    /// `utm_term`, if any.
    pub term: Option<String>,
    /// GA4 default channel group.
    pub channel: Channel,
    /// The name of the classification rule that produced `channel`.
    pub rule: String,
}

impl PageviewFact {
    /// Whether the pageview carries a marketing signal (campaign parameters, a
    /// click id or an external referrer — all folded into `source` at ingestion).
    pub fn is_marketing(&self) -> bool {
        self.source != "(direct)"
    }
}

/// A touchpoint: the pageview that started it, plus whether it is direct.
#[derive(Debug, Clone, PartialEq)]
pub struct Touchpoint {
    /// When the starting pageview happened.
    pub at: DateTime<Utc>,
    /// The fingerprint (device) of the starting pageview.
    pub fingerprint: String,
    /// The URL of the starting pageview.
    pub url: String,
    /// The landing page of the starting pageview.
    pub landing_page: String,
    /// The referrer of the starting pageview, if any.
    pub referrer_url: Option<String>,
    /// Traffic source (`"(direct)"` for direct touchpoints).
    pub source: String,
    /// Traffic medium (`"(none)"` for direct touchpoints).
    pub medium: String,
    /// `utm_campaign`, if any.
    pub campaign: Option<String>,
    /// `utm_content`, if any.
    pub content: Option<String>,
    /// `utm_term`, if any.
    pub term: Option<String>,
    /// GA4 default channel group.
    pub channel: Channel,
    /// The classification rule that produced `channel`.
    pub rule: String,
}

impl Touchpoint {
    /// Whether this is a DIRECT touchpoint (a new session without marketing signal).
    pub fn is_direct(&self) -> bool {
        self.channel == Channel::Direct
    }
}

impl From<&PageviewFact> for Touchpoint {
    fn from(pv: &PageviewFact) -> Self {
        Touchpoint {
            at: pv.at,
            fingerprint: pv.fingerprint.clone(),
            url: pv.url.clone(),
            landing_page: pv.landing_page.clone(),
            referrer_url: pv.referrer_url.clone(),
            source: pv.source.clone(),
            medium: pv.medium.clone(),
            campaign: pv.campaign.clone(),
            content: pv.content.clone(),
            term: pv.term.clone(),
            channel: pv.channel,
            rule: pv.rule.clone(),
        }
    }
}

/// The content-based total order on pageviews: `at`, `url`, `referrer_url`,
/// then every remaining field. `Equal` exactly when the facts are identical.
pub fn cmp_pageviews(a: &PageviewFact, b: &PageviewFact) -> Ordering {
    a.at.cmp(&b.at)
        .then_with(|| a.url.cmp(&b.url))
        .then_with(|| a.referrer_url.cmp(&b.referrer_url))
        .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        .then_with(|| a.landing_page.cmp(&b.landing_page))
        .then_with(|| a.source.cmp(&b.source))
        .then_with(|| a.medium.cmp(&b.medium))
        .then_with(|| a.campaign.cmp(&b.campaign))
        .then_with(|| a.content.cmp(&b.content))
        .then_with(|| a.term.cmp(&b.term))
        .then_with(|| a.channel.cmp(&b.channel))
        .then_with(|| a.rule.cmp(&b.rule))
}

/// The pageviews sorted by [`cmp_pageviews`] with identical facts collapsed.
pub(crate) fn sorted_unique(pageviews: &[PageviewFact]) -> Vec<&PageviewFact> {
    let mut sorted: Vec<&PageviewFact> = pageviews.iter().collect();
    sorted.sort_unstable_by(|a, b| cmp_pageviews(a, b));
    sorted.dedup_by(|a, b| cmp_pageviews(a, b) == Ordering::Equal);
    sorted
}

/// Touchpoints of already sorted, de-duplicated pageviews (see [`sorted_unique`]).
pub(crate) fn touchpoints_of_sorted(
    sorted: &[&PageviewFact],
    session_timeout: Duration,
) -> Vec<Touchpoint> {
    // Walking the global order once while remembering each fingerprint's
    // previous pageview is the same as sorting per fingerprint, and the output
    // comes out merged in the global order for free.
    let mut previous: HashMap<&str, DateTime<Utc>> = HashMap::new();
    let mut out = Vec::new();
    for pv in sorted {
        let new_session = match previous.insert(pv.fingerprint.as_str(), pv.at) {
            None => true,
            Some(prev) => pv.at.signed_duration_since(prev) > session_timeout,
        };
        if new_session || pv.is_marketing() {
            out.push(Touchpoint::from(*pv));
        }
    }
    out
}

/// Sessionise pageviews into touchpoints.
///
/// The input may be in any order, contain duplicates and mix fingerprints.
/// Per fingerprint, a pageview starts a touchpoint when it is marketing
/// ([`PageviewFact::is_marketing`]) or when it opens a new session (no earlier
/// pageview of that fingerprint, or the previous one is more than
/// `session_timeout` earlier; exactly `session_timeout` is still the same
/// session). A touchpoint opened only by a new session has the pageview's own
/// (DIRECT) classification. The result merges all fingerprints, oldest first,
/// in the content-based total order.
pub fn touchpoints(pageviews: &[PageviewFact], session_timeout: Duration) -> Vec<Touchpoint> {
    touchpoints_of_sorted(&sorted_unique(pageviews), session_timeout)
}
