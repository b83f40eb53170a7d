//! Input types: webhook payloads as mutations take them, and filters.

use async_graphql::InputObject;

use chrono::Utc;

use crate::domain::{check_text, FieldError, RawEvent, RawPageview};
use crate::graphql::error::invalid;
use crate::graphql::scalars::DateTime;
use crate::store::{EventFilter, PageviewFilter, TimeRange};

/// A half-open time range `[from, to)`. Either end may be left open, or
/// `lastDays` gives the rolling days ending at `to` (now when not given), so
/// a dashboard asks for "the last 30 days" without computing dates. Reports
/// that take a `timezone` align their buckets to that zone's days.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct DateRange {
    /// Inclusive start.
    pub from: Option<DateTime>,
    /// Exclusive end.
    pub to: Option<DateTime>,
    /// The `lastDays` × 24 hours ending at `to`, or now (1–36500). Not
    /// together with `from`.
    pub last_days: Option<i32>,
}

/// A century: longer than any data the service can hold.
const MAX_LAST_DAYS: i32 = 36_500;

impl DateRange {
    /// The range as the store takes it, `now` standing in for an open end
    /// of `lastDays`. Refuses a range that ends before it starts: it would
    /// silently answer zeros.
    pub fn resolve(self, now: chrono::DateTime<Utc>) -> Result<TimeRange, FieldError> {
        let to = self.to.map(|d| d.0);
        let from = match (self.from, self.last_days) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "range.lastDays",
                    "cannot be combined with `from`: give `from` or `lastDays`",
                ))
            }
            (_, Some(n)) if !(1..=MAX_LAST_DAYS).contains(&n) => {
                return Err(FieldError::new(
                    "range.lastDays",
                    format!("must be between 1 and {MAX_LAST_DAYS}, not {n}"),
                ))
            }
            (_, Some(n)) => Some(to.unwrap_or(now) - chrono::Duration::days(i64::from(n))),
            (from, None) => from.map(|d| d.0),
        };
        let to = match (to, self.last_days) {
            (None, Some(_)) => Some(now),
            (to, _) => to,
        };
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(FieldError::new(
                    "range.from",
                    format!(
                        "{} is after `to` ({})",
                        f.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                        t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                    ),
                ));
            }
        }
        Ok(TimeRange { from, to })
    }
}

/// An optional range argument, resolved against the current time; no range
/// is the whole history.
pub fn resolve_range(range: Option<DateRange>) -> async_graphql::Result<TimeRange> {
    range
        .map(|r| r.resolve(Utc::now()))
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| crate::graphql::error::invalid(std::slice::from_ref(&e)))
}

/// A pageview webhook, as the REST payload but in camelCase.
#[derive(Debug, Clone, InputObject)]
pub struct PageviewInput {
    /// The visitor's cookie id (1–256 characters).
    pub fingerprint: String,
    /// The account id, when the visitor is logged in. Empty means none.
    pub user_id: Option<String>,
    /// The page's absolute http(s) URL, with its query string (UTM parameters, click ids).
    pub url: String,
    /// The referrer's absolute http(s) URL. Empty means none.
    pub referrer_url: Option<String>,
    /// When the page was viewed: RFC 3339 with any offset, or the webhooks'
    /// `2023-01-20 13:59:56.437947 UTC`. A string rather than `DateTime` so
    /// that a bad value is reported like any other field (`BAD_USER_INPUT`
    /// naming `createdAt`), exactly as the REST adapter reports it.
    pub created_at: String,
}

impl From<PageviewInput> for RawPageview {
    fn from(i: PageviewInput) -> Self {
        RawPageview {
            fingerprint: Some(i.fingerprint),
            user_id: i.user_id,
            url: Some(i.url),
            referrer_url: i.referrer_url,
            created_at: Some(i.created_at),
        }
    }
}

/// An event webhook (`signup`, `trial`, `unsubscribe`, …), in camelCase.
#[derive(Debug, Clone, InputObject)]
pub struct EventInput {
    /// The event's name; stored lower-cased.
    pub name: String,
    /// The visitor's cookie id (1–256 characters).
    pub fingerprint: String,
    /// The account id. Empty means none.
    pub user_id: Option<String>,
    /// When the event happened: RFC 3339 with any offset, or
    /// `2023-01-20 13:59:56.437947 UTC` (see `PageviewInput.createdAt`).
    pub created_at: String,
    /// What the event booked, as an exact decimal string (`"9.99"`; up to 6
    /// fraction digits; negative for a refund). Part of the natural key: a
    /// corrected amount is a new fact, so correct a wrong one with a refund.
    pub revenue: Option<String>,
    /// The revenue's ISO 4217 currency; the deployment's `CURRENCY` when
    /// absent, and no other is accepted.
    pub currency: Option<String>,
}

impl From<EventInput> for RawEvent {
    fn from(i: EventInput) -> Self {
        RawEvent {
            name: Some(i.name),
            fingerprint: Some(i.fingerprint),
            user_id: i.user_id,
            created_at: Some(i.created_at),
            revenue: i.revenue,
            currency: i.currency,
        }
    }
}

/// Which pageviews to list; all given conditions must hold.
#[derive(Debug, Clone, Default, InputObject)]
#[graphql(name = "PageviewFilter")]
pub struct PageviewFilterInput {
    /// Only this visitor's pageviews.
    pub fingerprint: Option<String>,
    /// Only pageviews sent with this account id.
    pub user_id: Option<String>,
    /// Only pageviews viewed in this range.
    pub range: Option<DateRange>,
}

/// The filter's text values, refused by the webhooks' own text rule (no
/// control characters: PostgreSQL cannot even compare a NUL) as
/// `BAD_USER_INPUT` naming each field.
fn check_filter(fields: &[(&'static str, &Option<String>)]) -> async_graphql::Result<()> {
    let errors: Vec<FieldError> = fields
        .iter()
        .filter_map(|(field, value)| value.as_deref().and_then(|v| check_text(field, v).err()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid(&errors))
    }
}

impl TryFrom<PageviewFilterInput> for PageviewFilter {
    type Error = async_graphql::Error;

    fn try_from(f: PageviewFilterInput) -> async_graphql::Result<Self> {
        check_filter(&[("fingerprint", &f.fingerprint), ("user_id", &f.user_id)])?;
        Ok(PageviewFilter {
            fingerprint: f.fingerprint,
            fingerprints: None,
            user_id: f.user_id,
            range: resolve_range(f.range)?,
        })
    }
}

/// Which events to list; all given conditions must hold.
#[derive(Debug, Clone, Default, InputObject)]
#[graphql(name = "EventFilter")]
pub struct EventFilterInput {
    /// Only events of this name (case-insensitive).
    pub name: Option<String>,
    /// Only this visitor's events.
    pub fingerprint: Option<String>,
    /// Only events sent with this account id.
    pub user_id: Option<String>,
    /// Only events that happened in this range.
    pub range: Option<DateRange>,
}

impl TryFrom<EventFilterInput> for EventFilter {
    type Error = async_graphql::Error;

    fn try_from(f: EventFilterInput) -> async_graphql::Result<Self> {
        check_filter(&[
            ("name", &f.name),
            ("fingerprint", &f.fingerprint),
            ("user_id", &f.user_id),
        ])?;
        Ok(EventFilter {
            name: f.name,
            names: None,
            fingerprint: f.fingerprint,
            user_id: f.user_id,
            range: resolve_range(f.range)?,
        })
    }
}
