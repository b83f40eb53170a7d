//! growth-analytics: marketing attribution for a subscription business.
//!
//! Webhooks (pageviews and events) come in through [`http`] (REST) and
//! [`graphql`] (mutations); both hand them to [`ingest`], which validates,
//! classifies and stores them through [`store`]. [`attribution`] is the pure
//! engine that turns a user's pageviews and events into touchpoints,
//! conversions and credits; [`graphql`] serves it all to dashboards.

pub mod attribution;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod graphiql;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod journeys;
pub mod materialize;
pub mod privacy;
pub mod progress;
pub mod reports;
pub mod startup;
pub mod state;
pub mod store;
pub mod tracker;
pub mod web;
