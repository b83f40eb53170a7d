//! Report rows, the overview and time series as GraphQL shows them.

use async_graphql::{Enum, InputObject, Object, SimpleObject};

use super::ChannelGql;
use crate::domain::Amount;
use crate::graphql::scalars::DateTime;
use crate::ingest::classify::channel_for;
use crate::reports::{self, Row, RowKey};

/// What report rows can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
#[graphql(name = "ReportOrderField", remote = "crate::reports::OrderField")]
pub enum OrderFieldGql {
    #[default]
    Conversions,
    Visitors,
    ConversionRate,
    Spend,
    CostPerConversion,
    TimeToConvert,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
#[graphql(name = "OrderDirection", remote = "crate::reports::OrderDirection")]
pub enum OrderDirectionGql {
    Asc,
    #[default]
    Desc,
}

/// How to order report rows; ties are broken by the row's key, ascending.
#[derive(Debug, Clone, Copy, Default, InputObject)]
#[graphql(name = "ReportOrder")]
pub struct ReportOrder {
    #[graphql(default)]
    pub field: OrderFieldGql,
    #[graphql(default)]
    pub direction: OrderDirectionGql,
}

/// Time-to-convert statistics over a row's conversions.
#[derive(Debug, Clone, Copy, SimpleObject)]
pub struct TimeToConvert {
    pub avg_seconds: f64,
    pub median_seconds: f64,
    /// The fastest conversion.
    pub min_seconds: i64,
    /// The longest.
    pub max_seconds: i64,
}

/// One row of `campaigns`, `sources`, `channels` or `landingPages`. The key
/// fields of the report are set; for a campaign row, `channel` is the channel
/// its clicks are classified in.
pub struct ReportRow(pub Row);

#[Object]
impl ReportRow {
    /// `utm_campaign` (campaign rows; null groups conversions without a campaign).
    async fn campaign(&self) -> Option<&str> {
        match &self.0.key {
            RowKey::Campaign { campaign, .. } => campaign.as_deref(),
            _ => None,
        }
    }

    /// The source (campaign and source rows).
    async fn source(&self) -> Option<&str> {
        match &self.0.key {
            RowKey::Campaign { source, .. } => Some(source),
            RowKey::Source(s) => Some(s),
            _ => None,
        }
    }

    /// The medium (campaign rows).
    async fn medium(&self) -> Option<&str> {
        match &self.0.key {
            RowKey::Campaign { medium, .. } => Some(medium),
            _ => None,
        }
    }

    /// The channel (channel rows; derived for campaign rows).
    async fn channel(&self) -> Option<ChannelGql> {
        match &self.0.key {
            RowKey::Channel(c) => Some((*c).into()),
            RowKey::Campaign {
                campaign,
                source,
                medium,
            } if source != crate::journeys::NOT_SET => Some(
                channel_for(source, medium, campaign.as_deref(), None)
                    .0
                    .into(),
            ),
            RowKey::Campaign { .. } => Some(crate::domain::Channel::Unassigned.into()),
            _ => None,
        }
    }

    /// The landing page (landing-page rows).
    async fn landing_page(&self) -> Option<&str> {
        match &self.0.key {
            RowKey::LandingPage(p) => Some(p),
            _ => None,
        }
    }

    /// Conversions credited to this row under the model: fractional for
    /// multi-touch models. The rows of a report sum to the conversions in range.
    async fn conversions(&self) -> f64 {
        self.0.conversions
    }

    /// Distinct visitors (fingerprints) with a touchpoint of this key in range.
    async fn visitors(&self) -> u64 {
        self.0.visitors
    }

    /// Touchpoints of this key in range.
    async fn touchpoints(&self) -> u64 {
        self.0.touchpoints
    }

    /// conversions / visitors; null without visitors.
    async fn conversion_rate(&self) -> Option<f64> {
        self.0.conversion_rate()
    }

    /// `trial` conversions in range credited to this row under the model.
    async fn trials(&self) -> f64 {
        self.0.trials
    }

    /// Credited conversions that are signups after a trial.
    async fn trial_to_signup(&self) -> f64 {
        self.0.trial_to_signup
    }

    /// Over the conversions with a share of this row, each counted once;
    /// null when none has a touchpoint.
    async fn time_to_convert(&self) -> Option<TimeToConvert> {
        self.0.time_to_convert.map(|t| TimeToConvert {
            avg_seconds: t.avg_seconds,
            median_seconds: t.median_seconds,
            min_seconds: t.min_seconds,
            max_seconds: t.max_seconds,
        })
    }

    /// Average pageviews before conversion, over the row's conversions.
    async fn avg_pageviews_before(&self) -> Option<f64> {
        self.0.avg_pageviews_before
    }

    /// Average pageviews after conversion, over the row's conversions.
    async fn avg_pageviews_after(&self) -> Option<f64> {
        self.0.avg_pageviews_after
    }

    /// Spend booked for this key over the range's days, as an exact decimal
    /// in the reporting currency; null for landing pages.
    async fn spend(&self) -> Option<String> {
        self.0
            .spend_micros
            .map(|m| Amount::from_micros(m).to_string())
    }

    /// spend / conversions; null without conversions or spend.
    async fn cost_per_conversion(&self) -> Option<f64> {
        self.0.cost_per_conversion()
    }

    /// Alias of `costPerConversion`, for reports counting signups.
    async fn cost_per_signup(&self) -> Option<f64> {
        self.0.cost_per_conversion()
    }

    /// Users of the conversions with a share of this row, sorted.
    async fn user_ids(&self, first: Option<i32>) -> Vec<&str> {
        let n = first.map_or(usize::MAX, |f| f.max(0) as usize);
        self.0.user_ids.iter().take(n).map(String::as_str).collect()
    }
}

/// A page of report rows.
#[derive(SimpleObject)]
pub struct ReportConnection {
    /// Rows in the report, across all pages.
    pub total_count: u64,
    pub nodes: Vec<ReportRow>,
    pub page_info: async_graphql::connection::PageInfo,
}

/// Headline numbers for a range.
pub struct OverviewGql(pub reports::Overview);

#[Object(name = "Overview")]
impl OverviewGql {
    /// Pageviews in range.
    async fn pageviews(&self) -> u64 {
        self.0.pageviews
    }
    /// Distinct fingerprints with a pageview in range.
    async fn visitors(&self) -> u64 {
        self.0.visitors
    }
    /// `signup` events in range.
    async fn signups(&self) -> u64 {
        self.0.signups
    }
    /// `trial` events in range.
    async fn trials(&self) -> u64 {
        self.0.trials
    }
    /// Signups in range that followed a trial.
    async fn trial_to_signup(&self) -> u64 {
        self.0.trial_to_signup
    }
    /// trialToSignup / trials; null without trials.
    async fn trial_to_signup_rate(&self) -> Option<f64> {
        self.0.trial_to_signup_rate()
    }
    /// `unsubscribe` events in range.
    async fn unsubscribes(&self) -> u64 {
        self.0.unsubscribes
    }
    /// Conversions of the counted name in range.
    async fn conversions(&self) -> f64 {
        self.0.conversions
    }
    /// Credit on paid channels (PAID_*, DISPLAY, CROSS_NETWORK, AFFILIATES).
    async fn paid_conversions(&self) -> f64 {
        self.0.paid_conversions
    }
    /// paidConversions / conversions.
    async fn paid_share(&self) -> Option<f64> {
        self.0.paid_share()
    }
    /// Credit on ORGANIC_SEARCH, ORGANIC_SOCIAL, ORGANIC_VIDEO and ORGANIC_SHOPPING, over conversions.
    async fn organic_share(&self) -> Option<f64> {
        self.0.organic_share()
    }
    /// Credit on DIRECT, over conversions.
    async fn direct_share(&self) -> Option<f64> {
        self.0.direct_share()
    }
}

/// Bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "Interval", remote = "crate::reports::Interval")]
pub enum IntervalGql {
    Hour,
    Day,
    Week,
    Month,
}

/// How a time series is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "TimeseriesGroupBy", remote = "crate::reports::GroupBy")]
pub enum GroupByGql {
    None,
    Channel,
    Source,
    Campaign,
}

/// One bucket's value.
#[derive(SimpleObject)]
pub struct TimeseriesPoint {
    pub start: DateTime,
    pub end: DateTime,
    pub conversions: f64,
}

/// One series of a time series.
#[derive(SimpleObject)]
pub struct TimeseriesSeries {
    /// The source or campaign of a SOURCE / CAMPAIGN series (null for no campaign).
    pub key: Option<String>,
    /// The channel of a CHANNEL series.
    pub channel: Option<ChannelGql>,
    /// Conversions over the whole range.
    pub total: f64,
    /// One point per bucket, empty buckets included.
    pub points: Vec<TimeseriesPoint>,
}

/// Conversions over time.
#[derive(SimpleObject)]
pub struct Timeseries {
    pub timezone: String,
    pub interval: IntervalGql,
    pub series: Vec<TimeseriesSeries>,
}
