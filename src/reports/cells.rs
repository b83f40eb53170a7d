//! Rollup cells: what one bucket (an hour or a UTC day) of derived rows
//! contributes to a report, small enough to store and merge.
//!
//! A cell is exact, not an estimate: credit sums, the counts behind the
//! averages, every time to convert (for exact medians; a bucket holds few
//! conversions) and, for touchpoints, the set of visitors as a compressed
//! bitmap of dense visitor ids, so the visitors of any range are the
//! cardinality of a union. Merging cells is associative and, done in bucket
//! order, deterministic: the same facts give the same bits.
//!
//! Pure: built from rows the caller read, encoded to bytes for the store.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::rows::{Credited, Dimension, Overview, Row, RowKey, SpendFact, TimeStats, TouchKey};
use super::timeseries::{GroupBy, Series};
use crate::domain::Channel;

/// Bucket width of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Hour,
    Day,
}

impl Grain {
    pub const fn seconds(self) -> i64 {
        match self {
            Grain::Hour => 3_600,
            Grain::Day => 86_400,
        }
    }

    /// The stored code.
    pub const fn code(self) -> i16 {
        match self {
            Grain::Hour => 0,
            Grain::Day => 1,
        }
    }

    /// The start of the bucket holding `secs` (seconds since the epoch).
    pub const fn floor(self, secs: i64) -> i64 {
        secs.div_euclid(self.seconds()) * self.seconds()
    }
}

/// What a cell groups by: the four report dimensions, `All` (one key: the
/// overview's and an ungrouped time series' totals) and `Traffic` (pageviews
/// rather than touchpoints, one key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellDim {
    Report(Dimension),
    All,
    Traffic,
}

impl CellDim {
    /// The dimensions credit cells are kept for.
    pub const CREDITS: [CellDim; 5] = [
        CellDim::Report(Dimension::Campaign),
        CellDim::Report(Dimension::Source),
        CellDim::Report(Dimension::Channel),
        CellDim::Report(Dimension::LandingPage),
        CellDim::All,
    ];

    /// The dimensions touch cells are kept for (`Traffic` from pageviews).
    pub const TOUCHES: [CellDim; 4] = [
        CellDim::Report(Dimension::Campaign),
        CellDim::Report(Dimension::Source),
        CellDim::Report(Dimension::Channel),
        CellDim::Report(Dimension::LandingPage),
    ];

    /// The stored code.
    pub const fn code(self) -> i16 {
        match self {
            CellDim::Report(Dimension::Campaign) => 0,
            CellDim::Report(Dimension::Source) => 1,
            CellDim::Report(Dimension::Channel) => 2,
            CellDim::Report(Dimension::LandingPage) => 3,
            CellDim::All => 4,
            CellDim::Traffic => 5,
        }
    }

    /// The key text of a touchpoint key under this dimension.
    pub fn key_text(self, key: &TouchKey) -> String {
        match self {
            CellDim::Report(d) => row_key_text(&d.key(key)),
            CellDim::All | CellDim::Traffic => String::new(),
        }
    }
}

/// A row key as cells store it. A campaign is prefixed with `+` so that no
/// campaign and an empty one stay apart; fields are separated by U+001F,
/// which identifiers cannot contain (ingestion refuses control characters).
pub fn row_key_text(key: &RowKey) -> String {
    match key {
        RowKey::Campaign {
            campaign,
            source,
            medium,
        } => format!(
            "{}\u{1f}{source}\u{1f}{medium}",
            campaign
                .as_deref()
                .map(|c| format!("+{c}"))
                .unwrap_or_default()
        ),
        RowKey::Source(s) | RowKey::LandingPage(s) => s.clone(),
        RowKey::Channel(c) => c.as_str().to_owned(),
    }
}

/// The row key of a stored key text (the inverse of [`row_key_text`]).
pub fn parse_row_key(dimension: Dimension, text: &str) -> RowKey {
    match dimension {
        Dimension::Campaign => {
            let mut parts = text.splitn(3, '\u{1f}');
            let campaign = parts
                .next()
                .and_then(|c| c.strip_prefix('+'))
                .map(str::to_owned);
            RowKey::Campaign {
                campaign,
                source: parts.next().unwrap_or_default().to_owned(),
                medium: parts.next().unwrap_or_default().to_owned(),
            }
        }
        Dimension::Source => RowKey::Source(text.to_owned()),
        Dimension::Channel => RowKey::Channel(text.parse().unwrap_or(Channel::Unassigned)),
        Dimension::LandingPage => RowKey::LandingPage(text.to_owned()),
    }
}

/// One key's credit in a cell (one model, lookback and conversion name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreditStats {
    /// Credit rows: a key credited with 0 still has its report row.
    pub rows: u32,
    pub weight: f64,
    /// Credit of conversions that follow a trial (`trialToSignup`).
    pub trial_weight: f64,
    /// Distinct conversions with a positive share of this key.
    pub converted: u32,
    /// Of those, the ones that follow a trial.
    pub converted_from_trial: u32,
    pub pageviews_before: i64,
    pub pageviews_after: i64,
    /// Their times to convert (sorted within an hour's cell; a merged cell
    /// holds them in bucket order).
    pub times_to_convert: Vec<i64>,
}

impl CreditStats {
    fn merge(&mut self, other: &CreditStats) {
        self.rows += other.rows;
        self.weight += other.weight;
        self.trial_weight += other.trial_weight;
        self.converted += other.converted;
        self.converted_from_trial += other.converted_from_trial;
        self.pageviews_before += other.pageviews_before;
        self.pageviews_after += other.pageviews_after;
        // Unsorted: a range merges hundreds of cells, and the statistics
        // sort once at the end (`TimeStats::of`).
        self.times_to_convert
            .extend_from_slice(&other.times_to_convert);
    }
}

/// A credit cell: per key text, its stats.
pub type CreditCell = BTreeMap<String, CreditStats>;

/// One key's touchpoints (or pageviews) and visitors in a cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TouchStats {
    pub count: u64,
    pub visitors: RoaringBitmap,
}

/// A touch cell: per key text, its stats.
pub type TouchCell = BTreeMap<String, TouchStats>;

/// Why a stored cell could not be read.
#[derive(Debug, thiserror::Error)]
#[error("a stored rollup cell is unreadable: {0}")]
pub struct CellError(String);

/// The cell of some credits under `dim`. The credits are summed in a fixed
/// order (by time, conversion and key), as the row fold does.
pub fn credit_cell(dim: CellDim, credits: &[&Credited]) -> CreditCell {
    let mut sorted: Vec<&Credited> = credits.to_vec();
    sorted.sort_by(|a, b| (a.at, &a.conversion_id, &a.key).cmp(&(b.at, &b.conversion_id, &b.key)));
    let mut cell = CreditCell::new();
    let mut seen: BTreeSet<(String, &str)> = BTreeSet::new();
    for c in sorted {
        let key = dim.key_text(&c.key);
        let s = cell.entry(key.clone()).or_default();
        s.rows += 1;
        s.weight += c.weight;
        if c.from_trial {
            s.trial_weight += c.weight;
        }
        if c.weight > 0.0 && seen.insert((key, c.conversion_id.as_str())) {
            s.converted += 1;
            if c.from_trial {
                s.converted_from_trial += 1;
            }
            s.pageviews_before += c.pageviews_before;
            s.pageviews_after += c.pageviews_after;
            if let Some(t) = c.time_to_convert_seconds {
                s.times_to_convert.push(t);
            }
        }
    }
    for s in cell.values_mut() {
        s.times_to_convert.sort_unstable();
    }
    cell
}

/// The cell of some touchpoints (visitor id, key) under `dim`.
pub fn touch_cell<'a>(
    dim: CellDim,
    touches: impl IntoIterator<Item = (u32, &'a TouchKey)>,
) -> TouchCell {
    let mut cell = TouchCell::new();
    for (visitor, key) in touches {
        let s = cell.entry(dim.key_text(key)).or_default();
        s.count += 1;
        s.visitors.insert(visitor);
    }
    cell
}

/// The traffic cell of some pageviews (one visitor id per pageview).
pub fn traffic_cell(visitors: impl IntoIterator<Item = u32>) -> TouchCell {
    let mut stats = TouchStats::default();
    for v in visitors {
        stats.count += 1;
        stats.visitors.insert(v);
    }
    let mut cell = TouchCell::new();
    if stats.count > 0 {
        cell.insert(String::new(), stats);
    }
    cell
}

/// Adds `other` into `into` (call in bucket order for deterministic sums).
pub fn merge_credits(into: &mut CreditCell, other: &CreditCell) {
    for (key, stats) in other {
        match into.get_mut(key) {
            Some(s) => s.merge(stats),
            None => {
                into.insert(key.clone(), stats.clone());
            }
        }
    }
}

/// Adds `other` into `into`.
pub fn merge_touches(into: &mut TouchCell, other: &TouchCell) {
    for (key, stats) in other {
        let s = into.entry(key.clone()).or_default();
        s.count += stats.count;
        s.visitors |= &stats.visitors;
    }
}

/// One bucket's credit cells under every model, by model name: stored as
/// one blob, every model's cell encoded on its own so a report decodes only
/// the model it asks for (a conversion changes all six at once, so they are
/// written together).
pub type ModelCells = BTreeMap<String, CreditCell>;

pub fn encode_models(cells: &ModelCells) -> Vec<u8> {
    let parts: Vec<(&str, Vec<u8>)> = cells
        .iter()
        // A map of plain data always serialises.
        .map(|(m, c)| (m.as_str(), postcard::to_allocvec(c).unwrap_or_default()))
        .collect();
    postcard::to_allocvec(&parts).unwrap_or_default()
}

/// The cell of one model (empty when the bucket has none).
pub fn decode_model(bytes: &[u8], model: &str) -> Result<CreditCell, CellError> {
    let parts: Vec<(&str, &[u8])> =
        postcard::from_bytes(bytes).map_err(|e| CellError(e.to_string()))?;
    match parts.into_iter().find(|(m, _)| *m == model) {
        Some((_, cell)) => postcard::from_bytes(cell).map_err(|e| CellError(e.to_string())),
        None => Ok(CreditCell::new()),
    }
}

pub fn decode_models(bytes: &[u8]) -> Result<ModelCells, CellError> {
    let parts: Vec<(&str, &[u8])> =
        postcard::from_bytes(bytes).map_err(|e| CellError(e.to_string()))?;
    parts
        .into_iter()
        .map(|(m, cell)| {
            let cell = postcard::from_bytes(cell).map_err(|e| CellError(e.to_string()))?;
            Ok((m.to_owned(), cell))
        })
        .collect()
}

pub fn encode_touches(cell: &TouchCell) -> Vec<u8> {
    let rows: Vec<(&str, u64, Vec<u8>)> = cell
        .iter()
        .map(|(k, s)| {
            let mut bitmap = Vec::with_capacity(s.visitors.serialized_size());
            // Writing into a Vec cannot fail.
            let _ = s.visitors.serialize_into(&mut bitmap);
            (k.as_str(), s.count, bitmap)
        })
        .collect();
    postcard::to_allocvec(&rows).unwrap_or_default()
}

pub fn decode_touches(bytes: &[u8]) -> Result<TouchCell, CellError> {
    let rows: Vec<(String, u64, &[u8])> =
        postcard::from_bytes(bytes).map_err(|e| CellError(e.to_string()))?;
    rows.into_iter()
        .map(|(k, count, bitmap)| {
            let visitors =
                RoaringBitmap::deserialize_from(bitmap).map_err(|e| CellError(e.to_string()))?;
            Ok((k, TouchStats { count, visitors }))
        })
        .collect()
}

/// Report rows from merged cells: what [`super::aggregate`] computes from
/// the raw rows, with `userIds` left empty (the caller reads those from the
/// rows when they are asked for).
pub fn rows_from_cells(
    dimension: Dimension,
    conversions: &CreditCell,
    trials: &CreditCell,
    touches: &TouchCell,
    spend: &[SpendFact],
) -> Vec<Row> {
    let mut spend_by_key: HashMap<String, i64> = HashMap::new();
    for s in spend {
        if let Some(key) = dimension.spend_key(s) {
            let total = spend_by_key.entry(row_key_text(&key)).or_default();
            *total = total.saturating_add(s.micros);
        }
    }
    let keys: BTreeSet<&String> = conversions
        .keys()
        .chain(trials.keys())
        .chain(touches.keys())
        .chain(spend_by_key.keys())
        .collect();
    keys.into_iter()
        .map(|text| {
            let mut row = Row::new(parse_row_key(dimension, text));
            if let Some(c) = conversions.get(text) {
                row.conversions = c.weight;
                row.trial_to_signup = c.trial_weight;
                row.time_to_convert = TimeStats::of(c.times_to_convert.clone());
                if c.converted > 0 {
                    let n = f64::from(c.converted);
                    row.avg_pageviews_before = Some(c.pageviews_before as f64 / n);
                    row.avg_pageviews_after = Some(c.pageviews_after as f64 / n);
                }
            }
            if let Some(t) = trials.get(text) {
                row.trials = t.weight;
            }
            if let Some(t) = touches.get(text) {
                row.touchpoints = t.count;
                row.visitors = t.visitors.len();
            }
            row.spend_micros = match dimension {
                Dimension::LandingPage => None,
                _ => Some(spend_by_key.get(text).copied().unwrap_or(0)),
            };
            row
        })
        .collect()
}

/// The overview's split of the counted conversions' credit, from a cell of
/// the channel dimension: what [`super::overview`] computes from the rows.
pub fn overview_from_cells(mut base: Overview, channels: &CreditCell) -> Overview {
    for (text, s) in channels {
        let channel: Channel = text.parse().unwrap_or(Channel::Unassigned);
        base.conversions += s.weight;
        if channel.is_paid() {
            base.paid_conversions += s.weight;
        } else if super::rows::is_organic(channel) {
            base.organic_conversions += s.weight;
        } else if channel == Channel::Direct {
            base.direct_conversions += s.weight;
        }
    }
    base
}

/// The cell dimension a time series groups by.
pub fn series_dim(group: GroupBy) -> CellDim {
    match group {
        GroupBy::None => CellDim::All,
        GroupBy::Channel => CellDim::Report(Dimension::Channel),
        GroupBy::Source => CellDim::Report(Dimension::Source),
        GroupBy::Campaign => CellDim::Report(Dimension::Campaign),
    }
}

/// Time series from one merged cell per bucket (of [`series_dim`]), as
/// [`super::timeseries`] computes them from the rows.
pub fn series_from_cells(group: GroupBy, buckets: &[CreditCell]) -> Vec<Series> {
    let n = buckets.len();
    let mut series: BTreeMap<(Option<Channel>, Option<String>), Vec<f64>> = BTreeMap::new();
    if group == GroupBy::None {
        series.insert((None, None), vec![0.0; n]);
    }
    for (i, cell) in buckets.iter().enumerate() {
        for (text, s) in cell {
            let key = match group {
                GroupBy::None => (None, None),
                GroupBy::Channel => (Some(text.parse().unwrap_or(Channel::Unassigned)), None),
                GroupBy::Source => (None, Some(text.clone())),
                GroupBy::Campaign => match parse_row_key(Dimension::Campaign, text) {
                    RowKey::Campaign { campaign, .. } => (None, campaign),
                    _ => (None, None),
                },
            };
            series.entry(key).or_insert_with(|| vec![0.0; n])[i] += s.weight;
        }
    }
    series
        .into_iter()
        .map(|((channel, key), values)| Series {
            key,
            channel,
            values,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::reports::{aggregate, count_touches, sort_rows, OrderDirection, OrderField, Touch};

    fn key(source: &str, campaign: Option<&str>, channel: Channel, page: &str) -> TouchKey {
        TouchKey {
            campaign: campaign.map(Into::into),
            source: source.into(),
            medium: "cpc".into(),
            channel,
            landing_page: page.into(),
        }
    }

    fn credit(id: &str, at: i64, weight: f64, key: TouchKey, ttc: Option<i64>) -> Credited {
        Credited {
            conversion_id: id.into(),
            name: "signup".into(),
            at: DateTime::from_timestamp(at, 0).unwrap(),
            user_id: None,
            from_trial: id.ends_with('t'),
            time_to_convert_seconds: ttc,
            pageviews_before: at % 7,
            pageviews_after: at % 3,
            weight,
            key,
        }
    }

    #[test]
    fn merged_cells_give_the_rows_the_fold_gives() {
        let fb = key("facebook", Some("spring"), Channel::PaidSocial, "/a");
        let fb2 = key("facebook", Some("autumn"), Channel::PaidSocial, "/b");
        let g = key("google", None, Channel::OrganicSearch, "/a");
        let credits = vec![
            credit("c1", 100, 0.5, fb.clone(), Some(40)),
            credit("c1", 100, 0.5, fb2.clone(), Some(40)),
            credit("c2t", 5_000, 1.0 / 3.0, g.clone(), Some(10)),
            credit("c2t", 5_000, 2.0 / 3.0, fb.clone(), Some(10)),
            credit("c3", 90_000, 1.0, g.clone(), None),
            credit("c4", 90_500, 0.0, fb2.clone(), Some(7)),
        ];
        let touches: Vec<Touch> = [
            (1, &fb, 50),
            (2, &fb, 4_000),
            (1, &g, 89_000),
            (3, &fb2, 90_400),
        ]
        .into_iter()
        .map(|(v, k, at)| Touch {
            fingerprint: format!("f{v}"),
            at: DateTime::from_timestamp(at, 0).unwrap(),
            key: k.clone(),
        })
        .collect();
        let spend = vec![SpendFact {
            campaign: "spring".into(),
            source: "facebook".into(),
            medium: "cpc".into(),
            micros: 9_000_000,
        }];
        for dimension in [
            Dimension::Campaign,
            Dimension::Source,
            Dimension::Channel,
            Dimension::LandingPage,
        ] {
            let dim = CellDim::Report(dimension);
            // Two buckets, merged, stand for the whole range.
            let (early, late): (Vec<&Credited>, Vec<&Credited>) =
                credits.iter().partition(|c| c.at.timestamp() < 86_400);
            let mut merged = credit_cell(dim, &early);
            let packed = encode_models(&ModelCells::from([(
                "LINEAR".to_owned(),
                credit_cell(dim, &late),
            )]));
            merge_credits(&mut merged, &decode_model(&packed, "LINEAR").unwrap());
            assert!(decode_model(&packed, "LAST_CLICK").unwrap().is_empty());
            let ids = |t: &Touch| t.fingerprint[1..].parse::<u32>().unwrap();
            let (t1, t2): (Vec<&Touch>, Vec<&Touch>) =
                touches.iter().partition(|t| t.at.timestamp() < 86_400);
            let mut tcell = touch_cell(dim, t1.iter().map(|t| (ids(t), &t.key)));
            merge_touches(
                &mut tcell,
                &decode_touches(&encode_touches(&touch_cell(
                    dim,
                    t2.iter().map(|t| (ids(t), &t.key)),
                )))
                .unwrap(),
            );
            let mut from_cells =
                rows_from_cells(dimension, &merged, &CreditCell::new(), &tcell, &spend);
            let mut folded = aggregate(
                dimension,
                &credits,
                &[],
                &count_touches(dimension, &touches),
                &spend,
            );
            for r in &mut folded {
                r.user_ids.clear();
            }
            sort_rows(
                &mut from_cells,
                OrderField::Conversions,
                OrderDirection::Desc,
            );
            sort_rows(&mut folded, OrderField::Conversions, OrderDirection::Desc);
            assert_eq!(from_cells.len(), folded.len(), "{dimension:?}");
            for (a, b) in from_cells.iter().zip(&folded) {
                assert_eq!(a.key, b.key);
                assert!(
                    (a.conversions - b.conversions).abs() < 1e-12,
                    "{dimension:?}"
                );
                assert_eq!(
                    (
                        a.visitors,
                        a.touchpoints,
                        a.spend_micros,
                        a.time_to_convert,
                        a.avg_pageviews_before,
                        a.avg_pageviews_after
                    ),
                    (
                        b.visitors,
                        b.touchpoints,
                        b.spend_micros,
                        b.time_to_convert,
                        b.avg_pageviews_before,
                        b.avg_pageviews_after
                    ),
                    "{dimension:?} {:?}",
                    a.key
                );
                assert!((a.trial_to_signup - b.trial_to_signup).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn a_visitor_seen_in_two_buckets_counts_once() {
        let k = key("google", None, Channel::OrganicSearch, "/");
        let dim = CellDim::Report(Dimension::Source);
        let mut a = touch_cell(dim, [(7, &k), (7, &k), (8, &k)]);
        merge_touches(&mut a, &touch_cell(dim, [(7, &k), (9, &k)]));
        let s = &a["google"];
        assert_eq!((s.count, s.visitors.len()), (5, 3));
    }

    #[test]
    fn key_texts_round_trip_and_keep_no_campaign_apart_from_an_empty_one() {
        for key in [
            RowKey::Campaign {
                campaign: None,
                source: "g".into(),
                medium: "cpc".into(),
            },
            RowKey::Campaign {
                campaign: Some(String::new()),
                source: "g".into(),
                medium: "cpc".into(),
            },
        ] {
            assert_eq!(parse_row_key(Dimension::Campaign, &row_key_text(&key)), key);
        }
        let channel = RowKey::Channel(Channel::PaidSearch);
        assert_eq!(
            parse_row_key(Dimension::Channel, &row_key_text(&channel)),
            channel
        );
    }

    #[test]
    fn time_series_from_cells_group_campaign_cells_by_campaign() {
        let a = key("facebook", Some("spring"), Channel::PaidSocial, "/");
        let b = key("google", Some("spring"), Channel::PaidSearch, "/");
        let c1 = credit("c1", 10, 1.0, a, None);
        let c2 = credit("c2", 20, 1.0, b, None);
        let cell = credit_cell(CellDim::Report(Dimension::Campaign), &[&c1, &c2]);
        let series = series_from_cells(GroupBy::Campaign, &[CreditCell::new(), cell]);
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].key.as_deref(), Some("spring"));
        assert_eq!(series[0].values, vec![0.0, 2.0]);
        assert_eq!(
            series_from_cells(GroupBy::None, &[CreditCell::new()])[0].values,
            vec![0.0]
        );
    }
}
