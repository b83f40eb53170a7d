//! Dirty marks carry a version, rewritten by every write that marks the
//! fingerprint. The materialiser computes without holding the write lock and
//! removes a mark only if its version is still the one it read, so a write
//! that landed meanwhile keeps its fingerprint queued.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DirtyFingerprints {
    Table,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DirtyFingerprints::Table)
                    .add_column(
                        ColumnDef::new(DirtyFingerprints::Version)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DirtyFingerprints::Table)
                    .drop_column(DirtyFingerprints::Version)
                    .to_owned(),
            )
            .await
    }
}
