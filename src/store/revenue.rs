//! Reads of the acquisition and revenue rows (see `entity::acquisition`):
//! each a single statement joining what the fold needs, so a report's
//! revenue costs two round trips whatever its range.

use chrono::{DateTime, Utc};
use entity::{acquisition, credit, revenue_fact};
use sea_orm::sea_query::{Alias, Condition, Expr, JoinType, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};

use super::{Store, TimeRange};
use crate::attribution::{Model, SIGNUP};

/// One credit row of an acquisition under one model.
#[derive(Debug, Clone, FromQueryResult)]
pub struct AcquisitionCreditRow {
    pub journey_key: String,
    pub acquired_at: DateTime<Utc>,
    pub churned_at: Option<DateTime<Utc>>,
    pub source: String,
    pub medium: String,
    pub campaign: Option<String>,
    pub channel: String,
    pub landing_page: String,
    pub weight: f64,
}

/// One revenue fact of an acquired journey.
#[derive(Debug, Clone, FromQueryResult)]
pub struct JourneyRevenueRow {
    pub journey_key: String,
    pub at: DateTime<Utc>,
    pub revenue_micros: i64,
}

fn in_range(stmt: &mut SelectStatement, range: &TimeRange) {
    let at = Expr::col((acquisition::Entity, acquisition::Column::AcquiredAt));
    if let Some(from) = range.from {
        stmt.and_where(at.clone().gte(from));
    }
    if let Some(to) = range.to {
        stmt.and_where(at.lt(to));
    }
}

impl Store {
    /// The credit rows (under `model`, at `lookback_days`) of the
    /// acquisitions in `range`, by journey.
    pub async fn acquisition_credits(
        &self,
        model: Model,
        lookback_days: i32,
        range: &TimeRange,
    ) -> Result<Vec<AcquisitionCreditRow>, DbErr> {
        use acquisition::Column as A;
        use credit::Column as C;
        let weight = super::derived::weight_column(model);
        let mut stmt = Query::select();
        stmt.columns([
            (acquisition::Entity, A::JourneyKey),
            (acquisition::Entity, A::AcquiredAt),
            (acquisition::Entity, A::ChurnedAt),
        ])
        .columns([
            (credit::Entity, C::Source),
            (credit::Entity, C::Medium),
            (credit::Entity, C::Campaign),
            (credit::Entity, C::Channel),
            (credit::Entity, C::LandingPage),
        ])
        .expr_as(Expr::col((credit::Entity, weight)), Alias::new("weight"))
        .from(acquisition::Entity)
        .join(
            JoinType::InnerJoin,
            credit::Entity,
            Condition::all()
                .add(
                    Expr::col((credit::Entity, C::JourneyKey))
                        .equals((acquisition::Entity, A::JourneyKey)),
                )
                .add(
                    Expr::col((credit::Entity, C::ConversionId))
                        .equals((acquisition::Entity, A::ConversionId)),
                ),
        )
        .and_where(Expr::col((credit::Entity, C::LookbackDays)).eq(lookback_days))
        .and_where(Expr::col((credit::Entity, C::Name)).eq(SIGNUP))
        .and_where(Expr::col((credit::Entity, weight)).gt(0.0));
        in_range(&mut stmt, range);
        // The acquisition's credit rows carry its time as `conversion_at`:
        // the same range on them lets the planner read the credits of the
        // range by their (lookback, name, time) index instead of every
        // signup credit at the lookback.
        let at = Expr::col((credit::Entity, C::ConversionAt));
        if let Some(from) = range.from {
            stmt.and_where(at.clone().gte(from));
        }
        if let Some(to) = range.to {
            stmt.and_where(at.lt(to));
        }
        stmt.order_by((acquisition::Entity, A::JourneyKey), sea_orm::Order::Asc)
            .order_by((credit::Entity, C::Id), sea_orm::Order::Asc);
        let db = self.primary();
        let backend = db.get_database_backend();
        AcquisitionCreditRow::find_by_statement(backend.build(&stmt))
            .all(&db)
            .await
    }

    /// The revenue facts, at or after the acquisition, of the journeys
    /// acquired in `range`, by journey and time.
    pub async fn acquisition_revenue(
        &self,
        range: &TimeRange,
    ) -> Result<Vec<JourneyRevenueRow>, DbErr> {
        use acquisition::Column as A;
        use revenue_fact::Column as R;
        let mut stmt = Query::select();
        stmt.columns([
            (revenue_fact::Entity, R::JourneyKey),
            (revenue_fact::Entity, R::At),
            (revenue_fact::Entity, R::RevenueMicros),
        ])
        .from(revenue_fact::Entity)
        .join(
            JoinType::InnerJoin,
            acquisition::Entity,
            Expr::col((acquisition::Entity, A::JourneyKey))
                .equals((revenue_fact::Entity, R::JourneyKey)),
        )
        .and_where(
            Expr::col((revenue_fact::Entity, R::At))
                .gte(Expr::col((acquisition::Entity, A::AcquiredAt))),
        );
        in_range(&mut stmt, range);
        stmt.order_by((revenue_fact::Entity, R::JourneyKey), sea_orm::Order::Asc)
            .order_by((revenue_fact::Entity, R::At), sea_orm::Order::Asc)
            .order_by((revenue_fact::Entity, R::Id), sea_orm::Order::Asc);
        let db = self.primary();
        let backend = db.get_database_backend();
        JourneyRevenueRow::find_by_statement(backend.build(&stmt))
            .all(&db)
            .await
    }

    /// Every revenue fact whose time is in `range` (booked revenue), with
    /// its journey.
    pub async fn revenue_in(&self, range: &TimeRange) -> Result<Vec<(String, i64)>, DbErr> {
        use revenue_fact::Column as R;
        use sea_orm::{EntityTrait, QueryFilter, QuerySelect};
        let mut cond = Condition::all();
        if let Some(from) = range.from {
            cond = cond.add(R::At.gte(from));
        }
        if let Some(to) = range.to {
            cond = cond.add(R::At.lt(to));
        }
        use sea_orm::ColumnTrait as _;
        revenue_fact::Entity::find()
            .select_only()
            .column(R::JourneyKey)
            .column(R::RevenueMicros)
            .filter(cond)
            .into_tuple::<(String, i64)>()
            .all(&self.primary())
            .await
    }
}
