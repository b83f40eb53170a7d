//! Whether the database is reachable, known without asking it per request.
//!
//! Without this, every request during an outage waits out the pool's
//! acquire timeout (sqlx retries a refused connect until then), and the
//! group-commit writer waits it out once per batch, so a webhook queued
//! behind a few batches was held for the whole outage. Instead:
//!
//! - a background probe keeps its own connection (outside the pool, so a
//!   busy pool never looks like an outage) and pings every
//!   [`PROBE_INTERVAL`], with a [`PROBE_TIMEOUT`]: a failed ping marks the
//!   database down, the first successful one marks it up again;
//! - while down, store operations fail at once with an "unavailable" error
//!   without touching the pool (see [`Health::guard`]), and operations that
//!   were already waiting for a connection are released;
//! - a request that meets a connection error wakes the probe at once, so an
//!   outage is noticed at the first failure, not at the next tick.
//!
//! Only network databases get a probe: an SQLite file cannot go away, so its
//! health is always "up".

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ExecResult,
    QueryResult, Statement,
};
use tokio::sync::{watch, Notify};

use sea_orm::sqlx;

use super::fault::{self, Fault};

/// Between two pings of the probe: with [`PROBE_TIMEOUT`], an outage or a
/// recovery is noticed within about a second.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// A ping (or a reconnect) slower than this counts as a failure: the
/// database then is unusable for requests that must answer within seconds.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(750);

/// A database's reachability, shared by a pool's users and its probe.
#[derive(Clone)]
pub struct Health(Arc<Inner>);

struct Inner {
    /// `true` while up; waiters subscribe to see it go down.
    up: watch::Sender<bool>,
    /// Wakes the probe early (a request met a connection error).
    wake: Notify,
}

impl Health {
    /// Always up, with no probe (SQLite).
    pub fn always_up() -> Self {
        Self(Arc::new(Inner {
            up: watch::channel(true).0,
            wake: Notify::new(),
        }))
    }

    /// Up until the probe on `url` fails; probes in the background until
    /// every handle on this health is dropped.
    pub fn probed(url: &str) -> Self {
        let health = Self::always_up();
        tokio::spawn(probe(url.to_owned(), Arc::downgrade(&health.0)));
        health
    }

    pub fn is_up(&self) -> bool {
        *self.0.up.borrow()
    }

    fn set(&self, up: bool, reason: &str) {
        let changed = self.0.up.send_if_modified(|state| {
            let changed = *state != up;
            *state = up;
            changed
        });
        if changed && up {
            tracing::info!("the database is reachable again");
        } else if changed {
            tracing::warn!(
                reason,
                "the database is unreachable; refusing requests with 503 until it answers"
            );
        }
    }

    /// Runs a store operation unless the database is known to be down; if
    /// it goes down meanwhile, the operation is dropped (it was waiting for
    /// a connection that will not come) and the caller gets "unavailable".
    ///
    /// Wrap only what is safe to abandon: reads, or the acquiring of a
    /// write transaction's connection, never a COMMIT (whose outcome would
    /// then be unknown).
    pub async fn guard<T>(
        &self,
        operation: impl Future<Output = Result<T, DbErr>>,
    ) -> Result<T, DbErr> {
        if !self.is_up() {
            return Err(fault::unavailable());
        }
        let mut up = self.0.up.subscribe();
        let result = tokio::select! {
            biased;
            result = operation => result,
            _ = up.wait_for(|up| !*up) => Err(fault::unavailable()),
        };
        if let Err(e) = &result {
            self.saw(e);
        }
        result
    }

    /// Tells the probe about an error a store operation met: a connection
    /// error makes it check now rather than at its next tick.
    pub fn saw(&self, error: &DbErr) {
        if fault::fault(error) == Some(Fault::Unavailable) {
            self.0.wake.notify_one();
        }
    }
}

/// A pool whose every statement goes through [`Health::guard`]: what the
/// store's queries run on, so none of them waits for a connection to a
/// database known to be down.
#[derive(Clone, Copy)]
pub struct Guarded<'a> {
    db: &'a DatabaseConnection,
    health: &'a Health,
    /// What the pool's statements count towards (see `Store::statements`):
    /// SeaORM's metric callback does, for statements it runs; [`Self::rows`]
    /// bypasses it.
    counters: [Option<&'a AtomicU64>; 2],
}

impl<'a> Guarded<'a> {
    pub(super) fn new(
        db: &'a DatabaseConnection,
        health: &'a Health,
        counters: [Option<&'a AtomicU64>; 2],
    ) -> Self {
        Self {
            db,
            health,
            counters,
        }
    }

    /// Runs one query on sqlx directly, binding `binds` as text, and
    /// decodes each row into `T` by column position. For the hot reads of
    /// many rows (the materialiser's): SeaORM reads each column by name into
    /// a dynamic value first, which cost ~20 µs a pageview row against the
    /// ~3 µs the same query takes in SQLite itself. `sql` uses the
    /// backend's placeholders (`placeholder`).
    pub async fn rows<T>(&self, sql: &str, binds: &[&str]) -> Result<Vec<T>, DbErr>
    where
        T: Send
            + Unpin
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        for counter in self.counters.iter().flatten() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let run = async {
            let result = match self.db.get_database_backend() {
                DbBackend::Postgres => {
                    let mut q = sqlx::query_as::<_, T>(sql);
                    for b in binds {
                        q = q.bind(*b);
                    }
                    q.fetch_all(self.db.get_postgres_connection_pool()).await
                }
                _ => {
                    let mut q = sqlx::query_as::<_, T>(sql);
                    for b in binds {
                        q = q.bind(*b);
                    }
                    q.fetch_all(self.db.get_sqlite_connection_pool()).await
                }
            };
            result.map_err(|e| DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)))
        };
        self.health.guard(run).await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Guarded<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.health.guard(self.db.execute(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.health.guard(self.db.execute_unprepared(sql)).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.health.guard(self.db.query_one(stmt)).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.health.guard(self.db.query_all(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.db.support_returning()
    }
}

/// The probe: pings on a pool of one connection of its own until the last
/// [`Health`] handle is dropped.
async fn probe(url: String, health: Weak<Inner>) {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(PROBE_TIMEOUT)
        .connect_timeout(PROBE_TIMEOUT)
        // The ping is the test: sqlx's own ping before it would double it.
        .test_before_acquire(false)
        .connect_lazy(true)
        .sqlx_logging(false);
    let db: DatabaseConnection = match Database::connect(options).await {
        Ok(db) => db,
        Err(e) => {
            // A malformed URL: the main pool refused it already.
            tracing::error!(error = %e, "the database health probe cannot start");
            return;
        }
    };
    // A ping that errs (refused, closed, timed out connecting) is an outage;
    // one that merely hangs may be a stall, so it takes two in a row.
    let mut slow = 0;
    loop {
        let up = match tokio::time::timeout(PROBE_TIMEOUT * 2, db.ping()).await {
            Ok(Ok(())) => {
                slow = 0;
                Some(true)
            }
            Ok(Err(_)) => Some(false),
            Err(_) => {
                slow += 1;
                (slow >= 2).then_some(false)
            }
        };
        let Some(inner) = health.upgrade() else {
            return;
        };
        let health = Health(inner);
        if let Some(up) = up {
            health.set(up, "the health probe's ping failed");
        }
        let wake = async { health.0.wake.notified().await };
        tokio::select! {
            () = tokio::time::sleep(PROBE_INTERVAL) => {}
            () = wake => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    fn is_unavailable<T>(result: Result<T, DbErr>) -> bool {
        matches!(result, Err(e) if fault::fault(&e) == Some(Fault::Unavailable))
    }

    #[tokio::test]
    async fn while_down_an_operation_is_refused_without_running() {
        let health = Health::always_up();
        health.set(false, "test");
        let ran = AtomicBool::new(false);
        let result = health
            .guard(async {
                ran.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(is_unavailable(result));
        assert!(!ran.load(Ordering::SeqCst), "the pool was not touched");

        health.set(true, "test");
        assert_eq!(health.guard(async { Ok(7) }).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn an_operation_waiting_for_a_connection_is_released_when_the_database_goes_down() {
        let health = Health::always_up();
        let marker = health.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            marker.set(false, "test");
        });
        let waiting = health.guard(std::future::pending::<Result<(), DbErr>>());
        let result = tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .expect("the waiting operation was released");
        assert!(is_unavailable(result));
    }
}
