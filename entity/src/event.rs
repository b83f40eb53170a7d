//! A stored event webhook (`signup`, `trial`, `unsubscribe`, …).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Same scheme as `pageviews.dedup_key`.
    #[sea_orm(unique)]
    pub dedup_key: Vec<u8>,
    /// Lower-cased event name.
    pub name: String,
    pub fingerprint: String,
    pub user_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    /// What the event booked × 10^6, exactly; negative for a refund.
    pub revenue_micros: Option<i64>,
    /// The currency of `revenue_micros` (the deployment's).
    pub currency: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
