//! Schema migrations, valid on SQLite and PostgreSQL. Applied by the service at
//! start-up (`growth-analytics migrate` or `serve`) and by this crate's CLI.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_pageviews;
mod m20261126_000002_create_events;
mod m20261126_000003_create_identity_links;
mod m20261126_000004_create_campaign_spend;
mod m20261126_000005_create_derived_tables;
mod m20261126_000006_trim_pageview_indexes;
mod m20261126_000007_cover_touchpoints;
mod m20261126_000008_version_dirty_marks;
mod m20261201_000009_create_api_keys;
mod m20261201_000010_create_rollups;
mod m20261201_000011_fold_credit_models;
mod m20261202_000012_add_event_revenue;
mod m20261202_000013_create_acquisitions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_pageviews::Migration),
            Box::new(m20261126_000002_create_events::Migration),
            Box::new(m20261126_000003_create_identity_links::Migration),
            Box::new(m20261126_000004_create_campaign_spend::Migration),
            Box::new(m20261126_000005_create_derived_tables::Migration),
            Box::new(m20261126_000006_trim_pageview_indexes::Migration),
            Box::new(m20261126_000007_cover_touchpoints::Migration),
            Box::new(m20261126_000008_version_dirty_marks::Migration),
            Box::new(m20261201_000009_create_api_keys::Migration),
            Box::new(m20261201_000010_create_rollups::Migration),
            Box::new(m20261201_000011_fold_credit_models::Migration),
            Box::new(m20261202_000012_add_event_revenue::Migration),
            Box::new(m20261202_000013_create_acquisitions::Migration),
        ]
    }
}
