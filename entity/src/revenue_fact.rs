//! One event's revenue, filed under the journey the event belongs to
//! (derived; see the migrations): what LTV, ARPU and cohorts sum, without
//! resolving every event's owner on each read.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revenue_facts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub journey_key: String,
    /// The event's public id.
    pub event_id: String,
    pub at: DateTimeUtc,
    /// Millionths of the deployment's currency; negative for a refund.
    pub revenue_micros: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
