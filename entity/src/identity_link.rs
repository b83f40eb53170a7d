//! Every (fingerprint, user_id) pair ever seen together in a pageview or an
//! event, with the earliest time it was seen. This is what stitches a user's
//! devices together.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identity_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub fingerprint: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// The earliest payload time that showed the pair, whatever the arrival order.
    pub first_seen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
