use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdentityLinks {
    Table,
    Fingerprint,
    UserId,
    FirstSeenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdentityLinks::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(IdentityLinks::Fingerprint)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(IdentityLinks::UserId).string().not_null())
                    .col(
                        ColumnDef::new(IdentityLinks::FirstSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IdentityLinks::Fingerprint)
                            .col(IdentityLinks::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        // The primary key serves "fingerprint → users"; this serves "user → fingerprints".
        manager
            .create_index(
                Index::create()
                    .name("ix_identity_links_user_id")
                    .table(IdentityLinks::Table)
                    .col(IdentityLinks::UserId)
                    .col(IdentityLinks::Fingerprint)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdentityLinks::Table).to_owned())
            .await
    }
}
