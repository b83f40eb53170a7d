//! Storage: the database connection, the write path and the read queries.
//!
//! Everything that speaks SQL lives here, so the rest of the service deals in
//! domain types and entity models only.

mod derived;
mod erase;
mod fault;
mod group_commit;
mod health;
mod journeys;
pub mod keys;
mod live;
mod read;
mod revenue;
mod rollups;
mod spend;
mod write;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqlxSqliteConnector, TransactionTrait,
};
use tokio::sync::Mutex;

use crate::config::{DatabaseConfig, SqlitePageLimit};
pub use health::Guarded;
use health::Health;

pub use derived::{RevenueRows, TouchCountRow, TouchGrouping};
pub use erase::ErasureSummary;
pub use fault::{fault, Fault};
pub use journeys::{UserCursor, UserRow};
pub use live::{Live, Signal, VersionTick};
pub use read::{EventFilter, PageCursor, PageviewFilter, TimeRange};
pub use revenue::{AcquisitionCreditRow, JourneyRevenueRow};
pub use rollups::{HourCells, VisitorTouch};
pub use spend::{SpendOutcome, SpendRow};
pub use write::{InsertOutcome, Link};

/// PostgreSQL advisory lock key held while migrations run ("ga-migra"):
/// several processes starting at once apply them one after the other.
const MIGRATION_LOCK_KEY: i64 = 0x6761_2d6d_6967_7261;

/// A handle on the database, cheap to clone.
///
/// Two pools: the primary (`db`: every write, the materialiser, and reads
/// that must see the caller's own write) and the reader (`reader()`: the
/// read-only GraphQL queries). Without `DATABASE_READ_URL` the reader is
/// the primary pool itself.
///
/// Both connect lazily: the service starts while the database is down and
/// `/readyz` says so (see [`Store::readiness`]) until it comes back.
#[derive(Clone)]
pub struct Store {
    /// The primary's write pool: the group-commit writer, the materialiser's
    /// transactions, spend, migrations. Reads never take its connections,
    /// so however heavy the reports, a webhook always finds one.
    db: DatabaseConnection,
    /// The primary's read pool: reports, lists, the materialiser's reads.
    primary_reads: DatabaseConnection,
    /// A pool of its own for the key lookup every request makes (see
    /// `keys`): reports cannot take its connections, and it does not spread
    /// the group-commit writer's work (and SQLite's per-connection caches)
    /// over every write connection.
    auth: DatabaseConnection,
    /// Where read-only queries go: the replica's pool, or `primary_reads`.
    reader: DatabaseConnection,
    database_url: Arc<str>,
    /// SQL statements executed on either pool, for `/metrics`: lets an
    /// operator (and a test) see that a page of results costs a fixed
    /// number of queries.
    statements: Arc<AtomicU64>,
    /// The share of `statements` that ran on a separate replica pool.
    replica_statements: Arc<AtomicU64>,
    has_replica: bool,
    /// Whether `reader` is the replica's pool (not in `on_primary`'s copy).
    reader_is_replica: bool,
    /// Set once this process applied (or found applied) every migration.
    migrated: Arc<AtomicBool>,
    acquire_timeout: Duration,
    /// SQLite allows one writer at a time, and a deferred transaction that
    /// upgrades to a write lock can fail with SQLITE_BUSY without waiting.
    /// Queueing writers in-process instead keeps every webhook's answer a
    /// clean success. PostgreSQL has row locks and needs no gate.
    write_gate: Option<Arc<Mutex<()>>>,
    /// The queue of the group-commit writer (see `group_commit`).
    writer: group_commit::Writer,
    /// Whether the primary answers (see `health`): while it does not,
    /// operations fail at once instead of waiting for a connection.
    health: Health,
    /// The same for the reader pool (the primary's own without a replica).
    reader_health: Health,
    /// What committed transactions changed, for the subscriptions.
    live: Live,
}

impl Store {
    /// Sets up the pools (creating an SQLite file if the URL says
    /// `mode=rwc`). Connections are opened lazily, on first use, so this
    /// fails only on a malformed URL, never because the database is down:
    /// `migrate()` or the first query says that, within the acquire timeout.
    pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<Self> {
        let statements = Arc::new(AtomicU64::new(0));
        let replica_statements = Arc::new(AtomicU64::new(0));
        let (writes, reads) = pool_shares(config.max_connections);
        let db = open_pool(
            config,
            &config.database_url,
            writes,
            std::slice::from_ref(&statements),
        )
        .await?;
        let primary_reads = open_pool(
            config,
            &config.database_url,
            reads,
            std::slice::from_ref(&statements),
        )
        .await?;
        let auth = open_pool(
            config,
            &config.database_url,
            AUTH_POOL,
            std::slice::from_ref(&statements),
        )
        .await?;
        let health = health_of(&db, &config.database_url);
        let (reader, reader_health, has_replica) = match &config.database_read_url {
            Some(url) if !url.trim().is_empty() => {
                let counters = [statements.clone(), replica_statements.clone()];
                let reader = open_pool(config, url, config.max_connections, &counters).await?;
                let reader_health = health_of(&reader, url);
                (reader, reader_health, true)
            }
            _ => (primary_reads.clone(), health.clone(), false),
        };
        if reader.get_database_backend() != db.get_database_backend() {
            anyhow::bail!("DATABASE_READ_URL must name the same kind of database as DATABASE_URL");
        }
        let write_gate = matches!(db.get_database_backend(), DbBackend::Sqlite)
            .then(|| Arc::new(Mutex::new(())));
        let live = Live::default();
        let writer = group_commit::Writer::start(
            db.clone(),
            write_gate.clone(),
            health.clone(),
            live.clone(),
        );
        Ok(Self {
            db,
            primary_reads,
            auth,
            reader,
            database_url: config.database_url.as_str().into(),
            statements,
            replica_statements,
            has_replica,
            reader_is_replica: has_replica,
            migrated: Arc::new(AtomicBool::new(false)),
            acquire_timeout: config.acquire_timeout(),
            write_gate,
            writer,
            health,
            reader_health,
            live,
        })
    }

    /// Whether the primary database is reachable, as last probed (always
    /// `true` on SQLite): the `/metrics` gauge, answered without a query.
    pub fn database_up(&self) -> bool {
        self.health.is_up()
    }

    /// The primary pool for statements outside a transaction, failing at
    /// once while it is known to be down (see `health`).
    fn primary(&self) -> Guarded<'_> {
        Guarded::new(
            &self.primary_reads,
            &self.health,
            [Some(&self.statements), None],
        )
    }

    /// Begins a write transaction on the primary, failing at once while it
    /// is down. Only the acquiring is guarded: once a transaction runs,
    /// abandoning it mid-COMMIT would leave its outcome unknown.
    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.health.guard(self.db.begin()).await
    }

    /// Closes every pool, waiting for connections in use to come back. On
    /// SQLite the last connection to close checkpoints the write-ahead log
    /// into the database file and deletes it, so a stopped service leaves
    /// one self-contained file to copy or back up (without this, the process
    /// exited with the log still holding the latest writes: committed and
    /// safe, but in a second file). Best effort: a pool that fails to close
    /// is logged, since everything acknowledged is committed already.
    ///
    /// On SQLite the log is first checkpointed and truncated explicitly
    /// (`wal_checkpoint(TRUNCATE)`): the implicit checkpoint at the last
    /// close was skipped now and then after a large load (a 13 MB log left
    /// behind in a test, cause not pinned down), and an explicit one also
    /// reports why when it cannot run.
    pub async fn close(&self) {
        if self.backend() == DbBackend::Sqlite {
            let checkpoint = self
                .db
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)");
            match tokio::time::timeout(Duration::from_secs(10), checkpoint).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "the final WAL checkpoint failed"),
                Err(_) => tracing::warn!("the final WAL checkpoint took over 10 s; leaving it"),
            }
        }
        for (name, pool) in [
            ("reader", &self.reader),
            ("primary reads", &self.primary_reads),
            ("auth", &self.auth),
            ("writes", &self.db),
        ] {
            if let Err(e) = pool.clone().close().await {
                tracing::warn!(pool = name, error = %e, "closing a database pool failed");
            }
        }
    }

    /// SQL statements executed since start-up, on both pools.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// SQL statements executed on the replica pool (`DATABASE_READ_URL`);
    /// always 0 without one.
    pub fn replica_statements_executed(&self) -> u64 {
        self.replica_statements.load(Ordering::Relaxed)
    }

    /// Applies pending migrations, safely from several processes at once:
    /// on PostgreSQL under an advisory lock held by one dedicated
    /// connection, on SQLite under an exclusive lock on a file next to the
    /// database (SQLite's own locking is per statement, and SeaORM's
    /// migrator checks, creates and records each migration in separate
    /// statements: two migrators could both apply one and both record it).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend() {
            DbBackend::Postgres => self.migrate_postgres().await?,
            _ => self.migrate_sqlite().await?,
        }
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    async fn migrate_postgres(&self) -> anyhow::Result<()> {
        // A pool of exactly one connection: the session that holds the
        // advisory lock is the one that runs every migration statement.
        let mut options = ConnectOptions::new(self.database_url.to_string());
        options
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(self.acquire_timeout)
            .sqlx_logging(false);
        let conn = Database::connect(options)
            .await
            .with_context(|| format!("Failed to connect to {}", redact(&self.database_url)))?;
        let result = async {
            conn.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .await
                .context("Failed to take the migration lock")?;
            let applied = Migrator::up(&conn, None)
                .await
                .context("Failed to apply migrations");
            let unlocked = conn
                .execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                .await
                .context("Failed to release the migration lock");
            applied.and(unlocked.map(|_| ()))
        }
        .await;
        // Closing ends the session, which releases the lock in any case.
        let _ = conn.close().await;
        result
    }

    async fn migrate_sqlite(&self) -> anyhow::Result<()> {
        // One migrator at a time within this process (several `Store`s on
        // one file, as in tests) …
        static IN_PROCESS: Mutex<()> = Mutex::const_new(());
        let _turn = IN_PROCESS.lock().await;
        // … and across processes, by a lock file beside the database.
        let _file_lock = match sqlite_path(&self.database_url) {
            Some(path) => {
                let lock_path = format!("{path}.migrate-lock");
                let file = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&lock_path)?;
                    file.lock()?;
                    Ok(file)
                })
                .await
                .context("The migration lock task failed")?
                .with_context(|| format!("Failed to lock {path}.migrate-lock"))?;
                Some(file) // unlocked when dropped (closed)
            }
            None => None,
        };
        Migrator::up(&self.db, None)
            .await
            .context("Failed to apply migrations")
    }

    /// Whether this process has applied the migrations (see `migrate`).
    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }

    /// Whether the primary database answers, within the acquire timeout
    /// (at most 2 s).
    pub async fn ping(&self) -> bool {
        self.health.is_up() && ping(&self.db, self.ping_timeout()).await
    }

    /// What `/readyz` reports: migrations applied, and every pool answers.
    pub async fn readiness(&self) -> Readiness {
        let timeout = self.ping_timeout();
        // Known down: say so at once rather than after a ping timeout.
        let primary = async { self.health.is_up() && ping(&self.db, timeout).await };
        let (primary, replica) = if self.has_replica {
            let replica = async { self.reader_health.is_up() && ping(&self.reader, timeout).await };
            let (p, r) = tokio::join!(primary, replica);
            (p, Some(r))
        } else {
            (primary.await, None)
        };
        Readiness {
            migrated: self.is_migrated(),
            primary,
            replica,
        }
    }

    fn ping_timeout(&self) -> Duration {
        self.acquire_timeout.min(Duration::from_secs(2))
    }

    /// The pool for read-only queries: the replica when `DATABASE_READ_URL`
    /// is set, else the primary. Its answers may lag the primary by the
    /// replication delay, so never read a just-written row back through it.
    ///
    /// Fails at once while that pool is known to be down (see `health`).
    pub fn reader(&self) -> Guarded<'_> {
        let replica = self.reader_is_replica.then_some(&*self.replica_statements);
        Guarded::new(
            &self.reader,
            &self.reader_health,
            [Some(&self.statements), replica],
        )
    }

    /// This store with its reads on the primary too: for work that reads and
    /// then writes what it derived (the materialiser), where a lagging
    /// replica would make it derive from stale facts.
    pub fn on_primary(&self) -> Store {
        Store {
            reader: self.primary_reads.clone(),
            reader_health: self.health.clone(),
            reader_is_replica: false,
            ..self.clone()
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Waits for the SQLite write gate (see `write_gate`); `None` on
    /// PostgreSQL. Hold the guard until the transaction has committed.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }
}

/// What `/readyz` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// This process has applied (or found applied) every migration.
    pub migrated: bool,
    /// The primary database answers.
    pub primary: bool,
    /// The replica answers; `None` without `DATABASE_READ_URL`.
    pub replica: Option<bool>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.migrated && self.primary && self.replica != Some(false)
    }
}

/// Connections for key lookups, beside `DATABASE_MAX_CONNECTIONS`: one
/// indexed statement each, so two keep up with any request rate the other
/// pools can serve.
pub const AUTH_POOL: u32 = 2;

/// A lazily connecting pool on `url`, counting its statements in `counters`.
/// How `DATABASE_MAX_CONNECTIONS` splits on the primary: (writes, reads).
/// A quarter, at least two, is kept for writes (the group-commit writer and
/// the materialiser's transaction side by side), so that reads, however
/// many reports run, can never take the connection a webhook needs.
fn pool_shares(total: u32) -> (u32, u32) {
    let total = total.max(2);
    let writes = (total / 4).max(2).min(total - 1);
    (writes, total - writes)
}

async fn open_pool(
    config: &DatabaseConfig,
    url: &str,
    size: u32,
    counters: &[Arc<AtomicU64>],
) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(size.max(1))
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout())
        .connect_lazy(true)
        .sqlx_logging(false);
    if let Some(idle) = config.idle_timeout() {
        options.idle_timeout(idle);
    }
    if let Some(lifetime) = config.max_lifetime() {
        options.max_lifetime(lifetime);
    }
    let mut db = if url.starts_with("sqlite:") {
        sqlite_pool(options, url, config.sqlite_page_limit.clone())
            .with_context(|| format!("Failed to set up a connection pool for {}", redact(url)))?
    } else {
        Database::connect(options)
            .await
            .with_context(|| format!("Failed to set up a connection pool for {}", redact(url)))?
    };
    let counters = counters.to_vec();
    db.set_metric_callback(move |_| {
        for counter in &counters {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok(db)
}

/// The SQLite pool, built on sqlx directly for one reason: a connection
/// whose transaction state is in doubt must never be handed out again.
///
/// On SQLITE_FULL (and IOERR, NOMEM) SQLite may roll the whole transaction
/// back by itself. sqlx does not notice: its transaction depth stays 1, the
/// ROLLBACK that follows fails ("no transaction is active") and leaves it
/// at 1, and the connection goes back to the pool. Its next "transaction"
/// then is a SAVEPOINT, and once a ROLLBACK TO has left that savepoint open
/// every later "COMMIT" is a RELEASE of a nested savepoint inside a
/// transaction that never commits: the rows are acknowledged, invisible to
/// every other connection, lost at restart, and the connection holds the
/// write lock so all other writers fail with "database is locked". So a
/// connection that comes back with a transaction still open by sqlx's
/// count is closed (closing rolls back whatever SQLite still holds), and
/// the pool opens a fresh one.
fn sqlite_pool(
    options: ConnectOptions,
    url: &str,
    page_limit: Option<SqlitePageLimit>,
) -> Result<DatabaseConnection, sqlx::Error> {
    use sqlx::ConnectOptions as _;
    let connect = url
        .parse::<SqliteConnectOptions>()?
        .disable_statement_logging()
        // WAL lets readers run beside the writer; FULL sync makes a
        // committed (and so acknowledged) webhook survive power loss.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30))
        // 16 MiB of page cache per connection (the default is 2 MiB):
        // index inserts at random positions otherwise re-read pages
        // from the OS on every batch. Per connection, so it is kept
        // modest: 16 connections could otherwise hold 1 GiB.
        .pragma("cache_size", "-16384")
        // Not `temp_store=memory`: it moved multi-row INSERTs' statement
        // journals (8% of a bulk load's time under perf) off the temporary
        // file, but cost 50 MiB of peak memory for ~9% on `seed`.
        // A checkpoint copies every page the WAL changed back into the
        // database; index pages change again and again under a load, so
        // checkpointing every 4,000 pages (16 MiB; the default is 1,000)
        // copies each of them a quarter as often.
        .pragma("wal_autocheckpoint", "4000")
        // Group commit builds INSERTs of every row count up to 1,000:
        // each is a distinct prepared statement of up to 19,000
        // parameters, and sqlx keeps 100 per connection by default,
        // which grows the server by hundreds of MiB for nothing.
        .statement_cache_capacity(24);
    let mut pool = options
        .sqlx_pool_options::<sqlx::Sqlite>()
        .after_release(|conn, _| {
            Box::pin(async move {
                // Processes what is queued first: a dropped transaction's
                // ROLLBACK runs before the ping does.
                conn.ping().await?;
                if conn.is_in_transaction() {
                    tracing::warn!(
                        "closing an SQLite connection whose transaction did not end cleanly \
                     (SQLite rolled it back itself, e.g. on a full disk)"
                    );
                    return Ok(false);
                }
                Ok(true)
            })
        });
    if let Some(limit) = page_limit {
        let (on_connect, on_acquire) = (limit.clone(), limit);
        pool = pool
            .after_connect(move |conn, _| {
                let pages = on_connect.get();
                Box::pin(async move { set_page_limit(conn, pages).await })
            })
            .before_acquire(move |conn, _| {
                let pages = on_acquire.get();
                Box::pin(async move { set_page_limit(conn, pages).await.map(|()| true) })
            });
    }
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(
        pool.connect_lazy_with(connect),
    ))
}

/// Applies a [`SqlitePageLimit`] to one connection.
async fn set_page_limit(conn: &mut sqlx::SqliteConnection, pages: u64) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// A probed health for a network database, an always-up one for SQLite.
fn health_of(db: &DatabaseConnection, url: &str) -> Health {
    match db.get_database_backend() {
        DbBackend::Sqlite => Health::always_up(),
        _ => Health::probed(url),
    }
}

async fn ping(db: &DatabaseConnection, timeout: Duration) -> bool {
    matches!(tokio::time::timeout(timeout, db.ping()).await, Ok(Ok(())))
}

/// The file of an SQLite URL (`sqlite://FILE?mode=rwc`, `sqlite:FILE`);
/// `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_owned())
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

#[cfg(test)]
mod tests {
    #[test]
    fn reads_never_get_the_whole_primary_pool() {
        assert_eq!(super::pool_shares(16), (4, 12));
        assert_eq!(super::pool_shares(4), (2, 2));
        assert_eq!(super::pool_shares(2), (1, 1));
        assert_eq!(super::pool_shares(1), (1, 1));
        for total in 2..100 {
            let (writes, reads) = super::pool_shares(total);
            assert_eq!(writes + reads, total);
            assert!(writes >= 1 && reads >= 1);
        }
    }

    use sea_orm::Statement;

    use super::*;

    /// SQLite rolls a transaction back by itself on a full disk (SQLITE_FULL
    /// at COMMIT, or IOERR/NOMEM): a `ROLLBACK` behind sqlx's back puts a
    /// connection in exactly that state, portably. Before the fix, the
    /// connection went back to the pool believing itself in a transaction:
    /// a later failed request left a real one open, and the next "commit"
    /// was acknowledged without committing.
    #[tokio::test]
    async fn a_transaction_that_sqlite_rolled_back_itself_cannot_make_a_later_commit_a_lie() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let mut options = ConnectOptions::new(url.clone());
        // One connection: every step below runs on the same one, or on
        // the fresh one that replaced it.
        options.max_connections(1).min_connections(0);
        let db = sqlite_pool(options, &url, None).unwrap();
        db.execute_unprepared("CREATE TABLE t (v INTEGER NOT NULL)")
            .await
            .unwrap();

        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        txn.execute_unprepared("ROLLBACK").await.unwrap();
        assert!(
            txn.rollback().await.is_err(),
            "sqlx's own ROLLBACK finds no transaction, as after SQLITE_FULL"
        );

        // A request that fails on a statement, and is rolled back.
        let txn = db.begin().await.unwrap();
        assert!(txn
            .execute_unprepared("INSERT INTO t VALUES (NULL)")
            .await
            .is_err());
        txn.rollback().await.unwrap();

        // A request that commits.
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("INSERT INTO t VALUES (3)")
            .await
            .unwrap();
        txn.commit().await.unwrap();

        // Committed means visible to another connection, and durable.
        let other = Database::connect(url.as_str()).await.unwrap();
        let row = other
            .query_one(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT COUNT(*) FROM t WHERE v = 3",
            ))
            .await
            .unwrap()
            .unwrap();
        let committed: i64 = row.try_get_by_index(0).unwrap();
        assert_eq!(committed, 1, "the acknowledged commit is really committed");
    }
}
