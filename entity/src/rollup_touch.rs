//! One rollup cell of touchpoints (or pageviews): every key's count and
//! visitor bitmap in one bucket of one dimension, encoded in `data`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rollup_touches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub grain: i16,
    #[sea_orm(primary_key, auto_increment = false)]
    pub dimension: i16,
    /// The bucket's start, in seconds since the epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: i64,
    pub data: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
