//! Conversion paths, path lengths and the model comparison as GraphQL shows
//! them (issue 16).

use async_graphql::{Enum, Object, SimpleObject};

use super::report::key_fields;
use super::ChannelGql;
use crate::reports::paths::{PathLength, PathRow};
use crate::reports::RowKey;

/// What a conversion path's steps are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "PathDimension",
    remote = "crate::reports::paths::PathDimension"
)]
pub enum PathDimensionGql {
    /// The channel's name, e.g. `PAID_SOCIAL`.
    Channel,
    /// The source, e.g. `facebook` or `(direct)`.
    Source,
    /// The campaign (`utm_campaign`); `(not set)` for a touchpoint without one.
    Campaign,
}

/// What a report's rows are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ReportDimension", remote = "crate::reports::Dimension")]
pub enum ReportDimensionGql {
    /// As `channels`.
    Channel,
    /// As `sources`.
    Source,
    /// As `campaigns`: campaign, source and medium.
    Campaign,
    /// As `landingPages`.
    LandingPage,
}

/// One distinct sequence of steps over conversions' touchpoints in play.
#[derive(SimpleObject)]
pub struct ConversionPath {
    /// The dimension's value of each touchpoint in play, oldest first (with
    /// `collapseRepeats`, consecutive equal values once); empty for the
    /// conversions without touchpoints.
    pub steps: Vec<String>,
    /// Conversions in range that took this path.
    pub conversions: u64,
    /// Touchpoints per conversion of the path, counted before repeats are
    /// collapsed (collapsing changes how paths group, not how long the
    /// journeys were).
    pub avg_touchpoints: f64,
    /// Days from the first touchpoint in play to the conversion (whole
    /// seconds, as `timeToConvert`), averaged; null for the empty path.
    pub avg_days_to_convert: Option<f64>,
    /// Their median (the mean of the middle two for an even count); null
    /// for the empty path.
    pub median_days_to_convert: Option<f64>,
}

impl From<PathRow> for ConversionPath {
    fn from(r: PathRow) -> Self {
        Self {
            steps: r.steps,
            conversions: r.conversions,
            avg_touchpoints: r.avg_touchpoints,
            avg_days_to_convert: r.avg_days_to_convert,
            median_days_to_convert: r.median_days_to_convert,
        }
    }
}

/// A page of conversion paths.
#[derive(SimpleObject)]
pub struct ConversionPathConnection {
    /// Paths in the report, across all pages.
    pub total_count: u64,
    pub nodes: Vec<ConversionPath>,
    pub page_info: async_graphql::connection::PageInfo,
}

/// How many conversions had this many touchpoints in play.
#[derive(SimpleObject)]
#[graphql(name = "PathLength")]
pub struct PathLengthGql {
    pub touchpoints: u64,
    pub conversions: u64,
}

impl From<PathLength> for PathLengthGql {
    fn from(l: PathLength) -> Self {
        Self {
            touchpoints: l.touchpoints,
            conversions: l.conversions,
        }
    }
}

/// One key's conversions under several models side by side.
pub struct ModelComparisonRow {
    pub key: RowKey,
    pub conversions: Vec<f64>,
    pub change: Vec<Option<f64>>,
}

/// One key of `modelComparison`: its key fields as in the report rows of
/// the dimension, and its conversions under each model.
#[Object]
impl ModelComparisonRow {
    /// `utm_campaign` (CAMPAIGN; null groups conversions without a campaign).
    async fn campaign(&self) -> Option<&str> {
        key_fields::campaign(&self.key)
    }

    /// The source (CAMPAIGN and SOURCE).
    async fn source(&self) -> Option<&str> {
        key_fields::source(&self.key)
    }

    /// The medium (CAMPAIGN).
    async fn medium(&self) -> Option<&str> {
        key_fields::medium(&self.key)
    }

    /// The channel (CHANNEL; derived for CAMPAIGN, as in `campaigns`).
    async fn channel(&self) -> Option<ChannelGql> {
        key_fields::channel(&self.key)
    }

    /// The landing page (LANDING_PAGE).
    async fn landing_page(&self) -> Option<&str> {
        key_fields::landing_page(&self.key)
    }

    /// The key's conversions under each of `models`, in their order: each
    /// the `conversions` of this key's row in that model's report.
    async fn conversions(&self) -> &[f64] {
        &self.conversions
    }

    /// (conversions under model i − under the first) / under the first, so
    /// `change[0]` is 0; every entry null when the first model gives the
    /// key no conversions.
    async fn change(&self) -> &[Option<f64>] {
        &self.change
    }
}
