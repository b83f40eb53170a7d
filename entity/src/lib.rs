//! SeaORM entities of growth-analytics. These are storage rows only: the API
//! has its own types (`src/graphql`), so a column can change without breaking
//! a dashboard.

pub mod acquisition;
pub mod api_key;
pub mod audit_entry;
pub mod campaign_spend;
pub mod credit;
pub mod derived_version;
pub mod dirty_day;
pub mod dirty_fingerprint;
pub mod dirty_hour;
pub mod event;
pub mod identity_link;
pub mod pageview;
pub mod revenue_fact;
pub mod rollup_credit;
pub mod rollup_touch;
pub mod signing_secret;
pub mod touchpoint;
pub mod visitor_id;
pub mod webhook_delivery;
