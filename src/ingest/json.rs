//! Webhook JSON → raw payloads, with errors that name the field and the item.
//!
//! Parsing goes through `serde_json::Value` rather than a derived struct so
//! that a wrong type is reported as "`url` must be a string" at item 3, not as
//! serde's "invalid type at line 1 column 412". Unknown fields are ignored:
//! senders add fields over time.
//!
//! A key that appears twice in one payload object (`{"url":"a","url":"b"}`)
//! is ambiguous: serde_json's `Value` would silently keep the last, where
//! GraphQL refuses. The body's top level and its items (the objects whose
//! fields we read) are therefore read by a visitor of our own that notes
//! repeated keys, and a repeated field we read is a 422 naming it and the
//! item. A repeated key we do not read is ignored like the field itself, and
//! the values inside a field are read by serde_json as usual (we read no
//! nested object). The visitor does what `Value`'s own does plus one map
//! lookup per key, so the hot path costs the same.
//!
//! A UTF-8 byte-order mark before the JSON is skipped: some senders' HTTP
//! libraries and exported files write one.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
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

/// A payload object as read, with the keys it repeats (usually none).
#[derive(Debug, Default)]
struct Object {
    map: Map<String, Value>,
    repeated: Vec<String>,
}

impl Object {
    fn fields(&self) -> Fields<'_> {
        Fields {
            map: &self.map,
            repeated: &self.repeated,
        }
    }
}

/// The view of an object that field readers use.
#[derive(Clone, Copy)]
struct Fields<'a> {
    map: &'a Map<String, Value>,
    repeated: &'a [String],
}

impl<'a> Fields<'a> {
    /// A field's value, or an error if the object holds the key twice.
    fn get(self, field: &'static str) -> Result<Option<&'a Value>, FieldError> {
        if self.repeated.iter().any(|k| k == field) {
            return Err(FieldError::new(
                field,
                "appears more than once in the object; send each key once",
            ));
        }
        Ok(self.map.get(field))
    }
}

/// Reads a JSON object's entries into an [`Object`], noting repeated keys.
fn read_object<'de, A: MapAccess<'de>>(mut access: A) -> Result<Object, A::Error> {
    let mut object = Object::default();
    while let Some(key) = access.next_key::<String>()? {
        let value: Value = access.next_value()?;
        match object.map.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(value);
            }
            Entry::Occupied(slot) => {
                if !object.repeated.contains(slot.key()) {
                    object.repeated.push(slot.key().clone());
                }
            }
        }
    }
    Ok(object)
}

/// What a body's top level or a batch element is.
enum Shape {
    Object(Object),
    Array(Vec<Shape>),
    /// Neither: its kind, for the error message.
    Other(&'static str),
}

/// Reads a [`Shape`]. At the `top` level an array is a batch whose elements
/// are read as shapes too; inside a batch an array is just "not an object",
/// skipped without building it.
struct ShapeSeed {
    top: bool,
}

impl<'de> DeserializeSeed<'de> for ShapeSeed {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Shape, A::Error> {
        read_object(access).map(Shape::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Shape, A::Error> {
        if !self.top {
            while access.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Shape::Other("an array"));
        }
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(0));
        while let Some(item) = access.next_element_seed(ShapeSeed { top: false })? {
            items.push(item);
        }
        Ok(Shape::Array(items))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Other("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Other("a string"))
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other("null"))
    }
    fn visit_none<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other("null"))
    }
}

/// One item of a body: an object, or why it is not one.
type ObjectOrError = Result<Object, FieldError>;

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits a body into objects. Field-level problems are collected, not fatal,
/// so that one response lists them all.
fn objects(body: &[u8]) -> Result<Items<ObjectOrError>, JsonBodyError> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let shape = ShapeSeed { top: true }
        .deserialize(&mut deserializer)
        .and_then(|shape| deserializer.end().map(|()| shape))
        .map_err(|e| JsonBodyError::Syntax(e.to_string()))?;
    match shape {
        Shape::Object(object) => Ok((vec![Ok(object)], false)),
        Shape::Array(items) => Ok((
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Shape::Object(object) => Ok(object),
                    Shape::Array(_) => Err(not_an_object("an array", i)),
                    Shape::Other(kind) => Err(not_an_object(kind, i)),
                })
                .collect(),
            true,
        )),
        Shape::Other(kind) => Err(JsonBodyError::Shape(kind)),
    }
}

fn not_an_object(kind: &str, index: usize) -> FieldError {
    FieldError::new("(item)", format!("must be a JSON object, not {kind}")).at(index)
}

/// A string field. Ids may come as JSON integers (some senders' user ids are
/// numeric); they are kept as their decimal text. Fractions are refused: no
/// id system writes `3.5`, so it is a bug worth surfacing.
fn string(
    object: Fields<'_>,
    field: &'static str,
    numbers_ok: bool,
) -> Result<Option<String>, FieldError> {
    match object.get(field)? {
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
    read: impl Fn(Fields<'_>) -> (T, Vec<FieldError>),
) -> Result<Result<Items<T>, Vec<FieldError>>, JsonBodyError> {
    let (items, batch) = objects(body)?;
    let mut out = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Ok(object) => {
                let (raw, errs) = read(object.fields());
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
    object: Fields<'_>,
    field: &'static str,
    numbers_ok: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    string(object, field, numbers_ok).unwrap_or_else(|e| {
        errors.push(e);
        None
    })
}

/// Pageview webhook body → raw pageviews. Outer error: not JSON (400);
/// inner error: fields of the wrong type (422).
pub fn pageviews_from_json(
    body: &[u8],
) -> Result<Result<Items<RawPageview>, Vec<FieldError>>, JsonBodyError> {
    collect(body, pageview_from_object)
}

/// The fields of an object that serde_json already read (and so could not
/// note repeated keys in).
fn parsed(map: &Map<String, Value>) -> Fields<'_> {
    Fields { map, repeated: &[] }
}

/// One pageview object → a raw pageview and the fields of the wrong type.
/// Shared with `import`, so an NDJSON line is typed exactly as a webhook is.
pub(crate) fn pageview_from_map(map: &Map<String, Value>) -> (RawPageview, Vec<FieldError>) {
    pageview_from_object(parsed(map))
}

fn pageview_from_object(map: Fields<'_>) -> (RawPageview, Vec<FieldError>) {
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
    collect(body, event_from_object)
}

/// One event object → a raw event and the fields of the wrong type.
/// Shared with `import`, so an NDJSON line is typed exactly as a webhook is.
pub(crate) fn event_from_map(map: &Map<String, Value>) -> (RawEvent, Vec<FieldError>) {
    event_from_object(parsed(map))
}

fn event_from_object(map: Fields<'_>) -> (RawEvent, Vec<FieldError>) {
    let mut errors = Vec::new();
    let revenue = decimal(map, "revenue").unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let raw = RawEvent {
        name: take(map, "name", false, &mut errors),
        fingerprint: take(map, "fingerprint", true, &mut errors),
        user_id: take(map, "user_id", true, &mut errors),
        created_at: take(map, "created_at", false, &mut errors),
        revenue,
        currency: take(map, "currency", false, &mut errors),
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
fn amount(map: Fields<'_>) -> Result<Option<String>, FieldError> {
    decimal(map, "amount")
}

/// A money field (`amount`, `revenue`): see [`amount`].
fn decimal(map: Fields<'_>, field: &'static str) -> Result<Option<String>, FieldError> {
    match map.get(field)? {
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
                    field,
                    format!(
                        "{text} has more significant digits than a JSON number carries exactly; send it as a string"
                    ),
                ))
            } else {
                Ok(Some(text))
            }
        }
        _ => string(map, field, true),
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
    fn a_field_sent_twice_is_refused_naming_it_and_the_item() {
        let errors = pageviews_from_json(br#"{"url":"https://a.b/","url":"https://c.d/"}"#)
            .unwrap()
            .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].field, errors[0].index), ("url", None));
        assert!(
            errors[0].message.contains("more than once"),
            "{}",
            errors[0].message
        );

        let errors = events_from_json(
            br#"[{"name":"a"},{"name":"a","fingerprint":"x","fingerprint":"y","fingerprint":"z"}]"#,
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].field, errors[0].index), ("fingerprint", Some(1)));

        let errors = spend_from_json(br#"[{"amount":"1","amount":2}]"#)
            .unwrap()
            .unwrap_err();
        assert_eq!((errors[0].field, errors[0].index), ("amount", Some(0)));
    }

    #[test]
    fn repeated_keys_we_do_not_read_are_ignored_like_the_fields() {
        let (items, _) =
            events_from_json(br#"{"name":"signup","plan":"a","plan":"b","meta":{"k":1,"k":2}}"#)
                .unwrap()
                .unwrap();
        assert_eq!(items[0].name.as_deref(), Some("signup"));
    }

    #[test]
    fn a_byte_order_mark_before_the_json_is_skipped() {
        let (items, _) = events_from_json(b"\xEF\xBB\xBF{\"name\":\"signup\"}")
            .unwrap()
            .unwrap();
        assert_eq!(items[0].name.as_deref(), Some("signup"));
        // Only at the very start: anywhere else it is not JSON whitespace.
        assert!(events_from_json(b" \xEF\xBB\xBF{}").is_err());
    }

    #[test]
    fn non_objects_in_a_batch_and_trailing_garbage_are_reported() {
        let errors = pageviews_from_json(br#"[{}, [1, {"a": 1}], 3, null]"#)
            .unwrap()
            .unwrap_err();
        let at: Vec<_> = errors.iter().map(|e| (e.field, e.index)).collect();
        assert_eq!(
            at,
            [
                ("(item)", Some(1)),
                ("(item)", Some(2)),
                ("(item)", Some(3))
            ]
        );
        assert!(errors[0].message.contains("an array"));
        assert!(errors[2].message.contains("null"));
        assert!(matches!(
            pageviews_from_json(b"{} {}"),
            Err(JsonBodyError::Syntax(_))
        ));
        assert!(matches!(
            pageviews_from_json(br#""fp""#),
            Err(JsonBodyError::Shape("a string"))
        ));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let (items, _) = events_from_json(br#"{"name":"signup","plan":"pro"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(items[0].name.as_deref(), Some("signup"));
    }
}
