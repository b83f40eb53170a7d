//! An hour whose rollup cells are stale (see the rollups migration).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dirty_hours")]
pub struct Model {
    /// The hour's start, in seconds since the epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour: i64,
    /// Rewritten by every write that marks the hour.
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
