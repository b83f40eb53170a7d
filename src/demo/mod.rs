//! Demo data: realistic, deterministic traffic for a newcomer to explore.

use clap::Args;

use crate::config::DatabaseConfig;

/// `growth-analytics seed` arguments.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Visitors (fingerprints' owners) to generate.
    #[arg(long, default_value_t = 5_000)]
    pub visitors: u32,
    /// Days of traffic, ending today.
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    /// Random seed: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub database: DatabaseConfig,
}

/// Runs `seed`.
pub async fn run(_args: SeedArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
