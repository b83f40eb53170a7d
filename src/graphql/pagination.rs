//! Relay-style pagination: opaque cursors and page-size limits.

use async_graphql::connection::CursorType;
use chrono::{DateTime, Utc};

use super::error::bad_input;
use crate::store::PageCursor;

/// Page size when a query gives no `first`.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// A position in a list ordered by (time, id). Opaque to clients: they pass
/// back what they got, which lets the encoding change without breaking them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub PageCursor);

impl CursorType for Cursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let invalid = || format!("'{s}' is not a cursor returned by this API");
        let rest = s.strip_prefix('c').ok_or_else(invalid)?;
        let (micros, id) = rest.split_once('_').ok_or_else(invalid)?;
        let micros = micros.parse::<i64>().map_err(|_| invalid())?;
        let id = id.parse::<i64>().map_err(|_| invalid())?;
        let created_at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(invalid)?;
        Ok(Cursor(PageCursor { created_at, id }))
    }

    fn encode_cursor(&self) -> String {
        format!("c{}_{}", self.0.created_at.timestamp_micros(), self.0.id)
    }
}

/// Checks `first` against the configured maximum.
pub fn page_size(first: Option<i32>, max: usize) -> async_graphql::Result<usize> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE.min(max)),
        Some(n) if n < 0 => Err(bad_input("`first` must not be negative")),
        Some(n) if n as usize > max => Err(bad_input(format!(
            "`first` must be at most {max} (MAX_PAGE_SIZE)"
        ))),
        Some(n) => Ok(n as usize),
    }
}

/// Decodes an `after` argument.
pub fn after(after: Option<String>) -> async_graphql::Result<Option<PageCursor>> {
    after
        .map(|a| Cursor::decode_cursor(&a).map(|c| c.0).map_err(bad_input))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_including_times_before_1970() {
        for micros in [0, 1_674_223_196_437_947, -86_400_000_000] {
            let c = Cursor(PageCursor {
                created_at: DateTime::<Utc>::from_timestamp_micros(micros).unwrap(),
                id: 42,
            });
            assert_eq!(Cursor::decode_cursor(&c.encode_cursor()), Ok(c));
        }
    }

    #[test]
    fn foreign_cursors_are_refused() {
        assert!(Cursor::decode_cursor("abc").is_err());
        assert!(Cursor::decode_cursor("cZZ_1").is_err());
    }
}
