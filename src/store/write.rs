//! The write path. Duplicates are absorbed by the unique natural key (`ON
//! CONFLICT DO NOTHING`), never by a read-then-write check, so concurrent
//! redeliveries are stored once too.
//!
//! Requests do not open transactions themselves: they are flattened into
//! bind values here (on the caller's task, in parallel), queued to the group
//! commit writer (see `group_commit`), and [`apply`]ed there many at a time.
//! A group's rows go into one multi-row INSERT per table (as many rows per
//! statement as the bind limit allows) with `RETURNING dedup_key`: a key
//! returned was stored by that statement, so each request's `stored` and
//! `duplicates` stay exact even when it shares the statement with others.

use chrono::{DateTime, Utc};
use entity::{dirty_fingerprint, event, identity_link, pageview};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityName,
    EntityTrait, IdenStatic, Iterable, PrimaryKeyToColumn, Statement, Value,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;

use super::Store;
use crate::reports::cells::Grain;

/// Rows per statement for the small tables (dirty marks, identity links).
const CHUNK: usize = 500;

/// Bind parameters per INSERT: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_BINDS: usize = 30_000;

/// Rows per INSERT of pageviews or events, whatever the bind limit allows:
/// past this, longer statements stop paying for their parsing.
const MAX_ROWS_PER_STATEMENT: usize = 1_000;

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InsertOutcome {
    /// Payloads newly stored.
    pub stored: u64,
    /// Payloads already present (redeliveries), stored nothing.
    pub duplicates: u64,
}

/// A (fingerprint, user_id, seen at) triple shown by a payload.
pub type Link = (String, String, DateTime<Utc>);

/// The tables the group commit writes rows to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Pageviews,
    Events,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Pageviews => pageview::Entity.table_name(),
            Self::Events => event::Entity.table_name(),
        }
    }

    /// The columns written, in bind order: all but the generated `id`.
    fn columns(self) -> Vec<String> {
        match self {
            Self::Pageviews => written_columns::<pageview::Entity>()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            Self::Events => written_columns::<event::Entity>()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
        }
    }
}

/// Every column of `E` but its (generated) primary key.
pub(super) fn written_columns<E: EntityTrait>() -> Vec<E::Column> {
    // Only an auto-increment key is the database's to fill.
    if !<E::PrimaryKey as sea_orm::PrimaryKeyTrait>::auto_increment() {
        return E::Column::iter().collect();
    }
    let key: Vec<E::Column> = E::PrimaryKey::iter().map(|k| k.into_column()).collect();
    E::Column::iter()
        .filter(|c| !key.iter().any(|k| k.as_str() == c.as_str()))
        .collect()
}

/// One request's write, ready for a group: its rows as bind values and what
/// they show. Built from the request's active models once, so a retry after
/// a failed group reuses it.
pub(super) struct Write {
    table: Table,
    /// The natural key of each row, in request order.
    keys: Vec<Vec<u8>>,
    /// Row-major bind values, `table.columns()` of them a row.
    values: Vec<Value>,
    links: Vec<Link>,
    dirty: Vec<String>,
    /// The hour (start, in seconds) of each pageview row, in request order:
    /// a stored pageview makes its hour's traffic rollup stale.
    hours: Vec<i64>,
}

impl Write {
    /// Takes the values out of `rows`. A column left `NotSet` binds NULL:
    /// the columns written have no defaults, so the database refuses it
    /// where it matters (and only this request fails, see `group_commit`).
    fn new<A>(
        table: Table,
        rows: Vec<A>,
        key: <A::Entity as EntityTrait>::Column,
        links: Vec<Link>,
        dirty: Vec<String>,
    ) -> Self
    where
        A: ActiveModelTrait,
    {
        let columns = written_columns::<A::Entity>();
        let mut keys = Vec::with_capacity(rows.len());
        let mut hours = Vec::new();
        let mut values = Vec::with_capacity(rows.len() * columns.len());
        for mut row in rows {
            for &column in &columns {
                let value = row.take(column).into_value().unwrap_or(Value::String(None));
                if table == Table::Pageviews && column.as_str() == "created_at" {
                    if let Value::ChronoDateTimeUtc(Some(at)) = &value {
                        hours.push(Grain::Hour.floor(at.timestamp()));
                    }
                }
                if column.as_str() == key.as_str() {
                    keys.push(match &value {
                        Value::Bytes(Some(bytes)) => bytes.as_ref().clone(),
                        _ => Vec::new(),
                    });
                }
                values.push(value);
            }
        }
        Self {
            table,
            keys,
            values,
            links,
            dirty,
            hours,
        }
    }

    /// Rows in this write.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

impl Store {
    /// Stores pageviews and the identity links they show, atomically; returns
    /// once the transaction holding them has committed.
    pub async fn insert_pageviews(
        &self,
        rows: Vec<pageview::ActiveModel>,
        links: Vec<Link>,
        dirty: Vec<String>,
    ) -> Result<InsertOutcome, DbErr> {
        let write = Write::new(
            Table::Pageviews,
            rows,
            pageview::Column::DedupKey,
            links,
            dirty,
        );
        self.writer.submit(write).await
    }

    /// Stores events and the identity links they show, atomically; returns
    /// once the transaction holding them has committed.
    pub async fn insert_events(
        &self,
        rows: Vec<event::ActiveModel>,
        links: Vec<Link>,
        dirty: Vec<String>,
    ) -> Result<InsertOutcome, DbErr> {
        let write = Write::new(Table::Events, rows, event::Column::DedupKey, links, dirty);
        self.writer.submit(write).await
    }
}

/// Executes a group of writes in `txn` (the caller commits): the rows of
/// each table in multi-row INSERTs, then the dirty marks and identity links
/// of all of them. Returns each write's outcome, in order.
pub(super) async fn apply(
    txn: &DatabaseTransaction,
    writes: &[Write],
    live: &super::Live,
) -> Result<(Vec<InsertOutcome>, super::Signal), DbErr> {
    let mut fresh = HashSet::new();
    let mut pageview_ids = Vec::new();
    insert_rows(txn, Table::Pageviews, writes, &mut fresh, &mut pageview_ids).await?;
    insert_rows(txn, Table::Events, writes, &mut fresh, &mut Vec::new()).await?;
    // Other processes hear of the new pageviews when, and only if, this
    // transaction commits.
    pageview_ids.sort_unstable();
    let signal = super::Signal::Pageviews { ids: pageview_ids };
    live.notify_in(txn, &signal).await?;
    // Dirty marks stay in the rows' transaction: the derived tables can
    // never miss a committed webhook.
    mark_dirty(txn, writes).await?;
    let traffic: BTreeSet<i64> = writes
        .iter()
        .flat_map(|w| w.keys.iter().zip(&w.hours))
        .filter(|(key, _)| fresh.contains(*key))
        .map(|(_, hour)| *hour)
        .collect();
    super::rollups::mark_hours(txn, &traffic).await?;
    upsert_links(txn, writes).await?;
    // A key returned by the INSERT was stored by it, once: credit it to the
    // first row carrying it, in queue order, and every other copy is a duplicate.
    let outcomes = writes
        .iter()
        .map(|write| {
            let stored = write.keys.iter().filter(|k| fresh.remove(*k)).count() as u64;
            InsertOutcome {
                stored,
                duplicates: write.len() as u64 - stored,
            }
        })
        .collect();
    Ok((outcomes, signal))
}

/// Inserts the rows of `table` from all `writes`, adding the natural keys
/// actually stored (not conflicting) to `fresh` and their ids to `ids`.
async fn insert_rows(
    txn: &DatabaseTransaction,
    table: Table,
    writes: &[Write],
    fresh: &mut HashSet<Vec<u8>>,
    ids: &mut Vec<i64>,
) -> Result<(), DbErr> {
    let columns = table.columns();
    let width = columns.len();
    let per_statement = (MAX_BINDS / width).clamp(1, MAX_ROWS_PER_STATEMENT);
    // Collected first: no iterator adapter (closure) lives across an await,
    // which keeps the writer's future `Send`.
    let mut rows: Vec<&[Value]> = Vec::new();
    for write in writes.iter().filter(|w| w.table == table) {
        rows.extend(write.values.chunks(width));
    }
    let backend = txn.get_database_backend();
    for chunk in rows.chunks(per_statement) {
        let mut values = Vec::with_capacity(chunk.len() * width);
        for row in chunk {
            values.extend_from_slice(row);
        }
        let sql = insert_sql(backend, table.name(), &columns, chunk.len());
        for row in txn
            .query_all(Statement::from_sql_and_values(backend, sql, values))
            .await?
        {
            fresh.insert(row.try_get_by_index::<Vec<u8>>(0)?);
            ids.push(row.try_get_by_index::<i64>(1)?);
        }
    }
    Ok(())
}

/// `INSERT … VALUES (…), … ON CONFLICT (dedup_key) DO NOTHING RETURNING
/// dedup_key, id` for `rows` rows, with the backend's placeholders.
fn insert_sql(backend: DbBackend, table: &str, columns: &[String], rows: usize) -> String {
    let mut sql = values_sql(backend, table, columns, rows);
    sql.push_str(" ON CONFLICT (\"dedup_key\") DO NOTHING RETURNING \"dedup_key\", \"id\"");
    sql
}

/// `INSERT … VALUES (…), …` for `rows` rows, with the backend's
/// placeholders.
pub(super) fn values_sql(
    backend: DbBackend,
    table: &str,
    columns: &[String],
    rows: usize,
) -> String {
    let mut sql = String::with_capacity(64 + rows * columns.len() * 6);
    let _ = write!(sql, "INSERT INTO \"{table}\" (");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "\"{column}\"");
    }
    sql.push_str(") VALUES ");
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns.len() {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                DbBackend::Postgres => {
                    let _ = write!(sql, "${n}");
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// Marks the fingerprints the writes touched (their payloads' and their
/// links'), in the writes' own transaction: the derived tables can never
/// miss a committed webhook.
async fn mark_dirty(txn: &DatabaseTransaction, writes: &[Write]) -> Result<(), DbErr> {
    let all: BTreeSet<&str> = writes
        .iter()
        .flat_map(|w| {
            w.dirty
                .iter()
                .map(String::as_str)
                .chain(w.links.iter().map(|l| l.0.as_str()))
        })
        .collect();
    let all: Vec<&str> = all.into_iter().collect();
    mark_fingerprints(txn, &all).await
}

/// Queues `fingerprints` for the materialiser with one fresh version, in
/// the caller's transaction (a mark already queued takes the new version,
/// so a step that read the old one recomputes it again).
pub(super) async fn mark_fingerprints(
    txn: &DatabaseTransaction,
    fingerprints: &[&str],
) -> Result<(), DbErr> {
    let version = next_mark_version();
    for chunk in fingerprints.chunks(CHUNK) {
        dirty_fingerprint::Entity::insert_many(chunk.iter().map(|fp| {
            dirty_fingerprint::ActiveModel {
                fingerprint: sea_orm::Set((*fp).to_owned()),
                version: sea_orm::Set(version),
            }
        }))
        .on_conflict(
            OnConflict::column(dirty_fingerprint::Column::Fingerprint)
                .update_column(dirty_fingerprint::Column::Version)
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// A fresh version for a write's dirty marks: a counter started from the
/// clock and the process id, so two writes (of this process or of another
/// on the same database) practically never share one.
pub(super) fn next_mark_version() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::OnceLock;
    static NEXT: OnceLock<AtomicI64> = OnceLock::new();
    NEXT.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        AtomicI64::new(nanos ^ (i64::from(std::process::id()) << 40))
    })
    .fetch_add(1, Ordering::Relaxed)
}

/// Records (fingerprint, user_id) pairs, keeping the earliest time each was
/// seen, so the result is the same whatever order the payloads arrive in.
async fn upsert_links(txn: &DatabaseTransaction, writes: &[Write]) -> Result<(), DbErr> {
    // One row per pair within the statement: PostgreSQL refuses an
    // ON CONFLICT DO UPDATE that touches the same row twice.
    let mut earliest: BTreeMap<(String, String), DateTime<Utc>> = BTreeMap::new();
    for (fingerprint, user_id, at) in writes.iter().flat_map(|w| &w.links) {
        earliest
            .entry((fingerprint.clone(), user_id.clone()))
            .and_modify(|t| *t = (*t).min(*at))
            .or_insert(*at);
    }
    if earliest.is_empty() {
        return Ok(());
    }
    let min = match txn.get_database_backend() {
        DbBackend::Postgres => "LEAST",
        _ => "MIN",
    };
    let keep_earliest = Expr::cust(format!(
        "{min}(identity_links.first_seen_at, excluded.first_seen_at)"
    ));
    let models: Vec<identity_link::ActiveModel> = earliest
        .into_iter()
        .map(|((fingerprint, user_id), at)| identity_link::ActiveModel {
            fingerprint: sea_orm::Set(fingerprint),
            user_id: sea_orm::Set(user_id),
            first_seen_at: sea_orm::Set(at),
        })
        .collect();
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<_> = models.by_ref().take(CHUNK).collect();
        identity_link::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([
                    identity_link::Column::Fingerprint,
                    identity_link::Column::UserId,
                ])
                .value(identity_link::Column::FirstSeenAt, keep_earliest.clone())
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}
