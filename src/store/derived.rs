//! The derived tables' storage: the dirty-fingerprint queue, touchpoints and
//! credits. What goes in them is computed by `crate::materialize`.

use entity::{credit, dirty_fingerprint, touchpoint};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::Iden as _;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};

use super::{Store, TimeRange};

const IN_CHUNK: usize = 500;

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
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7436291)")
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
