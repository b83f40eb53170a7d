//! A materialised credit: one conversion's share for one touchpoint under one
//! model, at the deployment's default lookback (derived; see the migration).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "credits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub journey_key: String,
    pub conversion_id: String,
    pub name: String,
    pub conversion_at: DateTimeUtc,
    pub user_id: Option<String>,
    pub from_trial: bool,
    pub time_to_convert_seconds: Option<i64>,
    pub pageviews_before: i64,
    pub pageviews_after: i64,
    pub model: String,
    /// The lookback this credit was computed with (the default, or one of
    /// `LOOKBACK_WINDOWS`).
    pub lookback_days: i32,
    pub weight: f64,
    pub source: String,
    pub medium: String,
    pub campaign: Option<String>,
    pub channel: String,
    #[sea_orm(column_type = "Text")]
    pub landing_page: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
