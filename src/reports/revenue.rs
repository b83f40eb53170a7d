//! Revenue, LTV, ROAS, payback, churn and acquisition cohorts: the pure
//! fold over acquisitions (each journey's first signup, with its credits
//! under one model) and their revenue facts. `source.rs` gathers them.
//!
//! The definitions (README, "Growing profitably"):
//! - a user's revenue *within N days* sums their events' revenue at or
//!   after the acquisition and before acquisition + N days (without N: up
//!   to now); revenue before the acquisition never counts here;
//! - *churned within N days*: a first `unsubscribe` at or after the
//!   acquisition and before acquisition + N days;
//! - a row's figures weigh each acquisition by its credit under the model,
//!   so the rows of a report split every acquisition's revenue exactly once.
//!
//! Weighted sums are kept in f64 millionths and rounded to whole
//! millionths when shown: a weight like ⅓ has no exact decimal, and
//! rounding once at the end keeps the error below a millionth per figure.
//! Sums fold from +0.0 (an empty f64 `sum` is -0.0, shown as `-0.0`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::rows::{RowKey, SpendFact};
use super::timeseries::{self, GroupBy, Interval};
use crate::domain::Channel;
use crate::ingest::classify::channel_for;

const DAY_MICROS: i64 = 86_400_000_000;

/// One acquisition with its user's revenue facts (all of them; the fold
/// keeps those at or after the acquisition).
#[derive(Debug, Clone, PartialEq)]
pub struct Acquisition {
    pub journey_key: String,
    pub acquired_at: DateTime<Utc>,
    pub churned_at: Option<DateTime<Utc>>,
    /// (time, millionths), in time order.
    pub revenue: Vec<(DateTime<Utc>, i64)>,
}

impl Acquisition {
    /// Revenue within `days` (None: up to now), in millionths.
    pub fn revenue_within(&self, days: Option<i64>) -> i64 {
        let end = days.map(|d| self.acquired_at + Duration::days(d));
        self.revenue
            .iter()
            .filter(|(at, _)| *at >= self.acquired_at && end.is_none_or(|e| *at < e))
            .map(|(_, m)| *m)
            .sum()
    }

    /// Whether the user churned within `days`.
    pub fn churned_within(&self, days: i64) -> bool {
        self.churned_at
            .is_some_and(|c| c < self.acquired_at + Duration::days(days))
    }

    /// Whether the acquisition is at least `days` old at `now`.
    pub fn matured(&self, days: i64, now: DateTime<Utc>) -> bool {
        self.acquired_at + Duration::days(days) <= now
    }

    /// Revenue facts at or after the acquisition, each with the smallest
    /// whole `d` whose "within d days" includes it.
    fn by_day(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.revenue
            .iter()
            .filter(|(at, _)| *at >= self.acquired_at)
            .map(|(at, m)| {
                let offset = (*at - self.acquired_at)
                    .num_microseconds()
                    .unwrap_or(i64::MAX);
                (offset / DAY_MICROS + 1, *m)
            })
    }
}

/// One acquisition's credit to a key.
#[derive(Debug, Clone)]
pub struct AcquisitionCredit {
    pub acquisition: Arc<Acquisition>,
    pub weight: f64,
}

/// The acquisitions credited to one report row.
#[derive(Debug, Clone, Default)]
pub struct RowRevenue {
    pub credits: Vec<AcquisitionCredit>,
}

fn rounded(micros: f64) -> i64 {
    micros.round() as i64
}

impl RowRevenue {
    /// The row's credited acquisitions: the sum of their weights.
    pub fn acquisitions(&self) -> f64 {
        self.credits
            .iter()
            .map(|c| c.weight)
            .fold(0.0, |a, w| a + w)
    }

    /// Σ weight × revenue within `days`, in (unrounded) millionths.
    fn revenue_f(&self, days: Option<i64>) -> f64 {
        self.credits
            .iter()
            .map(|c| c.weight * c.acquisition.revenue_within(days) as f64)
            .fold(0.0, |a, m| a + m)
    }

    /// Credited revenue within `days`, in millionths.
    pub fn revenue(&self, days: Option<i64>) -> i64 {
        rounded(self.revenue_f(days))
    }

    /// revenue / credited acquisitions, in millionths; None without any.
    pub fn ltv(&self, days: Option<i64>) -> Option<i64> {
        let n = self.acquisitions();
        (n > 0.0).then(|| rounded(self.revenue_f(days) / n))
    }

    /// revenue / spend; None without spend.
    pub fn roas(&self, days: Option<i64>, spend_micros: Option<i64>) -> Option<f64> {
        let spend = spend_micros.filter(|s| *s > 0)?;
        Some(self.revenue(days) as f64 / spend as f64)
    }

    /// The smallest whole d ≥ 0 with revenue(d) ≥ spend: the first
    /// crossing, even if a later refund dips below. None without spend or
    /// while revenue has not reached it.
    pub fn payback_days(&self, spend_micros: Option<i64>) -> Option<i64> {
        let spend = spend_micros.filter(|s| *s > 0)?;
        let mut per_day: BTreeMap<i64, f64> = BTreeMap::new();
        for c in &self.credits {
            for (d, m) in c.acquisition.by_day() {
                *per_day.entry(d).or_default() += c.weight * m as f64;
            }
        }
        let mut total = 0.0;
        for (d, m) in per_day {
            total += m;
            if rounded(total) >= spend {
                return Some(d);
            }
        }
        None
    }

    /// Credit of the acquisitions whose user did not churn within `days`.
    pub fn net_conversions(&self, days: i64) -> f64 {
        self.credits
            .iter()
            .filter(|c| !c.acquisition.churned_within(days))
            .map(|c| c.weight)
            .fold(0.0, |a, w| a + w)
    }

    /// 1 − net / acquisitions, computed as churned credit / acquisitions
    /// (the same number without `1 − x` float noise); None without
    /// acquisitions.
    pub fn churn_rate(&self, days: i64) -> Option<f64> {
        let n = self.acquisitions();
        let churned = self
            .credits
            .iter()
            .filter(|c| c.acquisition.churned_within(days))
            .map(|c| c.weight)
            .fold(0.0, |a, w| a + w);
        (n > 0.0).then(|| churned / n)
    }

    /// Every credited acquisition is at least `days` old.
    pub fn revenue_complete(&self, days: i64, now: DateTime<Utc>) -> bool {
        self.credits
            .iter()
            .all(|c| c.acquisition.matured(days, now))
    }

    /// The share of credit whose acquisition is at least `days` old; None
    /// without acquisitions.
    pub fn matured_share(&self, days: i64, now: DateTime<Utc>) -> Option<f64> {
        let n = self.acquisitions();
        let matured: f64 = self
            .credits
            .iter()
            .filter(|c| c.acquisition.matured(days, now))
            .map(|c| c.weight)
            .fold(0.0, |a, w| a + w);
        (n > 0.0).then(|| matured / n)
    }
}

/// One acquisition's credit rows under a model: (touchpoint key, weight).
#[derive(Debug, Clone)]
pub struct CreditedAcquisition {
    pub acquisition: Arc<Acquisition>,
    pub credits: Vec<(super::TouchKey, f64)>,
}

/// Splits acquisitions over the rows of `dimension`.
pub fn by_row(
    dimension: super::Dimension,
    acquisitions: &[CreditedAcquisition],
) -> BTreeMap<RowKey, RowRevenue> {
    let mut rows: BTreeMap<RowKey, RowRevenue> = BTreeMap::new();
    for a in acquisitions {
        for (key, weight) in &a.credits {
            rows.entry(dimension.key(key))
                .or_default()
                .credits
                .push(AcquisitionCredit {
                    acquisition: a.acquisition.clone(),
                    weight: *weight,
                });
        }
    }
    rows
}

/// The overview's revenue figures.
#[derive(Debug, Clone, PartialEq)]
pub struct RevenueOverview {
    /// Revenue of every event in range (booked), in millionths.
    pub revenue_micros: i64,
    /// Distinct users whose revenue in range sums to more than 0.
    pub paying_users: u64,
    /// Acquisitions in range, and themselves for `ltv(days)`.
    pub acquisitions: Vec<Arc<Acquisition>>,
    pub spend_micros: i64,
}

impl RevenueOverview {
    /// From the revenue facts in range, (journey, millionths).
    pub fn new(
        facts: &[(String, i64)],
        acquisitions: Vec<Arc<Acquisition>>,
        spend_micros: i64,
    ) -> Self {
        let mut per_user: BTreeMap<&str, i64> = BTreeMap::new();
        for (k, m) in facts {
            *per_user.entry(k.as_str()).or_default() += m;
        }
        Self {
            revenue_micros: facts.iter().map(|(_, m)| m).sum(),
            paying_users: per_user.values().filter(|m| **m > 0).count() as u64,
            acquisitions,
            spend_micros,
        }
    }

    /// revenue / paying users; None without any.
    pub fn arpu(&self) -> Option<i64> {
        (self.paying_users > 0)
            .then(|| rounded(self.revenue_micros as f64 / self.paying_users as f64))
    }

    /// spend / acquisitions; None without acquisitions.
    pub fn cac(&self) -> Option<i64> {
        let n = self.acquisitions.len();
        (n > 0).then(|| rounded(self.spend_micros as f64 / n as f64))
    }

    /// The range's acquisitions' revenue within `days` / those acquisitions.
    pub fn ltv(&self, days: Option<i64>) -> Option<i64> {
        let n = self.acquisitions.len();
        let total: i64 = self
            .acquisitions
            .iter()
            .map(|a| a.revenue_within(days))
            .sum();
        (n > 0).then(|| rounded(total as f64 / n as f64))
    }

    /// ltv / cac; None without spend.
    pub fn ltv_to_cac(&self, days: Option<i64>) -> Option<f64> {
        let cac = self.cac().filter(|c| *c > 0)?;
        Some(self.ltv(days)? as f64 / cac as f64)
    }
}

/// A cohort's key: as the series of `timeseries` are keyed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CohortKey {
    pub channel: Option<Channel>,
    /// The source or campaign (per the grouping); None for no campaign.
    pub key: Option<String>,
}

impl CohortKey {
    fn of_touch(group: GroupBy, k: &super::TouchKey) -> Self {
        match group {
            GroupBy::None => Self {
                channel: None,
                key: None,
            },
            GroupBy::Channel => Self {
                channel: Some(k.channel),
                key: None,
            },
            GroupBy::Source => Self {
                channel: None,
                key: Some(k.source.clone()),
            },
            GroupBy::Campaign => Self {
                channel: None,
                key: k.campaign.clone(),
            },
        }
    }

    fn of_spend(group: GroupBy, s: &SpendFact) -> Self {
        match group {
            GroupBy::None => Self {
                channel: None,
                key: None,
            },
            GroupBy::Channel => Self {
                channel: Some(channel_for(&s.source, &s.medium, Some(&s.campaign), None).0),
                key: None,
            },
            GroupBy::Source => Self {
                channel: None,
                key: Some(s.source.clone()),
            },
            GroupBy::Campaign => Self {
                channel: None,
                key: Some(s.campaign.clone()),
            },
        }
    }
}

/// One period of a cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortPeriod {
    pub index: usize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub revenue_micros: i64,
    pub cumulative_revenue_micros: i64,
    /// Credited users acquired and not churned by the period's end.
    pub active_users: f64,
    pub complete: bool,
}

/// One cohort row: acquisitions of one interval and key.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub key: CohortKey,
    /// Credited acquisitions (Σ weights).
    pub users: f64,
    pub spend_micros: i64,
    pub periods: Vec<CohortPeriod>,
}

impl Cohort {
    pub fn cac(&self) -> Option<i64> {
        (self.users > 0.0).then(|| rounded(self.spend_micros as f64 / self.users))
    }
}

/// A spend fact on one UTC day.
#[derive(Debug, Clone)]
pub struct DatedSpend {
    pub day_start: DateTime<Utc>,
    pub fact: SpendFact,
}

/// The cohort table: `edges` (from [`timeseries::buckets`]) delimit the
/// cohorts; acquisitions outside `[from, to)` are left out; each cohort
/// gets `periods` periods of the same interval in `tz`.
#[allow(clippy::too_many_arguments)]
pub fn cohorts(
    acquisitions: &[CreditedAcquisition],
    spend: &[DatedSpend],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    edges: &[DateTime<Utc>],
    interval: Interval,
    tz: Tz,
    group: GroupBy,
    periods: usize,
    now: DateTime<Utc>,
) -> Vec<Cohort> {
    type Members = Vec<(Arc<Acquisition>, f64)>;
    let mut cells: BTreeMap<(usize, CohortKey), (Members, i64)> = BTreeMap::new();
    let bucket_of = |at: DateTime<Utc>| -> Option<usize> {
        let i = edges.partition_point(|e| *e <= at);
        (i >= 1 && i < edges.len()).then(|| i - 1)
    };
    for a in acquisitions {
        let at = a.acquisition.acquired_at;
        if at < from || at >= to {
            continue;
        }
        let Some(b) = bucket_of(at) else { continue };
        for (key, weight) in &a.credits {
            let cell = cells
                .entry((b, CohortKey::of_touch(group, key)))
                .or_default();
            cell.0.push((a.acquisition.clone(), *weight));
        }
    }
    for s in spend {
        if s.day_start < from || s.day_start >= to {
            continue;
        }
        if let Some(b) = bucket_of(s.day_start) {
            cells
                .entry((b, CohortKey::of_spend(group, &s.fact)))
                .or_default()
                .1 += s.fact.micros;
        }
    }
    cells
        .into_iter()
        .map(|((b, key), (members, spend_micros))| {
            let start = edges[b];
            let mut bounds = vec![start];
            for _ in 0..periods {
                let last = *bounds.last().unwrap_or(&start);
                bounds.push(timeseries::next_edge(last, interval, tz));
            }
            let mut cumulative = 0.0;
            let periods = bounds
                .windows(2)
                .enumerate()
                .map(|(index, w)| {
                    let (p_start, p_end) = (w[0], w[1]);
                    let mut revenue = 0.0;
                    let mut active = 0.0;
                    for (a, weight) in &members {
                        let in_period: i64 = a
                            .revenue
                            .iter()
                            .filter(|(at, _)| *at >= a.acquired_at && *at >= p_start && *at < p_end)
                            .map(|(_, m)| *m)
                            .sum();
                        revenue += weight * in_period as f64;
                        if a.churned_at.is_none_or(|c| c >= p_end) {
                            active += weight;
                        }
                    }
                    cumulative += revenue;
                    CohortPeriod {
                        index,
                        start: p_start,
                        end: p_end,
                        revenue_micros: rounded(revenue),
                        cumulative_revenue_micros: rounded(cumulative),
                        active_users: active,
                        complete: p_end <= now,
                    }
                })
                .collect();
            Cohort {
                start,
                end: edges[b + 1],
                key,
                users: members.iter().fold(0.0, |a, (_, w)| a + w),
                spend_micros,
                periods,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::{Dimension, TouchKey};

    fn t(day: i64, hour: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + day * 86_400 + hour * 3_600, 0).unwrap()
    }

    fn key(channel: Channel, source: &str) -> TouchKey {
        TouchKey {
            campaign: None,
            source: source.into(),
            medium: "x".into(),
            channel,
            landing_page: "/".into(),
        }
    }

    fn acq(
        at: DateTime<Utc>,
        churn: Option<DateTime<Utc>>,
        rev: &[(DateTime<Utc>, i64)],
    ) -> Arc<Acquisition> {
        Arc::new(Acquisition {
            journey_key: format!("u:{at}"),
            acquired_at: at,
            churned_at: churn,
            revenue: rev.to_vec(),
        })
    }

    #[test]
    fn revenue_within_days_starts_at_the_acquisition_and_excludes_its_end() {
        // Revenue the day before (a payment before the signup) never counts;
        // a payment exactly 30 days later is outside "within 30 days".
        let a = acq(
            t(10, 0),
            None,
            &[
                (t(9, 0), 5_000_000),
                (t(10, 0), 10_000_000),
                (t(40, 0), 10_000_000),
                (t(41, 0), -10_000_000),
            ],
        );
        assert_eq!(a.revenue_within(Some(0)), 0);
        assert_eq!(a.revenue_within(Some(1)), 10_000_000);
        assert_eq!(a.revenue_within(Some(30)), 10_000_000);
        assert_eq!(a.revenue_within(Some(31)), 20_000_000);
        assert_eq!(a.revenue_within(None), 10_000_000);
    }

    #[test]
    fn payback_is_the_first_crossing_even_when_a_refund_dips_below() {
        let a = acq(
            t(0, 0),
            None,
            &[
                (t(0, 1), 6_000_000),
                (t(3, 0), 6_000_000),
                (t(4, 0), -6_000_000),
            ],
        );
        let row = RowRevenue {
            credits: vec![AcquisitionCredit {
                acquisition: a,
                weight: 1.0,
            }],
        };
        // revenue(1) = 6, revenue(4) = 12 ≥ 10: day 4, though revenue(5) = 6.
        assert_eq!(row.payback_days(Some(10_000_000)), Some(4));
        assert_eq!(row.payback_days(Some(6_000_000)), Some(1));
        assert_eq!(row.payback_days(Some(13_000_000)), None);
        assert_eq!(row.payback_days(None), None);
        assert_eq!(row.roas(None, Some(3_000_000)), Some(2.0));
        assert_eq!(row.roas(None, None), None);
    }

    #[test]
    fn weighted_rows_split_each_acquisitions_revenue_and_churn() {
        let a = acq(t(0, 0), Some(t(20, 0)), &[(t(0, 0), 9_000_000)]);
        let b = acq(t(1, 0), None, &[(t(1, 0), 3_000_000)]);
        let acquisitions = vec![
            CreditedAcquisition {
                acquisition: a,
                credits: vec![
                    (key(Channel::PaidSocial, "fb"), 2.0 / 3.0),
                    (key(Channel::Email, "nl"), 1.0 / 3.0),
                ],
            },
            CreditedAcquisition {
                acquisition: b,
                credits: vec![(key(Channel::Email, "nl"), 1.0)],
            },
        ];
        let rows = by_row(Dimension::Channel, &acquisitions);
        let social = &rows[&RowKey::Channel(Channel::PaidSocial)];
        let email = &rows[&RowKey::Channel(Channel::Email)];
        assert_eq!(social.revenue(None), 6_000_000);
        assert_eq!(email.revenue(None), 6_000_000);
        assert!((email.acquisitions() - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(email.ltv(None), Some(4_500_000));
        // a churned on day 20: within 30 days, not within 14.
        assert!((email.net_conversions(30) - 1.0).abs() < 1e-12);
        assert!((email.churn_rate(30).unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(email.churn_rate(14), Some(0.0));
        assert!(email.revenue_complete(1, t(2, 0)));
        assert!(!email.revenue_complete(2, t(2, 0)));
        assert!((email.matured_share(2, t(2, 0)).unwrap() - 0.25).abs() < 1e-12);
    }

    #[test]
    fn the_overview_books_revenue_in_range_and_counts_paying_users() {
        let facts = vec![
            ("u:a".to_owned(), 10_000_000),
            ("u:a".to_owned(), -10_000_000),
            ("u:b".to_owned(), 5_000_000),
        ];
        let o = RevenueOverview::new(
            &facts,
            vec![
                acq(t(0, 0), None, &[(t(0, 0), 5_000_000)]),
                acq(t(1, 0), None, &[]),
            ],
            4_000_000,
        );
        assert_eq!(o.revenue_micros, 5_000_000);
        assert_eq!(o.paying_users, 1);
        assert_eq!(o.arpu(), Some(5_000_000));
        assert_eq!(o.cac(), Some(2_000_000));
        assert_eq!(o.ltv(None), Some(2_500_000));
        assert_eq!(o.ltv_to_cac(None), Some(1.25));
    }

    #[test]
    fn cohort_periods_follow_the_calendar_and_flag_the_incomplete() {
        let from = t(0, 0); // 2026-01-01, a Thursday
        let to = t(59, 0);
        let edges = timeseries::buckets(from, to, Interval::Month, Tz::UTC, 100).unwrap();
        let a = acq(
            t(5, 0),
            Some(t(40, 0)),
            &[
                (t(4, 0), 1_000_000),
                (t(5, 0), 10_000_000),
                (t(36, 0), 10_000_000),
            ],
        );
        let b = acq(t(35, 0), None, &[(t(35, 0), 20_000_000)]);
        let acquisitions = vec![
            CreditedAcquisition {
                acquisition: a,
                credits: vec![(key(Channel::Email, "nl"), 1.0)],
            },
            CreditedAcquisition {
                acquisition: b,
                credits: vec![(key(Channel::Email, "nl"), 1.0)],
            },
        ];
        let spend = vec![DatedSpend {
            day_start: t(3, 0),
            fact: SpendFact {
                campaign: "c".into(),
                source: "nl".into(),
                medium: "email".into(),
                micros: 7_000_000,
            },
        }];
        let now = t(45, 0);
        let out = cohorts(
            &acquisitions,
            &spend,
            (from, to),
            &edges,
            Interval::Month,
            Tz::UTC,
            GroupBy::None,
            3,
            now,
        );
        assert_eq!(out.len(), 2);
        let jan = &out[0];
        assert_eq!(jan.users, 1.0);
        assert_eq!(jan.spend_micros, 7_000_000);
        assert_eq!(jan.cac(), Some(7_000_000));
        let revenue: Vec<i64> = jan.periods.iter().map(|p| p.revenue_micros).collect();
        assert_eq!(revenue, [10_000_000, 10_000_000, 0]);
        assert_eq!(jan.periods[2].cumulative_revenue_micros, 20_000_000);
        let active: Vec<f64> = jan.periods.iter().map(|p| p.active_users).collect();
        assert_eq!(active, [1.0, 0.0, 0.0]);
        let complete: Vec<bool> = jan.periods.iter().map(|p| p.complete).collect();
        assert_eq!(complete, [true, false, false]);
        assert_eq!(jan.periods[1].start, t(31, 0));
        assert_eq!(out[1].start, t(31, 0));
        assert_eq!(out[1].spend_micros, 0);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const CHANNELS: [Channel; 4] = [
            Channel::PaidSearch,
            Channel::PaidSocial,
            Channel::Email,
            Channel::Direct,
        ];

        fn acquisitions() -> impl Strategy<Value = Vec<CreditedAcquisition>> {
            let one = (
                0i64..200,
                proptest::option::of(0i64..400),
                proptest::collection::vec((-30i64..400, -50_000_000i64..200_000_000), 0..6),
                proptest::collection::vec((0usize..4, 1u32..10), 1..5),
            );
            proptest::collection::vec(one, 0..12).prop_map(|list| {
                list.into_iter()
                    .map(|(day, churn, revenue, shares)| {
                        let at = t(day, 0);
                        let mut revenue: Vec<_> = revenue
                            .into_iter()
                            .map(|(d, m)| (t(day + d, 1), m))
                            .collect();
                        revenue.sort();
                        let total: u32 = shares.iter().map(|(_, s)| s).sum();
                        CreditedAcquisition {
                            acquisition: acq(at, churn.map(|c| t(day + c, 2)), &revenue),
                            credits: shares
                                .into_iter()
                                .map(|(c, s)| {
                                    (key(CHANNELS[c], "s"), f64::from(s) / f64::from(total))
                                })
                                .collect(),
                        }
                    })
                    .collect()
            })
        }

        proptest! {
            /// Every report's rows split each acquisition's revenue exactly
            /// once, whatever the weights: Σ rows = Σ acquisitions (to the
            /// rounding of each row to a millionth).
            #[test]
            fn rows_sum_to_the_acquisitions_revenue(acqs in acquisitions(), days in proptest::option::of(0i64..500)) {
                let expected: i64 = acqs.iter().map(|a| a.acquisition.revenue_within(days)).sum();
                for dimension in [Dimension::Channel, Dimension::Source, Dimension::LandingPage, Dimension::Campaign] {
                    let rows = by_row(dimension, &acqs);
                    let got: i64 = rows.values().map(|r| r.revenue(days)).sum();
                    prop_assert!((got - expected).abs() <= rows.len() as i64, "{got} vs {expected}");
                    let credited: f64 = rows.values().map(|r| r.acquisitions()).sum();
                    prop_assert!((credited - acqs.len() as f64).abs() < 1e-9);
                }
            }

            /// The cohorts' users and final cumulative revenue cover the
            /// acquisitions in range, period revenue never counting before
            /// an acquisition.
            #[test]
            fn cohorts_cover_every_acquisition_once(acqs in acquisitions()) {
                let (from, to) = (t(0, 0), t(200, 0));
                let edges = timeseries::buckets(from, to, Interval::Month, Tz::UTC, 100).unwrap();
                let out = cohorts(&acqs, &[], (from, to), &edges, Interval::Month, Tz::UTC, GroupBy::Channel, 24, t(1000, 0));
                let users: f64 = out.iter().map(|c| c.users).sum();
                prop_assert!((users - acqs.len() as f64).abs() < 1e-9);
                // 24 months from each cohort's start reach past every fact.
                let expected: i64 = acqs.iter().map(|a| a.acquisition.revenue_within(None)).sum();
                let got: i64 = out.iter().map(|c| c.periods.last().unwrap().cumulative_revenue_micros).sum();
                prop_assert!((got - expected).abs() <= 2 * out.len() as i64, "{got} vs {expected}");
            }
        }
    }
}
