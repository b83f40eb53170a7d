//! Drops the raw `pageviews` indexes that only the old report queries used.
//!
//! Reports now read the derived tables (touchpoints, credits), so the
//! indexes on (campaign, source, medium), (source, created_at) and
//! (channel, created_at) serve no query, and every one of them cost a B-tree
//! insert per stored pageview at a position unrelated to the others. The
//! queries left on raw pageviews are by fingerprint (journeys), by user_id,
//! by dedup_key (unique) and by created_at range: the plain `created_at`
//! index is replaced by one on `(created_at, fingerprint)`, which covers
//! `pageview_totals` (COUNT and COUNT DISTINCT fingerprint over a range)
//! without touching the table, and still serves the range-ordered list.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pageviews {
    Table,
    CreatedAt,
    Fingerprint,
    Campaign,
    Source,
    Medium,
    Channel,
}

/// The indexes dropped, and how `down` recreates them.
fn dropped() -> Vec<(&'static str, Vec<Pageviews>)> {
    vec![
        (
            "ix_pageviews_campaign_source_medium",
            vec![Pageviews::Campaign, Pageviews::Source, Pageviews::Medium],
        ),
        (
            "ix_pageviews_source_created_at",
            vec![Pageviews::Source, Pageviews::CreatedAt],
        ),
        (
            "ix_pageviews_channel_created_at",
            vec![Pageviews::Channel, Pageviews::CreatedAt],
        ),
        ("ix_pageviews_created_at", vec![Pageviews::CreatedAt]),
    ]
}

const COVERING: &str = "ix_pageviews_created_at_fingerprint";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(COVERING)
                    .table(Pageviews::Table)
                    .col(Pageviews::CreatedAt)
                    .col(Pageviews::Fingerprint)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        for (name, _) in dropped() {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Pageviews::Table)
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in dropped() {
            let mut index = Index::create();
            index.name(name).table(Pageviews::Table).if_not_exists();
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(COVERING)
                    .table(Pageviews::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
