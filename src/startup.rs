//! Wiring: connect, migrate, build the router, bind, serve until a signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::auth::service::Bootstrap;
use crate::config::ServeConfig;
use crate::graphql;
use crate::ingest::Ingestor;
pub use crate::state::AppState;
use crate::store::Store;

/// A bound, not yet serving, instance of the service.
pub struct Application {
    listener: TcpListener,
    router: Router,
    address: SocketAddr,
    state: AppState,
    bootstrap: Option<Bootstrap>,
}

impl Application {
    /// Sets up the database pools, applies migrations and binds the listener.
    ///
    /// A database that is down does not stop the service from starting: the
    /// migrations are then retried in the background, `/readyz` answers 503
    /// and every other request a quick 503 until they have run (see
    /// `require_schema`).
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        check_auth_config(&config)?;
        let store = Store::connect(&config.database_with_replica()).await?;
        let chosen = config.auth.bootstrap_admin_key.clone();
        let gate = Arc::new(crate::auth::Gate::new(&config.auth));
        let bootstrap = match store.migrate().await {
            Ok(()) if config.auth.auth_disabled => {
                gate.set_ready();
                None
            }
            Ok(()) => {
                let done = crate::auth::service::bootstrap(&store, chosen.as_deref()).await?;
                gate.set_ready();
                Some(done)
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "database not ready at start-up; serving 503 and retrying the migrations in the background"
                );
                let first_key = (!config.auth.auth_disabled).then_some(chosen);
                tokio::spawn(migrate_until_done(store.clone(), first_key, gate.clone()));
                None
            }
        };
        let config = Arc::new(config);
        let ingestor = Ingestor::new(
            store.clone(),
            &config.attribution.site_hosts,
            config.limits.max_batch_size,
        )
        .with_currency(&config.attribution.currency)
        .with_window(config.limits.accept_window())
        .with_query_stripping(config.attribution.strip_query_params);
        let settings = Arc::new(crate::journeys::settings(&config.attribution));
        let materializer = crate::materialize::Materializer::new(
            // Reads then writes what it derived: never from a lagging replica.
            store.on_primary(),
            settings.clone(),
            crate::materialize::Plan::from_config(&config.attribution),
        );
        let schema = graphql::build_schema(
            store.clone(),
            ingestor.clone(),
            config.clone(),
            settings.clone(),
            materializer.clone(),
        );
        let state = AppState {
            store,
            ingestor,
            settings,
            materializer,
            config: config.clone(),
            schema,
            gate,
            sockets: Arc::new(graphql::Sockets::new(
                usize::try_from(config.limits.max_websockets).unwrap_or(usize::MAX),
                usize::try_from(config.limits.max_subscriptions_per_connection)
                    .unwrap_or(usize::MAX),
                usize::try_from(config.limits.max_subscriptions_per_key).unwrap_or(usize::MAX),
            )),
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("Failed to listen on {}", config.listen))?;
        let address = listener
            .local_addr()
            .context("Failed to read the bound address")?;
        Ok(Self {
            router: crate::http::router(
                state.clone(),
                graphql::router()
                    .merge(crate::graphiql::router())
                    .merge(crate::tracker::router())
                    .merge(crate::web::dashboard::router()),
            )
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                require_schema,
            )),
            listener,
            address,
            state,
            bootstrap,
        })
    }

    /// What start-up did about the first admin key (`None`: auth is off,
    /// or the database was down and it happens once it is back).
    pub fn bootstrap(&self) -> Option<&Bootstrap> {
        self.bootstrap.as_ref()
    }

    /// The address actually bound (the port is chosen by the OS for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The shared state, e.g. to seed data before serving.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then closes idle connections and
    /// lets in-flight requests finish (up to the configured grace period).
    /// Connection limits and timeouts: see [`crate::http::server`]. A request that was acknowledged
    /// has already committed, so stopping here loses nothing.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs);
        // Stopping it mid-step is safe: a step is one transaction, and the
        // queue it works from is in the database.
        // It starts once the migrations have run (they may be retrying in
        // the background while the database is down).
        let (store, materializer) = (self.state.store.clone(), self.state.materializer.clone());
        let materializer = AbortOnDrop(tokio::spawn(async move {
            while !store.is_migrated() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            materializer.run().await
        }));
        let housekeeping = AbortOnDrop(tokio::spawn(housekeeping(self.state.clone())));
        // Subscriptions hear of commits from here on (and, on PostgreSQL,
        // of the other processes' through LISTEN).
        let live: Vec<AbortOnDrop> = self
            .state
            .store
            .start_live()
            .into_iter()
            .map(AbortOnDrop)
            .collect();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let settings = crate::http::server::ServerSettings::from_config(&self.state.config);
        let server = crate::http::server::serve(self.listener, self.router, settings, async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        // Subscriptions' sockets are upgraded connections the server no
        // longer drives: they are closed (1001) on the same signal.
        let (mut stopping, sockets) = (stop_rx.clone(), self.state.sockets.clone());
        let sockets_closed = async move {
            let _ = stopping.wait_for(|s| *s).await;
            sockets.close_all().await;
        };
        let mut stopped = stop_rx.clone();
        let drain_deadline = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            ((), ()) = async { tokio::join!(server, sockets_closed) } => {}
            () = drain_deadline => {
                tracing::warn!("in-flight requests did not finish within {grace:?}; exiting");
                return Ok(());
            }
        }
        // Every request is answered: stop the background work, then close
        // the pools (see `Store::close`).
        // Awaited, not only aborted: a connection a cancelled task held is
        // back in its pool once the task is gone, and closing the pool then
        // closes it. (Dropped into an already closed pool, it would be
        // closed by a task of its own that the exiting process may never
        // run, leaving SQLite's WAL behind.)
        materializer.stop().await;
        housekeeping.stop().await;
        for task in live {
            task.stop().await;
        }
        tracing::debug!("requests answered and background tasks stopped; closing the pools");
        self.state.store.close().await;
        tracing::debug!("database pools closed");
        Ok(())
    }
}

/// Every minute: forget idle rate-limit buckets, and webhook ids too old to
/// be replayed (their timestamps would fail verification).
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.gate.limiters.housekeeping();
        if state.store.is_migrated() {
            let before = chrono::Utc::now()
                - chrono::Duration::seconds(2 * crate::auth::signature::TOLERANCE_SECS);
            if let Err(e) = state.store.forget_webhooks_before(before).await {
                tracing::debug!(error = %e, "could not forget old webhook ids");
            }
        }
    }
}

/// Aborts a background task when the server stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl AbortOnDrop {
    /// Aborts the task and waits until it is gone.
    async fn stop(self) {
        self.0.abort();
        // `Drop` aborts again, harmlessly; the handle is polled through a
        // reference, so the wrapper stays whole.
        let mut this = self;
        let _ = (&mut this.0).await;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Paths that answer whatever the database's state: the probes themselves.
const ALWAYS_SERVED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Until this process has applied the migrations (the database was down at
/// start, and a background task keeps trying), every request but the probes
/// gets a quick 503 with a JSON error instead of a failure deep in a handler.
pub async fn require_schema(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let ready = state.store.is_migrated() && state.gate.is_ready();
    if ready || ALWAYS_SERVED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        Json(json!({
            "error": "database_unavailable",
            "message": "the database is not reachable yet (or its migrations are pending); retry later",
        })),
    )
        .into_response()
}

/// Retries the migrations until they succeed, backing off from half a second
/// to five: an instance recovers within seconds of its database coming back.
/// Then creates the first admin key if there is none (`first_key`: `None`
/// with auth off, else the chosen key if any).
async fn migrate_until_done(
    store: Store,
    first_key: Option<Option<String>>,
    gate: Arc<crate::auth::Gate>,
) {
    let mut wait = Duration::from_millis(500);
    loop {
        tokio::time::sleep(wait).await;
        match store.migrate().await {
            Ok(()) => {
                tracing::info!("database reachable and migrated: ready");
                if let Some(chosen) = first_key {
                    match crate::auth::service::bootstrap(&store, chosen.as_deref()).await {
                        Ok(Bootstrap::Generated(key)) => {
                            // Printed once, as at a normal start.
                            eprintln!("created the first admin key (shown once): {key}");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(
                            error = format!("{e:#}"),
                            "could not create the first admin key"
                        ),
                    }
                }
                gate.set_ready();
                return;
            }
            Err(e) => {
                tracing::debug!(error = format!("{e:#}"), "database still not ready");
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// `AUTH_DISABLED` is for a developer's own machine: refused on any listen
/// address but loopback, and loud when on.
fn check_auth_config(config: &ServeConfig) -> anyhow::Result<()> {
    if config.auth.auth_disabled {
        if !config.listen.ip().is_loopback() {
            anyhow::bail!(
                "AUTH_DISABLED=true is refused on {}: it is allowed only on a loopback address (127.0.0.1, ::1), for local development",
                config.listen
            );
        }
        tracing::warn!(
            listen = %config.listen,
            "AUTH_DISABLED=true: every request is served as admin without a key (local development only)"
        );
    }
    if let Some(key) = &config.auth.bootstrap_admin_key {
        crate::auth::secret::check_chosen_key(key)
            .map_err(|e| anyhow::anyhow!("BOOTSTRAP_ADMIN_KEY {e}"))?;
    }
    Ok(())
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
