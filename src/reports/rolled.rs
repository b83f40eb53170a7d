//! Gathers a report from the rollups: the cells of the whole days and hours
//! of its range, and the derived rows of its sub-hour ends (see `pieces`),
//! merged in time order. The answers are those of folding every derived row
//! of the range (`source` + the row fold), which a test checks for random
//! ranges, zones and models.
//!
//! The caller flushes the materialiser first (so no acknowledged write is
//! missing from the cells) and decides eligibility with
//! [`source::materialised_lookback`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::DbErr;

use super::cells::{self, CellDim, CreditCell, Grain, TouchCell};
use super::pieces::{bounds, pieces, Piece};
use super::rows::{Credited, Dimension, Overview, Row};
use super::source::{self, credited_of};
use super::timeseries::{GroupBy, Series};
use crate::attribution::{Model, SIGNUP, TRIAL};
use crate::store::{EventFilter, Store, TimeRange};

fn bad_cell(e: cells::CellError) -> DbErr {
    DbErr::Custom(e.to_string())
}

/// What one report reads: a lookback whose credits are materialised, a model.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    pub model: Model,
    pub lookback_days: i32,
    pub conversion: &'a str,
}

/// Merges the credit cells of `names` under `dim` in `[from, to)` of one
/// grain into `into` (by name).
async fn add_credit_cells(
    store: &Store,
    r: Reading<'_>,
    dim: CellDim,
    names: &[String],
    (grain, from, to): (Grain, i64, i64),
    into: &mut BTreeMap<String, CreditCell>,
) -> Result<(), DbErr> {
    for (name, _, data) in store
        .credit_cells(grain, dim.code(), r.lookback_days, names, from, to)
        .await?
    {
        let cell = cells::decode_model(&data, r.model.as_str()).map_err(bad_cell)?;
        cells::merge_credits(into.entry(name).or_default(), &cell);
    }
    Ok(())
}

/// Merges the derived credit rows of `names` in `[from, to)` under `dim`.
async fn add_raw_credits(
    store: &Store,
    r: Reading<'_>,
    dims: &[CellDim],
    names: &[String],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    into: &mut [BTreeMap<String, CreditCell>],
) -> Result<(), DbErr> {
    let range = TimeRange {
        from: Some(from),
        to: Some(to),
    };
    let rows: Vec<Credited> = store
        .credits_in(r.model, r.lookback_days, names, &range)
        .await?
        .into_iter()
        .filter_map(|c| credited_of(&c, r.model))
        .collect();
    for name in names {
        let of_name: Vec<&Credited> = rows.iter().filter(|c| &c.name == name).collect();
        if of_name.is_empty() {
            continue;
        }
        for (dim, into) in dims.iter().zip(into.iter_mut()) {
            cells::merge_credits(
                into.entry(name.clone()).or_default(),
                &cells::credit_cell(*dim, &of_name),
            );
        }
    }
    Ok(())
}

/// Report rows of `dimension` over `range` (`userIds` left empty).
pub async fn rows(
    store: &Store,
    r: Reading<'_>,
    dimension: Dimension,
    range: TimeRange,
) -> Result<Vec<Row>, DbErr> {
    let dim = CellDim::Report(dimension);
    let names: Vec<String> = [r.conversion, TRIAL]
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut credits: BTreeMap<String, CreditCell> = BTreeMap::new();
    let mut touches = TouchCell::new();
    let (from, to) = bounds(range.from, range.to);
    for piece in pieces(from, to) {
        match piece {
            Piece::Cells { grain, from, to } => {
                add_credit_cells(store, r, dim, &names, (grain, from, to), &mut credits).await?;
                for (_, data) in store.touch_cells(grain, dim.code(), from, to).await? {
                    let cell = cells::decode_touches(&data).map_err(bad_cell)?;
                    cells::merge_touches(&mut touches, &cell);
                }
            }
            Piece::Raw { from, to } => {
                add_raw_credits(
                    store,
                    r,
                    &[dim],
                    &names,
                    (from, to),
                    std::slice::from_mut(&mut credits),
                )
                .await?;
                let raw = store.visitor_touches(from, to).await?;
                let keyed = raw
                    .iter()
                    .map(|t| {
                        Ok((
                            u32::try_from(t.visitor)
                                .map_err(|_| DbErr::Custom("visitor id out of range".into()))?,
                            super::TouchKey {
                                campaign: t.campaign.clone(),
                                source: t.source.clone(),
                                medium: t.medium.clone(),
                                channel: t
                                    .channel
                                    .parse()
                                    .unwrap_or(crate::domain::Channel::Unassigned),
                                landing_page: t.landing_page.clone(),
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, DbErr>>()?;
                cells::merge_touches(
                    &mut touches,
                    &cells::touch_cell(dim, keyed.iter().map(|(v, k)| (*v, k))),
                );
            }
        }
    }
    let spend = source::spend(store, range).await?;
    let empty = CreditCell::new();
    Ok(cells::rows_from_cells(
        dimension,
        credits.get(r.conversion).unwrap_or(&empty),
        credits.get(TRIAL).unwrap_or(&empty),
        &touches,
        &spend,
    ))
}

/// The overview over `range`.
pub async fn overview(store: &Store, r: Reading<'_>, range: TimeRange) -> Result<Overview, DbErr> {
    let channel = CellDim::Report(Dimension::Channel);
    let counted = vec![r.conversion.to_owned()];
    let signups = vec![SIGNUP.to_owned()];
    let both: Vec<String> = [r.conversion, SIGNUP]
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    // [0]: the counted conversion by channel; [1]: signups in total.
    let mut credits = [BTreeMap::new(), BTreeMap::new()];
    let mut traffic = TouchCell::new();
    let (from, to) = bounds(range.from, range.to);
    for piece in pieces(from, to) {
        match piece {
            Piece::Cells { grain, from, to } => {
                let span = (grain, from, to);
                add_credit_cells(store, r, channel, &counted, span, &mut credits[0]).await?;
                add_credit_cells(store, r, CellDim::All, &signups, span, &mut credits[1]).await?;
                for (_, data) in store
                    .touch_cells(grain, CellDim::Traffic.code(), from, to)
                    .await?
                {
                    let cell = cells::decode_touches(&data).map_err(bad_cell)?;
                    cells::merge_touches(&mut traffic, &cell);
                }
            }
            Piece::Raw { from, to } => {
                add_raw_credits(
                    store,
                    r,
                    &[channel, CellDim::All],
                    &both,
                    (from, to),
                    &mut credits,
                )
                .await?;
                let ids = store
                    .visitor_pageviews(from, to)
                    .await?
                    .into_iter()
                    .map(|(v, _)| {
                        u32::try_from(v)
                            .map_err(|_| DbErr::Custom("visitor id out of range".into()))
                    })
                    .collect::<Result<Vec<_>, DbErr>>()?;
                cells::merge_touches(&mut traffic, &cells::traffic_cell(ids));
            }
        }
    }
    let count = |name: &str| {
        let filter = EventFilter {
            name: Some(name.to_owned()),
            range,
            ..EventFilter::default()
        };
        async move { store.count_events(&filter).await }
    };
    let (signup_count, trials, unsubscribes) =
        tokio::try_join!(count(SIGNUP), count(TRIAL), count("unsubscribe"))?;
    let total = traffic.get("").cloned().unwrap_or_default();
    let trial_to_signup = credits[1]
        .get(SIGNUP)
        .and_then(|c| c.get(""))
        .map_or(0, |s| u64::from(s.converted_from_trial));
    let base = Overview {
        pageviews: total.count,
        visitors: total.visitors.len(),
        signups: signup_count,
        trials,
        trial_to_signup,
        unsubscribes,
        ..Overview::default()
    };
    let empty = CreditCell::new();
    Ok(cells::overview_from_cells(
        base,
        credits[0].get(r.conversion).unwrap_or(&empty),
    ))
}

/// Runs of `[from, to)` spans: adjacent ones, or ones closer than `gap`,
/// read with one query.
fn runs(mut spans: Vec<(i64, i64)>, gap: i64) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (from, to) in spans {
        match out.last_mut() {
            Some((_, end)) if from - *end <= gap => *end = (*end).max(to),
            _ => out.push((from, to)),
        }
    }
    out
}

/// The conversions per bucket between `edges`, grouped by `group`.
pub async fn series(
    store: &Store,
    r: Reading<'_>,
    edges: &[DateTime<Utc>],
    group: GroupBy,
) -> Result<Vec<Series>, DbErr> {
    let dim = cells::series_dim(group);
    let names = vec![r.conversion.to_owned()];
    let per_bucket: Vec<Vec<Piece>> = edges.windows(2).map(|w| pieces(w[0], w[1])).collect();
    let mut spans: BTreeMap<Grain, Vec<(i64, i64)>> = BTreeMap::new();
    let mut raw: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for p in per_bucket.iter().flatten() {
        match *p {
            Piece::Cells { grain, from, to } => spans.entry(grain).or_default().push((from, to)),
            Piece::Raw { from, to } => raw.push((from, to)),
        }
    }
    // Every fetched cell, by (grain, bucket).
    let mut fetched: BTreeMap<(Grain, i64), CreditCell> = BTreeMap::new();
    for (grain, spans) in spans {
        for (from, to) in runs(spans, Grain::Day.seconds()) {
            for (_, bucket, data) in store
                .credit_cells(grain, dim.code(), r.lookback_days, &names, from, to)
                .await?
            {
                let cell = cells::decode_model(&data, r.model.as_str()).map_err(bad_cell)?;
                fetched.insert((grain, bucket), cell);
            }
        }
    }
    // The raw credits of each bucket's sub-hour ends.
    let mut raw_by_bucket: Vec<Vec<Credited>> = vec![Vec::new(); per_bucket.len()];
    if !raw.is_empty() {
        let ranges: Vec<TimeRange> = raw
            .iter()
            .map(|(from, to)| TimeRange {
                from: Some(*from),
                to: Some(*to),
            })
            .collect();
        for c in store
            .credits_in_ranges(r.model, r.lookback_days, &names, &ranges)
            .await?
            .into_iter()
            .filter_map(|c| credited_of(&c, r.model))
        {
            let in_raw = raw
                .binary_search_by(|(from, to)| {
                    if *to <= c.at {
                        std::cmp::Ordering::Less
                    } else if *from > c.at {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
                .is_ok();
            let bucket = edges.partition_point(|e| *e <= c.at);
            if in_raw && bucket > 0 && bucket <= raw_by_bucket.len() {
                raw_by_bucket[bucket - 1].push(c);
            }
        }
    }
    let mut merged = Vec::with_capacity(per_bucket.len());
    for (pieces, raw) in per_bucket.iter().zip(&raw_by_bucket) {
        let mut cell = CreditCell::new();
        for p in pieces {
            if let Piece::Cells { grain, from, to } = *p {
                for (_, c) in fetched.range((grain, from)..(grain, to)) {
                    cells::merge_credits(&mut cell, c);
                }
            }
        }
        if !raw.is_empty() {
            let refs: Vec<&Credited> = raw.iter().collect();
            cells::merge_credits(&mut cell, &cells::credit_cell(dim, &refs));
        }
        merged.push(cell);
    }
    Ok(cells::series_from_cells(group, &merged))
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn spans_closer_than_the_gap_are_read_together() {
        assert_eq!(
            runs(vec![(10, 20), (0, 5), (40, 50)], 10),
            vec![(0, 20), (40, 50)]
        );
        assert_eq!(runs(vec![(0, 5), (5, 9)], 0), vec![(0, 9)]);
    }
}
