//! Wiring: connect, migrate, build the router, bind, serve until a signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::ServeConfig;
use crate::graphql::{self, AppSchema};
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
    pub schema: AppSchema,
}

/// A bound, not yet serving, instance of the service.
pub struct Application {
    listener: TcpListener,
    router: Router,
    address: SocketAddr,
    state: AppState,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener.
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        let store = Store::connect(&config.database).await?;
        store.migrate().await?;
        let config = Arc::new(config);
        let ingestor = Ingestor::new(
            store.clone(),
            &config.attribution.site_hosts,
            config.limits.max_batch_size,
        )
        .with_currency(&config.attribution.currency);
        let settings = Arc::new(crate::journeys::settings(&config.attribution));
        let schema = graphql::build_schema(
            store.clone(),
            ingestor.clone(),
            config.clone(),
            settings.clone(),
        );
        let state = AppState {
            store,
            ingestor,
            settings,
            config: config.clone(),
            schema,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("Failed to listen on {}", config.listen))?;
        let address = listener
            .local_addr()
            .context("Failed to read the bound address")?;
        Ok(Self {
            router: crate::http::router(state.clone()),
            listener,
            address,
            state,
        })
    }

    /// The address actually bound (the port is chosen by the OS for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The shared state, e.g. to seed data before serving.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// (up to the configured grace period). A request that was acknowledged
    /// has already committed, so stopping here loses nothing.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let server = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let mut stopped = stop_rx.clone();
        let drain_deadline = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server => result.context("Server failed"),
            () = drain_deadline => {
                tracing::warn!("in-flight requests did not finish within {grace:?}; exiting");
                Ok(())
            }
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
