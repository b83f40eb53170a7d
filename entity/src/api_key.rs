//! An API key: only the SHA-256 of its secret is stored.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// Comma-separated scopes (`ingest`, `read`, `admin`).
    pub scopes: String,
    /// Lower-case hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::signing_secret::Entity")]
    SigningSecret,
}

impl Related<super::signing_secret::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SigningSecret.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
