//! The attribution engine: which marketing touchpoints get credit for a conversion.
//!
//! Pure logic — no IO, no async, no web or database types — so that the
//! numbers the product reports can be tested exhaustively in isolation.
//!
//! The pipeline for one user:
//! 1. [`touchpoints`] sessionises all the user's pageviews (every fingerprint)
//!    into touchpoints: marketing pageviews and session starts.
//! 2. [`conversions`] picks the conversion events and, for each, the
//!    touchpoints in play within the lookback window.
//! 3. [`weights`] / [`Conversion::credits`] split one unit of credit over
//!    those touchpoints according to a [`Model`].
//!
//! [`dda`] trains the data-driven models (MARKOV, SHAPLEY) on many journeys'
//! paths and splits credit by what they learnt.
//!
//! Every step orders facts by their *content*, never by arrival order, and
//! collapses identical facts, so the answer is a function of the set of facts
//! the user has — retries, batch uploads and store ordering cannot change it.

mod conversions;
pub mod dda;
mod models;
mod touchpoints;

#[cfg(test)]
mod tests;

pub use conversions::{
    cmp_events, conversions, first_signup, Conversion, EventFact, Journey, Settings, SIGNUP, TRIAL,
    UNSUBSCRIBE,
};
pub use models::{weights, Model};
pub use touchpoints::{cmp_pageviews, touchpoints, PageviewFact, Touchpoint};
