//! A UTC day whose daily rollup cells must be merged again from its hours.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dirty_days")]
pub struct Model {
    /// The day's start, in seconds since the epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: i64,
    /// Rewritten by every hour rebuild that marks the day.
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
