//! Rollups: per-hour and per-UTC-day cells of the derived rows, so a report
//! reads a few dozen cells instead of every touchpoint and credit of its
//! range.
//!
//! - `visitor_ids`: a dense integer per fingerprint, the members of the
//!   visitor bitmaps.
//! - `rollup_touches`: per (grain, bucket, dimension) every key's touchpoint
//!   count and visitor bitmap (dimension `traffic`: pageviews).
//! - `rollup_credits`: per (grain, bucket, dimension, lookback, name) every
//!   key's credit sums, counts and times to convert, under every model.
//! - `dirty_hours`, `dirty_days`: the hours whose cells are stale, and the
//!   days whose cells must be merged again from their hours (the
//!   materialiser's second and third queues, versioned like
//!   `dirty_fingerprints`).
//! - `derived_version`: one counter bumped by every change of derived data
//!   or spend; what the report cache is keyed by. Beside it, the settings
//!   the derived rows were computed with: a process started with others
//!   re-queues everything.
//! - `credits.lookback_days`: credits are materialised for several lookbacks.
//!
//! Existing derived rows are dropped and every fingerprint and pageview hour
//! queued, so the materialiser rebuilds everything in the new shape.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum VisitorIds {
    Table,
    Id,
    Fingerprint,
}

#[derive(DeriveIden)]
enum RollupTouches {
    Table,
    Grain,
    Dimension,
    Bucket,
    Data,
}

#[derive(DeriveIden)]
enum RollupCredits {
    Table,
    Grain,
    Dimension,
    LookbackDays,
    Name,
    Bucket,
    Data,
}

#[derive(DeriveIden)]
enum DirtyHours {
    Table,
    Hour,
    Version,
}

#[derive(DeriveIden)]
enum DirtyDays {
    Table,
    Day,
    Version,
}

#[derive(DeriveIden)]
enum DerivedVersion {
    Table,
    Id,
    Version,
    Config,
}

#[derive(DeriveIden)]
enum Credits {
    Table,
    LookbackDays,
    Model,
    Name,
    ConversionAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(VisitorIds::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(VisitorIds::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(VisitorIds::Fingerprint)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RollupTouches::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RollupTouches::Grain)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RollupTouches::Dimension)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RollupTouches::Bucket)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RollupTouches::Data).binary().not_null())
                    .primary_key(
                        Index::create()
                            .col(RollupTouches::Grain)
                            .col(RollupTouches::Dimension)
                            .col(RollupTouches::Bucket),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RollupCredits::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RollupCredits::Grain)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RollupCredits::Dimension)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RollupCredits::LookbackDays)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RollupCredits::Name).string().not_null())
                    .col(
                        ColumnDef::new(RollupCredits::Bucket)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RollupCredits::Data).binary().not_null())
                    .primary_key(
                        Index::create()
                            .col(RollupCredits::Grain)
                            .col(RollupCredits::Dimension)
                            .col(RollupCredits::LookbackDays)
                            .col(RollupCredits::Name)
                            .col(RollupCredits::Bucket),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DirtyHours::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DirtyHours::Hour)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(DirtyHours::Version).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DirtyDays::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DirtyDays::Day)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(DirtyDays::Version).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DerivedVersion::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DerivedVersion::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(DerivedVersion::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DerivedVersion::Config)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("INSERT INTO derived_version (id, version) VALUES (1, 0)")
            .await?;

        db.execute_unprepared("DELETE FROM credits").await?;
        db.execute_unprepared("DELETE FROM touchpoints").await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Credits::Table)
                    .add_column(
                        ColumnDef::new(Credits::LookbackDays)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        // Reports read one (model, lookback, name) over a time range; an
        // hour's rebuild reads every credit of that hour.
        manager
            .drop_index(
                Index::drop()
                    .name("ix_credits_model_name_at")
                    .table(Credits::Table)
                    .to_owned(),
            )
            .await?;
        for index in [
            Index::create()
                .name("ix_credits_model_lookback_name_at")
                .table(Credits::Table)
                .col(Credits::Model)
                .col(Credits::LookbackDays)
                .col(Credits::Name)
                .col(Credits::ConversionAt)
                .if_not_exists()
                .to_owned(),
            Index::create()
                .name("ix_credits_at")
                .table(Credits::Table)
                .col(Credits::ConversionAt)
                .if_not_exists()
                .to_owned(),
        ] {
            manager.create_index(index).await?;
        }

        // Everything is derived again, in the new shape.
        for table in ["pageviews", "events"] {
            db.execute_unprepared(&format!(
                "INSERT INTO dirty_fingerprints (fingerprint, version) \
                 SELECT DISTINCT fingerprint, 0 FROM {table} WHERE true \
                 ON CONFLICT (fingerprint) DO NOTHING"
            ))
            .await?;
        }
        let hour = match db.get_database_backend() {
            DbBackend::Postgres => "(EXTRACT(EPOCH FROM created_at)::bigint / 3600) * 3600",
            _ => "(CAST(strftime('%s', created_at) AS INTEGER) / 3600) * 3600",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO dirty_hours (hour, version) \
             SELECT DISTINCT {hour}, 0 FROM pageviews WHERE true \
             ON CONFLICT (hour) DO NOTHING"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Table::drop().table(RollupTouches::Table).to_owned(),
            Table::drop().table(RollupCredits::Table).to_owned(),
            Table::drop().table(DirtyHours::Table).to_owned(),
            Table::drop().table(DirtyDays::Table).to_owned(),
            Table::drop().table(DerivedVersion::Table).to_owned(),
            Table::drop().table(VisitorIds::Table).to_owned(),
        ] {
            manager.drop_table(table).await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("ix_credits_at")
                    .table(Credits::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_credits_model_lookback_name_at")
                    .table(Credits::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Credits::Table)
                    .drop_column(Credits::LookbackDays)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_credits_model_name_at")
                    .table(Credits::Table)
                    .col(Credits::Model)
                    .col(Credits::Name)
                    .col(Credits::ConversionAt)
                    .to_owned(),
            )
            .await
    }
}
