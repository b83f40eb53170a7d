//! Campaign spend, raw (as a sender wrote it) and parsed.
//!
//! Money is never a float here: an amount is parsed from its decimal text
//! into integer micros ([`Amount`]), stored as such, and printed back from
//! them, so "0.1" + "0.2" is exactly "0.30" in a report.

use std::fmt;

use chrono::NaiveDate;

use super::text::{check_identifier, check_text};
use super::webhook::{FieldError, MAX_ID_LEN};
use super::window::TimeWindow;

/// The reporting currency of a deployment that configures none.
pub const DEFAULT_CURRENCY: &str = "EUR";

/// Fraction digits an amount may have: micros are the storage unit.
pub const AMOUNT_SCALE: u32 = 6;

/// The largest amount accepted for one day of one campaign (10^12). Far above
/// any real budget, and far enough below `i64::MAX` micros that a report can
/// sum millions of rows without overflowing.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

const MICROS_PER_UNIT: i64 = 10_i64.pow(AMOUNT_SCALE);

/// A money amount with at most 6 fraction digits, held exactly as integer
/// micros (amount × 10^6). Non-negative unless made by
/// [`Amount::parse_signed`] (an event's revenue: a refund is negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

impl Amount {
    /// Parses a decimal string: digits, optionally `.` and 1–6 more digits
    /// (`"123.45"`, `"0"`, `"1000000"`). No sign, exponent or separators:
    /// spend exports write plain decimals, and anything else is a mistake
    /// worth surfacing rather than guessing at.
    pub fn parse(value: &str) -> Result<Self, String> {
        let text = value.trim();
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        if text.starts_with('-') {
            return Err(format!("must not be negative, got '{text}'"));
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !is_digits(whole) || fraction.is_some_and(|f| !is_digits(f)) {
            return Err(format!(
                "'{text}' is not a decimal amount; expected e.g. '123.45'"
            ));
        }
        let fraction = fraction.unwrap_or("");
        if fraction.len() > AMOUNT_SCALE as usize {
            return Err(format!(
                "'{text}' has more than {AMOUNT_SCALE} fraction digits"
            ));
        }
        let too_large = || format!("must be at most {}", Amount(MAX_AMOUNT * MICROS_PER_UNIT));
        // Leading zeros are harmless; past them, 13 digits already exceed 10^12.
        let whole = whole.trim_start_matches('0');
        if whole.len() > 13 {
            return Err(too_large());
        }
        let units: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let padded = format!("{fraction:0<width$}", width = AMOUNT_SCALE as usize);
        let micros_fraction: i64 = padded.parse().map_err(|_| too_large())?;
        let micros = units * MICROS_PER_UNIT + micros_fraction;
        if micros > MAX_AMOUNT * MICROS_PER_UNIT {
            return Err(too_large());
        }
        Ok(Self(micros))
    }

    /// [`Amount::parse`], with an optional leading `-`: the revenue of an
    /// event may be negative (a refund), spend never is.
    pub fn parse_signed(value: &str) -> Result<Self, String> {
        let text = value.trim();
        match text.strip_prefix('-') {
            Some(rest) if rest.starts_with('-') || rest.trim() != rest => Err(format!(
                "'{text}' is not a decimal amount; expected e.g. '-12.50'"
            )),
            Some(rest) => Self::parse(rest).map(|a| Self(-a.0)),
            None => Self::parse(text),
        }
    }

    /// An amount from stored micros (a row, or a sum of rows in a report).
    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// The amount × 10^6.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// The sum, or `None` on overflow (beyond 9.2 × 10^12 units).
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Self)
    }
}

/// The canonical decimal: trailing zeros trimmed, but at least two fraction
/// digits (`"123.45"`, `"0.00"`, `"12.345"`, `"0.000001"`).
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let scale = MICROS_PER_UNIT as u64;
        let fraction = format!("{:06}", abs % scale);
        let fraction = fraction.trim_end_matches('0');
        write!(f, "{sign}{}.{fraction:0<2}", abs / scale)
    }
}

/// An ISO 4217 code: three ASCII letters, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(String);

/// [`DEFAULT_CURRENCY`].
impl Default for Currency {
    fn default() -> Self {
        Self(DEFAULT_CURRENCY.to_owned())
    }
}

impl Currency {
    pub fn parse(value: &str) -> Result<Self, String> {
        let code = value.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(code.to_ascii_uppercase()))
        } else {
            Err(format!(
                "'{code}' is not a currency code; expected three letters such as 'EUR'"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Spend as it arrived. `None` means absent or null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSpend {
    pub campaign: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub date: Option<String>,
    pub amount: Option<String>,
    /// `None` means the deployment's reporting currency.
    pub currency: Option<String>,
}

/// Valid spend: one day of one (campaign, source, medium), in the
/// deployment's reporting currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSpend {
    /// As sent, trimmed.
    pub campaign: String,
    /// Lower-cased, as classification writes a pageview's source, so spend
    /// and traffic meet on the same key.
    pub source: String,
    /// Lower-cased, like `source`.
    pub medium: String,
    pub date: NaiveDate,
    pub amount: Amount,
    pub currency: Currency,
}

fn required<'a>(field: &'static str, value: Option<&'a str>) -> Result<&'a str, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "is required"))
}

/// A non-empty, visible label of at most [`MAX_ID_LEN`] characters, trimmed.
fn label(field: &'static str, value: Option<&str>) -> Result<String, FieldError> {
    let value = required(field, value)?.trim();
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

/// A calendar day written `YYYY-MM-DD`, and nothing looser (`2023-1-5` and
/// timestamps are refused: a spend row is a day, and its key must be exact).
pub fn parse_date(value: &str) -> Result<NaiveDate, String> {
    let text = value.trim();
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| format!("'{text}' is not a date; expected YYYY-MM-DD, e.g. '2023-01-20'"))
}

impl NewSpend {
    /// Validates every field, reporting all bad ones at once. Not a `TryFrom`:
    /// the currency check needs the deployment's `reporting` currency, and
    /// the date must be a day of the request's `window`.
    pub fn parse(
        raw: RawSpend,
        reporting: &Currency,
        window: &TimeWindow,
    ) -> Result<Self, Vec<FieldError>> {
        let campaign = label("campaign", raw.campaign.as_deref());
        let source = label("source", raw.source.as_deref()).map(|s| s.to_lowercase());
        let medium = label("medium", raw.medium.as_deref()).map(|s| s.to_lowercase());
        let date = required("date", raw.date.as_deref())
            .and_then(|d| check_text("date", d.trim()).map(|()| d))
            .and_then(|d| parse_date(d).map_err(|m| FieldError::new("date", m)))
            .and_then(|d| window.check_date("date", d));
        let amount = required("amount", raw.amount.as_deref())
            .and_then(|a| check_text("amount", a.trim()).map(|()| a))
            .and_then(|a| Amount::parse(a).map_err(|m| FieldError::new("amount", m)));
        let currency = match raw.currency.as_deref().map(str::trim) {
            None | Some("") => Ok(reporting.clone()),
            Some(c) => check_text("currency", c)
                .and_then(|()| Currency::parse(c).map_err(|m| FieldError::new("currency", m)))
                .and_then(|c| {
                    // One currency per deployment: converting would need a
                    // rate source, and mixing would make every sum wrong.
                    if &c == reporting {
                        Ok(c)
                    } else {
                        Err(FieldError::new(
                            "currency",
                            format!(
                                "'{}' is not this deployment's reporting currency ({}); send amounts in {}",
                                c.as_str(),
                                reporting.as_str(),
                                reporting.as_str()
                            ),
                        ))
                    }
                }),
        };
        match (campaign, source, medium, date, amount, currency) {
            (Ok(campaign), Ok(source), Ok(medium), Ok(date), Ok(amount), Ok(currency)) => {
                Ok(NewSpend {
                    campaign,
                    source,
                    medium,
                    date,
                    amount,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn window() -> TimeWindow {
        let now = chrono::DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        super::super::AcceptWindow::default().at(now)
    }

    fn raw() -> RawSpend {
        RawSpend {
            campaign: Some(" 202301_US_NY_Resolutions ".into()),
            source: Some("Facebook".into()),
            medium: Some("PAID".into()),
            date: Some("2023-01-20".into()),
            amount: Some("123.45".into()),
            currency: None,
        }
    }

    fn amount(s: &str) -> String {
        Amount::parse(s).unwrap().to_string()
    }

    #[test]
    fn amounts_print_canonically() {
        assert_eq!(amount("123.45"), "123.45");
        assert_eq!(amount("0"), "0.00");
        assert_eq!(amount("1000000"), "1000000.00");
        assert_eq!(amount("12.345000"), "12.345");
        assert_eq!(amount("12.345678"), "12.345678");
        assert_eq!(amount("0.000001"), "0.000001");
        assert_eq!(amount("007.5"), "7.50");
        assert_eq!(amount(" 1.2 "), "1.20");
        assert_eq!(amount("1000000000000"), "1000000000000.00");
    }

    #[test]
    fn amounts_are_exact_micros() {
        assert_eq!(Amount::parse("123.45").unwrap().micros(), 123_450_000);
        assert_eq!(Amount::parse("0.000001").unwrap().micros(), 1);
        let sum = Amount::parse("0.1")
            .unwrap()
            .checked_add(Amount::parse("0.2").unwrap())
            .unwrap();
        assert_eq!(sum, Amount::parse("0.3").unwrap());
        assert_eq!(sum.to_string(), "0.30");
        assert_eq!(Amount::from_micros(sum.micros()), sum);
    }

    #[test]
    fn bad_amounts_are_refused_with_the_reason() {
        for (text, words) in [
            ("", "empty"),
            ("-1", "negative"),
            ("-0.01", "negative"),
            ("+1", "not a decimal"),
            ("1e3", "not a decimal"),
            ("1,5", "not a decimal"),
            ("1.", "not a decimal"),
            (".5", "not a decimal"),
            ("1.2.3", "not a decimal"),
            ("abc", "not a decimal"),
            ("NaN", "not a decimal"),
            ("1.0000001", "more than 6 fraction digits"),
            ("1000000000000.000001", "at most 1000000000000.00"),
            ("99999999999999999999999", "at most"),
        ] {
            let err = Amount::parse(text).unwrap_err();
            assert!(err.contains(words), "{text}: '{err}' lacks '{words}'");
        }
    }

    #[test]
    fn a_signed_amount_may_be_a_refund_and_nothing_looser() {
        assert_eq!(Amount::parse_signed("-12.5").unwrap().micros(), -12_500_000);
        assert_eq!(Amount::parse_signed(" 9.99 ").unwrap().micros(), 9_990_000);
        assert_eq!(Amount::parse_signed("-0").unwrap().micros(), 0);
        for bad in ["--1", "- 1", "-", "-1e2", "+1", "-1.0000001"] {
            assert!(Amount::parse_signed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn negative_micros_print_with_a_sign() {
        assert_eq!(Amount::from_micros(-1_500_000).to_string(), "-1.50");
    }

    #[test]
    fn currencies_are_three_letters_upper_cased() {
        assert_eq!(
            Currency::default(),
            Currency::parse(DEFAULT_CURRENCY).unwrap()
        );
        assert_eq!(Currency::parse(" usd ").unwrap().as_str(), "USD");
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("E1R").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn dates_must_be_iso_days() {
        assert_eq!(
            parse_date("2023-01-20").unwrap(),
            NaiveDate::from_ymd_opt(2023, 1, 20).unwrap()
        );
        for bad in [
            "2023-1-20",
            "2023-02-30",
            "20230120",
            "2023-01-20T00:00:00Z",
            "yesterday",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn valid_spend_is_normalised() {
        let spend = NewSpend::parse(raw(), &eur(), &window()).unwrap();
        assert_eq!(spend.campaign, "202301_US_NY_Resolutions");
        assert_eq!(
            (spend.source.as_str(), spend.medium.as_str()),
            ("facebook", "paid")
        );
        assert_eq!(spend.amount.micros(), 123_450_000);
        assert_eq!(spend.currency, eur());
    }

    #[test]
    fn the_reporting_currency_is_the_default_and_the_only_one_accepted() {
        let mut lower = raw();
        lower.currency = Some("eur".into());
        assert_eq!(
            NewSpend::parse(lower, &eur(), &window()).unwrap().currency,
            eur()
        );

        let mut usd = raw();
        usd.currency = Some("USD".into());
        let errors = NewSpend::parse(usd, &eur(), &window()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "currency");
        assert_eq!(
            errors[0].message,
            "'USD' is not this deployment's reporting currency (EUR); send amounts in EUR"
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let raw = RawSpend {
            campaign: Some("  ".into()),
            source: None,
            medium: Some("m".repeat(MAX_ID_LEN + 1)),
            date: Some("2023-13-01".into()),
            amount: Some("-5".into()),
            currency: Some("euro".into()),
        };
        let errors = NewSpend::parse(raw, &eur(), &window()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["campaign", "source", "medium", "date", "amount", "currency"]
        );
    }

    #[test]
    fn spend_days_outside_the_window_are_refused() {
        for date in ["0000-01-01", "1969-12-31", "9999-12-31", "2026-06-03"] {
            let mut spend = raw();
            spend.date = Some(date.into());
            let errors = NewSpend::parse(spend, &eur(), &window()).unwrap_err();
            let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
            assert_eq!(fields, ["date"], "{date}");
        }
        let mut tomorrow = raw();
        tomorrow.date = Some("2026-06-02".into());
        assert!(NewSpend::parse(tomorrow, &eur(), &window()).is_ok());
    }

    #[test]
    fn nul_and_invisible_only_labels_are_refused() {
        let spend = RawSpend {
            campaign: Some("\u{200B}".into()),
            source: Some("face\u{0}book".into()),
            medium: Some("\u{2060}\u{FEFF}".into()),
            date: Some("2023-01-20\u{0}".into()),
            amount: Some("1\u{0}".into()),
            currency: Some("EU\u{0}".into()),
        };
        let errors = NewSpend::parse(spend, &eur(), &window()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["campaign", "source", "medium", "date", "amount", "currency"]
        );
        assert!(
            errors[1].message.contains("U+0000"),
            "{}",
            errors[1].message
        );
        assert!(
            errors[3].message.contains("U+0000"),
            "{}",
            errors[3].message
        );
    }
}
