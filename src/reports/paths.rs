//! Conversion paths (issue 16): which sequences of channels, sources or
//! campaigns lead to conversions, and how long paths are.
//!
//! A pure fold over conversions whose steps the caller has already read off
//! their touchpoints in play under the report's dimension, so the same code
//! serves CHANNEL, SOURCE and CAMPAIGN. Groups live in a `BTreeMap` and the
//! rows are sorted on their content, so the order in which conversions
//! arrive cannot change the report.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::rows::TimeStats;

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
