//! A materialised touchpoint (derived from pageviews; see the migration).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "touchpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub fingerprint: String,
    pub at: DateTimeUtc,
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
