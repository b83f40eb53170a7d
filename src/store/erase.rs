//! Erasure: deleting every stored fact of one user, and the derived rows
//! that counted them, in one transaction.
//!
//! What goes (see [`Store::erase_user`]): every fingerprint linked to the
//! user, or carried by a pageview or event sent with their id, is erased
//! whole: its pageviews, its events (whoever sent them) and all its
//! identity links (other users' too). A device shared with another user is
//! therefore erased for both: keeping it for the other user would keep the
//! erased user's visits in that user's journey and their fingerprint in
//! every query. The other user keeps everything on their other devices.

use std::collections::BTreeSet;

use entity::{
    acquisition, credit, dirty_fingerprint, event, identity_link, pageview, revenue_fact,
    touchpoint, visitor_id,
};

use crate::reports::cells::Grain;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityName, EntityTrait,
    QueryFilter, QuerySelect,
};

use super::derived::DERIVED_LOCK_KEY;
use super::write::mark_fingerprints;
use super::Store;
use crate::journeys::JourneyKey;
use crate::materialize::key_text;

/// Keys per `IN (…)` list.
const IN_CHUNK: usize = 500;

/// What an erasure deleted: rows of each kind, and the devices erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErasureSummary {
    /// Pageviews deleted.
    pub pageviews: u64,
    /// Events deleted.
    pub events: u64,
    /// Identity links deleted (other users' links to an erased device too).
    pub identity_links: u64,
    /// Distinct fingerprints whose data was erased.
    pub fingerprints: u64,
}

/// What an erasure must re-derive, given the fingerprints it erased and the
/// identity links they had.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rederive {
    /// `credits.journey_key`s that counted erased facts: the user's own
    /// journey, every other user linked to an erased fingerprint, and each
    /// erased fingerprint's anonymous journey.
    credit_keys: Vec<String>,
    /// The other users who lose a device: their other devices are queued
    /// so that their journeys are recomputed without it.
    other_users: Vec<String>,
}

fn rederive(
    user: &str,
    fingerprints: &BTreeSet<String>,
    links: &[identity_link::Model],
) -> Rederive {
    let other_users: BTreeSet<String> = links
        .iter()
        .filter(|l| l.user_id != user && fingerprints.contains(&l.fingerprint))
        .map(|l| l.user_id.clone())
        .collect();
    let credit_keys: BTreeSet<String> = std::iter::once(JourneyKey::User(user.to_owned()))
        .chain(other_users.iter().cloned().map(JourneyKey::User))
        .chain(fingerprints.iter().cloned().map(JourneyKey::Anonymous))
        .map(|k| key_text(&k))
        .collect();
    Rederive {
        credit_keys: credit_keys.into_iter().collect(),
        other_users: other_users.into_iter().collect(),
    }
}

impl Store {
    /// Erases `user` (an id as stored) and everything on their devices, and
    /// the derived rows that counted any of it, atomically: a failure leaves
    /// nothing half-erased. Once this returns, no touchpoint or credit
    /// counts an erased fact; the fingerprints erased and the other devices
    /// of the other users who lost one are queued for the materialiser,
    /// which recomputes those users' journeys without the erased device.
    /// An unknown user erases nothing (all zeros).
    ///
    /// Webhooks for the user that arrive while this runs may be stored
    /// after it: each round looks again for devices of the user, until a
    /// round finds none it has not erased, which catches those committed
    /// before the last look; erase again once the sender has stopped.
    pub async fn erase_user(&self, user: &str) -> Result<ErasureSummary, DbErr> {
        let _gate = self.write_turn().await;
        let txn = self.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // Serialised with materialiser steps (see `without_erased_users`).
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({DERIVED_LOCK_KEY})"))
                .await?;
        } else {
            // A write first takes SQLite's write lock (waiting for it, under
            // the busy timeout) before anything is read: a transaction that
            // read first and then wrote after another process's commit (the
            // service's materialiser, beside the `erase` command) would fail
            // with SQLITE_BUSY_SNAPSHOT instead of waiting.
            txn.execute_unprepared(&format!(
                "DELETE FROM \"{}\" WHERE 1 = 0",
                dirty_fingerprint::Entity.table_name()
            ))
            .await?;
        }
        let mut summary = ErasureSummary::default();
        // The hours whose rollups held something erased: rebuilt without it.
        let mut hours: BTreeSet<i64> = BTreeSet::new();
        let mut erased: BTreeSet<String> = BTreeSet::new();
        let mut links = Vec::new();
        loop {
            let fresh: BTreeSet<String> = devices_of(&txn, user)
                .await?
                .difference(&erased)
                .cloned()
                .collect();
            if fresh.is_empty() {
                break;
            }
            let fresh: Vec<String> = fresh.into_iter().collect();
            let mut fresh_links = Vec::new();
            for chunk in fresh.chunks(IN_CHUNK) {
                fresh_links.extend(
                    identity_link::Entity::find()
                        .filter(identity_link::Column::Fingerprint.is_in(chunk.iter().cloned()))
                        .all(&txn)
                        .await?,
                );
            }
            // Queued: the erased devices, although nothing of them will be
            // left (a materialiser step that read them before this commit
            // must not have the last word on their rows), and the other
            // devices of the other users who lose one, whose journeys are
            // recomputed from those. Queued before any link is deleted
            // because the write path marks, then links: taking the locks in
            // the same order cannot deadlock with a webhook on PostgreSQL.
            let others = rederive(user, &fresh.iter().cloned().collect(), &fresh_links).other_users;
            let mut marks: BTreeSet<String> = fresh.iter().cloned().collect();
            for chunk in others.chunks(IN_CHUNK) {
                marks.extend(
                    identity_link::Entity::find()
                        .select_only()
                        .column(identity_link::Column::Fingerprint)
                        .filter(identity_link::Column::UserId.is_in(chunk.iter().cloned()))
                        .into_tuple::<String>()
                        .all(&txn)
                        .await?,
                );
            }
            let marks: Vec<&str> = marks.iter().map(String::as_str).collect();
            mark_fingerprints(&txn, &marks).await?;
            links.extend(fresh_links);
            for chunk in fresh.chunks(IN_CHUNK) {
                let keys = || chunk.iter().cloned();
                let pageviews = super::derived::delete_returning::<pageview::Entity>(
                    &txn,
                    pageview::Column::Fingerprint.is_in(keys()),
                )
                .await?;
                summary.pageviews += pageviews.len() as u64;
                hours.extend(
                    pageviews
                        .iter()
                        .map(|p| Grain::Hour.floor(p.created_at.timestamp())),
                );
                summary.events += event::Entity::delete_many()
                    .filter(event::Column::Fingerprint.is_in(keys()))
                    .exec(&txn)
                    .await?
                    .rows_affected;
                summary.identity_links += identity_link::Entity::delete_many()
                    .filter(identity_link::Column::Fingerprint.is_in(keys()))
                    .exec(&txn)
                    .await?
                    .rows_affected;
            }
            erased.extend(fresh);
        }
        summary.fingerprints = erased.len() as u64;

        let plan = rederive(user, &erased, &links);
        let erased: Vec<String> = erased.into_iter().collect();
        for chunk in erased.chunks(IN_CHUNK) {
            let touches = super::derived::delete_returning::<touchpoint::Entity>(
                &txn,
                touchpoint::Column::Fingerprint.is_in(chunk.iter().cloned()),
            )
            .await?;
            hours.extend(touches.iter().map(|t| Grain::Hour.floor(t.at.timestamp())));
            // The fingerprint itself must not outlive the erasure; its id
            // leaves the bitmaps when the hours are rebuilt.
            visitor_id::Entity::delete_many()
                .filter(visitor_id::Column::Fingerprint.is_in(chunk.iter().cloned()))
                .exec(&txn)
                .await?;
        }
        for chunk in plan.credit_keys.chunks(IN_CHUNK) {
            let credits = super::derived::delete_returning::<credit::Entity>(
                &txn,
                credit::Column::JourneyKey.is_in(chunk.iter().cloned()),
            )
            .await?;
            hours.extend(
                credits
                    .iter()
                    .map(|c| Grain::Hour.floor(c.conversion_at.timestamp())),
            );
            acquisition::Entity::delete_many()
                .filter(acquisition::Column::JourneyKey.is_in(chunk.iter().cloned()))
                .exec(&txn)
                .await?;
            revenue_fact::Entity::delete_many()
                .filter(revenue_fact::Column::JourneyKey.is_in(chunk.iter().cloned()))
                .exec(&txn)
                .await?;
        }
        super::rollups::mark_hours(&txn, &hours).await?;
        let signal = super::rollups::bump_version_live(&txn, &self.live).await?;
        txn.commit().await?;
        self.live.publish([signal]);
        Ok(summary)
    }
}

/// The fingerprints linked to `user` or carried by a pageview or event sent
/// with their id (the latter are linked too, but a missing link must not
/// let a row of theirs survive).
async fn devices_of(txn: &DatabaseTransaction, user: &str) -> Result<BTreeSet<String>, DbErr> {
    let mut out = BTreeSet::new();
    out.extend(
        identity_link::Entity::find()
            .select_only()
            .column(identity_link::Column::Fingerprint)
            .filter(identity_link::Column::UserId.eq(user))
            .into_tuple::<String>()
            .all(txn)
            .await?,
    );
    out.extend(
        pageview::Entity::find()
            .select_only()
            .column(pageview::Column::Fingerprint)
            .distinct()
            .filter(pageview::Column::UserId.eq(user))
            .into_tuple::<String>()
            .all(txn)
            .await?,
    );
    out.extend(
        event::Entity::find()
            .select_only()
            .column(event::Column::Fingerprint)
            .distinct()
            .filter(event::Column::UserId.eq(user))
            .into_tuple::<String>()
            .all(txn)
            .await?,
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(fp: &str, user: &str) -> identity_link::Model {
        identity_link::Model {
            fingerprint: fp.into(),
            user_id: user.into(),
            first_seen_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    fn set(fps: &[&str]) -> BTreeSet<String> {
        fps.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_shared_device_puts_the_other_user_s_journey_up_for_recomputation() {
        let plan = rederive(
            "u",
            &set(&["shared", "own"]),
            &[link("shared", "u"), link("shared", "v"), link("own", "u")],
        );
        assert_eq!(plan.other_users, ["v"]);
        assert_eq!(plan.credit_keys, ["a:own", "a:shared", "u:u", "u:v"]);
    }

    #[test]
    fn only_users_linked_to_an_erased_device_are_touched() {
        let plan = rederive(
            "u",
            &set(&["own"]),
            &[link("own", "u"), link("elsewhere", "w")],
        );
        assert!(plan.other_users.is_empty());
        assert_eq!(plan.credit_keys, ["a:own", "u:u"]);
    }

    #[test]
    fn an_unknown_user_still_clears_their_own_journey_and_nothing_else() {
        let plan = rederive("ghost", &BTreeSet::new(), &[]);
        assert!(plan.other_users.is_empty());
        assert_eq!(plan.credit_keys, ["u:ghost"]);
    }
}
