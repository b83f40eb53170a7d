//! The fold from credits, touchpoints and spend to report rows.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::attribution::{Conversion, Model};
use crate::domain::Channel;
use crate::ingest::classify::channel_for;
use crate::journeys::NOT_SET;

/// The fields a report groups by, as carried by a touchpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TouchKey {
    pub campaign: Option<String>,
    pub source: String,
    pub medium: String,
    pub channel: Channel,
    pub landing_page: String,
}

impl TouchKey {
    /// Where a conversion without touchpoints is reported.
    pub fn not_set() -> Self {
        Self {
            campaign: None,
            source: NOT_SET.into(),
            medium: NOT_SET.into(),
            channel: Channel::Unassigned,
            landing_page: NOT_SET.into(),
        }
    }

    pub(crate) fn of(t: &crate::attribution::Touchpoint) -> Self {
        Self {
            campaign: t.campaign.clone(),
            source: t.source.clone(),
            medium: t.medium.clone(),
            channel: t.channel,
            landing_page: t.landing_page.clone(),
        }
    }
}

/// One conversion's share of credit for one touchpoint key.
#[derive(Debug, Clone, PartialEq)]
pub struct Credited {
    /// The conversion's public id (several rows of one conversion share it).
    pub conversion_id: String,
    pub name: String,
    pub at: DateTime<Utc>,
    pub user_id: Option<String>,
    pub from_trial: bool,
    pub time_to_convert_seconds: Option<i64>,
    pub pageviews_before: i64,
    pub pageviews_after: i64,
    pub weight: f64,
    pub key: TouchKey,
}

/// The credit rows of one conversion under `model`: one per credited
/// touchpoint, or one `(not set)` row with the whole credit when no
/// touchpoint is in play, so every conversion is counted exactly once.
pub fn credited(
    conversion: &Conversion,
    conversion_id: &str,
    user_id: Option<&str>,
    model: Model,
) -> Vec<Credited> {
    let row = |weight: f64, key: TouchKey| Credited {
        conversion_id: conversion_id.to_owned(),
        name: conversion.name.clone(),
        at: conversion.at,
        user_id: user_id.map(str::to_owned),
        from_trial: conversion.from_trial,
        time_to_convert_seconds: conversion.time_to_convert_seconds,
        pageviews_before: conversion.pageviews_before,
        pageviews_after: conversion.pageviews_after,
        weight,
        key,
    };
    let credits = conversion.credits(model);
    if credits.is_empty() {
        return vec![row(1.0, TouchKey::not_set())];
    }
    credits
        .into_iter()
        .map(|(t, w)| row(w, TouchKey::of(t)))
        .collect()
}

/// A touchpoint in the report's range.
#[derive(Debug, Clone, PartialEq)]
pub struct Touch {
    pub fingerprint: String,
    pub at: DateTime<Utc>,
    pub key: TouchKey,
}

/// Touchpoints and distinct visitors of one row key in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TouchCount {
    pub key: RowKey,
    pub visitors: u64,
    pub touchpoints: u64,
}

/// Counts touchpoints per key (what the database does with `GROUP BY` over
/// the touchpoints table; kept here for the pure tests).
pub fn count_touches(dimension: Dimension, touches: &[Touch]) -> Vec<TouchCount> {
    let mut acc: BTreeMap<RowKey, (BTreeSet<&str>, u64)> = BTreeMap::new();
    for t in touches {
        let a = acc.entry(dimension.key(&t.key)).or_default();
        a.0.insert(t.fingerprint.as_str());
        a.1 += 1;
    }
    acc.into_iter()
        .map(|(key, (fps, n))| TouchCount {
            key,
            visitors: fps.len() as u64,
            touchpoints: n,
        })
        .collect()
}

/// Spend of one campaign on one day, in millionths of the reporting currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendFact {
    pub campaign: String,
    pub source: String,
    pub medium: String,
    pub micros: i64,
}

/// What a report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// (campaign, source, medium); no campaign is its own group.
    Campaign,
    Source,
    Channel,
    LandingPage,
}

/// A row's key under its dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowKey {
    Campaign {
        campaign: Option<String>,
        source: String,
        medium: String,
    },
    Source(String),
    Channel(Channel),
    LandingPage(String),
}

impl RowKey {
    /// A stable text for tie-breaks and cursors.
    pub fn label(&self) -> String {
        match self {
            RowKey::Campaign {
                campaign,
                source,
                medium,
            } => format!(
                "{}\u{1f}{source}\u{1f}{medium}",
                campaign.as_deref().unwrap_or("")
            ),
            RowKey::Source(s) | RowKey::LandingPage(s) => s.clone(),
            RowKey::Channel(c) => c.as_str().to_owned(),
        }
    }
}

impl Dimension {
    /// The row key of a touchpoint key.
    pub fn key(self, k: &TouchKey) -> RowKey {
        match self {
            Dimension::Campaign => RowKey::Campaign {
                campaign: k.campaign.clone(),
                source: k.source.clone(),
                medium: k.medium.clone(),
            },
            Dimension::Source => RowKey::Source(k.source.clone()),
            Dimension::Channel => RowKey::Channel(k.channel),
            Dimension::LandingPage => RowKey::LandingPage(k.landing_page.clone()),
        }
    }

    /// The key spend is booked under; landing pages carry no spend.
    pub(crate) fn spend_key(self, s: &SpendFact) -> Option<RowKey> {
        match self {
            Dimension::Campaign => Some(RowKey::Campaign {
                campaign: Some(s.campaign.clone()),
                source: s.source.clone(),
                medium: s.medium.clone(),
            }),
            Dimension::Source => Some(RowKey::Source(s.source.clone())),
            // The channel a click of this campaign would be classified in.
            Dimension::Channel => Some(RowKey::Channel(
                channel_for(&s.source, &s.medium, Some(&s.campaign), None).0,
            )),
            Dimension::LandingPage => None,
        }
    }
}

/// Time-to-convert statistics over a row's conversions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeStats {
    pub avg_seconds: f64,
    pub median_seconds: f64,
    pub min_seconds: i64,
    pub max_seconds: i64,
}

impl TimeStats {
    pub(crate) fn of(mut values: Vec<i64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2] as f64
        } else {
            (values[n / 2 - 1] as f64 + values[n / 2] as f64) / 2.0
        };
        Some(Self {
            avg_seconds: values.iter().map(|v| *v as f64).sum::<f64>() / n as f64,
            median_seconds: median,
            min_seconds: values[0],
            max_seconds: values[n - 1],
        })
    }
}

/// One report row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: RowKey,
    /// Credit under the model (fractional for multi-touch models).
    pub conversions: f64,
    /// Distinct fingerprints with a touchpoint of this key in range.
    pub visitors: u64,
    /// Touchpoints of this key in range.
    pub touchpoints: u64,
    /// Credit of `trial` conversions in range under the model.
    pub trials: f64,
    /// Credit of counted conversions that are signups after a trial.
    pub trial_to_signup: f64,
    /// Over the conversions with a share of this row (each counted once).
    pub time_to_convert: Option<TimeStats>,
    pub avg_pageviews_before: Option<f64>,
    pub avg_pageviews_after: Option<f64>,
    /// Spend booked under this key in range; `None` where spend does not apply.
    pub spend_micros: Option<i64>,
    /// Users of the conversions with a share of this row, sorted, distinct.
    pub user_ids: Vec<String>,
}

impl Row {
    pub(crate) fn new(key: RowKey) -> Self {
        Self {
            key,
            conversions: 0.0,
            visitors: 0,
            touchpoints: 0,
            trials: 0.0,
            trial_to_signup: 0.0,
            time_to_convert: None,
            avg_pageviews_before: None,
            avg_pageviews_after: None,
            spend_micros: None,
            user_ids: Vec::new(),
        }
    }

    /// conversions / visitors; `None` without visitors.
    pub fn conversion_rate(&self) -> Option<f64> {
        (self.visitors > 0).then(|| self.conversions / self.visitors as f64)
    }

    /// spend / conversions; `None` without spend or conversions.
    pub fn cost_per_conversion(&self) -> Option<f64> {
        match self.spend_micros {
            Some(micros) if self.conversions > 0.0 => {
                Some(micros as f64 / 1_000_000.0 / self.conversions)
            }
            _ => None,
        }
    }
}

#[derive(Default)]
struct Acc {
    conversions: f64,
    trials: f64,
    trial_to_signup: f64,
    visitors: u64,
    touchpoints: u64,
    /// Distinct conversions with a share: (ttc, before, after, user).
    converted: BTreeMap<String, (Option<i64>, i64, i64, Option<String>)>,
    spend: Option<i64>,
}

/// Folds credits (`conversions` of the counted name, `trials` for the trial
/// column), touchpoints and spend into one row per key. A key that appears
/// only through touchpoints or spend still gets its row, with 0 conversions.
/// Summation runs in a fixed order (the inputs are sorted by content first),
/// so the same facts give bit-identical floats.
pub fn aggregate(
    dimension: Dimension,
    conversions: &[Credited],
    trials: &[Credited],
    touches: &[TouchCount],
    spend: &[SpendFact],
) -> Vec<Row> {
    let mut acc: HashMap<RowKey, Acc> = HashMap::new();
    let mut sorted: Vec<&Credited> = conversions.iter().collect();
    sorted.sort_by(|a, b| (a.at, &a.conversion_id, &a.key).cmp(&(b.at, &b.conversion_id, &b.key)));
    for c in sorted {
        let a = acc.entry(dimension.key(&c.key)).or_default();
        a.conversions += c.weight;
        if c.from_trial {
            a.trial_to_signup += c.weight;
        }
        if c.weight > 0.0 {
            a.converted.insert(
                c.conversion_id.clone(),
                (
                    c.time_to_convert_seconds,
                    c.pageviews_before,
                    c.pageviews_after,
                    c.user_id.clone(),
                ),
            );
        }
    }
    let mut sorted_trials: Vec<&Credited> = trials.iter().collect();
    sorted_trials
        .sort_by(|a, b| (a.at, &a.conversion_id, &a.key).cmp(&(b.at, &b.conversion_id, &b.key)));
    for t in sorted_trials {
        acc.entry(dimension.key(&t.key)).or_default().trials += t.weight;
    }
    for t in touches {
        let a = acc.entry(t.key.clone()).or_default();
        a.touchpoints += t.touchpoints;
        a.visitors += t.visitors;
    }
    for s in spend {
        if let Some(key) = dimension.spend_key(s) {
            let a = acc.entry(key).or_default();
            a.spend = Some(a.spend.unwrap_or(0).saturating_add(s.micros));
        }
    }
    acc.into_iter()
        .map(|(key, a)| {
            let mut row = Row::new(key);
            row.conversions = a.conversions;
            row.trials = a.trials;
            row.trial_to_signup = a.trial_to_signup;
            row.visitors = a.visitors;
            row.touchpoints = a.touchpoints;
            row.time_to_convert = TimeStats::of(a.converted.values().filter_map(|c| c.0).collect());
            let n = a.converted.len();
            if n > 0 {
                row.avg_pageviews_before =
                    Some(a.converted.values().map(|c| c.1 as f64).sum::<f64>() / n as f64);
                row.avg_pageviews_after =
                    Some(a.converted.values().map(|c| c.2 as f64).sum::<f64>() / n as f64);
            }
            row.user_ids = a
                .converted
                .values()
                .filter_map(|c| c.3.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            row.spend_micros = match dimension {
                Dimension::LandingPage => None,
                _ => Some(a.spend.unwrap_or(0)),
            };
            row
        })
        .collect()
}

/// What a report can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderField {
    #[default]
    Conversions,
    Visitors,
    ConversionRate,
    Spend,
    CostPerConversion,
    TimeToConvert,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    Asc,
    #[default]
    Desc,
}

/// Sorts rows by `field` in `direction`; rows without a value (no rate, no
/// cost) go last either way; ties are broken by the key, ascending, so the
/// order is total and pages are stable.
pub fn sort_rows(rows: &mut [Row], field: OrderField, direction: OrderDirection) {
    let value = |r: &Row| -> Option<f64> {
        match field {
            OrderField::Conversions => Some(r.conversions),
            OrderField::Visitors => Some(r.visitors as f64),
            OrderField::ConversionRate => r.conversion_rate(),
            OrderField::Spend => r.spend_micros.map(|m| m as f64),
            OrderField::CostPerConversion => r.cost_per_conversion(),
            OrderField::TimeToConvert => r.time_to_convert.map(|t| t.avg_seconds),
        }
    };
    rows.sort_by(|a, b| {
        let by_value = match (value(a), value(b)) {
            (Some(x), Some(y)) => {
                let o = x.total_cmp(&y);
                if direction == OrderDirection::Desc {
                    o.reverse()
                } else {
                    o
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_value.then_with(|| a.key.cmp(&b.key))
    });
}

/// The headline numbers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overview {
    pub pageviews: u64,
    pub visitors: u64,
    pub signups: u64,
    pub trials: u64,
    pub trial_to_signup: u64,
    pub unsubscribes: u64,
    /// Credit of the counted conversions (their number).
    pub conversions: f64,
    pub paid_conversions: f64,
    pub organic_conversions: f64,
    pub direct_conversions: f64,
}

impl Overview {
    fn share(&self, part: f64) -> Option<f64> {
        (self.conversions > 0.0).then(|| part / self.conversions)
    }
    pub fn trial_to_signup_rate(&self) -> Option<f64> {
        (self.trials > 0).then(|| self.trial_to_signup as f64 / self.trials as f64)
    }
    pub fn paid_share(&self) -> Option<f64> {
        self.share(self.paid_conversions)
    }
    pub fn organic_share(&self) -> Option<f64> {
        self.share(self.organic_conversions)
    }
    pub fn direct_share(&self) -> Option<f64> {
        self.share(self.direct_conversions)
    }
}

/// Organic: unpaid search, social, video and shopping.
pub(crate) fn is_organic(c: Channel) -> bool {
    matches!(
        c,
        Channel::OrganicSearch
            | Channel::OrganicSocial
            | Channel::OrganicVideo
            | Channel::OrganicShopping
    )
}

/// Splits the counted conversions' credit into paid, organic and direct.
/// Counts (pageviews, visitors, events) come from the caller.
pub fn overview(mut base: Overview, conversions: &[Credited]) -> Overview {
    let mut sorted: Vec<&Credited> = conversions.iter().collect();
    sorted.sort_by(|a, b| (a.at, &a.conversion_id, &a.key).cmp(&(b.at, &b.conversion_id, &b.key)));
    for c in sorted {
        base.conversions += c.weight;
        if c.key.channel.is_paid() {
            base.paid_conversions += c.weight;
        } else if is_organic(c.key.channel) {
            base.organic_conversions += c.weight;
        } else if c.key.channel == Channel::Direct {
            base.direct_conversions += c.weight;
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: &str, campaign: Option<&str>, channel: Channel, page: &str) -> TouchKey {
        TouchKey {
            campaign: campaign.map(Into::into),
            source: source.into(),
            medium: "paid".into(),
            channel,
            landing_page: page.into(),
        }
    }

    fn credit(id: &str, weight: f64, key: TouchKey, ttc: Option<i64>, user: &str) -> Credited {
        Credited {
            conversion_id: id.into(),
            name: "signup".into(),
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            user_id: Some(user.into()),
            from_trial: id == "c2",
            time_to_convert_seconds: ttc,
            pageviews_before: 4,
            pageviews_after: 2,
            weight,
            key,
        }
    }

    fn touch(fp: &str, key: TouchKey) -> Touch {
        Touch {
            fingerprint: fp.into(),
            at: DateTime::from_timestamp(1_699_990_000, 0).unwrap(),
            key,
        }
    }

    #[test]
    fn rows_sum_credit_count_distinct_visitors_and_keep_keys_without_conversions() {
        let fb = key("facebook", Some("spring"), Channel::PaidSocial, "/lp");
        let g = key("google", None, Channel::OrganicSearch, "/");
        let yt = key("youtube", Some("creators"), Channel::PaidVideo, "/yt");
        let conversions = vec![
            credit("c1", 0.5, fb.clone(), Some(100), "u1"),
            credit("c1", 0.5, g.clone(), Some(100), "u1"),
            credit("c2", 1.0, fb.clone(), Some(300), "u2"),
        ];
        let touches = vec![
            touch("a", fb.clone()),
            touch("a", fb.clone()),
            touch("b", fb.clone()),
            touch("c", g.clone()),
            touch("d", yt.clone()),
        ];
        let spend = vec![SpendFact {
            campaign: "spring".into(),
            source: "facebook".into(),
            medium: "paid".into(),
            micros: 30_000_000,
        }];
        let counts = count_touches(Dimension::Campaign, &touches);
        let mut rows = aggregate(Dimension::Campaign, &conversions, &[], &counts, &spend);
        sort_rows(&mut rows, OrderField::Conversions, OrderDirection::Desc);
        assert_eq!(rows.len(), 3);
        let fb_row = &rows[0];
        assert_eq!(fb_row.conversions, 1.5);
        assert_eq!((fb_row.visitors, fb_row.touchpoints), (2, 3));
        assert_eq!(fb_row.conversion_rate(), Some(0.75));
        assert_eq!(fb_row.trial_to_signup, 1.0);
        assert_eq!(fb_row.spend_micros, Some(30_000_000));
        assert_eq!(fb_row.cost_per_conversion(), Some(20.0));
        let t = fb_row.time_to_convert.unwrap();
        assert_eq!(
            (
                t.avg_seconds,
                t.median_seconds,
                t.min_seconds,
                t.max_seconds
            ),
            (200.0, 200.0, 100, 300)
        );
        assert_eq!(fb_row.user_ids, ["u1", "u2"]);
        assert_eq!(rows[1].conversions, 0.5);
        assert_eq!(rows[2].key, Dimension::Campaign.key(&yt));
        assert_eq!(rows[2].conversions, 0.0);
        assert_eq!(rows[2].cost_per_conversion(), None);
    }

    #[test]
    fn spend_is_booked_under_the_channel_its_clicks_would_have() {
        let spend = vec![SpendFact {
            campaign: "brand".into(),
            source: "google".into(),
            medium: "cpc".into(),
            micros: 5_000_000,
        }];
        let rows = aggregate(Dimension::Channel, &[], &[], &[], &spend);
        assert_eq!(rows[0].key, RowKey::Channel(Channel::PaidSearch));
        assert_eq!(rows[0].spend_micros, Some(5_000_000));
        assert!(aggregate(Dimension::LandingPage, &[], &[], &[], &spend).is_empty());
    }

    #[test]
    fn rows_without_a_value_sort_last_and_ties_break_by_key() {
        let a = key("a", None, Channel::Referral, "/");
        let b = key("b", None, Channel::Referral, "/");
        let touches = vec![touch("x", a.clone()), touch("y", b.clone())];
        let counts = count_touches(Dimension::Source, &touches);
        let mut rows = aggregate(Dimension::Source, &[], &[], &counts, &[]);
        sort_rows(&mut rows, OrderField::Visitors, OrderDirection::Desc);
        assert_eq!(rows[0].key, RowKey::Source("a".into()));
        sort_rows(
            &mut rows,
            OrderField::CostPerConversion,
            OrderDirection::Asc,
        );
        assert_eq!(rows[0].key, RowKey::Source("a".into()));
    }

    #[test]
    fn time_stats_take_the_median_of_an_even_count_as_the_mean_of_the_middle_two() {
        let t = TimeStats::of(vec![10, 40, 20, 30]).unwrap();
        assert_eq!(
            (
                t.avg_seconds,
                t.median_seconds,
                t.min_seconds,
                t.max_seconds
            ),
            (25.0, 25.0, 10, 40)
        );
        assert_eq!(TimeStats::of(vec![]), None);
    }

    #[test]
    fn overview_splits_credit_into_paid_organic_and_direct() {
        let conversions = vec![
            credit(
                "c1",
                0.5,
                key("facebook", None, Channel::PaidSocial, "/"),
                None,
                "u",
            ),
            credit(
                "c1",
                0.5,
                key("google", None, Channel::OrganicSearch, "/"),
                None,
                "u",
            ),
            credit(
                "c3",
                1.0,
                key("(direct)", None, Channel::Direct, "/"),
                None,
                "v",
            ),
            credit("c4", 1.0, TouchKey::not_set(), None, "w"),
        ];
        let o = overview(Overview::default(), &conversions);
        assert_eq!(o.conversions, 3.0);
        assert_eq!(o.paid_share(), Some(0.5 / 3.0));
        assert_eq!(o.organic_share(), Some(0.5 / 3.0));
        assert_eq!(o.direct_share(), Some(1.0 / 3.0));
    }
}
