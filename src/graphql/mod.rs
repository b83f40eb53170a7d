//! The GraphQL API: what dashboards, marketing systems and people in GraphiQL
//! query. Resolvers are thin: they parse arguments, call `store`/`ingest`/
//! `attribution`, and map results to the types in `types/`, which are written
//! for consumers (entities never leak into the API).

mod admin;
mod args;
pub mod cost;
mod error;
pub mod http;
pub mod limits;
mod loaders;
mod mutation;
mod order;
mod pagination;
mod paths;
mod query;
mod reports;
mod scalars;
pub mod scopes;
mod subscription;
mod types;
pub mod ws;

use std::sync::Arc;

use async_graphql::{Schema, SchemaBuilder};
use axum::routing::get;
use axum::Router;

use crate::attribution::Settings;
use crate::config::ServeConfig;
use crate::ingest::Ingestor;
use crate::state::AppState;
use crate::store::Store;

pub use error::ApiErrorCode;
pub use query::Query;
pub use scalars::DateTime;
pub use subscription::Subscription;
pub use ws::Sockets;

/// Every query root: what `read` keys run, plus the admin-only fields.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(Query, admin::AdminQuery);

/// Every mutation root: `record*` (ingest) and the admin-only ones.
#[derive(async_graphql::MergedObject)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(mutation::Mutation, admin::AdminMutation);

impl Default for MutationRoot {
    fn default() -> Self {
        MutationRoot(mutation::Mutation, admin::AdminMutation)
    }
}

/// The schema type served at `/graphql` (and its subscriptions at
/// `/graphql/ws`).
pub type AppSchema = Schema<QueryRoot, MutationRoot, Subscription>;

/// The schema without data or limits: the one definition that the server,
/// the `schema` command and the SDL drift test all build from.
pub fn schema() -> SchemaBuilder<QueryRoot, MutationRoot, Subscription> {
    Schema::build(QueryRoot::default(), MutationRoot::default(), Subscription)
}

/// The SDL of [`schema`], as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema().finish().sdl()
}

/// The served schema: [`schema`] plus data and the configured query limits.
pub fn build_schema(
    store: Store,
    ingestor: Ingestor,
    config: Arc<ServeConfig>,
    settings: Arc<Settings>,
    materializer: crate::materialize::Materializer,
) -> AppSchema {
    let limits = limits::DocumentLimits {
        max_nodes: config.limits.max_query_nodes,
        max_depth: u32::try_from(config.limits.max_query_depth).unwrap_or(u32::MAX),
        max_reports: config.limits.max_report_fields,
    };
    // Depth is checked by `limits` (which leaves introspection out), before
    // async-graphql expands anything; complexity by async-graphql, on a
    // document `limits` has already bounded.
    schema()
        .extension(limits::QueryLimits::new(limits, reports::REPORT_FIELDS))
        .limit_complexity(config.limits.max_query_complexity)
        .data(settings)
        .data(materializer)
        .data(store)
        .data(ingestor)
        .data(config)
        .finish()
}

/// `/graphql`: POST executes; GET executes `?query=` and otherwise serves
/// GraphiQL (see [`http`] for the protocol). `/graphql/ws`: subscriptions
/// over WebSocket (see [`ws`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/graphql", get(http::get_graphql).post(http::post_graphql))
        .route("/graphql/ws", get(ws::graphql_ws))
}

/// Attaches what is built per request: the DataLoaders and their caches.
fn per_request(state: &AppState, request: async_graphql::Request) -> async_graphql::Request {
    request.data(loaders::for_request(
        state.store.clone(),
        state.settings.clone(),
    ))
}
