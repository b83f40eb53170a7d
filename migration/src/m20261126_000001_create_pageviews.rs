use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pageviews {
    Table,
    Id,
    DedupKey,
    Fingerprint,
    UserId,
    Url,
    ReferrerUrl,
    ReferrerHost,
    CreatedAt,
    LandingPage,
    Source,
    Medium,
    Campaign,
    Content,
    Term,
    ClickId,
    Channel,
    Rule,
    ReceivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Pageviews::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Pageviews::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Pageviews::DedupKey).binary().not_null())
                    .col(ColumnDef::new(Pageviews::Fingerprint).string().not_null())
                    .col(ColumnDef::new(Pageviews::UserId).string().null())
                    .col(ColumnDef::new(Pageviews::Url).text().not_null())
                    .col(ColumnDef::new(Pageviews::ReferrerUrl).text().null())
                    .col(ColumnDef::new(Pageviews::ReferrerHost).string().null())
                    .col(
                        ColumnDef::new(Pageviews::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Pageviews::LandingPage).text().not_null())
                    .col(ColumnDef::new(Pageviews::Source).string().not_null())
                    .col(ColumnDef::new(Pageviews::Medium).string().not_null())
                    .col(ColumnDef::new(Pageviews::Campaign).string().null())
                    .col(ColumnDef::new(Pageviews::Content).string().null())
                    .col(ColumnDef::new(Pageviews::Term).string().null())
                    .col(ColumnDef::new(Pageviews::ClickId).string().null())
                    .col(ColumnDef::new(Pageviews::Channel).string().not_null())
                    .col(ColumnDef::new(Pageviews::Rule).text().not_null())
                    .col(
                        ColumnDef::new(Pageviews::ReceivedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            ("ux_pageviews_dedup_key", vec![Pageviews::DedupKey], true),
            (
                "ix_pageviews_fingerprint_created_at",
                vec![Pageviews::Fingerprint, Pageviews::CreatedAt],
                false,
            ),
            ("ix_pageviews_user_id", vec![Pageviews::UserId], false),
            ("ix_pageviews_created_at", vec![Pageviews::CreatedAt], false),
            (
                "ix_pageviews_campaign_source_medium",
                vec![Pageviews::Campaign, Pageviews::Source, Pageviews::Medium],
                false,
            ),
            (
                "ix_pageviews_source_created_at",
                vec![Pageviews::Source, Pageviews::CreatedAt],
                false,
            ),
            (
                "ix_pageviews_channel_created_at",
                vec![Pageviews::Channel, Pageviews::CreatedAt],
                false,
            ),
        ];
        for (name, cols, unique) in indexes {
            let mut index = Index::create();
            index.name(name).table(Pageviews::Table).if_not_exists();
            for col in cols {
                index.col(col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Pageviews::Table).to_owned())
            .await
    }
}
