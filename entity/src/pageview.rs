//! A stored pageview webhook: the raw payload plus what ingestion derived from it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pageviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Natural key: event time (big-endian micros, so inserts land in time
    /// order) followed by a digest of the normalised payload. Unique, so
    /// redeliveries are absorbed by the database itself.
    #[sea_orm(unique)]
    pub dedup_key: Vec<u8>,
    pub fingerprint: String,
    pub user_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub referrer_url: Option<String>,
    pub referrer_host: Option<String>,
    pub created_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub landing_page: String,
    pub source: String,
    pub medium: String,
    pub campaign: Option<String>,
    pub content: Option<String>,
    pub term: Option<String>,
    pub click_id: Option<String>,
    pub channel: String,
    #[sea_orm(column_type = "Text")]
    pub rule: String,
    /// When the service first stored it; lets late data be told apart.
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
