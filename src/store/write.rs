//! The write path: one transaction per request, duplicates absorbed by the
//! unique natural key (`ON CONFLICT DO NOTHING`), never by a read-then-write
//! check, so concurrent redeliveries are stored once too.

use chrono::{DateTime, Utc};
use entity::{dirty_fingerprint, event, identity_link, pageview};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, TransactionTrait, TryInsertResult,
};
use std::collections::BTreeMap;

use super::Store;

/// Rows per INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bind
/// parameters with 19 columns a row.
const CHUNK: usize = 500;

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

impl Store {
    /// Stores pageviews and the identity links they show, atomically.
    pub async fn insert_pageviews(
        &self,
        rows: Vec<pageview::ActiveModel>,
        links: Vec<Link>,
        dirty: Vec<String>,
    ) -> Result<InsertOutcome, DbErr> {
        self.insert_with_links(rows, pageview::Column::DedupKey, links, dirty)
            .await
    }

    /// Stores events and the identity links they show, atomically.
    pub async fn insert_events(
        &self,
        rows: Vec<event::ActiveModel>,
        links: Vec<Link>,
        dirty: Vec<String>,
    ) -> Result<InsertOutcome, DbErr> {
        self.insert_with_links(rows, event::Column::DedupKey, links, dirty)
            .await
    }

    async fn insert_with_links<A>(
        &self,
        rows: Vec<A>,
        key: <A::Entity as EntityTrait>::Column,
        links: Vec<Link>,
        dirty: Vec<String>,
    ) -> Result<InsertOutcome, DbErr>
    where
        A: ActiveModelTrait + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        let total = rows.len() as u64;
        let _gate = match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        let txn = self.db.begin().await?;
        let mut stored = 0;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
            let result = A::Entity::insert_many(chunk)
                .on_conflict(OnConflict::column(key).do_nothing().to_owned())
                .do_nothing()
                .exec_without_returning(&txn)
                .await?;
            if let TryInsertResult::Inserted(n) = result {
                stored += n;
            }
        }
        mark_dirty(&txn, &links, &dirty).await?;
        upsert_links(&txn, links).await?;
        // Only after this returns is the request acknowledged: a 2xx means durable.
        txn.commit().await?;
        Ok(InsertOutcome {
            stored,
            duplicates: total - stored,
        })
    }
}

/// Marks the fingerprints a write touched (its payloads' and its links'),
/// in the write's own transaction: the derived tables can never miss a
/// committed webhook.
async fn mark_dirty(
    txn: &DatabaseTransaction,
    links: &[Link],
    fingerprints: &[String],
) -> Result<(), DbErr> {
    let all: std::collections::BTreeSet<&str> = fingerprints
        .iter()
        .map(String::as_str)
        .chain(links.iter().map(|l| l.0.as_str()))
        .collect();
    let all: Vec<&str> = all.into_iter().collect();
    for chunk in all.chunks(CHUNK) {
        dirty_fingerprint::Entity::insert_many(chunk.iter().map(|fp| {
            dirty_fingerprint::ActiveModel {
                fingerprint: sea_orm::Set((*fp).to_owned()),
            }
        }))
        .on_conflict(
            OnConflict::column(dirty_fingerprint::Column::Fingerprint)
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// Records (fingerprint, user_id) pairs, keeping the earliest time each was
/// seen, so the result is the same whatever order the payloads arrive in.
async fn upsert_links(txn: &DatabaseTransaction, links: Vec<Link>) -> Result<(), DbErr> {
    // One row per pair within the statement: PostgreSQL refuses an
    // ON CONFLICT DO UPDATE that touches the same row twice.
    let mut earliest: BTreeMap<(String, String), DateTime<Utc>> = BTreeMap::new();
    for (fingerprint, user_id, at) in links {
        earliest
            .entry((fingerprint, user_id))
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
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
