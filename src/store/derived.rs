//! The derived tables' storage: the dirty-fingerprint queue, touchpoints and
//! credits. What goes in them is computed by `crate::materialize`.

use std::collections::{BTreeSet, HashSet};

use entity::{credit, dirty_fingerprint, identity_link, touchpoint};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::Iden as _;
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};

use super::{Store, TimeRange};

const IN_CHUNK: usize = 500;

/// PostgreSQL advisory lock held by every transaction that replaces or
/// removes derived rows (a materialiser step, an erasure), so that those of
/// several service processes never interleave.
pub(super) const DERIVED_LOCK_KEY: i64 = 7436291;

/// Touchpoint counts of one group of a report.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct TouchCountRow {
    pub campaign: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub channel: Option<String>,
    pub landing_page: Option<String>,
    pub touchpoints: i64,
    pub visitors: i64,
}

/// Which columns a touchpoint count groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchGrouping {
    Campaign,
    Source,
    Channel,
    LandingPage,
}

impl Store {
    /// Up to `limit` fingerprints whose derived rows are stale, with the
    /// version of their mark.
    pub async fn dirty_fingerprints(&self, limit: u64) -> Result<Vec<(String, i64)>, DbErr> {
        Ok(dirty_fingerprint::Entity::find()
            .order_by_asc(dirty_fingerprint::Column::Fingerprint)
            .limit(limit)
            .all(&self.primary())
            .await?
            .into_iter()
            .map(|d| (d.fingerprint, d.version))
            .collect())
    }

    /// Replaces the touchpoints of `fingerprints` and the credits of
    /// `journey_keys`, and removes the marks in `claimed` whose version is
    /// still the one read — all in one short transaction. The rows were
    /// computed before it, from facts read after the marks: a write that
    /// landed in between rewrote its mark's version, so its fingerprint
    /// stays queued and is recomputed next round.
    pub async fn replace_derived(
        &self,
        claimed: &[(String, i64)],
        fingerprints: &[String],
        touchpoints: Vec<touchpoint::ActiveModel>,
        journey_keys: &[String],
        credits: Vec<credit::ActiveModel>,
    ) -> Result<(), DbErr> {
        let _gate = self.write_turn().await;
        let txn = self.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // Steps of several service processes must not interleave: two
            // steps replacing one journey's credits at once could both
            // insert. (SQLite's single write lock serialises them already.)
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({DERIVED_LOCK_KEY})"))
                .await?;
        }
        for chunk in fingerprints.chunks(IN_CHUNK) {
            touchpoint::Entity::delete_many()
                .filter(touchpoint::Column::Fingerprint.is_in(chunk.iter().cloned()))
                .exec(&txn)
                .await?;
        }
        for chunk in journey_keys.chunks(IN_CHUNK) {
            credit::Entity::delete_many()
                .filter(credit::Column::JourneyKey.is_in(chunk.iter().cloned()))
                .exec(&txn)
                .await?;
        }
        // After the deletes: on SQLite this transaction holds the write lock
        // by now, on PostgreSQL the advisory lock, so no erasure can commit
        // between this check and the commit.
        let credits = without_erased_users(&txn, credits).await?;
        insert_chunked(&txn, touchpoints, 1000).await?;
        insert_chunked(&txn, credits, 500).await?;
        for chunk in claimed.chunks(200) {
            let mut matches = Condition::any();
            for (fingerprint, version) in chunk {
                matches = matches.add(
                    Condition::all()
                        .add(dirty_fingerprint::Column::Fingerprint.eq(fingerprint.as_str()))
                        .add(dirty_fingerprint::Column::Version.eq(*version)),
                );
            }
            dirty_fingerprint::Entity::delete_many()
                .filter(matches)
                .exec(&txn)
                .await?;
        }
        txn.commit().await
    }

    /// Credits under `model` of conversions named in `names` in `range`.
    pub async fn credits_in(
        &self,
        model: &str,
        names: &[String],
        range: &TimeRange,
    ) -> Result<Vec<credit::Model>, DbErr> {
        let mut query = credit::Entity::find()
            .filter(credit::Column::Model.eq(model))
            .filter(credit::Column::Name.is_in(names.iter().cloned()));
        if let Some(from) = range.from {
            query = query.filter(credit::Column::ConversionAt.gte(from));
        }
        if let Some(to) = range.to {
            query = query.filter(credit::Column::ConversionAt.lt(to));
        }
        query.all(&self.primary()).await
    }

    /// Touchpoints and distinct visitors in `range`, grouped for a report.
    pub async fn touch_counts(
        &self,
        grouping: TouchGrouping,
        range: &TimeRange,
    ) -> Result<Vec<TouchCountRow>, DbErr> {
        use touchpoint::Column as C;
        let groups: &[C] = match grouping {
            TouchGrouping::Campaign => &[C::Campaign, C::Source, C::Medium],
            TouchGrouping::Source => &[C::Source],
            TouchGrouping::Channel => &[C::Channel],
            TouchGrouping::LandingPage => &[C::LandingPage],
        };
        let mut query = touchpoint::Entity::find().select_only();
        for (col, name) in [
            (C::Campaign, "campaign"),
            (C::Source, "source"),
            (C::Medium, "medium"),
            (C::Channel, "channel"),
            (C::LandingPage, "landing_page"),
        ] {
            if groups.iter().any(|g| g.to_string() == col.to_string()) {
                query = query.column(col);
            } else {
                query = query.column_as(Expr::cust("NULL"), name);
            }
        }
        query = query
            .column_as(Expr::cust("COUNT(*)"), "touchpoints")
            .column_as(Expr::cust("COUNT(DISTINCT fingerprint)"), "visitors");
        if let Some(from) = range.from {
            query = query.filter(C::At.gte(from));
        }
        if let Some(to) = range.to {
            query = query.filter(C::At.lt(to));
        }
        for col in groups {
            query = query.group_by(*col);
        }
        query
            .into_model::<TouchCountRow>()
            .all(&self.primary())
            .await
    }

    /// How many fingerprints await recomputation.
    pub async fn dirty_count(&self) -> Result<u64, DbErr> {
        use sea_orm::PaginatorTrait;
        dirty_fingerprint::Entity::find()
            .count(&self.primary())
            .await
    }

    /// Every touchpoint and credit row, for the test that compares them with
    /// a recomputation from scratch.
    pub async fn all_derived(&self) -> Result<(Vec<touchpoint::Model>, Vec<credit::Model>), DbErr> {
        Ok((
            touchpoint::Entity::find().all(&self.primary()).await?,
            credit::Entity::find().all(&self.primary()).await?,
        ))
    }
}

/// Drops the credits of users who have no identity link left. Every user
/// with a conversion has one (an event with a `user_id` links its device in
/// the same transaction), so this keeps everything but one case: a step that
/// read a user's facts just before an erasure of that user committed, and
/// writes after it. The erasure re-queues the fingerprints it erased, and
/// those of the other users it touched, so every other row that step got
/// wrong is recomputed; the erased user's own journey is reachable from no
/// fingerprint any more, so its credits are refused here instead.
async fn without_erased_users(
    txn: &DatabaseTransaction,
    credits: Vec<credit::ActiveModel>,
) -> Result<Vec<credit::ActiveModel>, DbErr> {
    let user_of = |c: &credit::ActiveModel| match &c.user_id {
        ActiveValue::Set(u) | ActiveValue::Unchanged(u) => u.clone(),
        ActiveValue::NotSet => None,
    };
    let users: Vec<String> = credits
        .iter()
        .filter_map(user_of)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut linked = HashSet::new();
    for chunk in users.chunks(IN_CHUNK) {
        linked.extend(
            identity_link::Entity::find()
                .select_only()
                .column(identity_link::Column::UserId)
                .distinct()
                .filter(identity_link::Column::UserId.is_in(chunk.iter().cloned()))
                .into_tuple::<String>()
                .all(txn)
                .await?,
        );
    }
    if linked.len() == users.len() {
        return Ok(credits);
    }
    Ok(credits
        .into_iter()
        .filter(|c| user_of(c).is_none_or(|u| linked.contains(&u)))
        .collect())
}

async fn insert_chunked<A>(
    txn: &DatabaseTransaction,
    rows: Vec<A>,
    chunk: usize,
) -> Result<(), DbErr>
where
    A: sea_orm::ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<A> = rows.by_ref().take(chunk).collect();
        A::Entity::insert_many(batch)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}
