//! Derived tables: touchpoints and per-conversion credits, materialised from
//! the raw webhooks so reports read a few thousand rows instead of
//! re-attributing every journey. `dirty_fingerprints` is the work queue that
//! keeps them exact: every write marks the fingerprints it touched, in the
//! same transaction, and the materialiser recomputes them before any report
//! reads.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DirtyFingerprints {
    Table,
    Fingerprint,
}

#[derive(DeriveIden)]
enum Touchpoints {
    Table,
    Id,
    Fingerprint,
    At,
    Source,
    Medium,
    Campaign,
    Channel,
    LandingPage,
}

#[derive(DeriveIden)]
enum Credits {
    Table,
    Id,
    JourneyKey,
    ConversionId,
    Name,
    ConversionAt,
    UserId,
    FromTrial,
    TimeToConvertSeconds,
    PageviewsBefore,
    PageviewsAfter,
    Model,
    Weight,
    Source,
    Medium,
    Campaign,
    Channel,
    LandingPage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DirtyFingerprints::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DirtyFingerprints::Fingerprint)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Touchpoints::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Touchpoints::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Touchpoints::Fingerprint).string().not_null())
                    .col(
                        ColumnDef::new(Touchpoints::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Touchpoints::Source).string().not_null())
                    .col(ColumnDef::new(Touchpoints::Medium).string().not_null())
                    .col(ColumnDef::new(Touchpoints::Campaign).string().null())
                    .col(ColumnDef::new(Touchpoints::Channel).string().not_null())
                    .col(ColumnDef::new(Touchpoints::LandingPage).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Credits::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Credits::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Credits::JourneyKey).string().not_null())
                    .col(ColumnDef::new(Credits::ConversionId).string().not_null())
                    .col(ColumnDef::new(Credits::Name).string().not_null())
                    .col(
                        ColumnDef::new(Credits::ConversionAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Credits::UserId).string().null())
                    .col(ColumnDef::new(Credits::FromTrial).boolean().not_null())
                    .col(
                        ColumnDef::new(Credits::TimeToConvertSeconds)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Credits::PageviewsBefore)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Credits::PageviewsAfter)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Credits::Model).string().not_null())
                    .col(ColumnDef::new(Credits::Weight).double().not_null())
                    .col(ColumnDef::new(Credits::Source).string().not_null())
                    .col(ColumnDef::new(Credits::Medium).string().not_null())
                    .col(ColumnDef::new(Credits::Campaign).string().null())
                    .col(ColumnDef::new(Credits::Channel).string().not_null())
                    .col(ColumnDef::new(Credits::LandingPage).text().not_null())
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("ix_touchpoints_fingerprint")
                .table(Touchpoints::Table)
                .col(Touchpoints::Fingerprint)
                .if_not_exists()
                .to_owned(),
            Index::create()
                .name("ix_touchpoints_at")
                .table(Touchpoints::Table)
                .col(Touchpoints::At)
                .if_not_exists()
                .to_owned(),
            Index::create()
                .name("ix_credits_journey_key")
                .table(Credits::Table)
                .col(Credits::JourneyKey)
                .if_not_exists()
                .to_owned(),
            Index::create()
                .name("ix_credits_model_name_at")
                .table(Credits::Table)
                .col(Credits::Model)
                .col(Credits::Name)
                .col(Credits::ConversionAt)
                .if_not_exists()
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Table::drop().table(Credits::Table).to_owned(),
            Table::drop().table(Touchpoints::Table).to_owned(),
            Table::drop().table(DirtyFingerprints::Table).to_owned(),
        ] {
            manager.drop_table(table).await?;
        }
        Ok(())
    }
}
