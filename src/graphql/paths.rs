//! The path queries of issue 16: `paths`, `pathLengths`, `modelComparison`,
//! and the assists of report rows. Thin: arguments in, `reports::source`
//! gathers each conversion's touchpoints in play, the pure
//! `reports::paths` and `reports::comparison` fold, rows out.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::PageInfo;
use async_graphql::{Context, Object};

use super::args::days;
use super::error::{bad_input, internal};
use super::pagination::page_size;
use super::reports::{
    common, current, offset_cursor, parse_offset, report_rows, Common, REPORT_COMPLEXITY,
};
use super::types::paths::{
    ConversionPath, ConversionPathConnection, ModelComparisonRow, PathDimensionGql, PathLengthGql,
    ReportDimensionGql,
};
use super::types::{AttributionModelGql, DateRange};
use crate::attribution::{Model, Settings};
use crate::config::ServeConfig;
use crate::reports::cache::{Cached, ReportCache};
use crate::reports::paths::{self, Assists, InPlay};
use crate::reports::{comparison, source, Dimension, Row, RowKey};
use crate::store::Store;

/// Conversion paths, path lengths and the model comparison.
#[derive(Default)]
pub struct PathsQuery;

/// The conversions of `c`'s name in its range with their touchpoints in
/// play at its lookback, oldest first, cached at the derived-data
/// `version`: one computation serves the paths, the path lengths and the
/// assists of every report asking for the same range. See
/// [`source::in_play`] for what a miss costs.
async fn in_play(
    ctx: &Context<'_>,
    c: &Common,
    version: i64,
    cache: &ReportCache,
) -> async_graphql::Result<Arc<Vec<InPlay>>> {
    let key = format!("inplay|{:?}|{}|{}", c.range, c.conversion, c.lookback_days);
    if let Some(Cached::InPlay(conversions)) = cache.get(&key, version) {
        return Ok(conversions);
    }
    let store = ctx.data::<Store>()?;
    let settings = ctx.data::<Arc<Settings>>()?;
    let conversions = Arc::new(
        source::in_play(
            store,
            settings,
            c.range,
            &c.conversion,
            days(c.lookback_days),
        )
        .await
        .map_err(internal)?,
    );
    cache.put(key, version, Cached::InPlay(conversions.clone()));
    Ok(conversions)
}

/// The assists of a report's keys: over the conversions of the report's
/// name, range and lookback, whatever its model (see
/// [`paths::assists`]).
pub(super) async fn assists(
    ctx: &Context<'_>,
    dimension: Dimension,
    c: &Common,
    version: i64,
    cache: &ReportCache,
) -> async_graphql::Result<HashMap<RowKey, Assists>> {
    let conversions = in_play(ctx, c, version, cache).await?;
    Ok(paths::assists(dimension, &conversions))
}

/// The conversions in range at the default lookback, for `paths` and
/// `pathLengths`.
async fn conversions_of(
    ctx: &Context<'_>,
    range: Option<DateRange>,
    conversion: String,
) -> async_graphql::Result<Arc<Vec<InPlay>>> {
    let c = common(ctx, range, AttributionModelGql::LastClick, conversion, None)?;
    let store = ctx.data::<Store>()?;
    let materializer = ctx.data::<crate::materialize::Materializer>()?;
    let (version, cache) = current(store, materializer).await?;
    in_play(ctx, &c, version, cache).await
}

/// `range` is half-open on the conversion time (no range: all time);
/// `conversion` is the event name counted. A conversion's touchpoints in
/// play are those of the `conversions` query at `LOOKBACK_DAYS`: what every
/// model splits credit over.
#[Object]
impl PathsQuery {
    /// One row per distinct sequence of `dimension`'s values over a
    /// conversion's touchpoints in play, oldest first (a conversion without
    /// touchpoints has the empty path), ordered by conversions descending,
    /// then by the steps joined with " > ". CHANNEL steps are the channels'
    /// names (`PAID_SOCIAL`); SOURCE steps the sources (`(direct)` for a
    /// direct visit); CAMPAIGN steps the campaigns, "(not set)" for a
    /// touchpoint without one. `collapseRepeats` merges consecutive equal
    /// steps (`PAID_SOCIAL > PAID_SOCIAL > DIRECT` is `PAID_SOCIAL > DIRECT`).
    ///
    /// Read from the journeys of the conversions in range (the materialised
    /// credits keep no touchpoint order): linear in those journeys' facts,
    /// cached until the data changes.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn paths(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default = "signup")] conversion: String,
        #[graphql(default_with = "PathDimensionGql::Channel")] dimension: PathDimensionGql,
        #[graphql(default = false)] collapse_repeats: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ConversionPathConnection> {
        let config = ctx.data::<Arc<ServeConfig>>()?;
        let limit = page_size(first, config.limits.max_page_size)?;
        let offset = parse_offset(after)?;
        let conversions = conversions_of(ctx, range, conversion).await?;
        let dimension: paths::PathDimension = dimension.into();
        let steps: Vec<paths::ConversionSteps> =
            conversions.iter().map(|c| c.steps(dimension)).collect();
        let rows = paths::paths(&steps, collapse_repeats);
        let total = rows.len();
        let page: Vec<ConversionPath> = rows
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(ConversionPath::from)
            .collect();
        let end = offset + page.len();
        Ok(ConversionPathConnection {
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

    /// How many conversions in range had 0, 1, 2, … touchpoints in play,
    /// ascending; only the lengths that occur. Reads what `paths` reads.
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn path_lengths(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        #[graphql(default = "signup")] conversion: String,
    ) -> async_graphql::Result<Vec<PathLengthGql>> {
        let conversions = conversions_of(ctx, range, conversion).await?;
        let dimension = paths::PathDimension::Channel;
        let steps: Vec<paths::ConversionSteps> =
            conversions.iter().map(|c| c.steps(dimension)).collect();
        Ok(paths::path_lengths(&steps)
            .into_iter()
            .map(PathLengthGql::from)
            .collect())
    }

    /// One row per key credited with conversions under at least one of
    /// `models`, with `conversions` in the order of `models` (each the
    /// `conversions` of the key's row in that model's `channels`, `sources`,
    /// `campaigns` or `landingPages` report at `LOOKBACK_DAYS`) and `change`
    /// against the first model; ordered by the first model's conversions
    /// descending, then by the key. Conversions without touchpoints are
    /// under UNASSIGNED / `(not set)`, as in the reports. At most `first`
    /// rows (default 20).
    ///
    /// Each model's rows are the report's own (rollups or derived rows,
    /// cached), so this costs one report per distinct model.
    #[graphql(complexity = "REPORT_COMPLEXITY + child_complexity")]
    async fn model_comparison(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRange>,
        models: Vec<AttributionModelGql>,
        #[graphql(default_with = "ReportDimensionGql::Channel")] dimension: ReportDimensionGql,
        #[graphql(default = "signup")] conversion: String,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<ModelComparisonRow>> {
        let Some(&head) = models.first() else {
            return Err(bad_input("`models` must name at least one model"));
        };
        let config = ctx.data::<Arc<ServeConfig>>()?;
        let limit = page_size(first, config.limits.max_page_size)?;
        // One resolved range for every model: `lastDays` must not move
        // between them.
        let base = common(ctx, range, head, conversion, None)?;
        let dimension: Dimension = dimension.into();
        let mut computed: Vec<(Model, Arc<Vec<Row>>)> = Vec::new();
        for model in models.iter().map(|m| Model::from(*m)) {
            if computed.iter().any(|(m, _)| *m == model) {
                continue;
            }
            let c = Common {
                model,
                ..base.clone()
            };
            let (rows, _, _) = report_rows(ctx, dimension, &c, false).await?;
            computed.push((model, rows));
        }
        let per_model: Vec<&[Row]> = models
            .iter()
            .filter_map(|m| {
                let model = Model::from(*m);
                computed
                    .iter()
                    .find(|(c, _)| *c == model)
                    .map(|(_, rows)| rows.as_slice())
            })
            .collect();
        Ok(comparison::compare(&per_model)
            .into_iter()
            .take(limit)
            .map(|r| ModelComparisonRow {
                key: r.key,
                conversions: r.conversions,
                change: r.change,
            })
            .collect())
    }
}
