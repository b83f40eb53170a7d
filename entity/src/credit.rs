//! A materialised credit row: one conversion's share for one of its
//! touchpoints in play at one lookback, under every rule-based model at once
//! (derived; see the migrations).
//!
//! The six weights sit side by side because every model credits the same
//! touchpoints in play: one row instead of six cut the rows the materialiser
//! writes, deletes and compares, and the hour rebuild reads, by about five.
//! A weight of 0 means the model gives that touchpoint no credit (the API
//! leaves such touchpoints out); a conversion without touchpoints has one
//! row with the "not set" key and every weight 1.

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
    /// The lookback this credit was computed with (the default, or one of
    /// `LOOKBACK_WINDOWS`).
    pub lookback_days: i32,
    pub first_click: f64,
    pub last_click: f64,
    pub last_non_direct_click: f64,
    pub linear: f64,
    pub position_based: f64,
    pub time_decay: f64,
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
