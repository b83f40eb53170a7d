//! Which database failures are the sender's cue to retry later, and when.
//!
//! A request refused for one of these stored nothing (its transaction rolled
//! back, or never began), and every write is idempotent, so retrying it is
//! always safe. Both surfaces (REST, GraphQL) map a [`Fault`] the same way:
//! a status that says "not your fault, not forever" and a `Retry-After`.

use std::time::Duration;

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr};

/// A database failure that is a condition of the service, not of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The database cannot be reached (down, restarting, network cut), or
    /// it is too busy to take the request within the acquire timeout.
    Unavailable,
    /// The disk (or the database's size cap) is full: reads still work,
    /// writes are refused until space is freed.
    StorageFull,
}

impl Fault {
    /// The machine-readable code, as in `{"error": …}`.
    pub fn code(self) -> &'static str {
        match self {
            Fault::Unavailable => "database_unavailable",
            Fault::StorageFull => "storage_full",
        }
    }

    /// A sentence for the sender.
    pub fn message(self) -> &'static str {
        match self {
            Fault::Unavailable => {
                "the database is unavailable or overloaded; nothing was stored, retry later"
            }
            Fault::StorageFull => {
                "the database's disk is full; nothing was stored, retry once space is freed"
            }
        }
    }

    /// How long a sender should wait before retrying. A lost database
    /// usually comes back within seconds (a restart, a failover), and this
    /// service notices within two; a full disk needs someone to act.
    pub fn retry_after(self) -> Duration {
        match self {
            Fault::Unavailable => Duration::from_secs(5),
            Fault::StorageFull => Duration::from_secs(60),
        }
    }
}

/// SQLite's primary result codes that matter here (extended codes carry
/// them in their low byte).
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

/// Classifies a database error; `None` for everything else (a bug, a
/// constraint, bad SQL), which stays an internal error.
pub fn fault(error: &DbErr) -> Option<Fault> {
    match error {
        // Connecting failed, or our own fast refusal while marked down.
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => Some(Fault::Unavailable),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_fault(e)
        }
        DbErr::Exec(RuntimeErr::Internal(m)) if m == STORAGE_FULL => Some(Fault::StorageFull),
        _ => None,
    }
}

fn sqlx_fault(error: &sqlx::Error) -> Option<Fault> {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(Fault::Unavailable),
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                postgres_fault(&code)
            } else {
                sqlite_fault(code.parse().ok()?)
            }
        }
        _ => None,
    }
}

/// By SQLSTATE: 53100 is disk_full; the rest of class 53 (out of memory,
/// too many connections), class 08 (connection exceptions) and the
/// shutdown/start-up states of 57P0x are the server's condition, and so is
/// a deadlock or serialisation failure that outlived the writer's retries
/// (another transaction's doing, not the request's).
fn postgres_fault(sqlstate: &str) -> Option<Fault> {
    match sqlstate {
        "53100" => Some(Fault::StorageFull),
        DEADLOCK_DETECTED | SERIALIZATION_FAILURE => Some(Fault::Unavailable),
        s if s.starts_with("53") || s.starts_with("08") => Some(Fault::Unavailable),
        "57P01" | "57P02" | "57P03" => Some(Fault::Unavailable),
        _ => None,
    }
}

/// By result code: SQLITE_FULL (which SQLite also reports for ENOSPC) is a
/// full disk; BUSY/LOCKED past the busy timeout and CANTOPEN are transient
/// conditions of the file, not of the request.
fn sqlite_fault(code: i64) -> Option<Fault> {
    match code & 0xff {
        SQLITE_FULL => Some(Fault::StorageFull),
        SQLITE_BUSY | SQLITE_LOCKED | SQLITE_CANTOPEN => Some(Fault::Unavailable),
        _ => None,
    }
}

const DEADLOCK_DETECTED: &str = "40P01";
const SERIALIZATION_FAILURE: &str = "40001";

/// Whether PostgreSQL aborted the transaction to break a deadlock or a
/// serialisation conflict with another one: the same transaction, run
/// again, normally succeeds.
pub(super) fn is_conflict(error: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(db)))
    | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(db)))) = error
    else {
        return false;
    };
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
        && matches!(
            db.code().as_deref(),
            Some(DEADLOCK_DETECTED | SERIALIZATION_FAILURE)
        )
}

const STORAGE_FULL: &str = "the database's disk is full (the request's group was refused)";

/// A copy of a fault, for each request of a group that failed on it
/// (`DbErr` is not `Clone`); `None` for an error that is no fault.
pub(super) fn copy(error: &DbErr) -> Option<DbErr> {
    match fault(error)? {
        Fault::Unavailable => Some(unavailable()),
        Fault::StorageFull => Some(DbErr::Exec(RuntimeErr::Internal(STORAGE_FULL.into()))),
    }
}

/// The error a request gets, without touching the pool, while the database
/// is known to be unreachable (see `health`).
pub(super) fn unavailable() -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(
        "the database is unreachable (health probe); not trying".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_disk_full_is_storage_full_and_connection_states_are_unavailable() {
        assert_eq!(postgres_fault("53100"), Some(Fault::StorageFull));
        assert_eq!(postgres_fault("53300"), Some(Fault::Unavailable));
        assert_eq!(postgres_fault("08006"), Some(Fault::Unavailable));
        assert_eq!(postgres_fault("57P01"), Some(Fault::Unavailable));
        assert_eq!(postgres_fault("23505"), None, "a constraint is not a fault");
        assert_eq!(
            postgres_fault("40P01"),
            Some(Fault::Unavailable),
            "a deadlock"
        );
        assert_eq!(postgres_fault("40001"), Some(Fault::Unavailable));
    }

    #[test]
    fn sqlite_full_is_storage_full_whatever_the_extended_code() {
        assert_eq!(sqlite_fault(13), Some(Fault::StorageFull));
        assert_eq!(sqlite_fault(5), Some(Fault::Unavailable));
        assert_eq!(
            sqlite_fault(517),
            Some(Fault::Unavailable),
            "SQLITE_BUSY_SNAPSHOT"
        );
        assert_eq!(sqlite_fault(1299), None, "SQLITE_CONSTRAINT_NOTNULL");
    }

    #[test]
    fn the_fast_refusal_and_a_timed_out_pool_are_unavailable() {
        assert_eq!(fault(&unavailable()), Some(Fault::Unavailable));
        assert_eq!(
            fault(&DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)),
            Some(Fault::Unavailable)
        );
        assert_eq!(fault(&DbErr::Custom("a bug".into())), None);
    }

    #[test]
    fn a_copied_fault_is_the_same_fault() {
        let full = copy(&DbErr::Exec(RuntimeErr::Internal(STORAGE_FULL.into()))).unwrap();
        assert_eq!(fault(&full), Some(Fault::StorageFull));
        assert_eq!(
            fault(&copy(&unavailable()).unwrap()),
            Some(Fault::Unavailable)
        );
        assert!(copy(&DbErr::Custom("a bug".into())).is_none());
    }
}
