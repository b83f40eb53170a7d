//! SeaORM entities of growth-analytics. These are storage rows only: the API
//! has its own types (`src/graphql`), so a column can change without breaking
//! a dashboard.

pub mod campaign_spend;
pub mod credit;
pub mod dirty_fingerprint;
pub mod event;
pub mod identity_link;
pub mod pageview;
pub mod touchpoint;
