//! Integration tests: the real server on a random port with a fresh database.
//! One binary for all of them, so they share one build and one link.

mod attribution;
mod bench;
mod concurrency;
mod demo;
mod graphql;
mod group_commit;
mod health;
mod helpers;
mod import;
mod ingest_edge;
mod materialize;
mod postgres;
mod reports;
mod schema;
mod shutdown;
mod spend;
mod webhooks;
