//! One credit row per (conversion, lookback, touchpoint in play), holding
//! every rule-based model's weight, instead of one row per model.
//!
//! Every model credits the same touchpoints in play, so the six rows
//! repeated the conversion's fields and the touchpoint's key six times. The
//! materialiser's write of a step was dominated by those rows (about 6,000
//! of the 8,600 a thousand fingerprints produced on the demo data), and so
//! was the hour rebuild's read.
//!
//! The table is derived: it is dropped and created again in the new shape,
//! and every fingerprint is queued, so the materialiser recomputes it (the
//! hours whose credits it fills are queued by that recomputation).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

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
    LookbackDays,
    Model,
    Weight,
    FirstClick,
    LastClick,
    LastNonDirectClick,
    Linear,
    PositionBased,
    TimeDecay,
    Source,
    Medium,
    Campaign,
    Channel,
    LandingPage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, true).await
    }

    /// Back to one row per model (derived again, like `up`).
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, false).await
    }
}

/// Creates the credits table afresh: folded (every model's weight in one
/// row) or in the shape before this migration (a `model` and a `weight`).
async fn create(manager: &SchemaManager<'_>, folded: bool) -> Result<(), DbErr> {
    for index in [
        "ix_credits_journey_key",
        "ix_credits_model_name_at",
        "ix_credits_model_lookback_name_at",
        "ix_credits_lookback_name_at",
        "ix_credits_at",
    ] {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
            .await?;
    }
    manager
        .drop_table(Table::drop().table(Credits::Table).if_exists().to_owned())
        .await?;
    let mut table = Table::create();
    table
        .table(Credits::Table)
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
        .col(ColumnDef::new(Credits::LookbackDays).integer().not_null());
    let weights = if folded {
        vec![
            Credits::FirstClick,
            Credits::LastClick,
            Credits::LastNonDirectClick,
            Credits::Linear,
            Credits::PositionBased,
            Credits::TimeDecay,
        ]
    } else {
        table.col(ColumnDef::new(Credits::Model).string().not_null());
        vec![Credits::Weight]
    };
    for w in weights {
        table.col(ColumnDef::new(w).double().not_null());
    }
    table
        .col(ColumnDef::new(Credits::Source).string().not_null())
        .col(ColumnDef::new(Credits::Medium).string().not_null())
        .col(ColumnDef::new(Credits::Campaign).string().null())
        .col(ColumnDef::new(Credits::Channel).string().not_null())
        .col(ColumnDef::new(Credits::LandingPage).text().not_null());
    manager.create_table(table.to_owned()).await?;
    // A step replaces a journey's rows; a report reads one (lookback, name)
    // (and, before, one model) over a time range; an hour's rebuild reads
    // every credit of that hour.
    let mut by_report = Index::create();
    by_report.table(Credits::Table);
    if folded {
        by_report.name("ix_credits_lookback_name_at");
    } else {
        by_report
            .name("ix_credits_model_lookback_name_at")
            .col(Credits::Model);
    }
    by_report
        .col(Credits::LookbackDays)
        .col(Credits::Name)
        .col(Credits::ConversionAt);
    for index in [
        Index::create()
            .name("ix_credits_journey_key")
            .table(Credits::Table)
            .col(Credits::JourneyKey)
            .to_owned(),
        by_report.to_owned(),
        Index::create()
            .name("ix_credits_at")
            .table(Credits::Table)
            .col(Credits::ConversionAt)
            .to_owned(),
    ] {
        manager.create_index(index).await?;
    }
    requeue_everything(manager).await
}

/// Queues every fingerprint with facts for the materialiser.
async fn requeue_everything(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for table in ["pageviews", "events"] {
        db.execute_unprepared(&format!(
            "INSERT INTO dirty_fingerprints (fingerprint, version) \
             SELECT DISTINCT fingerprint, 0 FROM {table} WHERE true \
             ON CONFLICT (fingerprint) DO NOTHING"
        ))
        .await?;
    }
    Ok(())
}
