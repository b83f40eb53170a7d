//! The state every web surface shares: the store, the ingestor, the
//! configuration, the materialiser and the schema. Its own room so that
//! `http`, `graphql` and the webhook adapter import it without importing
//! each other or the wiring in `startup`, which builds it.

use std::sync::Arc;

use crate::config::ServeConfig;
use crate::graphql::AppSchema;
use crate::ingest::Ingestor;
use crate::store::Store;

/// What every handler and resolver can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub ingestor: Ingestor,
    pub config: Arc<ServeConfig>,
    /// The attribution engine's settings, derived once from `config`.
    pub settings: Arc<crate::attribution::Settings>,
    /// Keeps the derived tables current (see `materialize`).
    pub materializer: crate::materialize::Materializer,
    pub schema: AppSchema,
    /// Rate limits and key bookkeeping of this process (see `auth`).
    pub gate: Arc<crate::auth::Gate>,
    /// The open subscription sockets and their caps (see `graphql::ws`).
    pub sockets: Arc<crate::graphql::Sockets>,
}
