//! Integration tests: the real server on a random port with a fresh database.
//! One binary for all of them, so they share one build and one link.

mod attribution;
mod bench;
mod demo;
mod graphql;
mod health;
mod helpers;
mod import;
mod reports;
mod schema;
mod spend;
mod webhooks;
