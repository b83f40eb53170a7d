//! The instants and days a payload may carry.
//!
//! A timestamp far outside reality (year 0, 9999, a `+10000` that only a
//! bug writes) is refused rather than stored: it would sit forever at one
//! end of every report, and on SQLite, which stores instants as text, a year
//! beyond 9999 (`+10000-…`) sorts before `2000-…`. Inside the window every
//! accepted instant has a four-digit year, so SQLite's text
//! (`2023-01-20T13:59:56.437947+00:00`, sqlx's `to_rfc3339` with 0, 3 or 6
//! fraction digits) and PostgreSQL's `timestamptz` order the same way.

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, TimeZone, Utc};

use super::FieldError;

/// The default earliest accepted instant: the Unix epoch. Nothing a web
/// analytics sender reports happened before it; a `1900-01-01` or `0000-…`
/// is a default value, not a visit.
pub const DEFAULT_EARLIEST: &str = "1970-01-01T00:00:00Z";

/// How far ahead of the server's clock a timestamp may be by default: one
/// day absorbs any sender's clock skew or time-zone slip, and refuses the
/// placeholders (`9999-12-31`) that would otherwise be stored.
pub const DEFAULT_MAX_AHEAD_SECS: u64 = 86_400;

/// The last instant with a four-digit year, the end of what RFC 3339 can
/// write and of what SQLite's text ordering sorts correctly.
pub fn last_four_digit_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .map(|t| t + Duration::microseconds(999_999))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The accepted window as configured: an earliest instant and how far past
/// the clock the latest lies. Clock-free; [`AcceptWindow::at`] fixes it to a
/// request's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptWindow {
    earliest: DateTime<Utc>,
    max_ahead: Duration,
}

impl AcceptWindow {
    /// `max_ahead_secs` past the clock; an absurd value is capped at year
    /// 9999 by [`AcceptWindow::at`], never an overflow.
    pub fn new(earliest: DateTime<Utc>, max_ahead_secs: u64) -> Self {
        let secs = i64::try_from(max_ahead_secs).unwrap_or(i64::MAX);
        let max_ahead = Duration::try_seconds(secs).unwrap_or(Duration::MAX);
        Self {
            earliest,
            max_ahead,
        }
    }

    /// The window for a request received at `now`.
    pub fn at(&self, now: DateTime<Utc>) -> TimeWindow {
        let last = last_four_digit_instant();
        let latest = now
            .checked_add_signed(self.max_ahead)
            .map_or(last, |t| t.min(last));
        TimeWindow {
            earliest: self.earliest.min(latest),
            latest,
        }
    }
}

/// From [`DEFAULT_EARLIEST`] to [`DEFAULT_MAX_AHEAD_SECS`] past the clock.
impl Default for AcceptWindow {
    fn default() -> Self {
        Self::new(DateTime::<Utc>::UNIX_EPOCH, DEFAULT_MAX_AHEAD_SECS)
    }
}

/// The instants one request may carry, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl TimeWindow {
    /// A fixed window (tests, and callers that know their bounds).
    pub fn new(earliest: DateTime<Utc>, latest: DateTime<Utc>) -> Self {
        Self { earliest, latest }
    }

    /// `at` itself, or why it lies outside the window.
    pub fn check(
        &self,
        field: &'static str,
        at: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, FieldError> {
        if at < self.earliest {
            Err(FieldError::new(
                field,
                format!(
                    "{} is before {}, the earliest time accepted",
                    rfc3339(at),
                    rfc3339(self.earliest)
                ),
            ))
        } else if at > self.latest {
            Err(FieldError::new(
                field,
                format!(
                    "{} is in the future: the latest time accepted now is {}",
                    rfc3339(at),
                    rfc3339(self.latest)
                ),
            ))
        } else {
            Ok(at)
        }
    }

    /// A calendar day (campaign spend) inside the window's days: the day of
    /// the earliest instant to the day of the latest, both in UTC, so a
    /// sender a few time zones ahead can report "today" already.
    pub fn check_date(&self, field: &'static str, day: NaiveDate) -> Result<NaiveDate, FieldError> {
        let (first, last) = (self.earliest.date_naive(), self.latest.date_naive());
        if day < first {
            Err(FieldError::new(
                field,
                format!("{day} is before {first}, the earliest day accepted"),
            ))
        } else if day > last {
            Err(FieldError::new(
                field,
                format!("{day} is in the future: the latest day accepted now is {last}"),
            ))
        } else {
            Ok(day)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_default_window_runs_from_1970_to_one_day_after_now() {
        let now = at("2026-06-01T12:00:00Z");
        let window = AcceptWindow::default().at(now);
        assert!(window
            .check("created_at", at("1970-01-01T00:00:00Z"))
            .is_ok());
        assert!(window
            .check("created_at", at("2026-06-02T12:00:00Z"))
            .is_ok());
        let early = window
            .check("created_at", at("1969-12-31T23:59:59.999999Z"))
            .unwrap_err();
        assert_eq!(early.field, "created_at");
        assert!(early.message.contains("earliest"), "{}", early.message);
        let late = window
            .check("created_at", at("2026-06-02T12:00:00.000001Z"))
            .unwrap_err();
        assert!(
            late.message.contains("2026-06-02T12:00:00Z"),
            "{}",
            late.message
        );
    }

    #[test]
    fn a_configured_window_moves_both_ends() {
        let now = at("2026-06-01T12:00:00Z");
        let window = AcceptWindow::new(at("2020-01-01T00:00:00Z"), 60).at(now);
        assert!(window
            .check("created_at", at("2019-12-31T23:59:59Z"))
            .is_err());
        assert!(window
            .check("created_at", at("2026-06-01T12:01:00Z"))
            .is_ok());
        assert!(window
            .check("created_at", at("2026-06-01T12:01:01Z"))
            .is_err());
    }

    #[test]
    fn an_absurd_lead_is_capped_at_the_last_four_digit_year() {
        let now = at("2026-06-01T12:00:00Z");
        let window = AcceptWindow::new(DateTime::<Utc>::UNIX_EPOCH, u64::MAX).at(now);
        assert!(window
            .check("created_at", at("9999-12-31T23:59:59Z"))
            .is_ok());
        let beyond = last_four_digit_instant() + Duration::microseconds(1);
        assert!(window.check("created_at", beyond).is_err());
    }

    #[test]
    fn spend_days_follow_the_window_in_utc() {
        let now = at("2026-06-01T12:00:00Z");
        let window = AcceptWindow::default().at(now);
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(window.check_date("date", day("1970-01-01")).is_ok());
        assert!(window.check_date("date", day("2026-06-02")).is_ok());
        assert!(window.check_date("date", day("1969-12-31")).is_err());
        let err = window.check_date("date", day("2026-06-03")).unwrap_err();
        assert_eq!(err.field, "date");
        assert!(err.message.contains("2026-06-02"), "{}", err.message);
    }
}
