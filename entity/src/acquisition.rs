//! A journey's acquisition: its first `signup` (the earliest of any of its
//! fingerprints), and when it first unsubscribed after it (derived; see the
//! migrations). The acquisition's touchpoints and credits are the credit
//! rows of `conversion_id`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "acquisitions")]
pub struct Model {
    /// The journey (`u:<user>` or `a:<fingerprint>`), as in `credits`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub journey_key: String,
    /// The public id of the first signup.
    pub conversion_id: String,
    pub user_id: Option<String>,
    pub acquired_at: DateTimeUtc,
    /// The first `unsubscribe` at or after the acquisition; a later
    /// resubscription does not clear it.
    pub churned_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
