//! The derived tables' storage: the dirty-fingerprint queue, touchpoints and
//! credits. What goes in them is computed by `crate::materialize`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use entity::{acquisition, credit, dirty_fingerprint, identity_link, revenue_fact, touchpoint};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::Iden as _;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::{Store, TimeRange};
use crate::attribution::Model;
use crate::reports::cells::Grain;

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

/// A step's acquisition and revenue rows (see `entity::acquisition`),
/// replaced per journey with its credits.
#[derive(Debug, Clone, Default)]
pub struct RevenueRows {
    pub acquisitions: Vec<acquisition::Model>,
    pub facts: Vec<revenue_fact::Model>,
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
    /// Up to `limit` fingerprints whose derived rows are stale (the first
    /// ones after `after`, when given), with the version of their mark.
    pub async fn dirty_fingerprints(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<(String, i64)>, DbErr> {
        let mut query = dirty_fingerprint::Entity::find();
        if let Some(after) = after {
            query = query.filter(dirty_fingerprint::Column::Fingerprint.gt(after));
        }
        Ok(query
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
    ///
    /// The hours whose rows changed (old rows against new ones, compared
    /// field by field) are queued for a rollup rebuild in the same
    /// transaction, so the rollups can never miss a change.
    pub async fn replace_derived(
        &self,
        claimed: &[(String, i64)],
        fingerprints: &[String],
        touchpoints: Vec<touchpoint::Model>,
        journey_keys: &[String],
        credits: Vec<credit::Model>,
        revenue: RevenueRows,
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
        let started = std::time::Instant::now();
        let mut old_touches = Vec::new();
        for chunk in fingerprints.chunks(IN_CHUNK) {
            old_touches.extend(
                delete_returning::<touchpoint::Entity>(
                    &txn,
                    touchpoint::Column::Fingerprint.is_in(chunk.iter().cloned()),
                )
                .await?,
            );
        }
        let mut old_credits = Vec::new();
        for chunk in journey_keys.chunks(IN_CHUNK) {
            old_credits.extend(
                delete_returning::<credit::Entity>(
                    &txn,
                    credit::Column::JourneyKey.is_in(chunk.iter().cloned()),
                )
                .await?,
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
        // After the deletes: on SQLite this transaction holds the write lock
        // by now, on PostgreSQL the advisory lock, so no erasure can commit
        // between this check and the commit.
        let deleted = started.elapsed();
        let credits = without_erased_users(&txn, credits).await?;
        let revenue = revenue_without_erased_users(&txn, revenue).await?;
        let attributed = newly_attributed(&old_credits, &credits);
        let mut hours = changed_hours(&old_touches, &touchpoints, touch_signature);
        hours.extend(changed_hours(&old_credits, &credits, credit_signature));
        let compared = started.elapsed();
        insert_models::<touchpoint::Entity>(&txn, &touchpoints).await?;
        insert_models::<credit::Entity>(&txn, &credits).await?;
        insert_models::<acquisition::Entity>(&txn, &revenue.acquisitions).await?;
        insert_models::<revenue_fact::Entity>(&txn, &revenue.facts).await?;
        let inserted = started.elapsed();
        let claimed_fingerprints: Vec<String> = claimed.iter().map(|(f, _)| f.clone()).collect();
        super::rollups::lock_queue_rows(
            &txn,
            "dirty_fingerprints",
            "fingerprint",
            &claimed_fingerprints,
        )
        .await?;
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
        // After the fingerprint marks: a webhook's transaction takes those
        // rows first and the hours' after, and so must this one, or the two
        // could deadlock on PostgreSQL.
        super::rollups::mark_hours(&txn, &hours).await?;
        let version = super::rollups::bump_version_live(&txn, &self.live).await?;
        self.live.notify_in(&txn, &attributed).await?;
        let marked = started.elapsed();
        txn.commit().await?;
        self.live.publish([version, attributed]);
        tracing::debug!(
            delete_ms = deleted.as_millis() as u64,
            compare_ms = (compared - deleted).as_millis() as u64,
            insert_ms = (inserted - compared).as_millis() as u64,
            marks_ms = (marked - inserted).as_millis() as u64,
            commit_ms = (started.elapsed() - marked).as_millis() as u64,
            "derived rows replaced"
        );
        Ok(())
    }

    /// Credit rows that give credit under `model`, at `lookback_days`, of
    /// conversions named in `names` in `range`.
    pub async fn credits_in(
        &self,
        model: Model,
        lookback_days: i32,
        names: &[String],
        range: &TimeRange,
    ) -> Result<Vec<credit::Model>, DbErr> {
        self.credits_in_ranges(model, lookback_days, names, std::slice::from_ref(range))
            .await
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

impl Store {
    /// Every acquisition and revenue fact, for the same comparison.
    pub async fn all_revenue_rows(&self) -> Result<RevenueRows, DbErr> {
        Ok(RevenueRows {
            acquisitions: acquisition::Entity::find().all(&self.primary()).await?,
            facts: revenue_fact::Entity::find().all(&self.primary()).await?,
        })
    }
}

/// The conversions that `new` credits and `old` did not: attributed for the
/// first time by this step (a conversion whose journey was recomputed, or
/// moved from a fingerprint to its user, is not new).
fn newly_attributed(old: &[credit::Model], new: &[credit::Model]) -> super::Signal {
    let before: HashSet<&str> = old.iter().map(|c| c.conversion_id.as_str()).collect();
    let ids: BTreeSet<&str> = new
        .iter()
        .map(|c| c.conversion_id.as_str())
        .filter(|id| !before.contains(id))
        .collect();
    super::Signal::Conversions {
        ids: ids.into_iter().map(str::to_owned).collect(),
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
    credits: Vec<credit::Model>,
) -> Result<Vec<credit::Model>, DbErr> {
    let users: BTreeSet<String> = credits.iter().filter_map(|c| c.user_id.clone()).collect();
    let linked = linked_users(txn, &users).await?;
    if linked.len() == users.len() {
        return Ok(credits);
    }
    Ok(credits
        .into_iter()
        .filter(|c| c.user_id.as_ref().is_none_or(|u| linked.contains(u)))
        .collect())
}

/// As [`without_erased_users`], for the acquisition and revenue rows (a
/// user's journey key is `u:<user>`).
async fn revenue_without_erased_users(
    txn: &DatabaseTransaction,
    rows: RevenueRows,
) -> Result<RevenueRows, DbErr> {
    let user_of = |key: &str| key.strip_prefix("u:").map(str::to_owned);
    let users: BTreeSet<String> = rows
        .acquisitions
        .iter()
        .map(|a| a.journey_key.as_str())
        .chain(rows.facts.iter().map(|f| f.journey_key.as_str()))
        .filter_map(user_of)
        .collect();
    let linked = linked_users(txn, &users).await?;
    if linked.len() == users.len() {
        return Ok(rows);
    }
    let keep = |key: &str| user_of(key).is_none_or(|u| linked.contains(&u));
    Ok(RevenueRows {
        acquisitions: rows
            .acquisitions
            .into_iter()
            .filter(|a| keep(&a.journey_key))
            .collect(),
        facts: rows
            .facts
            .into_iter()
            .filter(|f| keep(&f.journey_key))
            .collect(),
    })
}

/// Which of `users` still have an identity link.
async fn linked_users(
    txn: &DatabaseTransaction,
    users: &BTreeSet<String>,
) -> Result<HashSet<String>, DbErr> {
    let users: Vec<String> = users.iter().cloned().collect();
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
    Ok(linked)
}

/// Deletes the rows of `E` matching `filter` and returns them.
pub(super) async fn delete_returning<E>(
    txn: &DatabaseTransaction,
    filter: sea_orm::sea_query::SimpleExpr,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
{
    use sea_orm::sea_query::Query;
    let stmt = Query::delete()
        .from_table(E::default())
        .cond_where(filter)
        .returning_all()
        .to_owned();
    let backend = txn.get_database_backend();
    txn.query_all(backend.build(&stmt))
        .await?
        .iter()
        .map(|row| E::Model::from_query_result(row, ""))
        .collect()
}

/// The hours (starts, in seconds) where the rows in `old` and `new` differ.
fn changed_hours<M, S: Ord>(old: &[M], new: &[M], signature: fn(&M) -> (i64, S)) -> BTreeSet<i64> {
    let by_hour = |rows: &[M]| {
        let mut map: BTreeMap<i64, Vec<S>> = BTreeMap::new();
        for r in rows {
            let (at, sig) = signature(r);
            map.entry(Grain::Hour.floor(at)).or_default().push(sig);
        }
        for v in map.values_mut() {
            v.sort();
        }
        map
    };
    let (old, new) = (by_hour(old), by_hour(new));
    old.keys()
        .chain(new.keys())
        .filter(|h| old.get(*h) != new.get(*h))
        .copied()
        .collect()
}

type TouchSignature = (String, i64, String, String, Option<String>, String, String);

/// What a touchpoint row holds, at the precision every backend stores.
fn touch_signature(t: &touchpoint::Model) -> (i64, TouchSignature) {
    (
        t.at.timestamp(),
        (
            t.fingerprint.clone(),
            t.at.timestamp_micros(),
            t.source.clone(),
            t.medium.clone(),
            t.campaign.clone(),
            t.channel.clone(),
            t.landing_page.clone(),
        ),
    )
}

type CreditSignature = (
    (
        String,
        String,
        String,
        i64,
        Option<String>,
        bool,
        Option<i64>,
    ),
    (i64, i64, i32, [u64; 6]),
    (String, String, Option<String>, String, String),
);

/// What a credit row holds, at the precision every backend stores.
fn credit_signature(c: &credit::Model) -> (i64, CreditSignature) {
    (
        c.conversion_at.timestamp(),
        (
            (
                c.journey_key.clone(),
                c.conversion_id.clone(),
                c.name.clone(),
                c.conversion_at.timestamp_micros(),
                c.user_id.clone(),
                c.from_trial,
                c.time_to_convert_seconds,
            ),
            (
                c.pageviews_before,
                c.pageviews_after,
                c.lookback_days,
                Model::ALL.map(|m| crate::reports::source::weight(c, m).to_bits()),
            ),
            (
                c.source.clone(),
                c.medium.clone(),
                c.campaign.clone(),
                c.channel.clone(),
                c.landing_page.clone(),
            ),
        ),
    )
}

/// The column holding a credit row's weight under `model`.
pub(super) fn weight_column(model: Model) -> credit::Column {
    match model {
        Model::FirstClick => credit::Column::FirstClick,
        Model::LastClick => credit::Column::LastClick,
        Model::LastNonDirectClick => credit::Column::LastNonDirectClick,
        Model::Linear => credit::Column::Linear,
        Model::PositionBased => credit::Column::PositionBased,
        Model::TimeDecay => credit::Column::TimeDecay,
    }
}

/// Inserts `models` (their ids left to the database) in multi-row
/// statements as long as the bind limit allows, built straight from the
/// models' values: the ActiveModel builder copied every value twice more,
/// and the materialiser writes thousands of rows per step.
async fn insert_models<E>(txn: &DatabaseTransaction, models: &[E::Model]) -> Result<(), DbErr>
where
    E: EntityTrait,
{
    use sea_orm::{IdenStatic, ModelTrait};
    let columns = super::write::written_columns::<E>();
    let names: Vec<String> = columns.iter().map(|c| c.as_str().to_owned()).collect();
    let per_statement = (30_000 / names.len().max(1)).clamp(1, 1_000);
    let backend = txn.get_database_backend();
    let table = E::default().table_name().to_owned();
    for chunk in models.chunks(per_statement) {
        let mut values = Vec::with_capacity(chunk.len() * columns.len());
        for model in chunk {
            for column in &columns {
                values.push(model.get(*column));
            }
        }
        let sql = super::write::values_sql(backend, &table, &names, chunk.len());
        txn.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
