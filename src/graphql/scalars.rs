//! Custom scalars.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

use crate::domain::parse_timestamp;

/// An instant, written as RFC 3339 UTC with microseconds
/// (`2023-01-20T13:59:56.437947Z`). Accepted as RFC 3339 with any offset or in
/// the webhooks' form `2023-01-20 13:59:56.437947 UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant, written as RFC 3339 UTC with microseconds (`2023-01-20T13:59:56.437947Z`).
/// Accepted as RFC 3339 with any offset, or as `2023-01-20 13:59:56.437947 UTC`.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => parse_timestamp(&s)
                .map(DateTime)
                .map_err(InputValueError::custom),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(value: chrono::DateTime<Utc>) -> Self {
        Self(value)
    }
}
