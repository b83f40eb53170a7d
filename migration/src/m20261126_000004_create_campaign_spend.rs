//! Daily ad spend per (campaign, source, medium), for cost-per-acquisition
//! and ROAS reports. Amounts are integer micros of the deployment's reporting
//! currency: exact (no float rounding) and summable in SQL.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CampaignSpend {
    Table,
    Id,
    Campaign,
    Source,
    Medium,
    Date,
    AmountMicros,
    Currency,
    ReceivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CampaignSpend::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(CampaignSpend::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CampaignSpend::Campaign).string().not_null())
                    .col(ColumnDef::new(CampaignSpend::Source).string().not_null())
                    .col(ColumnDef::new(CampaignSpend::Medium).string().not_null())
                    .col(ColumnDef::new(CampaignSpend::Date).date().not_null())
                    .col(
                        ColumnDef::new(CampaignSpend::AmountMicros)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CampaignSpend::Currency).string().not_null())
                    .col(
                        ColumnDef::new(CampaignSpend::ReceivedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The natural key: a later delivery for the same day replaces the
        // amount through `ON CONFLICT` on exactly these columns.
        manager
            .create_index(
                Index::create()
                    .name("ux_campaign_spend_key")
                    .table(CampaignSpend::Table)
                    .col(CampaignSpend::Campaign)
                    .col(CampaignSpend::Source)
                    .col(CampaignSpend::Medium)
                    .col(CampaignSpend::Date)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // Reports read spend by date range.
        manager
            .create_index(
                Index::create()
                    .name("ix_campaign_spend_date")
                    .table(CampaignSpend::Table)
                    .col(CampaignSpend::Date)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CampaignSpend::Table).to_owned())
            .await
    }
}
