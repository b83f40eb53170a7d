//! Webhook JSON → raw payloads, with errors that name the field and the item.
//!
//! Parsing goes through `serde_json::Value` rather than a derived struct so
//! that a wrong type is reported as "`url` must be a string" at item 3, not as
//! serde's "invalid type at line 1 column 412". Unknown fields are ignored:
//! senders add fields over time.

use serde_json::{Map, Value};

use crate::domain::{FieldError, RawEvent, RawPageview, RawSpend};

/// The body could not be read as webhook JSON at all (HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum JsonBodyError {
    #[error("body is not valid JSON: {0}")]
    Syntax(String),
    #[error("body must be a JSON object or an array of objects, not {0}")]
    Shape(&'static str),
}

/// A parsed body: its items, and whether it was a batch (an array).
pub type Items<T> = (Vec<T>, bool);

/// What a JSON value is, for error messages ("must be a string, not a number").
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One item of a body: an object, or why it is not one.
type ObjectOrError = Result<Map<String, Value>, FieldError>;

/// Splits a body into objects. Field-level problems are collected, not fatal,
/// so that one response lists them all.
fn objects(body: &[u8]) -> Result<Items<ObjectOrError>, JsonBodyError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| JsonBodyError::Syntax(e.to_string()))?;
    match value {
        Value::Object(map) => Ok((vec![Ok(map)], false)),
        Value::Array(items) => Ok((
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(map) => Ok(map),
                    other => Err(FieldError::new(
                        "(item)",
                        format!("must be a JSON object, not {}", kind(&other)),
                    )
                    .at(i)),
                })
                .collect(),
            true,
        )),
        other => Err(JsonBodyError::Shape(kind(&other))),
    }
}

/// A string field. Ids may come as JSON integers (some senders' user ids are
/// numeric); they are kept as their decimal text. Fractions are refused: no
/// id system writes `3.5`, so it is a bug worth surfacing.
fn string(
    map: &Map<String, Value>,
    field: &'static str,
    numbers_ok: bool,
) -> Result<Option<String>, FieldError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if numbers_ok && (n.is_i64() || n.is_u64()) => {
            Ok(Some(n.to_string()))
        }
        Some(other) => Err(FieldError::new(
            field,
            format!("must be a string, not {}", kind(other)),
        )),
    }
}

/// Reads every item with `read`, or returns all field errors found.
fn collect<T>(
    body: &[u8],
    read: impl Fn(&Map<String, Value>) -> (T, Vec<FieldError>),
) -> Result<Result<Items<T>, Vec<FieldError>>, JsonBodyError> {
    let (items, batch) = objects(body)?;
    let mut out = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Ok(map) => {
                let (raw, errs) = read(&map);
                errors.extend(errs.into_iter().map(|e| if batch { e.at(i) } else { e }));
                out.push(raw);
            }
            Err(e) => errors.push(e),
        }
    }
    Ok(if errors.is_empty() {
        Ok((out, batch))
    } else {
        Err(errors)
    })
}

fn take(
    map: &Map<String, Value>,
    field: &'static str,
    numbers_ok: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    string(map, field, numbers_ok).unwrap_or_else(|e| {
        errors.push(e);
        None
    })
}

/// Pageview webhook body → raw pageviews. Outer error: not JSON (400);
/// inner error: fields of the wrong type (422).
pub fn pageviews_from_json(
    body: &[u8],
) -> Result<Result<Items<RawPageview>, Vec<FieldError>>, JsonBodyError> {
    collect(body, pageview_from_map)
}

/// One pageview object → a raw pageview and the fields of the wrong type.
/// Shared with `import`, so an NDJSON line is typed exactly as a webhook is.
pub(crate) fn pageview_from_map(map: &Map<String, Value>) -> (RawPageview, Vec<FieldError>) {
    let mut errors = Vec::new();
    let raw = RawPageview {
        fingerprint: take(map, "fingerprint", true, &mut errors),
        user_id: take(map, "user_id", true, &mut errors),
        url: take(map, "url", false, &mut errors),
        referrer_url: take(map, "referrer_url", false, &mut errors),
        created_at: take(map, "created_at", false, &mut errors),
    };
    (raw, errors)
}

/// Event webhook body → raw events. Outer error: not JSON (400); inner
/// error: fields of the wrong type (422).
pub fn events_from_json(
    body: &[u8],
) -> Result<Result<Items<RawEvent>, Vec<FieldError>>, JsonBodyError> {
    collect(body, event_from_map)
}

/// One event object → a raw event and the fields of the wrong type.
/// Shared with `import`, so an NDJSON line is typed exactly as a webhook is.
pub(crate) fn event_from_map(map: &Map<String, Value>) -> (RawEvent, Vec<FieldError>) {
    let mut errors = Vec::new();
    let raw = RawEvent {
        name: take(map, "name", false, &mut errors),
        fingerprint: take(map, "fingerprint", true, &mut errors),
        user_id: take(map, "user_id", true, &mut errors),
        created_at: take(map, "created_at", false, &mut errors),
    };
    (raw, errors)
}

/// Spend body → raw spend rows. Outer error: not JSON (400); inner error:
/// fields of the wrong type (422).
pub fn spend_from_json(
    body: &[u8],
) -> Result<Result<Items<RawSpend>, Vec<FieldError>>, JsonBodyError> {
    collect(body, |map| {
        let mut errors = Vec::new();
        let amount = amount(map).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let raw = RawSpend {
            campaign: take(map, "campaign", false, &mut errors),
            source: take(map, "source", false, &mut errors),
            medium: take(map, "medium", false, &mut errors),
            date: take(map, "date", false, &mut errors),
            amount,
            currency: take(map, "currency", false, &mut errors),
        };
        (raw, errors)
    })
}

/// Significant digits an f64 is guaranteed to carry through a decimal round
/// trip (`f64::DIGITS`).
const EXACT_FLOAT_DIGITS: usize = f64::DIGITS as usize;

/// `amount`: a decimal string, or a JSON number taken as its decimal text.
/// serde_json has already read a fractional number into an f64, so one with
/// more significant digits than an f64 keeps exactly is refused rather than
/// silently rounded; a string is always exact.
fn amount(map: &Map<String, Value>) -> Result<Option<String>, FieldError> {
    match map.get("amount") {
        Some(Value::Number(n)) if !(n.is_i64() || n.is_u64()) => {
            let text = n.to_string();
            let significant = text
                .bytes()
                .take_while(|b| *b != b'e' && *b != b'E')
                .filter(u8::is_ascii_digit)
                .skip_while(|b| *b == b'0')
                .count();
            if significant > EXACT_FLOAT_DIGITS {
                Err(FieldError::new(
                    "amount",
                    format!(
                        "{text} has more significant digits than a JSON number carries exactly; send it as a string"
                    ),
                ))
            } else {
                Ok(Some(text))
            }
        }
        _ => string(map, "amount", true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_object_is_not_a_batch_and_an_array_is() {
        let (items, batch) = pageviews_from_json(br#"{"fingerprint":"a"}"#)
            .unwrap()
            .unwrap();
        assert_eq!((items.len(), batch), (1, false));
        let (items, batch) = pageviews_from_json(br#"[{"fingerprint":"a"},{}]"#)
            .unwrap()
            .unwrap();
        assert_eq!((items.len(), batch), (2, true));
    }

    #[test]
    fn wrong_types_name_the_field_and_the_item() {
        let errors = pageviews_from_json(br#"[{"url":"https://a.b/"},{"url":5}]"#)
            .unwrap()
            .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "url");
        assert_eq!(errors[0].index, Some(1));
        assert!(errors[0].message.contains("a number"));
    }

    #[test]
    fn numeric_user_ids_are_kept_as_text() {
        let (items, _) = events_from_json(br#"{"user_id": 42}"#).unwrap().unwrap();
        assert_eq!(items[0].user_id.as_deref(), Some("42"));
    }

    #[test]
    fn syntax_errors_and_scalars_are_body_errors() {
        assert!(matches!(
            pageviews_from_json(b"{"),
            Err(JsonBodyError::Syntax(_))
        ));
        assert!(matches!(
            pageviews_from_json(b"3"),
            Err(JsonBodyError::Shape(_))
        ));
    }

    #[test]
    fn spend_amounts_may_be_strings_or_numbers() {
        let (items, batch) = spend_from_json(
            br#"[{"amount":"12.30"},{"amount":12.3},{"amount":1000000},{"amount":null}]"#,
        )
        .unwrap()
        .unwrap();
        assert!(batch);
        let amounts: Vec<_> = items.iter().map(|i| i.amount.as_deref()).collect();
        assert_eq!(
            amounts,
            [Some("12.30"), Some("12.3"), Some("1000000"), None]
        );
    }

    #[test]
    fn spend_amounts_too_precise_for_a_json_number_are_refused() {
        let errors = spend_from_json(br#"{"amount": 123456789012.123456}"#)
            .unwrap()
            .unwrap_err();
        assert_eq!(errors[0].field, "amount");
        assert!(
            errors[0].message.contains("as a string"),
            "{}",
            errors[0].message
        );
        let errors = spend_from_json(br#"{"amount": true, "currency": 3}"#)
            .unwrap()
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["amount", "currency"]);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let (items, _) = events_from_json(br#"{"name":"signup","plan":"pro"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(items[0].name.as_deref(), Some("signup"));
    }
}
