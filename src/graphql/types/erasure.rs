//! What `eraseUser` answers.

use async_graphql::SimpleObject;

/// What an erasure deleted. Every count is 0 for an id never seen (or
/// already erased).
#[derive(Debug, Clone, Copy, SimpleObject)]
pub struct ErasureSummary {
    /// Pageviews deleted: every pageview of an erased device.
    pub pageviews: u64,
    /// Events deleted: every event of an erased device, whoever sent it.
    pub events: u64,
    /// Identity links deleted: the user's, and other users' links to an
    /// erased device.
    pub identity_links: u64,
    /// Devices (fingerprints) erased: those linked to the user or seen with
    /// their id.
    pub fingerprints: u64,
}

impl From<crate::privacy::ErasureSummary> for ErasureSummary {
    fn from(s: crate::privacy::ErasureSummary) -> Self {
        Self {
            pageviews: s.pageviews,
            events: s.events,
            identity_links: s.identity_links,
            fingerprints: s.fingerprints,
        }
    }
}
