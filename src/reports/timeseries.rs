//! Time series: conversions per bucket (hour, day, week, month) in an IANA
//! time zone, every bucket present — a dashboard draws a missing day as zero
//! only if the zero is there.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::rows::Credited;
use crate::domain::Channel;

/// Bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
    /// ISO weeks, starting Monday.
    Week,
    Month,
}

/// How conversions are split into series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    None,
    Channel,
    Source,
    Campaign,
}

/// Why a time series cannot be computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeseriesError {
    #[error("the range must end after it starts")]
    EmptyRange,
    #[error("the range spans more than {0} buckets; choose a wider interval or a shorter range")]
    TooManyBuckets(usize),
}

/// One series: its key (per `GroupBy`) and one value per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The source or campaign (null for `NONE`, for a channel series, and for conversions without a campaign).
    pub key: Option<String>,
    pub channel: Option<Channel>,
    pub values: Vec<f64>,
}

fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let naive = date.and_hms_opt(0, 0, 0).unwrap_or(NaiveDateTime::MIN);
    // Where a DST change skips midnight, the day starts at the first instant that exists.
    let local = tz.from_local_datetime(&naive).earliest().or_else(|| {
        tz.from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
    });
    local.map_or_else(|| naive.and_utc(), |l| l.with_timezone(&Utc))
}

fn floor(at: DateTime<Utc>, interval: Interval, tz: Tz) -> DateTime<Utc> {
    let local = at.with_timezone(&tz);
    match interval {
        Interval::Hour => {
            let trimmed = local.date_naive().and_hms_opt(local.hour(), 0, 0);
            trimmed
                .and_then(|n| tz.from_local_datetime(&n).earliest())
                .map_or(at, |l| l.with_timezone(&Utc))
        }
        Interval::Day => local_midnight(tz, local.date_naive()),
        Interval::Week => {
            let date = local.date_naive();
            let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
            local_midnight(tz, monday)
        }
        Interval::Month => {
            let date = local.date_naive();
            local_midnight(tz, date.with_day(1).unwrap_or(date))
        }
    }
}

fn next(start: DateTime<Utc>, interval: Interval, tz: Tz) -> DateTime<Utc> {
    let local_date = start.with_timezone(&tz).date_naive();
    match interval {
        Interval::Hour => start + Duration::hours(1),
        Interval::Day => local_midnight(tz, local_date + Duration::days(1)),
        Interval::Week => local_midnight(tz, local_date + Duration::days(7)),
        Interval::Month => {
            let (y, m) = if local_date.month() == 12 {
                (local_date.year() + 1, 1)
            } else {
                (local_date.year(), local_date.month() + 1)
            };
            local_midnight(tz, NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(local_date))
        }
    }
}

/// The start of the bucket after the one starting at `start`.
pub(crate) fn next_edge(start: DateTime<Utc>, interval: Interval, tz: Tz) -> DateTime<Utc> {
    let n = next(start, interval, tz);
    if n > start {
        n
    } else {
        start + Duration::hours(1)
    }
}

/// Bucket boundaries covering `[from, to)`: `n + 1` instants for `n` buckets.
pub fn buckets(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
    tz: Tz,
    max_buckets: usize,
) -> Result<Vec<DateTime<Utc>>, TimeseriesError> {
    if to <= from {
        return Err(TimeseriesError::EmptyRange);
    }
    let mut edges = vec![floor(from, interval, tz)];
    while let Some(&last) = edges.last() {
        if last >= to {
            break;
        }
        if edges.len() > max_buckets {
            return Err(TimeseriesError::TooManyBuckets(max_buckets));
        }
        let n = next(last, interval, tz);
        // A zone whose rules would not advance (should not happen) must not loop forever.
        edges.push(if n > last {
            n
        } else {
            last + Duration::hours(1)
        });
    }
    Ok(edges)
}

/// Sums credit per bucket and group. `edges` come from [`buckets`];
/// conversions outside them are ignored. Series are sorted by key.
pub fn timeseries(
    conversions: &[Credited],
    edges: &[DateTime<Utc>],
    group: GroupBy,
) -> Vec<Series> {
    let n = edges.len().saturating_sub(1);
    let mut series: BTreeMap<(Option<Channel>, Option<String>), Vec<f64>> = BTreeMap::new();
    let mut sorted: Vec<&Credited> = conversions.iter().collect();
    sorted.sort_by(|a, b| (a.at, &a.conversion_id, &a.key).cmp(&(b.at, &b.conversion_id, &b.key)));
    if group == GroupBy::None {
        series.insert((None, None), vec![0.0; n]);
    }
    for c in sorted {
        let i = edges.partition_point(|e| *e <= c.at);
        if i == 0 || i > n {
            continue;
        }
        let key = match group {
            GroupBy::None => (None, None),
            GroupBy::Channel => (Some(c.key.channel), None),
            GroupBy::Source => (None, Some(c.key.source.clone())),
            GroupBy::Campaign => (None, c.key.campaign.clone()),
        };
        series.entry(key).or_insert_with(|| vec![0.0; n])[i - 1] += c.weight;
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
    use super::*;
    use crate::reports::TouchKey;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn daily_buckets_follow_the_zones_midnight_across_a_dst_change() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let edges = buckets(
            utc("2023-03-25T12:00:00Z"),
            utc("2023-03-27T12:00:00Z"),
            Interval::Day,
            tz,
            100,
        )
        .unwrap();
        assert_eq!(
            edges,
            vec![
                utc("2023-03-24T23:00:00Z"),
                utc("2023-03-25T23:00:00Z"),
                utc("2023-03-26T22:00:00Z"), // after the switch to CEST, midnight is 22:00 UTC
                utc("2023-03-27T22:00:00Z"),
            ]
        );
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let edges = buckets(
            utc("2023-01-04T00:00:00Z"),
            utc("2023-01-10T00:00:00Z"),
            Interval::Week,
            Tz::UTC,
            10,
        )
        .unwrap();
        assert_eq!(edges[0], utc("2023-01-02T00:00:00Z"));
        assert_eq!(edges.len(), 3);
        let edges = buckets(
            utc("2023-01-15T00:00:00Z"),
            utc("2023-03-01T00:00:00Z"),
            Interval::Month,
            Tz::UTC,
            10,
        )
        .unwrap();
        assert_eq!(
            edges,
            vec![
                utc("2023-01-01T00:00:00Z"),
                utc("2023-02-01T00:00:00Z"),
                utc("2023-03-01T00:00:00Z")
            ]
        );
    }

    #[test]
    fn empty_buckets_are_present_and_too_many_are_refused() {
        let edges = buckets(
            utc("2023-01-01T00:00:00Z"),
            utc("2023-01-04T00:00:00Z"),
            Interval::Day,
            Tz::UTC,
            10,
        )
        .unwrap();
        let c = Credited {
            conversion_id: "c".into(),
            name: "signup".into(),
            at: utc("2023-01-02T05:00:00Z"),
            user_id: None,
            from_trial: false,
            time_to_convert_seconds: None,
            pageviews_before: 0,
            pageviews_after: 0,
            weight: 1.0,
            key: TouchKey::not_set(),
        };
        let s = timeseries(std::slice::from_ref(&c), &edges, GroupBy::None);
        assert_eq!(s[0].values, vec![0.0, 1.0, 0.0]);
        let s = timeseries(&[c], &edges, GroupBy::Channel);
        assert_eq!(s[0].channel, Some(Channel::Unassigned));
        assert_eq!(
            buckets(
                utc("2023-01-01T00:00:00Z"),
                utc("2024-01-01T00:00:00Z"),
                Interval::Hour,
                Tz::UTC,
                100
            ),
            Err(TimeseriesError::TooManyBuckets(100))
        );
        assert_eq!(
            buckets(
                utc("2023-01-02T00:00:00Z"),
                utc("2023-01-01T00:00:00Z"),
                Interval::Day,
                Tz::UTC,
                100
            ),
            Err(TimeseriesError::EmptyRange)
        );
    }
}
