//! Reports: conversions, visitors and spend per campaign, source, channel and
//! landing page; the overview; time series.
//!
//! This module is pure (no IO): [`aggregate`], [`overview`] and [`timeseries`]
//! take per-conversion credits (from the attribution engine), touchpoints and
//! spend, and fold them into rows. `source.rs` gathers those inputs from the
//! store. Keeping the fold pure is what lets the property test check that the
//! rows of every report sum to the number of conversions, and that each row
//! equals the sum of the per-conversion credits the API shows.

pub mod cache;
pub mod cells;
pub mod comparison;
pub mod paths;
pub mod pieces;
pub mod revenue;
pub mod rolled;
mod rows;
pub mod source;
pub(crate) mod timeseries;

pub use rows::{
    aggregate, count_touches, credited, overview, sort_rows, Credited, Dimension, OrderDirection,
    OrderField, Overview, Row, RowKey, SpendFact, TimeStats, Touch, TouchCount, TouchKey,
};
pub use timeseries::{buckets, timeseries, GroupBy, Interval, Series, TimeseriesError};
