//! The rollups' storage: dense visitor ids, the dirty-hour queue, the cells,
//! and the derived-data version. What goes in the cells is computed by
//! `crate::reports::cells` (pure); when, by `crate::materialize`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::{credit, derived_version, dirty_day, dirty_hour, rollup_credit, rollup_touch};
use sea_orm::sea_query::{Condition, Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

use super::derived::DERIVED_LOCK_KEY;
use super::{Store, TimeRange};
use crate::reports::cells::Grain;

/// A touchpoint with its visitor's dense id, as an hour's rebuild and a
/// range's raw ends read it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct VisitorTouch {
    pub visitor: i64,
    pub at: DateTime<Utc>,
    pub source: String,
    pub medium: String,
    pub campaign: Option<String>,
    pub channel: String,
    pub landing_page: String,
}

#[derive(FromQueryResult)]
struct VisitorOnly {
    visitor: i64,
    at: DateTime<Utc>,
}

/// The cells of one rebuilt hour.
#[derive(Debug, Clone, Default)]
pub struct HourCells {
    pub hour: i64,
    /// Per touch dimension code (traffic included), the encoded cell.
    pub touches: Vec<(i16, Vec<u8>)>,
    /// Per (dimension code, lookback days, name), the encoded cells of
    /// every model.
    pub credits: Vec<(i16, i32, String, Vec<u8>)>,
}

pub(super) fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

fn time(t: DateTime<Utc>) -> Value {
    Value::ChronoDateTimeUtc(Some(Box::new(t)))
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// On PostgreSQL, locks the queue rows `keys` of `table` in key order before
/// the caller deletes them. Webhooks upsert queue rows in key order too, so
/// the two can never wait for each other in a cycle (a `DELETE … WHERE a OR
/// b …` takes its row locks in whatever order it scans).
pub(super) async fn lock_queue_rows<K>(
    txn: &DatabaseTransaction,
    table: &str,
    column: &str,
    keys: &[K],
) -> Result<(), DbErr>
where
    K: Clone + Into<Value>,
{
    if txn.get_database_backend() != DbBackend::Postgres || keys.is_empty() {
        return Ok(());
    }
    for chunk in keys.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        // Byte order, as the webhooks' upserts sort their keys (`COLLATE
        // "C"` is a no-op on the integer keys).
        let collate = if table == "dirty_fingerprints" {
            " COLLATE \"C\""
        } else {
            ""
        };
        let sql = format!(
            "SELECT 1 FROM {table} WHERE {column} IN ({}) ORDER BY {column}{collate} FOR UPDATE",
            marks.join(", ")
        );
        txn.query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            chunk.iter().cloned().map(Into::into),
        ))
        .await?;
    }
    Ok(())
}

/// Bumps the derived-data version in the caller's transaction.
/// [`bump_version`], telling subscribers of the new version: the other
/// processes when `txn` commits, this one when the caller publishes the
/// signal returned, after its commit.
pub(super) async fn bump_version_live(
    txn: &DatabaseTransaction,
    live: &super::Live,
) -> Result<super::Signal, DbErr> {
    bump_version(txn).await?;
    let version = derived_version::Entity::find_by_id(1)
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the derived-data version row".into()))?
        .version;
    let signal = super::Signal::Version { version };
    live.notify_in(txn, &signal).await?;
    Ok(signal)
}

pub(super) async fn bump_version(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    derived_version::Entity::update_many()
        .col_expr(
            derived_version::Column::Version,
            Expr::col(derived_version::Column::Version).add(1),
        )
        .filter(derived_version::Column::Id.eq(1))
        .exec(txn)
        .await?;
    Ok(())
}

/// Upserts queue rows (`key`, `version`) of `E` for `keys` with one fresh
/// version, in the caller's transaction and in key order (see
/// [`lock_queue_rows`]): a mark already queued takes the new version, so a
/// rebuild that read the old one leaves it queued.
async fn mark_queue<E, A>(
    txn: &DatabaseTransaction,
    keys: &BTreeSet<i64>,
    key: E::Column,
    version_column: E::Column,
    row: fn(i64, i64) -> A,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
    E::Model: sea_orm::IntoActiveModel<A>,
{
    if keys.is_empty() {
        return Ok(());
    }
    let version = super::write::next_mark_version();
    let keys: Vec<i64> = keys.iter().copied().collect();
    for chunk in keys.chunks(500) {
        E::insert_many(chunk.iter().map(|k| row(*k, version)))
            .on_conflict(
                OnConflict::column(key)
                    .update_column(version_column)
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Queues `hours` (their starts) for a rebuild, in the caller's transaction.
pub(super) async fn mark_hours(
    txn: &DatabaseTransaction,
    hours: &BTreeSet<i64>,
) -> Result<(), DbErr> {
    mark_queue(
        txn,
        hours,
        dirty_hour::Column::Hour,
        dirty_hour::Column::Version,
        |hour, version| dirty_hour::ActiveModel {
            hour: sea_orm::Set(hour),
            version: sea_orm::Set(version),
        },
    )
    .await
}

/// Queues `days` (their starts) for a merge of their hours, in the caller's
/// transaction.
async fn mark_days(txn: &DatabaseTransaction, days: &BTreeSet<i64>) -> Result<(), DbErr> {
    mark_queue(
        txn,
        days,
        dirty_day::Column::Day,
        dirty_day::Column::Version,
        |day, version| dirty_day::ActiveModel {
            day: sea_orm::Set(day),
            version: sea_orm::Set(version),
        },
    )
    .await
}

/// Removes the claimed queue rows (`key`, `version`) of `E` whose version is
/// still the one read, in the caller's transaction.
async fn unmark_claimed<E: EntityTrait>(
    txn: &DatabaseTransaction,
    claimed: &[(i64, i64)],
    key: E::Column,
    version: E::Column,
) -> Result<(), DbErr> {
    for chunk in claimed.chunks(200) {
        let mut matches = Condition::any();
        for (k, v) in chunk {
            matches = matches.add(Condition::all().add(key.eq(*k)).add(version.eq(*v)));
        }
        E::delete_many().filter(matches).exec(txn).await?;
    }
    Ok(())
}

impl Store {
    /// The derived-data version (see `reports::cache`), from the primary.
    pub async fn derived_version(&self) -> Result<i64, DbErr> {
        Ok(derived_version::Entity::find_by_id(1)
            .one(&self.primary())
            .await?
            .map_or(0, |v| v.version))
    }

    /// Makes the derived rows follow `config` (the settings they are computed
    /// with): when the database holds rows computed with other settings (or
    /// none yet), every fingerprint is queued again. Returns whether it was.
    pub async fn align_derived_config(&self, config: &str) -> Result<bool, DbErr> {
        let _gate = self.write_turn().await;
        let txn = self.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({DERIVED_LOCK_KEY})"))
                .await?;
        } else {
            // Take SQLite's write lock before reading (see `erase_user`).
            bump_version(&txn).await?;
        }
        let stored = derived_version::Entity::find_by_id(1).one(&txn).await?;
        if stored.as_ref().is_some_and(|v| v.config == config) {
            txn.rollback().await?;
            return Ok(false);
        }
        let version = super::write::next_mark_version();
        for table in ["pageviews", "events"] {
            txn.execute(Statement::from_sql_and_values(
                txn.get_database_backend(),
                format!(
                    "INSERT INTO dirty_fingerprints (fingerprint, version) \
                     SELECT DISTINCT fingerprint, {} FROM {table} WHERE true \
                     ON CONFLICT (fingerprint) DO UPDATE SET version = excluded.version",
                    placeholder(txn.get_database_backend(), 1)
                ),
                [Value::BigInt(Some(version))],
            ))
            .await?;
        }
        derived_version::Entity::update_many()
            .col_expr(derived_version::Column::Config, Expr::value(config))
            .filter(derived_version::Column::Id.eq(1))
            .exec(&txn)
            .await?;
        bump_version(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The derived-data version, and whether anything awaits the
    /// materialiser (a fingerprint or an hour): one statement, the whole
    /// cost of a cached report.
    pub async fn derived_state(&self) -> Result<(i64, bool), DbErr> {
        #[derive(FromQueryResult)]
        struct State {
            version: i64,
            queued: i32,
        }
        let sql = "SELECT version, CASE WHEN EXISTS (SELECT 1 FROM dirty_fingerprints) \
                   OR EXISTS (SELECT 1 FROM dirty_hours) \
                   OR EXISTS (SELECT 1 FROM dirty_days) THEN 1 ELSE 0 END AS queued \
                   FROM derived_version WHERE id = 1";
        let state = State::find_by_statement(Statement::from_string(self.backend(), sql))
            .one(&self.primary())
            .await?;
        Ok(state.map_or((0, true), |s| (s.version, s.queued != 0)))
    }

    /// Up to `limit` stale hours, oldest first, with their marks' versions.
    pub async fn dirty_hours(
        &self,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<(i64, i64)>, DbErr> {
        self.queue_head::<dirty_hour::Entity>(
            after,
            limit,
            dirty_hour::Column::Hour,
            dirty_hour::Column::Version,
        )
        .await
    }

    /// The first `limit` rows (key, version) of a queue of `E`, by key (the
    /// first after `after`, when given).
    async fn queue_head<E: EntityTrait>(
        &self,
        after: Option<i64>,
        limit: u64,
        key: E::Column,
        version: E::Column,
    ) -> Result<Vec<(i64, i64)>, DbErr> {
        let mut query = E::find();
        if let Some(after) = after {
            query = query.filter(key.gt(after));
        }
        query
            .select_only()
            .columns([key, version])
            .order_by_asc(key)
            .limit(limit)
            .into_tuple()
            .all(&self.primary())
            .await
    }

    /// Whether fingerprints, and hours or days, are queued: the background
    /// materialiser's one statement while idle.
    pub async fn queued(&self) -> Result<(bool, bool), DbErr> {
        #[derive(FromQueryResult)]
        struct Queued {
            fingerprints: i32,
            rollups: i32,
        }
        let sql = "SELECT CASE WHEN EXISTS (SELECT 1 FROM dirty_fingerprints) THEN 1 ELSE 0 END AS fingerprints, \
                   CASE WHEN EXISTS (SELECT 1 FROM dirty_hours) OR EXISTS (SELECT 1 FROM dirty_days) \
                   THEN 1 ELSE 0 END AS rollups";
        let q = Queued::find_by_statement(Statement::from_string(self.backend(), sql))
            .one(&self.primary())
            .await?;
        Ok(q.map_or((false, false), |q| (q.fingerprints != 0, q.rollups != 0)))
    }

    /// The materialiser's queues: fingerprints, hours, days (one statement,
    /// for `/metrics`).
    pub async fn queue_lengths(&self) -> Result<(u64, u64, u64), DbErr> {
        #[derive(FromQueryResult)]
        struct Queues {
            fingerprints: i64,
            hours: i64,
            days: i64,
        }
        let sql = "SELECT (SELECT COUNT(*) FROM dirty_fingerprints) AS fingerprints, \
                   (SELECT COUNT(*) FROM dirty_hours) AS hours, \
                   (SELECT COUNT(*) FROM dirty_days) AS days";
        let q = Queues::find_by_statement(Statement::from_string(self.backend(), sql))
            .one(&self.primary())
            .await?;
        Ok(q.map_or((0, 0, 0), |q| {
            (q.fingerprints as u64, q.hours as u64, q.days as u64)
        }))
    }

    /// Up to `limit` days whose daily cells are stale, oldest first.
    pub async fn dirty_days(&self, limit: u64) -> Result<Vec<(i64, i64)>, DbErr> {
        self.queue_head::<dirty_day::Entity>(
            None,
            limit,
            dirty_day::Column::Day,
            dirty_day::Column::Version,
        )
        .await
    }

    /// How many days await a merge of their hours.
    pub async fn dirty_day_count(&self) -> Result<u64, DbErr> {
        use sea_orm::PaginatorTrait;
        dirty_day::Entity::find().count(&self.primary()).await
    }

    /// The hourly cells of the day starting at `day`, in hour order.
    pub async fn hour_cells_of_day(
        &self,
        day: i64,
    ) -> Result<(Vec<rollup_touch::Model>, Vec<rollup_credit::Model>), DbErr> {
        let end = day + Grain::Day.seconds();
        let touches = rollup_touch::Entity::find()
            .filter(rollup_touch::Column::Grain.eq(Grain::Hour.code()))
            .filter(rollup_touch::Column::Bucket.gte(day))
            .filter(rollup_touch::Column::Bucket.lt(end))
            .order_by_asc(rollup_touch::Column::Bucket)
            .all(&self.primary())
            .await?;
        let credits = rollup_credit::Entity::find()
            .filter(rollup_credit::Column::Grain.eq(Grain::Hour.code()))
            .filter(rollup_credit::Column::Bucket.gte(day))
            .filter(rollup_credit::Column::Bucket.lt(end))
            .order_by_asc(rollup_credit::Column::Bucket)
            .all(&self.primary())
            .await?;
        Ok((touches, credits))
    }

    /// Replaces the daily cells of the claimed days and removes each mark
    /// whose version is unchanged, in one short transaction. The cells were
    /// merged before it from hourly cells read after the marks: an hour
    /// rebuilt in between re-marked its day, which stays queued.
    pub async fn replace_days(
        &self,
        claimed: &[(i64, i64)],
        touches: Vec<rollup_touch::Model>,
        credits: Vec<rollup_credit::Model>,
    ) -> Result<(), DbErr> {
        let _gate = self.write_turn().await;
        let txn = self.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({DERIVED_LOCK_KEY})"))
                .await?;
        }
        let days: Vec<i64> = claimed.iter().map(|(d, _)| *d).collect();
        delete_cells(&txn, Grain::Day, &days).await?;
        insert_cells(&txn, touches, credits).await?;
        lock_queue_rows(&txn, "dirty_days", "day", &days).await?;
        unmark_claimed::<dirty_day::Entity>(
            &txn,
            claimed,
            dirty_day::Column::Day,
            dirty_day::Column::Version,
        )
        .await?;
        let signal = bump_version_live(&txn, &self.live).await?;
        txn.commit().await?;
        self.live.publish([signal]);
        Ok(())
    }

    /// How many hours await a rebuild.
    pub async fn dirty_hour_count(&self) -> Result<u64, DbErr> {
        use sea_orm::PaginatorTrait;
        dirty_hour::Entity::find().count(&self.primary()).await
    }

    /// Gives every fingerprint with a touchpoint or a pageview in one of the
    /// `[from, to)` spans its dense visitor id (ids are never reused: an
    /// erased fingerprint's id is simply gone). One transaction.
    pub async fn ensure_visitor_ids(&self, spans: &[(i64, i64)]) -> Result<(), DbErr> {
        let backend = self.backend();
        let p = |n| placeholder(backend, n);
        let sql = format!(
            "INSERT INTO visitor_ids (fingerprint) \
             SELECT fingerprint FROM touchpoints WHERE at >= {} AND at < {} \
             UNION SELECT fingerprint FROM pageviews WHERE created_at >= {} AND created_at < {} \
             ON CONFLICT (fingerprint) DO NOTHING",
            p(1),
            p(2),
            p(3),
            p(4)
        );
        let _gate = self.write_turn().await;
        let txn = self.begin().await?;
        if backend == DbBackend::Postgres {
            // Two processes inserting overlapping fingerprints could deadlock
            // on the unique index; take turns like every derived write.
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({DERIVED_LOCK_KEY})"))
                .await?;
        }
        for (from, to) in spans {
            let values = vec![
                time(at(*from)),
                time(at(*to)),
                time(at(*from)),
                time(at(*to)),
            ];
            txn.execute(Statement::from_sql_and_values(backend, sql.clone(), values))
                .await?;
        }
        txn.commit().await
    }

    /// Touchpoints in `[from, to)` with their visitors' ids.
    pub async fn visitor_touches(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VisitorTouch>, DbErr> {
        let backend = self.backend();
        let sql = format!(
            "SELECT v.id AS visitor, t.at, t.source, t.medium, t.campaign, t.channel, t.landing_page \
             FROM touchpoints t JOIN visitor_ids v ON v.fingerprint = t.fingerprint \
             WHERE t.at >= {} AND t.at < {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        );
        VisitorTouch::find_by_statement(Statement::from_sql_and_values(
            backend,
            sql,
            [time(from), time(to)],
        ))
        .all(&self.primary())
        .await
    }

    /// The visitor id and time of every pageview in `[from, to)`.
    pub async fn visitor_pageviews(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, DateTime<Utc>)>, DbErr> {
        let backend = self.backend();
        let sql = format!(
            "SELECT v.id AS visitor, p.created_at AS at \
             FROM pageviews p JOIN visitor_ids v ON v.fingerprint = p.fingerprint \
             WHERE p.created_at >= {} AND p.created_at < {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        );
        Ok(
            VisitorOnly::find_by_statement(Statement::from_sql_and_values(
                backend,
                sql,
                [time(from), time(to)],
            ))
            .all(&self.primary())
            .await?
            .into_iter()
            .map(|r| (r.visitor, r.at))
            .collect(),
        )
    }

    /// Every credit (all models, lookbacks, names) of conversions in `[from, to)`.
    pub async fn credits_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<credit::Model>, DbErr> {
        credit::Entity::find()
            .filter(credit::Column::ConversionAt.gte(from))
            .filter(credit::Column::ConversionAt.lt(to))
            .all(&self.primary())
            .await
    }

    /// Touch cells of one dimension with buckets in `[from, to)`, in bucket order.
    pub async fn touch_cells(
        &self,
        grain: Grain,
        dimension: i16,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, DbErr> {
        use rollup_touch::Column as C;
        rollup_touch::Entity::find()
            .select_only()
            .columns([C::Bucket, C::Data])
            .filter(C::Grain.eq(grain.code()))
            .filter(C::Dimension.eq(dimension))
            .filter(C::Bucket.gte(from))
            .filter(C::Bucket.lt(to))
            .order_by_asc(C::Bucket)
            .into_tuple()
            .all(&self.primary())
            .await
    }

    /// Credit cells (every model) of one (dimension, lookback) and some
    /// names with buckets in `[from, to)`, in bucket order.
    pub async fn credit_cells(
        &self,
        grain: Grain,
        dimension: i16,
        lookback_days: i32,
        names: &[String],
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, Vec<u8>)>, DbErr> {
        use rollup_credit::Column as C;
        rollup_credit::Entity::find()
            .select_only()
            .columns([C::Name, C::Bucket, C::Data])
            .filter(C::Grain.eq(grain.code()))
            .filter(C::Dimension.eq(dimension))
            .filter(C::LookbackDays.eq(lookback_days))
            .filter(C::Name.is_in(names.iter().cloned()))
            .filter(C::Bucket.gte(from))
            .filter(C::Bucket.lt(to))
            .order_by_asc(C::Bucket)
            .into_tuple()
            .all(&self.primary())
            .await
    }

    /// Credits under (`model`, `lookback_days`) of conversions named in
    /// `names` in any of `ranges`: one statement per hundred ranges, a
    /// `UNION ALL` of index range scans (an `OR` of ranges would scan every
    /// credit of the model instead).
    pub async fn credits_in_ranges(
        &self,
        model: crate::attribution::Model,
        lookback_days: i32,
        names: &[String],
        ranges: &[TimeRange],
    ) -> Result<Vec<credit::Model>, DbErr> {
        use sea_orm::sea_query::UnionType;
        use sea_orm::QueryTrait;
        let one = |r: &TimeRange| {
            let mut q = credit::Entity::find()
                .filter(super::derived::weight_column(model).gt(0.0))
                .filter(credit::Column::LookbackDays.eq(lookback_days))
                .filter(credit::Column::Name.is_in(names.iter().cloned()));
            if let Some(from) = r.from {
                q = q.filter(credit::Column::ConversionAt.gte(from));
            }
            if let Some(to) = r.to {
                q = q.filter(credit::Column::ConversionAt.lt(to));
            }
            q.into_query()
        };
        let backend = self.backend();
        let mut out = Vec::new();
        for chunk in ranges.chunks(100) {
            let Some((first, rest)) = chunk.split_first() else {
                continue;
            };
            let mut query = one(first);
            for r in rest {
                query.union(UnionType::All, one(r));
            }
            out.extend(
                credit::Model::find_by_statement(backend.build(&query))
                    .all(&self.primary())
                    .await?,
            );
        }
        Ok(out)
    }

    /// Replaces the hourly cells of the rebuilt hours, queues their days for
    /// a merge, and removes each claimed mark whose version is unchanged —
    /// one transaction. The hours were
    /// computed before it, from rows read after the marks: a change that
    /// landed in between re-marked its hour, which stays queued.
    pub async fn replace_rollups(
        &self,
        claimed: &[(i64, i64)],
        hours: Vec<HourCells>,
    ) -> Result<(), DbErr> {
        let _gate = self.write_turn().await;
        let txn = self.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({DERIVED_LOCK_KEY})"))
                .await?;
        }
        let rebuilt: Vec<i64> = hours.iter().map(|h| h.hour).collect();
        delete_cells(&txn, Grain::Hour, &rebuilt).await?;
        let mut touches = Vec::new();
        let mut credits = Vec::new();
        for h in hours {
            for (dimension, data) in h.touches {
                touches.push(rollup_touch::Model {
                    grain: Grain::Hour.code(),
                    dimension,
                    bucket: h.hour,
                    data,
                });
            }
            for (dimension, lookback_days, name, data) in h.credits {
                credits.push(rollup_credit::Model {
                    grain: Grain::Hour.code(),
                    dimension,
                    lookback_days,
                    name,
                    bucket: h.hour,
                    data,
                });
            }
        }
        insert_cells(&txn, touches, credits).await?;
        let days: BTreeSet<i64> = rebuilt.iter().map(|h| Grain::Day.floor(*h)).collect();
        let claimed_hours: Vec<i64> = claimed.iter().map(|(h, _)| *h).collect();
        lock_queue_rows(&txn, "dirty_hours", "hour", &claimed_hours).await?;
        unmark_claimed::<dirty_hour::Entity>(
            &txn,
            claimed,
            dirty_hour::Column::Hour,
            dirty_hour::Column::Version,
        )
        .await?;
        mark_days(&txn, &days).await?;
        let signal = bump_version_live(&txn, &self.live).await?;
        txn.commit().await?;
        self.live.publish([signal]);
        Ok(())
    }
}

/// Deletes every cell (touches and credits) of `grain` in `buckets`.
async fn delete_cells(
    txn: &DatabaseTransaction,
    grain: Grain,
    buckets: &[i64],
) -> Result<(), DbErr> {
    for chunk in buckets.chunks(500) {
        rollup_touch::Entity::delete_many()
            .filter(rollup_touch::Column::Grain.eq(grain.code()))
            .filter(rollup_touch::Column::Bucket.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
        rollup_credit::Entity::delete_many()
            .filter(rollup_credit::Column::Grain.eq(grain.code()))
            .filter(rollup_credit::Column::Bucket.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

async fn insert_cells(
    txn: &DatabaseTransaction,
    touches: Vec<rollup_touch::Model>,
    credits: Vec<rollup_credit::Model>,
) -> Result<(), DbErr> {
    use sea_orm::Set;
    for chunk in touches.chunks(200) {
        rollup_touch::Entity::insert_many(chunk.iter().cloned().map(|m| {
            rollup_touch::ActiveModel {
                grain: Set(m.grain),
                dimension: Set(m.dimension),
                bucket: Set(m.bucket),
                data: Set(m.data),
            }
        }))
        .exec_without_returning(txn)
        .await?;
    }
    for chunk in credits.chunks(100) {
        rollup_credit::Entity::insert_many(chunk.iter().cloned().map(|m| {
            rollup_credit::ActiveModel {
                grain: Set(m.grain),
                dimension: Set(m.dimension),
                lookback_days: Set(m.lookback_days),
                name: Set(m.name),
                bucket: Set(m.bucket),
                data: Set(m.data),
            }
        }))
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}
