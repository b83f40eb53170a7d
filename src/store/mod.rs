//! Storage: the database connection, the write path and the read queries.
//!
//! Everything that speaks SQL lives here, so the rest of the service deals in
//! domain types and entity models only.

mod journeys;
mod read;
mod spend;
mod write;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use tokio::sync::Mutex;

use crate::config::DatabaseConfig;

pub use journeys::{UserCursor, UserRow};
pub use read::{EventFilter, PageCursor, PageviewFilter, TimeRange};
pub use spend::{SpendOutcome, SpendRow};
pub use write::{InsertOutcome, Link};

/// A handle on the database, cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQL statements executed, for `/metrics`: lets an operator (and a test)
    /// see that a page of results costs a fixed number of queries.
    statements: Arc<AtomicU64>,
    /// SQLite allows one writer at a time, and a deferred transaction that
    /// upgrades to a write lock can fail with SQLITE_BUSY without waiting.
    /// Queueing writers in-process instead keeps every webhook's answer a
    /// clean success. PostgreSQL has row locks and needs no gate.
    write_gate: Option<Arc<Mutex<()>>>,
}

impl Store {
    /// Connects (creating an SQLite file if the URL says `mode=rwc`).
    pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<Self> {
        let mut options = ConnectOptions::new(config.database_url.clone());
        options
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout())
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                // WAL lets readers run beside the writer; FULL sync makes a
                // committed (and so acknowledged) webhook survive power loss.
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(std::time::Duration::from_secs(30))
            });
        let mut db = Database::connect(options)
            .await
            .with_context(|| format!("Failed to connect to {}", redact(&config.database_url)))?;
        let write_gate = matches!(db.get_database_backend(), DbBackend::Sqlite)
            .then(|| Arc::new(Mutex::new(())));
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok(Self {
            db,
            statements,
            write_gate,
        })
    }

    /// SQL statements executed since start-up.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.db, None)
            .await
            .context("Failed to apply migrations")
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// The raw connection, for queries that belong to one capability's module.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Waits for the SQLite write gate (see `write_gate`); `None` on
    /// PostgreSQL. Hold the guard until the transaction has committed.
    pub(super) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }
}

/// Hides the password of a database URL in logs and errors.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
