//! Acquisitions and revenue facts, for LTV, ROAS, payback, churn and
//! acquisition cohorts.
//!
//! - `acquisitions`: one row per journey with a `signup`: its first signup
//!   (whose credit rows are the acquisition's attribution) and its first
//!   `unsubscribe` at or after it.
//! - `revenue_facts`: every event with revenue, under the journey it
//!   belongs to (an anonymous event of a shared device goes to the user who
//!   owns the device, as in `journeys`), so sums per user need no owner
//!   lookups at read time.
//!
//! Both are derived: the fingerprints of every signup and every event with
//! revenue are queued, so the materialiser fills them for existing data.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Acquisitions {
    Table,
    JourneyKey,
    ConversionId,
    UserId,
    AcquiredAt,
    ChurnedAt,
}

#[derive(DeriveIden)]
enum RevenueFacts {
    Table,
    Id,
    JourneyKey,
    EventId,
    At,
    RevenueMicros,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Acquisitions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Acquisitions::JourneyKey)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Acquisitions::ConversionId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Acquisitions::UserId).string().null())
                    .col(
                        ColumnDef::new(Acquisitions::AcquiredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Acquisitions::ChurnedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RevenueFacts::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RevenueFacts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RevenueFacts::JourneyKey).string().not_null())
                    .col(ColumnDef::new(RevenueFacts::EventId).string().not_null())
                    .col(
                        ColumnDef::new(RevenueFacts::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RevenueFacts::RevenueMicros)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Reports read acquisitions by time and join revenue by journey;
        // `overview` reads revenue by time; a step replaces by journey.
        for index in [
            Index::create()
                .name("ix_acquisitions_at")
                .table(Acquisitions::Table)
                .col(Acquisitions::AcquiredAt)
                .to_owned(),
            Index::create()
                .name("ix_revenue_facts_journey_key")
                .table(RevenueFacts::Table)
                .col(RevenueFacts::JourneyKey)
                .col(RevenueFacts::At)
                .to_owned(),
            Index::create()
                .name("ix_revenue_facts_at")
                .table(RevenueFacts::Table)
                .col(RevenueFacts::At)
                .to_owned(),
        ] {
            manager.create_index(index).await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO dirty_fingerprints (fingerprint, version) \
                 SELECT DISTINCT fingerprint, 0 FROM events \
                 WHERE name = 'signup' OR revenue_micros IS NOT NULL \
                 ON CONFLICT (fingerprint) DO NOTHING",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RevenueFacts::Table.into_iden(),
            Acquisitions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
