//! The GraphQL API: what dashboards, marketing systems and people in GraphiQL
//! query. Resolvers are thin: they parse arguments, call `store`/`ingest`/
//! `attribution`, and map results to the types in `types/`, which are written
//! for consumers (entities never leak into the API).

mod args;
mod error;
mod loaders;
mod mutation;
mod pagination;
mod query;
mod reports;
mod scalars;
mod types;

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{EmptySubscription, Schema, SchemaBuilder};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::attribution::Settings;
use crate::config::ServeConfig;
use crate::ingest::Ingestor;
use crate::startup::AppState;
use crate::store::Store;

pub use error::ApiErrorCode;
pub use mutation::Mutation;
pub use query::Query;
pub use scalars::DateTime;

/// The schema type served at `/graphql`.
pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema without data or limits: the one definition that the server,
/// the `schema` command and the SDL drift test all build from.
pub fn schema() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation, EmptySubscription)
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
    schema()
        .limit_depth(config.limits.max_query_depth)
        .limit_complexity(config.limits.max_query_complexity)
        .data(settings)
        .data(materializer)
        .data(store)
        .data(ingestor)
        .data(config)
        .finish()
}

/// `/graphql`: POST executes; GET executes `?query=` and otherwise serves GraphiQL.
pub fn router() -> Router<AppState> {
    Router::new().route("/graphql", get(get_graphql).post(post_graphql))
}

/// Attaches what is built per request: the DataLoaders and their caches.
fn per_request(state: &AppState, request: async_graphql::Request) -> async_graphql::Request {
    request.data(loaders::for_request(
        state.store.clone(),
        state.settings.clone(),
    ))
}

async fn post_graphql(State(state): State<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    let request = per_request(&state, request.into_inner());
    state.schema.execute(request).await.into()
}

async fn get_graphql(State(state): State<AppState>, request: Request) -> Response {
    let has_query = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("query=")));
    if !has_query {
        let wants_html = request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|accept| accept.contains("text/html") || accept.contains("*/*"));
        if wants_html {
            return crate::graphiql::page();
        }
        return (
            StatusCode::BAD_REQUEST,
            "GET /graphql needs ?query=, or Accept: text/html for GraphiQL",
        )
            .into_response();
    }
    let request =
        match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
            request,
            &(),
        )
        .await
        {
            Ok(r) => r.into_inner(),
            Err(rejection) => return rejection.into_response(),
        };
    // A GET can be triggered by a link or an <img>: it may read, never write.
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        if doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation)
        {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                "mutations must be sent with POST",
            )
                .into_response();
        }
    }
    let request = per_request(&state, request);
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}
