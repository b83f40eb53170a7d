//! GraphQL output and input types, one file per concept.

mod attribution;
mod channel;
mod classification;
mod conversion;
mod erasure;
mod event;
mod inputs;
mod pageview;
pub mod paths;
pub mod report;
mod spend;
mod user;

pub use attribution::AttributionModelGql;
pub use channel::ChannelGql;
pub use classification::Classification;
pub use conversion::{ConversionConnection, ConversionNode, Total};
pub use erasure::ErasureSummary;
pub use event::{Event, EventConnection};
pub use inputs::{
    resolve_range, DateRange, EventFilterInput, EventInput, PageviewFilterInput, PageviewInput,
};
pub use pageview::{Pageview, PageviewConnection};
pub use spend::{CampaignSpend, CampaignSpendInput, SpendQuery, SpendSummary};
pub use user::{decode_user_cursor, User, UserConnection};

/// What a batch mutation stored.
#[derive(Debug, Clone, Copy, async_graphql::SimpleObject)]
pub struct IngestSummary {
    /// Payloads newly stored.
    pub stored: u64,
    /// Payloads already stored before (redeliveries): stored nothing.
    pub duplicates: u64,
}
