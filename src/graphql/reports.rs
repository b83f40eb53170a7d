//! The report queries: `campaigns`, `sources`, `channels`, `landingPages`,
//! `overview`, `timeseries`. Thin: arguments in, `reports::source` gathers,
//! the pure `reports` fold, rows out.

use std::sync::Arc;

use async_graphql::connection::PageInfo;
use async_graphql::{Context, Object};
use chrono::Utc;

use super::args::{days, lookback_days, text};
use super::error::{bad_input, internal};
use super::pagination::page_size;
use super::types::report::{
    CohortGql, CohortIntervalGql, GroupByGql, IntervalGql, OverviewGql, ReportConnection,
    ReportOrder, ReportRow, Timeseries, TimeseriesPoint, TimeseriesSeries,
};
use super::types::{resolve_range, AttributionModelGql, DateRange};
use crate::attribution::{Model, Settings, SIGNUP, TRIAL};
use crate::config::ServeConfig;
use crate::materialize::Materializer;
use crate::reports::cache::{Cached, ReportCache};
use crate::reports::{self, revenue, rolled, source, Dimension, Overview};
use crate::store::{EventFilter, Store, TimeRange};

/// The report fields: each reads and folds a range of derived rows, so
/// they count against `MAX_REPORT_FIELDS` and cost [`REPORT_COMPLEXITY`].
pub const REPORT_FIELDS: &[&str] = &[
    "campaigns",
    "sources",
    "channels",
    "landingPages",
    "overview",
    "timeseries",
    "cohorts",
    "paths",
    "pathLengths",
    "modelComparison",
];

/// A report's complexity, whatever it selects: its cost is the range it
/// reads, not its fields.
pub const REPORT_COMPLEXITY: usize = 1_000;

/// Most periods a cohort may have (ten years of months).
const MAX_COHORT_PERIODS: i32 = 120;

/// Most buckets one time series may have.
const MAX_BUCKETS: usize = 5_000;

/// Reports over conversions, visitors and spend.
#[derive(Default)]
pub struct ReportsQuery;

/// A report's arguments, checked.
#[derive(Clone)]
pub(super) struct Common {
    pub(super) range: TimeRange,
    pub(super) model: Model,
    pub(super) conversion: String,
    pub(super) lookback_days: i64,
}

pub(super) fn common(
    ctx: &Context<'_>,
    range: Option<DateRange>,
    model: AttributionModelGql,
    conversion: String,
    lookback: Option<i32>,
) -> async_graphql::Result<Common> {
    let conversion = conversion.trim().to_lowercase();
    text("conversion", &conversion)?;
    if conversion.is_empty() {
        return Err(bad_input("`conversion` must name an event"));
    }
    Ok(Common {
        range: resolve_range(range)?,
        model: model.into(),
        conversion,
        lookback_days: lookback_days(ctx, lookback)?,
    })
}

pub(super) fn offset_cursor(i: usize) -> String {
    format!("r{i}")
}

pub(super) fn parse_offset(after: Option<String>) -> async_graphql::Result<usize> {
    match after {
        None => Ok(0),
        Some(a) => a
            .strip_prefix('r')
            .and_then(|n| n.parse::<usize>().ok())
            .map(|n| n + 1)
            .ok_or_else(|| bad_input(format!("'{a}' is not a cursor returned by this API"))),
    }
}

/// Keeps only the campaign rows of one campaign and/or source.
#[derive(Default)]
struct RowFilter {
    campaign: Option<String>,
    source: Option<String>,
}

impl RowFilter {
    fn keeps(&self, key: &reports::RowKey) -> bool {
        match key {
            reports::RowKey::Campaign {
                campaign, source, ..
            } => {
                self.campaign
                    .as_deref()
                    .is_none_or(|c| campaign.as_deref() == Some(c))
                    && self.source.as_deref().is_none_or(|s| source == s)
            }
            _ => true,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn report(
    ctx: &Context<'_>,
    dimension: Dimension,
    range: Option<DateRange>,
    model: AttributionModelGql,
    conversion: String,
    lookback: Option<i32>,
    order_by: Option<ReportOrder>,
    first: Option<i32>,
    after: Option<String>,
    filter: RowFilter,
) -> async_graphql::Result<ReportConnection> {
    let config = ctx.data::<Arc<ServeConfig>>()?;
    let limit = page_size(first, config.limits.max_page_size)?;
    let offset = parse_offset(after)?;
    let c = common(ctx, range, model, conversion, lookback)?;
    // `userIds` lists the users behind a row: only the derived rows have them.
    let wants_users = ctx.look_ahead().field("nodes").field("userIds").exists();
    let (all, version, cache) = report_rows(ctx, dimension, &c, wants_users).await?;
    let revenue = if c.conversion == SIGNUP && wants_revenue(ctx) {
        let acquisitions = acquisitions_of(ctx, &c, version, cache).await?;
        Some(revenue::by_row(dimension, &acquisitions))
    } else {
        None
    };
    let assists = if dimension != Dimension::LandingPage && wants_assists(ctx) {
        Some(super::paths::assists(ctx, dimension, &c, version, cache).await?)
    } else {
        None
    };
    let mut rows: Vec<reports::Row> = all
        .iter()
        .filter(|r| filter.keeps(&r.key))
        .cloned()
        .collect();
    let order = order_by.unwrap_or_default();
    reports::sort_rows(&mut rows, order.field.into(), order.direction.into());
    let total = rows.len();
    let page: Vec<ReportRow> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|row| {
            let of_row = revenue
                .as_ref()
                .map(|by_key| Arc::new(by_key.get(&row.key).cloned().unwrap_or_default()));
            let assisted = assists
                .as_ref()
                .map(|by_key| by_key.get(&row.key).copied().unwrap_or_default());
            ReportRow(row, of_row, assisted)
        })
        .collect();
    let end = offset + page.len();
    Ok(ReportConnection {
        total_count: total as u64,
        page_info: PageInfo {
            has_previous_page: offset > 0,
            has_next_page: end < total,
            start_cursor: (!page.is_empty()).then(|| offset_cursor(offset)),
            end_cursor: (!page.is_empty()).then(|| offset_cursor(end - 1)),
        },
        nodes: page,
    })
}

/// Every row of a report under `c` (unfiltered, unsorted), from the rollups
/// when they can answer and from the derived rows otherwise, cached at the
/// derived-data version; with that version and the cache. What
/// `campaigns`, `sources`, `channels`, `landingPages` and `modelComparison`
/// all read, so the last equals the others by construction.
pub(super) async fn report_rows<'c>(
    ctx: &Context<'c>,
    dimension: Dimension,
    c: &Common,
    wants_users: bool,
) -> async_graphql::Result<(Arc<Vec<reports::Row>>, i64, &'c ReportCache)> {
    let store = ctx.data::<Store>()?;
    let settings = ctx.data::<Arc<Settings>>()?;
    let materializer = ctx.data::<Materializer>()?;
    let names = source::names_for(&c.conversion);
    let rolled = rollup_reading(materializer, settings, c, &names).filter(|_| !wants_users);
    let (version, cache) = current(store, materializer).await?;
    let key = format!(
        "rows|{dimension:?}|{:?}|{}|{}|{}|{wants_users}",
        c.range,
        c.model.as_str(),
        c.conversion,
        c.lookback_days
    );
    let all = match cache.get(&key, version) {
        Some(Cached::Rows(rows)) => rows,
        _ => {
            let rows = match rolled {
                Some(reading) => rolled::rows(store, reading, dimension, c.range)
                    .await
                    .map_err(internal)?,
                None => {
                    // Three independent reads: run them side by side on the pool.
                    let (credits, touches, spend) = tokio::try_join!(
                        source::credits(
                            store,
                            materializer,
                            settings,
                            c.range,
                            &names,
                            c.model,
                            days(c.lookback_days),
                        ),
                        source::touch_counts(store, materializer, dimension, c.range),
                        source::spend(store, c.range),
                    )
                    .map_err(internal)?;
                    reports::aggregate(
                        dimension,
                        credits.of(&c.conversion),
                        credits.of(TRIAL),
                        &touches,
                        &spend,
                    )
                }
            };
            let rows = Arc::new(rows);
            cache.put(key, version, Cached::Rows(rows.clone()));
            rows
        }
    };
    Ok((all, version, cache))
}

/// The revenue fields of a report row: any of them makes the report read
/// the acquisitions of its range.
const REVENUE_FIELDS: &[&str] = &[
    "acquisitions",
    "revenue",
    "ltv",
    "roas",
    "paybackDays",
    "netConversions",
    "churnRate",
    "revenueComplete",
    "maturedShare",
];

/// The overview's revenue fields: any of them reads the range's revenue.
const OVERVIEW_REVENUE_FIELDS: &[&str] =
    &["revenue", "arpu", "cac", "ltv", "ltvToCac", "acquisitions"];

fn wants_revenue(ctx: &Context<'_>) -> bool {
    let nodes = ctx.look_ahead().field("nodes");
    REVENUE_FIELDS.iter().any(|f| nodes.field(f).exists())
}

/// The assist fields of a report row: any of them makes the report read its
/// conversions' touchpoints in play (see `super::paths::assists`).
const ASSIST_FIELDS: &[&str] = &["assistedConversions", "lastClickConversions", "assistRatio"];

fn wants_assists(ctx: &Context<'_>) -> bool {
    let nodes = ctx.look_ahead().field("nodes");
    ASSIST_FIELDS.iter().any(|f| nodes.field(f).exists())
}

/// The acquisitions of the report's range with their credits under its
/// model (cached at the derived-data version). Their credits must be
/// materialised: revenue is not computed from journeys on the fly.
async fn acquisitions_of(
    ctx: &Context<'_>,
    c: &Common,
    version: i64,
    cache: &ReportCache,
) -> async_graphql::Result<Arc<Vec<revenue::CreditedAcquisition>>> {
    let store = ctx.data::<Store>()?;
    let settings = ctx.data::<Arc<Settings>>()?;
    let materializer = ctx.data::<Materializer>()?;
    let lookback =
        source::materialised_lookback(materializer, settings, &[SIGNUP], days(c.lookback_days))
            .ok_or_else(|| {
                bad_input(format!(
                    "revenue figures need signup credits materialised at a lookback of {} days: \
                     use LOOKBACK_DAYS or one of LOOKBACK_WINDOWS",
                    c.lookback_days
                ))
            })?;
    let key = format!("acq|{:?}|{}|{lookback}", c.range, c.model.as_str());
    if let Some(Cached::Acquisitions(a)) = cache.get(&key, version) {
        return Ok(a);
    }
    let a = Arc::new(
        source::acquisitions(store, c.model, lookback, c.range)
            .await
            .map_err(internal)?,
    );
    cache.put(key, version, Cached::Acquisitions(a.clone()));
    Ok(a)
}

/// The rollups' reading of a report, when they can answer it: rollups on,
/// and credits materialised at its lookback for every name it needs.
fn rollup_reading<'a>(
    materializer: &Materializer,
    settings: &Settings,
    c: &'a Common,
    names: &[&str],
) -> Option<rolled::Reading<'a>> {
    if !materializer.plan().rollups {
        return None;
    }
    source::materialised_lookback(materializer, settings, names, days(c.lookback_days)).map(
        |lookback_days| rolled::Reading {
            model: c.model,
            lookback_days,
            conversion: &c.conversion,
        },
    )
}

/// The derived-data version once nothing acknowledged awaits the
/// materialiser (flushing it first if something does): a cached answer at
/// that version is exactly what computing now would give.
pub(super) async fn current<'m>(
    store: &Store,
    materializer: &'m Materializer,
) -> async_graphql::Result<(i64, &'m ReportCache)> {
    let (mut version, queued) = store.derived_state().await.map_err(internal)?;
    if queued || !materializer.is_aligned() {
        materializer.flush().await.map_err(internal)?;
        version = store.derived_version().await.map_err(internal)?;
    }
    Ok((version, materializer.cache()))
}

/// The overview folded from the derived rows (rollups off, or a lookback
/// that is not materialised).
async fn computed_overview(
    store: &Store,
    materializer: &Materializer,
    settings: &Settings,
    c: &Common,
    names: &[&str],
) -> async_graphql::Result<Overview> {
    let count = |name: &str| {
        let filter = EventFilter {
            name: Some(name.to_owned()),
            range: c.range,
            ..EventFilter::default()
        };
        async move { store.count_events(&filter).await }
    };
    // Independent reads, side by side on the pool.
    let (credits, (pageviews, visitors), signups, trials, unsubscribes) = tokio::try_join!(
        source::credits(
            store,
            materializer,
            settings,
            c.range,
            names,
            c.model,
            days(c.lookback_days),
        ),
        store.pageview_totals(&c.range),
        count(SIGNUP),
        count(TRIAL),
        count("unsubscribe"),
    )
    .map_err(internal)?;
    let trial_to_signup = credits
        .of(SIGNUP)
        .iter()
        .filter(|c| c.from_trial)
        .map(|c| c.conversion_id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    let base = Overview {
        pageviews,
        visitors,
        signups,
        trials,
        trial_to_signup,
        unsubscribes,
        ..Overview::default()
    };
    Ok(reports::overview(base, credits.of(&c.conversion)))
}

/// Arguments every report takes, documented once here: `range` is half-open
/// on the conversion time (touchpoints and spend: on their own time / day);
/// no range means all time. `model` splits each conversion's credit;
/// `conversion` is the event name counted; `lookbackDays` overrides
/// `LOOKBACK_DAYS`; `orderBy` defaults to conversions descending with ties
/// broken by the key.
#[Object]
impl ReportsQuery {
    /// One row per (campaign, source, medium) credited with a conversion, or
    /// with a touchpoint or spend in range (with 0 conversions then).
    /// Conversions without a campaign are grouped under a null campaign;
    /// conversions without any touchpoint under source `(not set)`.
    /// `campaign` and `source` keep only the rows of that campaign / source
    /// ("how is this campaign doing?").
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default_with = "AttributionModelGql::LastClick")] model: AttributionModelGql,
        #[graphql(default = "signup")] conversion: String,
        lookback_days: Option<i32>,
        order_by: Option<ReportOrder>,
        first: Option<i32>,
        after: Option<String>,
        campaign: Option<String>,
        source: Option<String>,
    ) -> async_graphql::Result<ReportConnection> {
        report(
            ctx,
            Dimension::Campaign,
            range,
            model,
            conversion,
            lookback_days,
            order_by,
            first,
            after,
            RowFilter { campaign, source },
        )
        .await
    }

    /// One row per source.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn sources(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default_with = "AttributionModelGql::LastClick")] model: AttributionModelGql,
        #[graphql(default = "signup")] conversion: String,
        lookback_days: Option<i32>,
        order_by: Option<ReportOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ReportConnection> {
        report(
            ctx,
            Dimension::Source,
            range,
            model,
            conversion,
            lookback_days,
            order_by,
            first,
            after,
            RowFilter::default(),
        )
        .await
    }

    /// One row per channel.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn channels(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default_with = "AttributionModelGql::LastClick")] model: AttributionModelGql,
        #[graphql(default = "signup")] conversion: String,
        lookback_days: Option<i32>,
        order_by: Option<ReportOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ReportConnection> {
        report(
            ctx,
            Dimension::Channel,
            range,
            model,
            conversion,
            lookback_days,
            order_by,
            first,
            after,
            RowFilter::default(),
        )
        .await
    }

    /// One row per landing page of the credited touchpoint.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn landing_pages(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default_with = "AttributionModelGql::LastClick")] model: AttributionModelGql,
        #[graphql(default = "signup")] conversion: String,
        lookback_days: Option<i32>,
        order_by: Option<ReportOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ReportConnection> {
        report(
            ctx,
            Dimension::LandingPage,
            range,
            model,
            conversion,
            lookback_days,
            order_by,
            first,
            after,
            RowFilter::default(),
        )
        .await
    }

    /// Headline numbers for a range: traffic, signups, trials, the
    /// trial→signup rate, unsubscribes, and the paid / organic / direct share
    /// of the counted conversions' credit under the model.
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn overview(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default_with = "AttributionModelGql::LastClick")] model: AttributionModelGql,
        #[graphql(default = "signup")] conversion: String,
        lookback_days: Option<i32>,
    ) -> async_graphql::Result<OverviewGql> {
        let store = ctx.data::<Store>()?;
        let settings = ctx.data::<Arc<Settings>>()?;
        let c = common(ctx, range, model, conversion, lookback_days)?;
        let materializer = ctx.data::<Materializer>()?;
        let names = source::names_for(&c.conversion);
        let (version, cache) = current(store, materializer).await?;
        let key = format!(
            "overview|{:?}|{}|{}|{}",
            c.range,
            c.model.as_str(),
            c.conversion,
            c.lookback_days
        );
        // Revenue, ARPU, CAC and LTV do not depend on the model: every
        // acquisition and every booked amount in range counts once.
        let wants = OVERVIEW_REVENUE_FIELDS
            .iter()
            .any(|f| ctx.look_ahead().field(f).exists());
        let revenue = if wants {
            let (acquisitions, facts, spend) = tokio::try_join!(
                acquisitions_of(ctx, &c, version, cache),
                async { store.revenue_in(&c.range).await.map_err(internal) },
                async { source::spend(store, c.range).await.map_err(internal) },
            )?;
            Some(Arc::new(revenue::RevenueOverview::new(
                &facts,
                acquisitions.iter().map(|a| a.acquisition.clone()).collect(),
                spend.iter().map(|s| s.micros).sum(),
            )))
        } else {
            None
        };
        if let Some(Cached::Overview(o)) = cache.get(&key, version) {
            return Ok(OverviewGql((*o).clone(), revenue));
        }
        let needs = [c.conversion.as_str(), SIGNUP];
        let overview = match rollup_reading(materializer, settings, &c, &needs) {
            Some(reading) => rolled::overview(store, reading, c.range)
                .await
                .map_err(internal)?,
            None => computed_overview(store, materializer, settings, &c, &names).await?,
        };
        cache.put(key, version, Cached::Overview(Arc::new(overview.clone())));
        Ok(OverviewGql(overview, revenue))
    }

    /// Conversions per bucket in an IANA time zone, every bucket present.
    /// Without a range, the last 30 days up to now.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn timeseries(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default_with = "IntervalGql::Day")] interval: IntervalGql,
        #[graphql(default = "UTC")] timezone: String,
        #[graphql(default_with = "GroupByGql::None")] group_by: GroupByGql,
        #[graphql(default_with = "AttributionModelGql::LastClick")] model: AttributionModelGql,
        #[graphql(default = "signup")] conversion: String,
        lookback_days: Option<i32>,
    ) -> async_graphql::Result<Timeseries> {
        let store = ctx.data::<Store>()?;
        let settings = ctx.data::<Arc<Settings>>()?;
        let tz: chrono_tz::Tz = timezone
            .parse()
            .map_err(|_| bad_input(format!("`timezone` '{timezone}' is not an IANA time zone")))?;
        let mut c = common(ctx, range, model, conversion, lookback_days)?;
        let to = c.range.to.unwrap_or_else(Utc::now);
        let from = c.range.from.unwrap_or(to - chrono::Duration::days(30));
        let edges = reports::buckets(from, to, interval.into(), tz, MAX_BUCKETS)
            .map_err(|e| bad_input(e.to_string()))?;
        // Whole buckets: the first and last may reach beyond the range.
        c.range = TimeRange {
            from: edges.first().copied(),
            to: edges.last().copied(),
        };
        let materializer = ctx.data::<Materializer>()?;
        let group: reports::GroupBy = group_by.into();
        let (version, cache) = current(store, materializer).await?;
        let key = format!(
            "series|{:?}|{}|{group:?}|{:?}|{}|{}|{}",
            c.range,
            tz.name(),
            interval,
            c.model.as_str(),
            c.conversion,
            c.lookback_days
        );
        let series = match cache.get(&key, version) {
            Some(Cached::Series(series)) => series,
            _ => {
                let needs = [c.conversion.as_str()];
                let series = match rollup_reading(materializer, settings, &c, &needs) {
                    Some(reading) => rolled::series(store, reading, &edges, group)
                        .await
                        .map_err(internal)?,
                    None => {
                        let credits = source::credits(
                            store,
                            materializer,
                            settings,
                            c.range,
                            &needs,
                            c.model,
                            days(c.lookback_days),
                        )
                        .await
                        .map_err(internal)?;
                        reports::timeseries(credits.of(&c.conversion), &edges, group)
                    }
                };
                let series = Arc::new(series);
                cache.put(key, version, Cached::Series(series.clone()));
                series
            }
        };
        Ok(Timeseries {
            timezone: tz.name().to_owned(),
            interval,
            series: series
                .iter()
                .cloned()
                .map(|s| TimeseriesSeries {
                    key: s.key,
                    channel: s.channel.map(Into::into),
                    total: s.values.iter().sum(),
                    points: s
                        .values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| TimeseriesPoint {
                            start: edges[i].into(),
                            end: edges[i + 1].into(),
                            conversions: *v,
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// Acquisition cohorts: one row per interval of the range (in the time
    /// zone) and key, for the acquisitions (first signups) in it, with the
    /// credited revenue and retention of each following period. Without a
    /// range: the 12 months (or 12 weeks) up to now.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn cohorts(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default_with = "CohortIntervalGql::Month")] interval: CohortIntervalGql,
        #[graphql(default = "UTC")] timezone: String,
        #[graphql(default_with = "GroupByGql::None")] group_by: GroupByGql,
        #[graphql(default_with = "AttributionModelGql::LastClick")] model: AttributionModelGql,
        lookback_days: Option<i32>,
        #[graphql(default = 12)] periods: i32,
    ) -> async_graphql::Result<Vec<CohortGql>> {
        let store = ctx.data::<Store>()?;
        let tz: chrono_tz::Tz = timezone
            .parse()
            .map_err(|_| bad_input(format!("`timezone` '{timezone}' is not an IANA time zone")))?;
        if !(1..=MAX_COHORT_PERIODS).contains(&periods) {
            return Err(bad_input(format!(
                "`periods` must be between 1 and {MAX_COHORT_PERIODS}, not {periods}"
            )));
        }
        let mut c = common(ctx, range, model, SIGNUP.to_owned(), lookback_days)?;
        let now = Utc::now();
        let to = c.range.to.unwrap_or(now);
        let from = c.range.from.unwrap_or(match interval {
            CohortIntervalGql::Month => to - chrono::Duration::days(365),
            CohortIntervalGql::Week => to - chrono::Duration::weeks(12),
        });
        c.range = TimeRange {
            from: Some(from),
            to: Some(to),
        };
        let edges = reports::buckets(from, to, interval.into(), tz, MAX_BUCKETS)
            .map_err(|e| bad_input(e.to_string()))?;
        let materializer = ctx.data::<Materializer>()?;
        let (version, cache) = current(store, materializer).await?;
        let (acquisitions, spend) =
            tokio::try_join!(acquisitions_of(ctx, &c, version, cache), async {
                store
                    .spend_between(
                        Some(from.date_naive()),
                        Some(to.date_naive() + chrono::Days::new(1)),
                    )
                    .await
                    .map_err(internal)
            },)?;
        let spend: Vec<revenue::DatedSpend> = spend
            .into_iter()
            .map(|r| revenue::DatedSpend {
                day_start: r.date.and_time(chrono::NaiveTime::MIN).and_utc(),
                fact: reports::SpendFact {
                    campaign: r.campaign,
                    source: r.source,
                    medium: r.medium,
                    micros: r.amount_micros,
                },
            })
            .collect();
        let group: reports::GroupBy = group_by.into();
        let cohorts = revenue::cohorts(
            &acquisitions,
            &spend,
            (from, to),
            &edges,
            interval.into(),
            tz,
            group,
            periods as usize,
            now,
        );
        Ok(cohorts.into_iter().map(|c| CohortGql(c, group)).collect())
    }
}
