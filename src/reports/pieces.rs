//! How a time range is read: whole UTC days from daily cells, the whole
//! hours left from hourly cells, and the sub-hour ends from the derived rows
//! of those minutes only. Pure.

use chrono::{DateTime, Utc};

use super::cells::Grain;

/// The earliest instant a range without a start reaches back to (a day
/// boundary: 0001-01-01).
pub const BEGINNING: i64 = -62_135_596_800;
/// The instant a range without an end reaches to (a day boundary:
/// 10000-01-01).
pub const END_OF_TIME: i64 = 253_402_300_800;

/// One part of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// The cells of `grain` whose buckets start in `[from, to)` (seconds).
    Cells { grain: Grain, from: i64, to: i64 },
    /// The derived rows in `[from, to)`: no whole hour, so at most the ends
    /// of two neighbouring hours.
    Raw {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The first bucket boundary of `grain` at or after `t`, in seconds.
fn ceil(grain: Grain, t: DateTime<Utc>) -> i64 {
    let floor = grain.floor(t.timestamp());
    if floor == t.timestamp() && t.timestamp_subsec_nanos() == 0 {
        floor
    } else {
        floor + grain.seconds()
    }
}

/// The pieces of `[from, to)`, in time order; none for an empty range.
pub fn pieces(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Piece> {
    let mut out = Vec::new();
    if to <= from {
        return out;
    }
    let h0 = ceil(Grain::Hour, from);
    let h1 = Grain::Hour.floor(to.timestamp());
    if h0 >= h1 {
        out.push(Piece::Raw { from, to });
        return out;
    }
    if from < at(h0) {
        out.push(Piece::Raw { from, to: at(h0) });
    }
    let d0 = Grain::Day.floor(h0 + Grain::Day.seconds() - 1);
    let d1 = Grain::Day.floor(h1);
    if d0 < d1 {
        if h0 < d0 {
            out.push(Piece::Cells {
                grain: Grain::Hour,
                from: h0,
                to: d0,
            });
        }
        out.push(Piece::Cells {
            grain: Grain::Day,
            from: d0,
            to: d1,
        });
        if d1 < h1 {
            out.push(Piece::Cells {
                grain: Grain::Hour,
                from: d1,
                to: h1,
            });
        }
    } else {
        out.push(Piece::Cells {
            grain: Grain::Hour,
            from: h0,
            to: h1,
        });
    }
    if at(h1) < to {
        out.push(Piece::Raw { from: at(h1), to });
    }
    out
}

/// The range a report reads: a missing end reaches the beginning or the end
/// of time, both on day boundaries (so they need no raw piece).
pub fn bounds(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        from.unwrap_or_else(|| at(BEGINNING)),
        to.unwrap_or_else(|| at(END_OF_TIME)),
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_range_with_ends_inside_hours_reads_raw_minutes_hours_and_days() {
        let p = pieces(t("2024-03-01T10:17:13Z"), t("2024-03-04T05:41:07Z"));
        let d = |s: &str| t(s).timestamp();
        assert_eq!(
            p,
            vec![
                Piece::Raw {
                    from: t("2024-03-01T10:17:13Z"),
                    to: t("2024-03-01T11:00:00Z")
                },
                Piece::Cells {
                    grain: Grain::Hour,
                    from: d("2024-03-01T11:00:00Z"),
                    to: d("2024-03-02T00:00:00Z")
                },
                Piece::Cells {
                    grain: Grain::Day,
                    from: d("2024-03-02T00:00:00Z"),
                    to: d("2024-03-04T00:00:00Z")
                },
                Piece::Cells {
                    grain: Grain::Hour,
                    from: d("2024-03-04T00:00:00Z"),
                    to: d("2024-03-04T05:00:00Z")
                },
                Piece::Raw {
                    from: t("2024-03-04T05:00:00Z"),
                    to: t("2024-03-04T05:41:07Z")
                },
            ]
        );
    }

    #[test]
    fn whole_days_need_no_hours_and_an_unbounded_range_no_raw_rows() {
        let (from, to) = bounds(None, None);
        assert_eq!(
            pieces(from, to),
            vec![Piece::Cells {
                grain: Grain::Day,
                from: BEGINNING,
                to: END_OF_TIME
            }]
        );
        assert_eq!(
            pieces(t("2024-03-01T10:05:00Z"), t("2024-03-01T10:55:00Z")),
            vec![Piece::Raw {
                from: t("2024-03-01T10:05:00Z"),
                to: t("2024-03-01T10:55:00Z")
            }]
        );
        assert!(pieces(t("2024-03-01T10:05:00Z"), t("2024-03-01T10:05:00Z")).is_empty());
    }

    proptest! {
        #[test]
        fn pieces_tile_the_range_exactly(from in 0i64..400_000_000, len in 1i64..40_000_000, nanos in 0u32..1_000_000_000) {
            let from = DateTime::from_timestamp(from, nanos).unwrap();
            let to = from + chrono::Duration::seconds(len);
            let mut cursor = from;
            for p in pieces(from, to) {
                let (a, b) = match p {
                    Piece::Cells { grain, from, to } => {
                        prop_assert_eq!(grain.floor(from), from);
                        prop_assert_eq!(grain.floor(to), to);
                        (at(from), at(to))
                    }
                    Piece::Raw { from, to } => {
                        // No whole hour inside: it is read from cells. (A
                        // raw piece may still span an hour's boundary and be
                        // up to an hour long: 05:00:00.000000001 to
                        // 06:00:00.000000001.)
                        prop_assert!(at(ceil(Grain::Hour, from) + 3600) > to);
                        (from, to)
                    }
                };
                prop_assert_eq!(a, cursor);
                prop_assert!(b > a);
                cursor = b;
            }
            prop_assert_eq!(cursor, to);
        }
    }
}
