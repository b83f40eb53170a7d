//! Conversion paths (issue 16): which sequences of channels, sources or
//! campaigns lead to conversions, and how long paths are.
//!
//! A pure fold over conversions whose steps the caller has already read off
//! their touchpoints in play under the report's dimension, so the same code
//! serves CHANNEL, SOURCE and CAMPAIGN. Groups live in a `BTreeMap` and the
//! rows are sorted on their content, so the order in which conversions
//! arrive cannot change the report.
//!
//! The assists of the `campaigns`, `sources` and `channels` rows are the same
//! kind of fold over the same input ([`InPlay`]), so they live here too.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::rows::{Dimension, RowKey, TimeStats, TouchKey};
use crate::journeys::NOT_SET;

/// What separates steps in a path's text (and orders rows with equal counts).
pub const STEP_SEPARATOR: &str = " > ";

const SECONDS_PER_DAY: f64 = 86_400.0;

/// One conversion as the paths report needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionSteps {
    /// The dimension's value of each touchpoint in play, oldest first (empty
    /// for a conversion without touchpoints).
    pub steps: Vec<String>,
    /// When the first touchpoint in play happened; `None` without touchpoints.
    pub first_touch_at: Option<DateTime<Utc>>,
    /// When the conversion happened.
    pub converted_at: DateTime<Utc>,
}

/// One distinct path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRow {
    pub steps: Vec<String>,
    pub conversions: u64,
    /// Touchpoints per conversion, counted before `collapse_repeats` merges
    /// steps: collapsing changes how paths group, not how long journeys were.
    pub avg_touchpoints: f64,
    /// Days from the first touchpoint to the conversion (whole seconds, as
    /// the other reports' time to convert); `None` for the empty path.
    pub avg_days_to_convert: Option<f64>,
    pub median_days_to_convert: Option<f64>,
}

impl PathRow {
    /// The steps joined with [`STEP_SEPARATOR`], e.g. `PAID_SOCIAL > DIRECT`.
    pub fn text(&self) -> String {
        self.steps.join(STEP_SEPARATOR)
    }
}

/// How many conversions had this many touchpoints in play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathLength {
    pub touchpoints: u64,
    pub conversions: u64,
}

/// What a path's steps are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathDimension {
    /// The channel's name, e.g. `PAID_SOCIAL`.
    Channel,
    /// The source, e.g. `facebook` or `(direct)`.
    Source,
    /// The campaign, or `(not set)` for a touchpoint without one.
    Campaign,
}

impl PathDimension {
    /// The step a touchpoint with this key contributes.
    pub fn step(self, key: &TouchKey) -> String {
        match self {
            PathDimension::Channel => key.channel.as_str().to_owned(),
            PathDimension::Source => key.source.clone(),
            PathDimension::Campaign => key.campaign.as_deref().unwrap_or(NOT_SET).to_owned(),
        }
    }
}

/// One conversion with its touchpoints in play: the input of both the
/// paths and the assists.
#[derive(Debug, Clone, PartialEq)]
pub struct InPlay {
    pub converted_at: DateTime<Utc>,
    /// The key of each touchpoint in play, oldest first.
    pub touchpoints: Vec<TouchKey>,
    /// When the first touchpoint in play happened; `None` without touchpoints.
    pub first_touch_at: Option<DateTime<Utc>>,
}

impl InPlay {
    /// The conversion as the paths report reads it under `dimension`.
    pub fn steps(&self, dimension: PathDimension) -> ConversionSteps {
        ConversionSteps {
            steps: self.touchpoints.iter().map(|k| dimension.step(k)).collect(),
            first_touch_at: self.first_touch_at,
            converted_at: self.converted_at,
        }
    }
}

/// How often a report row's key helped and how often it closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Assists {
    /// Conversions with the key on a touchpoint in play other than the last
    /// (each conversion once, however often the key appears).
    pub assisted: u64,
    /// Conversions whose last touchpoint in play has the key; a conversion
    /// without touchpoints closes under the `(not set)` key, as in the
    /// LAST_CLICK report.
    pub last_click: u64,
}

impl Assists {
    /// assisted / last-click; `None` when the key never closed.
    pub fn ratio(&self) -> Option<f64> {
        (self.last_click > 0).then(|| self.assisted as f64 / self.last_click as f64)
    }
}

/// The assists of every key that assisted or closed a conversion, under
/// `dimension`. A key both assisting and closing one conversion (`A > B > A`
/// for A) counts in both columns: GA's definition, where an assist is any
/// interaction but the last.
pub fn assists(dimension: Dimension, conversions: &[InPlay]) -> HashMap<RowKey, Assists> {
    let mut out: HashMap<RowKey, Assists> = HashMap::new();
    for c in conversions {
        let Some((last, before)) = c.touchpoints.split_last() else {
            out.entry(dimension.key(&TouchKey::not_set()))
                .or_default()
                .last_click += 1;
            continue;
        };
        out.entry(dimension.key(last)).or_default().last_click += 1;
        let assisting: BTreeSet<RowKey> = before.iter().map(|k| dimension.key(k)).collect();
        for key in assisting {
            out.entry(key).or_default().assisted += 1;
        }
    }
    out
}

#[derive(Default)]
struct Group {
    conversions: u64,
    touchpoints: u64,
    seconds: Vec<i64>,
}

/// One row per distinct sequence of steps, ordered by conversions (most
/// first), then by the steps' text. With `collapse_repeats`, consecutive
/// equal steps count once (`PAID_SOCIAL > PAID_SOCIAL > DIRECT` is
/// `PAID_SOCIAL > DIRECT`).
pub fn paths(conversions: &[ConversionSteps], collapse_repeats: bool) -> Vec<PathRow> {
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    for c in conversions {
        let mut steps = c.steps.clone();
        if collapse_repeats {
            steps.dedup();
        }
        let group = groups.entry(steps).or_default();
        group.conversions += 1;
        group.touchpoints += c.steps.len() as u64;
        if let Some(first) = c.first_touch_at {
            group
                .seconds
                .push(c.converted_at.signed_duration_since(first).num_seconds());
        }
    }
    let mut rows: Vec<(String, PathRow)> = groups
        .into_iter()
        .map(|(steps, g)| {
            let times = TimeStats::of(g.seconds);
            let row = PathRow {
                steps,
                conversions: g.conversions,
                avg_touchpoints: g.touchpoints as f64 / g.conversions as f64,
                avg_days_to_convert: times.map(|t| t.avg_seconds / SECONDS_PER_DAY),
                median_days_to_convert: times.map(|t| t.median_seconds / SECONDS_PER_DAY),
            };
            (row.text(), row)
        })
        .collect();
    // The text, not the step vectors, breaks ties: that is what a reader
    // sees, and `["A", "B"]` vs `["A B"]` would otherwise sort differently
    // from their rendering.
    rows.sort_by(|(ta, a), (tb, b)| b.conversions.cmp(&a.conversions).then_with(|| ta.cmp(tb)));
    rows.into_iter().map(|(_, row)| row).collect()
}

/// How many conversions had 0, 1, 2, … touchpoints in play, ascending; only
/// the lengths that occur.
pub fn path_lengths(conversions: &[ConversionSteps]) -> Vec<PathLength> {
    let mut lengths: BTreeMap<u64, u64> = BTreeMap::new();
    for c in conversions {
        *lengths.entry(c.steps.len() as u64).or_insert(0) += 1;
    }
    lengths
        .into_iter()
        .map(|(touchpoints, conversions)| PathLength {
            touchpoints,
            conversions,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::Channel;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
    }

    /// A conversion `days` after its first touchpoint.
    fn conversion(steps: &[&str], days: f64) -> ConversionSteps {
        let converted_at = t0() + Duration::days(30);
        ConversionSteps {
            steps: steps.iter().map(|s| (*s).to_owned()).collect(),
            first_touch_at: (!steps.is_empty())
                .then(|| converted_at - Duration::seconds((days * SECONDS_PER_DAY) as i64)),
            converted_at,
        }
    }

    fn sample() -> Vec<ConversionSteps> {
        vec![
            conversion(&["PAID_SOCIAL", "PAID_SOCIAL", "DIRECT"], 4.0),
            conversion(&["PAID_SOCIAL", "DIRECT"], 1.0),
            conversion(&["PAID_SOCIAL", "DIRECT"], 2.0),
            conversion(&["EMAIL"], 0.5),
            conversion(&["DIRECT"], 3.0),
            conversion(&[], 0.0),
            conversion(&["PAID_SOCIAL", "DIRECT", "DIRECT"], 6.0),
        ]
    }

    fn summary(rows: &[PathRow]) -> Vec<(String, u64)> {
        rows.iter().map(|r| (r.text(), r.conversions)).collect()
    }

    #[test]
    fn paths_are_ordered_by_conversions_then_by_their_text() {
        let rows = paths(&sample(), false);
        assert_eq!(
            summary(&rows),
            [
                ("PAID_SOCIAL > DIRECT".to_owned(), 2),
                (String::new(), 1),
                ("DIRECT".to_owned(), 1),
                ("EMAIL".to_owned(), 1),
                ("PAID_SOCIAL > DIRECT > DIRECT".to_owned(), 1),
                ("PAID_SOCIAL > PAID_SOCIAL > DIRECT".to_owned(), 1),
            ]
        );
        // PAID_SOCIAL > DIRECT: 1 and 2 days, 2 touchpoints each.
        let top = &rows[0];
        assert_eq!(top.avg_touchpoints, 2.0);
        assert_eq!(top.avg_days_to_convert, Some(1.5));
        assert_eq!(top.median_days_to_convert, Some(1.5));
        // The empty path has no first touchpoint to count days from.
        let empty = &rows[1];
        assert!(empty.steps.is_empty());
        assert_eq!(empty.avg_touchpoints, 0.0);
        assert_eq!(empty.avg_days_to_convert, None);
        assert_eq!(empty.median_days_to_convert, None);
    }

    #[test]
    fn collapsing_repeats_merges_paths_but_keeps_their_touchpoint_counts() {
        let rows = paths(&sample(), true);
        assert_eq!(
            summary(&rows),
            [
                ("PAID_SOCIAL > DIRECT".to_owned(), 4),
                (String::new(), 1),
                ("DIRECT".to_owned(), 1),
                ("EMAIL".to_owned(), 1),
            ]
        );
        // Touchpoints 3, 2, 2, 3 → 10/4; days 4, 1, 2, 6 → mean 13/4, median (2 + 4)/2.
        let top = &rows[0];
        assert_eq!(top.steps, ["PAID_SOCIAL", "DIRECT"]);
        assert_eq!(top.avg_touchpoints, 2.5);
        assert_eq!(top.avg_days_to_convert, Some(3.25));
        assert_eq!(top.median_days_to_convert, Some(3.0));
    }

    #[test]
    fn a_path_of_odd_length_takes_the_middle_time_as_its_median() {
        let rows = paths(
            &[
                conversion(&["EMAIL"], 1.0),
                conversion(&["EMAIL"], 10.0),
                conversion(&["EMAIL"], 2.0),
            ],
            false,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].median_days_to_convert, Some(2.0));
        assert_eq!(rows[0].avg_days_to_convert, Some(13.0 / 3.0));
    }

    #[test]
    fn the_order_of_conversions_does_not_change_the_rows() {
        let mut reversed = sample();
        reversed.reverse();
        assert_eq!(paths(&reversed, false), paths(&sample(), false));
        assert_eq!(paths(&reversed, true), paths(&sample(), true));
        assert!(paths(&[], false).is_empty());
    }

    fn key(channel: Channel, source: &str, campaign: Option<&str>) -> TouchKey {
        TouchKey {
            campaign: campaign.map(str::to_owned),
            source: source.to_owned(),
            medium: "m".to_owned(),
            channel,
            landing_page: "/".to_owned(),
        }
    }

    fn in_play(keys: &[TouchKey]) -> InPlay {
        InPlay {
            converted_at: t0(),
            touchpoints: keys.to_vec(),
            first_touch_at: (!keys.is_empty()).then(|| t0() - Duration::days(1)),
        }
    }

    #[test]
    fn steps_are_the_dimension_s_values_with_not_set_for_a_missing_campaign() {
        let fb = key(Channel::PaidSocial, "facebook", Some("spring"));
        let direct = key(Channel::Direct, "(direct)", None);
        let c = in_play(&[fb, direct]);
        assert_eq!(
            c.steps(PathDimension::Channel).steps,
            ["PAID_SOCIAL", "DIRECT"]
        );
        assert_eq!(
            c.steps(PathDimension::Source).steps,
            ["facebook", "(direct)"]
        );
        assert_eq!(
            c.steps(PathDimension::Campaign).steps,
            ["spring", "(not set)"]
        );
        assert_eq!(
            c.steps(PathDimension::Channel).first_touch_at,
            c.first_touch_at
        );
        assert!(in_play(&[]).steps(PathDimension::Source).steps.is_empty());
    }

    #[test]
    fn assists_count_each_conversion_once_per_key_and_closers_apart() {
        let social = key(Channel::PaidSocial, "facebook", Some("spring"));
        let email = key(Channel::Email, "newsletter", None);
        let direct = key(Channel::Direct, "(direct)", None);
        let conversions = [
            // Social twice before direct: one assist, not two.
            in_play(&[social.clone(), social.clone(), direct.clone()]),
            // Email assists and closes the same conversion.
            in_play(&[email.clone(), social.clone(), email.clone()]),
            in_play(std::slice::from_ref(&email)),
            in_play(&[]),
        ];
        let by = assists(Dimension::Channel, &conversions);
        let of = |c: Channel| by.get(&RowKey::Channel(c)).copied().unwrap_or_default();
        assert_eq!(
            of(Channel::PaidSocial),
            Assists {
                assisted: 2,
                last_click: 0
            }
        );
        assert_eq!(of(Channel::PaidSocial).ratio(), None);
        assert_eq!(
            of(Channel::Email),
            Assists {
                assisted: 1,
                last_click: 2
            }
        );
        assert_eq!(of(Channel::Email).ratio(), Some(0.5));
        assert_eq!(
            of(Channel::Direct),
            Assists {
                assisted: 0,
                last_click: 1
            }
        );
        assert_eq!(
            of(Channel::Unassigned),
            Assists {
                assisted: 0,
                last_click: 1
            },
            "the conversion without touchpoints closes under (not set)"
        );
        // Closers sum to the conversions, as the LAST_CLICK report does.
        assert_eq!(by.values().map(|a| a.last_click).sum::<u64>(), 4);
        let campaigns = assists(Dimension::Campaign, &conversions);
        assert_eq!(
            campaigns[&Dimension::Campaign.key(&social)].assisted,
            2,
            "campaign rows are keyed by campaign, source and medium"
        );
        assert_eq!(
            campaigns[&Dimension::Campaign.key(&TouchKey::not_set())].last_click,
            1
        );
    }

    #[test]
    fn path_lengths_count_conversions_per_number_of_touchpoints_ascending() {
        let lengths: Vec<(u64, u64)> = path_lengths(&sample())
            .iter()
            .map(|l| (l.touchpoints, l.conversions))
            .collect();
        assert_eq!(lengths, [(0, 1), (1, 2), (2, 2), (3, 2)]);
        assert!(path_lengths(&[]).is_empty());
    }
}
