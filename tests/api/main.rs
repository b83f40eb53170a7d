//! Integration tests: the real server on a random port with a fresh database.
//! One binary for all of them, so they share one build and one link.

mod attribution;
mod auth;
mod bench;
mod browser;
mod cache;
mod concurrency;
mod connections;
mod dashboard;
mod demo;
mod erase;
mod faults;
mod graphql;
mod graphql_http;
mod group_commit;
mod health;
mod helpers;
mod import;
mod ingest_edge;
mod introspection;
mod materialize;
mod paths;
mod postgres;
mod readme;
mod reports;
mod revenue;
mod rollups;
mod schema;
mod shutdown;
mod spend;
mod subscriptions;
mod tracker;
mod webhooks;
