//! Argument parsing shared by resolvers.

use std::sync::Arc;

use async_graphql::Context;
use chrono::Duration;

use super::error::{bad_input, invalid};
use crate::attribution::Settings;
use crate::domain::check_text;

/// Longest lookback accepted: ten years covers any real sales cycle.
pub const MAX_LOOKBACK_DAYS: i32 = 3650;

/// A `lookbackDays` argument, or the deployment's `LOOKBACK_DAYS`, in days.
pub fn lookback_days(ctx: &Context<'_>, days: Option<i32>) -> async_graphql::Result<i64> {
    match days {
        Some(d) if !(0..=MAX_LOOKBACK_DAYS).contains(&d) => Err(bad_input(format!(
            "`lookbackDays` must be between 0 and {MAX_LOOKBACK_DAYS}, not {d}"
        ))),
        Some(d) => Ok(i64::from(d)),
        None => Ok(ctx.data::<Arc<Settings>>()?.lookback.num_days()),
    }
}

/// A text argument the database compares (an id, an event name): held to
/// the webhooks' text rule, so a NUL is `BAD_USER_INPUT` naming `field`
/// rather than PostgreSQL's internal error.
pub fn text(field: &'static str, value: &str) -> async_graphql::Result<()> {
    check_text(field, value).map_err(|e| invalid(&[e]))
}

/// Days as the engine's duration.
pub fn days(days: i64) -> Duration {
    Duration::days(days)
}
