//! The version of the derived data: one row, bumped by every transaction
//! that changes derived rows, rollups or spend.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "derived_version")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub version: i64,
    /// The settings the derived rows were computed with (session timeout,
    /// lookbacks, conversion names), as `materialize` renders them.
    #[sea_orm(column_type = "Text")]
    pub config: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
