//! The two webhook payloads, raw (as a sender wrote them) and parsed.
//!
//! `RawPageview`/`RawEvent` hold whatever strings arrived; `TryFrom` turns them
//! into `NewPageview`/`NewEvent`, whose fields can only hold valid values. Both
//! the REST adapter and the GraphQL mutations go through these conversions, so
//! the two surfaces accept and refuse exactly the same payloads.
//!
//! Text fields follow [`super::text`] (no control characters, identifiers
//! with a visible character) and timestamps the request's [`TimeWindow`].

use chrono::{DateTime, Datelike, NaiveDateTime, SubsecRound, Timelike, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::spend::{Amount, Currency};
use super::text::{check_identifier, check_text};
use super::window::{AcceptWindow, TimeWindow};

/// Longest fingerprint, user id or event name accepted.
pub const MAX_ID_LEN: usize = 256;
/// Longest URL accepted (8 KiB): longer ones are not browser URLs.
pub const MAX_URL_LEN: usize = 8 * 1024;

/// Why one field of one payload was refused. `field` uses the webhook's
/// snake_case name; the GraphQL layer renames it to the input's camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Position in a batch; `None` for a single payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            index: None,
            field,
            message: message.into(),
        }
    }

    pub fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }
}

fn bounded_id(field: &'static str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    check_identifier(field, value)?;
    if value.chars().count() > MAX_ID_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_ID_LEN} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// A visitor's cookie id: non-empty, visible, at most [`MAX_ID_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        bounded_id("fingerprint", value).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An account id. Senders write `""` for "no account": that is `None`, never a `UserId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// `Ok(None)` for an empty string.
    pub fn parse_optional(value: Option<&str>) -> Result<Option<Self>, FieldError> {
        match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => bounded_id("user_id", v).map(|v| Some(Self(v))),
        }
    }
    /// A required account id, such as an argument naming a user: trimmed as
    /// the webhooks' `user_id` is (so it names the id they stored), and
    /// refused when empty. `field` is the argument's name, for the error.
    pub fn parse(field: &'static str, value: &str) -> Result<Self, FieldError> {
        bounded_id(field, value).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An event name, lower-cased so `Signup` and `signup` count together.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventName(String);

impl EventName {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        bounded_id("name", value).map(|v| Self(v.to_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute http(s) URL of at most [`MAX_URL_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUrl(Url);

impl WebUrl {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        check_text(field, value)?;
        if value.len() > MAX_URL_LEN {
            return Err(FieldError::new(
                field,
                format!("must be at most {MAX_URL_LEN} bytes"),
            ));
        }
        let url = Url::parse(value)
            .map_err(|e| FieldError::new(field, format!("is not an absolute URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FieldError::new(
                field,
                format!("must be an http(s) URL, not '{}'", url.scheme()),
            ));
        }
        if url.host_str().is_none() {
            return Err(FieldError::new(field, "must have a host"));
        }
        Ok(Self(url))
    }
    pub fn as_url(&self) -> &Url {
        &self.0
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    /// The same URL with only the query parameters that `keep` accepts and
    /// no fragment (see `STRIP_QUERY_PARAMS`). Scheme and host are
    /// untouched, so it is still a valid `WebUrl`.
    pub fn keep_params(self, keep: impl Fn(&str) -> bool) -> Self {
        let mut url = self.0;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        url.set_fragment(None);
        Self(url)
    }
}

/// Parses the brief's form (`2023-01-20 13:59:56.437947 UTC`) and RFC 3339
/// with any offset, to UTC truncated to microseconds (the storage precision,
/// so a redelivery with extra digits is still the same payload).
///
/// A leap second (`23:59:60.25`) becomes the first second of the next minute
/// (`00:00:00.25`), as PostgreSQL reads one; SQLite would otherwise store the
/// `:60` text and the two backends disagree. An instant whose year in UTC
/// has more than four digits (`9999-12-31T23:00:00-05:00`) is refused: RFC
/// 3339 cannot write it, and no window of [`TimeWindow`] reaches it.
/// No window is applied here: read filters may ask for any range.
pub fn parse_timestamp(value: &str) -> Result<DateTime<Utc>, String> {
    let value = value.trim();
    let parsed = if let Some(naive) = value.strip_suffix(" UTC") {
        NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f")
            .map(|n| n.and_utc())
            .map_err(|e| e.to_string())
    } else {
        DateTime::parse_from_rfc3339(value)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| e.to_string())
    };
    let parsed = parsed.map_err(|e| {
        format!("'{value}' is not a timestamp ({e}); expected e.g. '2023-01-20 13:59:56.437947 UTC' or RFC 3339")
    })?;
    let parsed = roll_over_leap_second(parsed).trunc_subsecs(6);
    if !(0..=9999).contains(&parsed.year()) {
        return Err(format!(
            "'{value}' is outside the years 0000 to 9999 in UTC"
        ));
    }
    Ok(parsed)
}

/// chrono keeps a leap second as second 59 with a nanosecond count of one
/// second or more; this moves it to the next second proper.
fn roll_over_leap_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond();
    if nanos < 1_000_000_000 {
        return t;
    }
    t.with_nanosecond(nanos - 1_000_000_000)
        .and_then(|t| t.checked_add_signed(chrono::Duration::seconds(1)))
        .unwrap_or(t)
}

fn timestamp_field(
    field: &'static str,
    value: Option<&str>,
    window: &TimeWindow,
) -> Result<DateTime<Utc>, FieldError> {
    let value = value.ok_or_else(|| FieldError::new(field, "is required"))?;
    check_text(field, value.trim())?;
    let at = parse_timestamp(value).map_err(|m| FieldError::new(field, m))?;
    window.check(field, at)
}

fn required<'a>(field: &'static str, value: Option<&'a str>) -> Result<&'a str, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "is required"))
}

/// A pageview as it arrived. `None` means absent or null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawPageview {
    pub fingerprint: Option<String>,
    pub user_id: Option<String>,
    pub url: Option<String>,
    pub referrer_url: Option<String>,
    pub created_at: Option<String>,
}

/// An event as it arrived. `None` means absent or null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawEvent {
    pub name: Option<String>,
    pub fingerprint: Option<String>,
    pub user_id: Option<String>,
    pub created_at: Option<String>,
    /// A decimal (a JSON number is taken as its decimal text); negative
    /// for a refund.
    pub revenue: Option<String>,
    /// ISO 4217; `None` means the deployment's reporting currency.
    pub currency: Option<String>,
}

/// A valid pageview, not yet classified.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPageview {
    pub fingerprint: Fingerprint,
    pub user_id: Option<UserId>,
    pub url: WebUrl,
    pub referrer_url: Option<WebUrl>,
    pub created_at: DateTime<Utc>,
}

/// A valid event.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub name: EventName,
    pub fingerprint: Fingerprint,
    pub user_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    /// What the event booked, exactly; negative for a refund.
    pub revenue: Option<Amount>,
    /// The currency the sender named, if any (checked against the
    /// deployment's by the ingestor, which knows it).
    pub currency: Option<Currency>,
}

/// Validates with the default [`AcceptWindow`] around the current time (the
/// importer, the demo data). The service's [`crate::ingest::Ingestor`] uses
/// [`NewPageview::parse`] with its configured window.
impl TryFrom<RawPageview> for NewPageview {
    type Error = Vec<FieldError>;

    fn try_from(raw: RawPageview) -> Result<Self, Self::Error> {
        Self::parse(raw, &AcceptWindow::default().at(Utc::now()))
    }
}

impl NewPageview {
    /// Validates every field, reporting all bad ones at once; `created_at`
    /// must lie in `window`.
    pub fn parse(raw: RawPageview, window: &TimeWindow) -> Result<Self, Vec<FieldError>> {
        let fingerprint =
            required("fingerprint", raw.fingerprint.as_deref()).and_then(Fingerprint::parse);
        let user_id = UserId::parse_optional(raw.user_id.as_deref());
        let url = required("url", raw.url.as_deref()).and_then(|u| WebUrl::parse("url", u));
        let referrer_url = match raw.referrer_url.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(r) => WebUrl::parse("referrer_url", r).map(Some),
        };
        let created_at = timestamp_field("created_at", raw.created_at.as_deref(), window);
        // Matching all five at once reports every bad field, not just the first.
        match (fingerprint, user_id, url, referrer_url, created_at) {
            (Ok(fingerprint), Ok(user_id), Ok(url), Ok(referrer_url), Ok(created_at)) => {
                Ok(NewPageview {
                    fingerprint,
                    user_id,
                    url,
                    referrer_url,
                    created_at,
                })
            }
            (a, b, c, d, e) => Err([a.err(), b.err(), c.err(), d.err(), e.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

/// Validates with the default [`AcceptWindow`], like [`NewPageview`]'s.
impl TryFrom<RawEvent> for NewEvent {
    type Error = Vec<FieldError>;

    fn try_from(raw: RawEvent) -> Result<Self, Self::Error> {
        Self::parse(raw, &AcceptWindow::default().at(Utc::now()))
    }
}

impl NewEvent {
    /// Validates every field, reporting all bad ones at once; `created_at`
    /// must lie in `window`.
    pub fn parse(raw: RawEvent, window: &TimeWindow) -> Result<Self, Vec<FieldError>> {
        let name = required("name", raw.name.as_deref()).and_then(EventName::parse);
        let fingerprint =
            required("fingerprint", raw.fingerprint.as_deref()).and_then(Fingerprint::parse);
        let user_id = UserId::parse_optional(raw.user_id.as_deref());
        let created_at = timestamp_field("created_at", raw.created_at.as_deref(), window);
        let revenue = match raw.revenue.as_deref() {
            Some(text) => Amount::parse_signed(text)
                .map(Some)
                .map_err(|why| FieldError::new("revenue", why)),
            None => Ok(None),
        };
        let currency = match (raw.currency.as_deref(), &raw.revenue) {
            (None, _) => Ok(None),
            (Some(_), None) => Err(FieldError::new(
                "currency",
                "names the currency of `revenue`, which is missing",
            )),
            (Some(code), Some(_)) => Currency::parse(code)
                .map(Some)
                .map_err(|why| FieldError::new("currency", why)),
        };
        match (name, fingerprint, user_id, created_at, revenue, currency) {
            (Ok(name), Ok(fingerprint), Ok(user_id), Ok(created_at), Ok(revenue), Ok(currency)) => {
                Ok(NewEvent {
                    name,
                    fingerprint,
                    user_id,
                    created_at,
                    revenue,
                    currency,
                })
            }
            (a, b, c, d, e, f) => Err([a.err(), b.err(), c.err(), d.err(), e.err(), f.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

/// The natural key of a payload: its time as 8 order-preserving big-endian
/// bytes, then 16 bytes of SHA-256 over every normalised field. Leading with
/// the time keeps the unique index's inserts close to append-only (random
/// keys dirty random pages); the digest makes NULL and `""` one value, which a
/// unique index over the raw nullable columns would not.
fn natural_key(kind: u8, at: DateTime<Utc>, fields: &[Option<&str>]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update([kind]);
    for field in fields {
        match field {
            // Length-prefixed, so ("ab","c") and ("a","bc") differ; 0xFF marks null.
            Some(v) => {
                hasher.update((v.len() as u64).to_be_bytes());
                hasher.update(v.as_bytes());
            }
            None => hasher.update([0xFF]),
        }
    }
    let micros = at.timestamp_micros();
    let mut key = Vec::with_capacity(24);
    key.extend_from_slice(&((micros as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(&hasher.finalize()[..16]);
    key
}

impl NewPageview {
    /// See [`natural_key`]: equal for every redelivery of this payload.
    pub fn dedup_key(&self) -> Vec<u8> {
        natural_key(
            b'p',
            self.created_at,
            &[
                Some(self.fingerprint.as_str()),
                self.user_id.as_ref().map(UserId::as_str),
                Some(self.url.as_str()),
                self.referrer_url.as_ref().map(WebUrl::as_str),
            ],
        )
    }
}

impl NewEvent {
    /// See [`natural_key`]: equal for every redelivery of this payload.
    ///
    /// The revenue is part of it (an event with none keeps the key it had
    /// before events carried revenue): a redelivery is a duplicate, and a
    /// corrected amount is a new fact. The currency is not: every stored
    /// revenue is in the deployment's one currency.
    pub fn dedup_key(&self) -> Vec<u8> {
        let revenue = self.revenue.map(|r| r.to_string());
        let mut fields = vec![
            Some(self.name.as_str()),
            Some(self.fingerprint.as_str()),
            self.user_id.as_ref().map(UserId::as_str),
        ];
        if let Some(revenue) = &revenue {
            fields.push(Some(revenue.as_str()));
        }
        natural_key(b'e', self.created_at, &fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_pageview() -> RawPageview {
        RawPageview {
            fingerprint: Some("fp-1".into()),
            user_id: None,
            url: Some("https://www.blinkist.com/en".into()),
            referrer_url: None,
            created_at: Some("2023-01-20 13:59:56.437947 UTC".into()),
        }
    }

    #[test]
    fn the_briefs_timestamp_form_and_rfc3339_give_the_same_instant() {
        let a = parse_timestamp("2023-01-20 13:59:56.437947 UTC").unwrap();
        let b = parse_timestamp("2023-01-20T14:59:56.437947+01:00").unwrap();
        let c = parse_timestamp("2023-01-20T13:59:56.437947Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.timestamp_subsec_micros(), 437_947);
    }

    #[test]
    fn five_fraction_digits_are_read_as_a_decimal_fraction() {
        let t = parse_timestamp("2023-01-20 14:02:21.16808 UTC").unwrap();
        assert_eq!(t.timestamp_subsec_micros(), 168_080);
    }

    #[test]
    fn digits_beyond_microseconds_are_truncated() {
        let a = parse_timestamp("2023-01-20T13:59:56.4379479Z").unwrap();
        assert_eq!(a, parse_timestamp("2023-01-20T13:59:56.437947Z").unwrap());
    }

    #[test]
    fn garbage_timestamps_are_refused_with_the_expected_forms() {
        let err = parse_timestamp("yesterday").unwrap_err();
        assert!(err.contains("2023-01-20 13:59:56.437947 UTC"), "{err}");
    }

    #[test]
    fn empty_user_id_and_referrer_mean_null() {
        let mut raw = raw_pageview();
        raw.user_id = Some(String::new());
        raw.referrer_url = Some(String::new());
        let pv = NewPageview::try_from(raw).unwrap();
        assert_eq!(pv.user_id, None);
        assert_eq!(pv.referrer_url, None);
    }

    #[test]
    fn a_required_user_id_is_trimmed_like_a_webhook_one_and_names_its_field_when_refused() {
        assert_eq!(UserId::parse("id", " u1 ").unwrap().as_str(), "u1");
        for bad in ["", "  ", "u\u{0}1", "\u{200B}"] {
            assert_eq!(UserId::parse("id", bad).unwrap_err().field, "id", "{bad:?}");
        }
        assert!(UserId::parse("id", &"x".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn empty_and_null_user_id_have_the_same_natural_key() {
        let mut with_empty = raw_pageview();
        with_empty.user_id = Some(String::new());
        let a = NewPageview::try_from(with_empty).unwrap().dedup_key();
        let b = NewPageview::try_from(raw_pageview()).unwrap().dedup_key();
        assert_eq!(a, b);
    }

    #[test]
    fn natural_keys_differ_when_any_field_differs_and_sort_by_time() {
        let base = NewPageview::try_from(raw_pageview()).unwrap();
        let mut other = raw_pageview();
        other.user_id = Some("u1".into());
        let other = NewPageview::try_from(other).unwrap();
        assert_ne!(base.dedup_key(), other.dedup_key());
        let mut later = raw_pageview();
        later.created_at = Some("2023-01-20 13:59:57 UTC".into());
        assert!(NewPageview::try_from(later).unwrap().dedup_key() > base.dedup_key());
        let mut before_1970 = raw_pageview();
        before_1970.created_at = Some("1969-12-31 23:59:59 UTC".into());
        let wide = TimeWindow::new(
            parse_timestamp("1900-01-01T00:00:00Z").unwrap(),
            parse_timestamp("2100-01-01T00:00:00Z").unwrap(),
        );
        let before_1970 = NewPageview::parse(before_1970, &wide).unwrap();
        assert!(before_1970.dedup_key() < base.dedup_key());
    }

    fn window() -> TimeWindow {
        AcceptWindow::default().at(parse_timestamp("2026-06-01T12:00:00Z").unwrap())
    }

    #[test]
    fn a_leap_second_becomes_the_first_second_of_the_next_minute() {
        let leap = parse_timestamp("2016-12-31T23:59:60.25Z").unwrap();
        assert_eq!(leap, parse_timestamp("2017-01-01T00:00:00.25Z").unwrap());
        assert_eq!(leap.timestamp_subsec_nanos(), 250_000_000);
        let briefs_form = parse_timestamp("2016-12-31 23:59:60 UTC").unwrap();
        assert_eq!(
            briefs_form,
            parse_timestamp("2017-01-01T00:00:00Z").unwrap()
        );
        let offset = parse_timestamp("2016-12-31T18:59:60-05:00").unwrap();
        assert_eq!(offset, briefs_form);
    }

    #[test]
    fn instants_past_year_9999_in_utc_are_not_timestamps() {
        let err = parse_timestamp("9999-12-31T23:00:00-05:00").unwrap_err();
        assert!(err.contains("0000 to 9999"), "{err}");
        assert!(parse_timestamp("+10000-01-01T00:00:00Z").is_err());
        assert!(parse_timestamp("9999-12-31T23:59:59.999999Z").is_ok());
    }

    #[test]
    fn timestamps_outside_the_window_are_refused_naming_the_field() {
        for value in [
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "9999-12-31T23:59:59+14:00",
            "2026-06-02T12:00:01Z",
        ] {
            let mut raw = raw_pageview();
            raw.created_at = Some(value.into());
            let errors = NewPageview::parse(raw, &window()).unwrap_err();
            let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
            assert_eq!(fields, ["created_at"], "{value}");
        }
        let mut raw = raw_pageview();
        raw.created_at = Some("2026-06-02T12:00:00Z".into());
        assert!(NewPageview::parse(raw, &window()).is_ok());
    }

    #[test]
    fn nul_and_invisible_only_identifiers_are_refused_in_every_field() {
        let raw = RawEvent {
            name: Some("sign\u{0}up".into()),
            fingerprint: Some("\u{200B}\u{FEFF}".into()),
            user_id: Some("u\u{0}".into()),
            created_at: Some("2026-01-01T00:00:00\u{0}Z".into()),
            ..RawEvent::default()
        };
        let errors = NewEvent::parse(raw, &window()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "fingerprint", "user_id", "created_at"]);
        assert!(
            errors[1].message.contains("visible"),
            "{}",
            errors[1].message
        );
        assert!(
            errors[2].message.contains("U+0000"),
            "{}",
            errors[2].message
        );

        let mut pv = raw_pageview();
        pv.url = Some("https://a.b/\u{0}".into());
        pv.referrer_url = Some("https://c.d/\u{0}".into());
        let errors = NewPageview::parse(pv, &window()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["url", "referrer_url"]);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let raw = RawPageview {
            fingerprint: Some("  ".into()),
            user_id: Some("x".repeat(MAX_ID_LEN + 1)),
            url: Some("ftp://example.com/".into()),
            referrer_url: Some("not a url".into()),
            created_at: None,
        };
        let errors = NewPageview::try_from(raw).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "fingerprint",
                "user_id",
                "url",
                "referrer_url",
                "created_at"
            ]
        );
    }

    #[test]
    fn event_names_are_lower_cased() {
        let ev = NewEvent::try_from(RawEvent {
            name: Some("SignUp".into()),
            fingerprint: Some("fp".into()),
            user_id: Some("u".into()),
            created_at: Some("2023-01-18 12:33:41.127641 UTC".into()),
            ..RawEvent::default()
        })
        .unwrap();
        assert_eq!(ev.name.as_str(), "signup");
    }

    #[test]
    fn overlong_urls_are_refused() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(WebUrl::parse("url", &long).is_err());
    }

    fn signup_with(
        revenue: Option<&str>,
        currency: Option<&str>,
    ) -> Result<NewEvent, Vec<FieldError>> {
        NewEvent::try_from(RawEvent {
            name: Some("signup".into()),
            fingerprint: Some("fp".into()),
            user_id: Some("u".into()),
            created_at: Some("2023-01-18 12:33:41.127641 UTC".into()),
            revenue: revenue.map(Into::into),
            currency: currency.map(Into::into),
        })
    }

    #[test]
    fn revenue_is_part_of_an_events_natural_key_and_an_event_without_keeps_its_old_key() {
        let none = signup_with(None, None).unwrap();
        // The key events had before they carried revenue (fixed bytes).
        let old = natural_key(
            b'e',
            none.created_at,
            &[Some("signup"), Some("fp"), Some("u")],
        );
        assert_eq!(none.dedup_key(), old);
        let paid = signup_with(Some("9.99"), None).unwrap();
        assert_eq!(paid.revenue.map(|r| r.micros()), Some(9_990_000));
        assert_ne!(paid.dedup_key(), none.dedup_key());
        // The same amount written two ways is one fact; another amount is another.
        assert_eq!(
            signup_with(Some("9.990"), Some("eur")).unwrap().dedup_key(),
            paid.dedup_key()
        );
        assert_ne!(
            signup_with(Some("9.98"), None).unwrap().dedup_key(),
            paid.dedup_key()
        );
        let refund = signup_with(Some("-9.99"), None).unwrap();
        assert_eq!(refund.revenue.map(|r| r.micros()), Some(-9_990_000));
    }

    #[test]
    fn bad_revenue_or_currency_is_refused_naming_the_field() {
        let fields = |r, c| -> Vec<String> {
            signup_with(r, c)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field.to_string())
                .collect()
        };
        assert_eq!(fields(Some("12,50"), None), ["revenue"]);
        assert_eq!(fields(Some("1.0000001"), None), ["revenue"]);
        assert_eq!(fields(Some("1"), Some("euro")), ["currency"]);
        assert_eq!(fields(None, Some("EUR")), ["currency"]);
    }
}
