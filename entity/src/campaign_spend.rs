//! One day's ad spend of one (campaign, source, medium), in the deployment's
//! reporting currency. A later delivery for the same key replaces the row's
//! amount.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_spend")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// As sent (trimmed): campaign names are matched case-sensitively, like `utm_campaign`.
    pub campaign: String,
    /// Lower-cased, like the pageviews' classified `source`.
    pub source: String,
    /// Lower-cased, like the pageviews' classified `medium`.
    pub medium: String,
    /// The day the money was spent (the ad platform's reporting day).
    pub date: Date,
    /// The amount × 10^6: exact, and summable in SQL.
    pub amount_micros: i64,
    /// ISO 4217 code; always the deployment's reporting currency.
    pub currency: String,
    /// When the current amount was delivered.
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
