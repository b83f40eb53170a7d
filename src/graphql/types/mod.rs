//! GraphQL output and input types, one file per concept.

mod channel;
mod classification;
mod event;
mod inputs;
mod pageview;

pub use channel::ChannelGql;
pub use classification::Classification;
pub use event::{Event, EventConnection};
pub use inputs::{EventFilterInput, EventInput, PageviewFilterInput, PageviewInput};
pub use pageview::{Pageview, PageviewConnection};

/// What a batch mutation stored.
#[derive(Debug, Clone, Copy, async_graphql::SimpleObject)]
pub struct IngestSummary {
    /// Payloads newly stored.
    pub stored: u64,
    /// Payloads already stored before (redeliveries): stored nothing.
    pub duplicates: u64,
}
