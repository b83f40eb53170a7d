//! One rollup cell of credits: every key's credit sums, counts and times to
//! convert for one (dimension, lookback, conversion name) in one bucket,
//! under every model, encoded in `data`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rollup_credits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub grain: i16,
    #[sea_orm(primary_key, auto_increment = false)]
    pub dimension: i16,
    #[sea_orm(primary_key, auto_increment = false)]
    pub lookback_days: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The bucket's start, in seconds since the epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: i64,
    pub data: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
