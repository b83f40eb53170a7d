//! `growth-analytics import`: bring history in from CSV or NDJSON files.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::config::DatabaseConfig;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportKind {
    Pageviews,
    Events,
}

/// `growth-analytics import` arguments.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// `pageviews` or `events`.
    pub kind: ImportKind,
    /// A CSV file (header row with the webhook field names) or NDJSON.
    pub file: PathBuf,
    /// Store the valid rows and report the invalid ones, instead of refusing the file.
    #[arg(long)]
    pub skip_invalid: bool,
    #[command(flatten)]
    pub database: DatabaseConfig,
}

/// Runs `import`.
pub async fn run(_args: ImportArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
