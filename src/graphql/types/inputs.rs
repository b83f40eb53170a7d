//! Input types: webhook payloads as mutations take them, and filters.

use async_graphql::InputObject;

use crate::domain::{check_text, FieldError, RawEvent, RawPageview};
use crate::graphql::error::invalid;
use crate::graphql::scalars::DateTime;
use crate::store::{EventFilter, PageviewFilter, TimeRange};

/// A half-open time range `[from, to)`. Either end may be left open.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct DateRange {
    /// Inclusive start.
    pub from: Option<DateTime>,
    /// Exclusive end.
    pub to: Option<DateTime>,
}

impl From<DateRange> for TimeRange {
    fn from(r: DateRange) -> Self {
        TimeRange {
            from: r.from.map(|d| d.0),
            to: r.to.map(|d| d.0),
        }
    }
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
}

impl From<EventInput> for RawEvent {
    fn from(i: EventInput) -> Self {
        RawEvent {
            name: Some(i.name),
            fingerprint: Some(i.fingerprint),
            user_id: i.user_id,
            created_at: Some(i.created_at),
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
            range: f.range.map(Into::into).unwrap_or_default(),
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
            range: f.range.map(Into::into).unwrap_or_default(),
        })
    }
}
