//! Report rows, the overview and time series as GraphQL shows them.

use async_graphql::{Enum, InputObject, Object, SimpleObject};

use super::ChannelGql;
use crate::domain::Amount;
use crate::graphql::scalars::DateTime;
use crate::ingest::classify::channel_for;
use std::sync::Arc;

use crate::reports::paths::Assists;
use crate::reports::revenue::RowRevenue;
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
///
/// The revenue fields (`revenue`, `ltv`, `roas`, `paybackDays`,
/// `netConversions`, `churnRate`, `revenueComplete`, `maturedShare`) are
/// set for `conversion: "signup"` (null otherwise) and weigh each of the
/// row's acquisitions by its credit: see the README, "Growing profitably".
///
/// The assist fields (`assistedConversions`, `lastClickConversions`,
/// `assistRatio`) are set on `campaigns`, `sources` and `channels` rows
/// (null on landing pages), and read only when selected.
pub struct ReportRow(pub Row, pub Option<Arc<RowRevenue>>, pub Option<Assists>);

/// The key fields of a report row, shared with `ModelComparisonRow` so the
/// two name and derive a key alike.
pub(crate) mod key_fields {
    use super::{channel_for, ChannelGql, RowKey};

    pub fn campaign(key: &RowKey) -> Option<&str> {
        match key {
            RowKey::Campaign { campaign, .. } => campaign.as_deref(),
            _ => None,
        }
    }

    pub fn source(key: &RowKey) -> Option<&str> {
        match key {
            RowKey::Campaign { source, .. } => Some(source),
            RowKey::Source(s) => Some(s),
            _ => None,
        }
    }

    pub fn medium(key: &RowKey) -> Option<&str> {
        match key {
            RowKey::Campaign { medium, .. } => Some(medium),
            _ => None,
        }
    }

    pub fn channel(key: &RowKey) -> Option<ChannelGql> {
        match key {
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

    pub fn landing_page(key: &RowKey) -> Option<&str> {
        match key {
            RowKey::LandingPage(p) => Some(p),
            _ => None,
        }
    }
}

/// A `days` argument: whole days, 0 to ten years.
fn checked_days(days: Option<i32>) -> async_graphql::Result<Option<i64>> {
    match days {
        Some(d) if !(0..=3650).contains(&d) => Err(crate::graphql::error::bad_input(format!(
            "`days` must be between 0 and 3650, not {d}"
        ))),
        d => Ok(d.map(i64::from)),
    }
}

fn money(micros: i64) -> String {
    Amount::from_micros(micros).to_string()
}

#[Object]
impl ReportRow {
    /// `utm_campaign` (campaign rows; null groups conversions without a campaign).
    async fn campaign(&self) -> Option<&str> {
        key_fields::campaign(&self.0.key)
    }

    /// The source (campaign and source rows).
    async fn source(&self) -> Option<&str> {
        key_fields::source(&self.0.key)
    }

    /// The medium (campaign rows).
    async fn medium(&self) -> Option<&str> {
        key_fields::medium(&self.0.key)
    }

    /// The channel (channel rows; derived for campaign rows).
    async fn channel(&self) -> Option<ChannelGql> {
        key_fields::channel(&self.0.key)
    }

    /// The landing page (landing-page rows).
    async fn landing_page(&self) -> Option<&str> {
        key_fields::landing_page(&self.0.key)
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

    /// The row's credited acquisitions (first signups): the sum of their
    /// credit weights under the model.
    async fn acquisitions(&self) -> Option<f64> {
        self.1.as_ref().map(|r| r.acquisitions())
    }

    /// Σ over the row's credited acquisitions of credit weight × that
    /// user's revenue within `days` of the acquisition (without `days`: up
    /// to now), as an exact decimal (rounded to millionths).
    async fn revenue(&self, days: Option<i32>) -> async_graphql::Result<Option<String>> {
        let days = checked_days(days)?;
        Ok(self.1.as_ref().map(|r| money(r.revenue(days))))
    }

    /// revenue(days) / acquisitions; null without acquisitions.
    async fn ltv(&self, days: Option<i32>) -> async_graphql::Result<Option<String>> {
        let days = checked_days(days)?;
        Ok(self.1.as_ref().and_then(|r| r.ltv(days)).map(money))
    }

    /// revenue(days) / spend; null without spend.
    async fn roas(&self, days: Option<i32>) -> async_graphql::Result<Option<f64>> {
        let days = checked_days(days)?;
        Ok(self
            .1
            .as_ref()
            .and_then(|r| r.roas(days, self.0.spend_micros)))
    }

    /// The smallest whole number of days d ≥ 0 with revenue(d) ≥ spend
    /// (the first crossing, even if a later refund dips below); null while
    /// not reached or without spend.
    async fn payback_days(&self) -> Option<i64> {
        self.1
            .as_ref()
            .and_then(|r| r.payback_days(self.0.spend_micros))
    }

    /// Credit of the acquisitions whose user did not unsubscribe within
    /// `days` of the acquisition.
    async fn net_conversions(
        &self,
        #[graphql(default = 30)] days: i32,
    ) -> async_graphql::Result<Option<f64>> {
        let days = checked_days(Some(days))?.unwrap_or(30);
        Ok(self.1.as_ref().map(|r| r.net_conversions(days)))
    }

    /// 1 − netConversions(days) / acquisitions; null without acquisitions.
    async fn churn_rate(
        &self,
        #[graphql(default = 30)] days: i32,
    ) -> async_graphql::Result<Option<f64>> {
        let days = checked_days(Some(days))?.unwrap_or(30);
        Ok(self.1.as_ref().and_then(|r| r.churn_rate(days)))
    }

    /// True when every credited acquisition is at least `days` old, so
    /// `ltv(days)` will not grow and compares with older cohorts.
    async fn revenue_complete(&self, days: i32) -> async_graphql::Result<Option<bool>> {
        let days = checked_days(Some(days))?.unwrap_or(0);
        Ok(self
            .1
            .as_ref()
            .map(|r| r.revenue_complete(days, chrono::Utc::now())))
    }

    /// The share of the row's acquisition credit at least `days` old; null
    /// without acquisitions.
    async fn matured_share(&self, days: i32) -> async_graphql::Result<Option<f64>> {
        let days = checked_days(Some(days))?.unwrap_or(0);
        Ok(self
            .1
            .as_ref()
            .and_then(|r| r.matured_share(days, chrono::Utc::now())))
    }

    /// Conversions in range (of the report's `conversion`, at its lookback)
    /// whose touchpoints in play have this row's key on a touchpoint other
    /// than the last, each counted once however often the key appears.
    /// Whatever the model. Null on landing-page rows.
    async fn assisted_conversions(&self) -> Option<u64> {
        self.2.map(|a| a.assisted)
    }

    /// Conversions in range whose last touchpoint in play has this row's
    /// key (a conversion without touchpoints: the `(not set)` row): this
    /// row's conversions under LAST_CLICK, whatever the model. Null on
    /// landing-page rows.
    async fn last_click_conversions(&self) -> Option<u64> {
        self.2.map(|a| a.last_click)
    }

    /// assistedConversions / lastClickConversions: above 1, the key helps
    /// more than it closes. Null when lastClickConversions is 0.
    async fn assist_ratio(&self) -> Option<f64> {
        self.2.and_then(|a| a.ratio())
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
///
/// `revenue`, `arpu`, `cac`, `ltv` and `ltvToCac` are read only when
/// selected; they do not depend on the model.
pub struct OverviewGql(
    pub reports::Overview,
    pub Option<Arc<reports::revenue::RevenueOverview>>,
);

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
    /// The revenue of every event whose time is in range (what was booked,
    /// refunds subtracted), as an exact decimal.
    async fn revenue(&self) -> Option<String> {
        self.1.as_ref().map(|r| money(r.revenue_micros))
    }
    /// Acquisitions (first signups) in range.
    async fn acquisitions(&self) -> Option<u64> {
        self.1.as_ref().map(|r| r.acquisitions.len() as u64)
    }
    /// revenue / the distinct users whose revenue in range sums to more
    /// than 0; null without any.
    async fn arpu(&self) -> Option<String> {
        self.1.as_ref().and_then(|r| r.arpu()).map(money)
    }
    /// Spend in range / acquisitions in range; null without acquisitions.
    async fn cac(&self) -> Option<String> {
        self.1.as_ref().and_then(|r| r.cac()).map(money)
    }
    /// The range's acquisitions' revenue within `days` of each (without
    /// `days`: up to now) / those acquisitions.
    async fn ltv(&self, days: Option<i32>) -> async_graphql::Result<Option<String>> {
        let days = checked_days(days)?;
        Ok(self.1.as_ref().and_then(|r| r.ltv(days)).map(money))
    }
    /// ltv(days) / cac; null without spend or acquisitions.
    async fn ltv_to_cac(&self, days: Option<i32>) -> async_graphql::Result<Option<f64>> {
        let days = checked_days(days)?;
        Ok(self.1.as_ref().and_then(|r| r.ltv_to_cac(days)))
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

/// A cohort's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "CohortInterval")]
pub enum CohortIntervalGql {
    /// ISO weeks, starting Monday.
    Week,
    Month,
}

impl From<CohortIntervalGql> for reports::Interval {
    fn from(i: CohortIntervalGql) -> Self {
        match i {
            CohortIntervalGql::Week => reports::Interval::Week,
            CohortIntervalGql::Month => reports::Interval::Month,
        }
    }
}

/// One period of a cohort: the calendar interval [cohort start + k
/// intervals, cohort start + k + 1 intervals) in the query's time zone.
pub struct CohortPeriodGql {
    pub period: reports::revenue::CohortPeriod,
    pub users: f64,
}

#[Object(name = "CohortPeriod")]
impl CohortPeriodGql {
    /// k: 0 is the cohort's own interval.
    async fn index(&self) -> u64 {
        self.period.index as u64
    }
    async fn start(&self) -> DateTime {
        self.period.start.into()
    }
    async fn end(&self) -> DateTime {
        self.period.end.into()
    }
    /// Credited revenue of the cohort's users' events in this period, at
    /// or after their acquisition (refunds subtracted).
    async fn revenue(&self) -> String {
        money(self.period.revenue_micros)
    }
    /// Revenue of periods 0 to k.
    async fn cumulative_revenue(&self) -> String {
        money(self.period.cumulative_revenue_micros)
    }
    /// cumulativeRevenue / users; null without users.
    async fn ltv(&self) -> Option<String> {
        (self.users > 0.0).then(|| {
            money((self.period.cumulative_revenue_micros as f64 / self.users).round() as i64)
        })
    }
    /// Credited users acquired and not unsubscribed by the period's end.
    async fn active_users(&self) -> f64 {
        self.period.active_users
    }
    /// activeUsers / users; null without users.
    async fn retention(&self) -> Option<f64> {
        (self.users > 0.0).then(|| self.period.active_users / self.users)
    }
    /// The period's end is in the past: its numbers will not grow.
    async fn complete(&self) -> bool {
        self.period.complete
    }
}

/// One acquisition cohort: the acquisitions of one interval (and key).
pub struct CohortGql(pub reports::revenue::Cohort, pub reports::GroupBy);

#[Object(name = "Cohort")]
impl CohortGql {
    /// The cohort's interval.
    async fn start(&self) -> DateTime {
        self.0.start.into()
    }
    async fn end(&self) -> DateTime {
        self.0.end.into()
    }
    /// The channel (groupBy CHANNEL).
    async fn channel(&self) -> Option<ChannelGql> {
        self.0.key.channel.map(Into::into)
    }
    /// The source (groupBy SOURCE).
    async fn source(&self) -> Option<&str> {
        (self.1 == reports::GroupBy::Source)
            .then_some(self.0.key.key.as_deref())
            .flatten()
    }
    /// The campaign (groupBy CAMPAIGN; null groups acquisitions without one).
    async fn campaign(&self) -> Option<&str> {
        (self.1 == reports::GroupBy::Campaign)
            .then_some(self.0.key.key.as_deref())
            .flatten()
    }
    /// The source or campaign, as `TimeseriesSeries.key`.
    async fn key(&self) -> Option<&str> {
        self.0.key.key.as_deref()
    }
    /// Credited acquisitions: the sum of their credit weights.
    async fn users(&self) -> f64 {
        self.0.users
    }
    /// Spend booked under the key on the (UTC) days starting in the
    /// cohort's interval, as an exact decimal.
    async fn spend(&self) -> String {
        money(self.0.spend_micros)
    }
    /// spend / users; null without users.
    async fn cac(&self) -> Option<String> {
        self.0.cac().map(money)
    }
    async fn periods(&self) -> Vec<CohortPeriodGql> {
        self.0
            .periods
            .iter()
            .map(|p| CohortPeriodGql {
                period: p.clone(),
                users: self.0.users,
            })
            .collect()
    }
}
