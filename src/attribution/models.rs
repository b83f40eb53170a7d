//! Attribution models: how one conversion's credit is split over its touchpoints.
//!
//! Reports add credits up across many conversions, so a conversion must
//! contribute exactly one unit: after computing the model's weights we give the
//! last non-zero weight whatever is left (`1.0 - sum of the others`), which
//! makes the in-order floating-point sum come out as exactly `1.0` rather than
//! `0.9999999999999999`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::touchpoints::Touchpoint;

/// Seconds in the TIME_DECAY half-life (7 days).
const HALF_LIFE_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// An attribution model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// All credit to the first touchpoint.
    FirstClick,
    /// All credit to the last touchpoint.
    LastClick,
    /// All credit to the latest non-DIRECT touchpoint (the last one if all are direct).
    LastNonDirectClick,
    /// Equal credit to every touchpoint.
    Linear,
    /// 40% first, 40% last, 20% shared by the middle ones.
    PositionBased,
    /// Credit halves for every 7 days between the touchpoint and the conversion.
    TimeDecay,
}

impl Model {
    /// Every model, single-touch models first.
    pub const ALL: [Model; 6] = [
        Model::FirstClick,
        Model::LastClick,
        Model::LastNonDirectClick,
        Model::Linear,
        Model::PositionBased,
        Model::TimeDecay,
    ];

    /// The API name, e.g. `LAST_NON_DIRECT_CLICK`.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::FirstClick => "FIRST_CLICK",
            Model::LastClick => "LAST_CLICK",
            Model::LastNonDirectClick => "LAST_NON_DIRECT_CLICK",
            Model::Linear => "LINEAR",
            Model::PositionBased => "POSITION_BASED",
            Model::TimeDecay => "TIME_DECAY",
        }
    }

    /// Whether the model gives all credit to one touchpoint.
    pub fn is_single_touch(self) -> bool {
        matches!(
            self,
            Model::FirstClick | Model::LastClick | Model::LastNonDirectClick
        )
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Model {
    type Err = String;

    /// Parses the API name, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Model::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown attribution model '{s}'"))
    }
}

/// Index of the latest non-direct touchpoint, else of the last one; `None` when empty.
pub(crate) fn last_non_direct_index(touchpoints: &[Touchpoint]) -> Option<usize> {
    touchpoints
        .iter()
        .rposition(|t| !t.is_direct())
        .or_else(|| touchpoints.len().checked_sub(1))
}

/// Credits for the touchpoints in play of ONE conversion.
///
/// `touchpoints` should already be filtered to the lookback window, oldest
/// first. Returns one weight per touchpoint (same length and order; zeros
/// allowed), each in `[0, 1]`, summing (in order) to `1.0`. Empty in, empty out.
///
/// TIME_DECAY's raw weight is `2^(-age / 7 days)` with `age = conversion_at -
/// at` in fractional seconds. It is evaluated relative to the youngest
/// touchpoint (which cancels in the normalisation), so ancient touchpoints
/// cannot underflow every weight to zero.
pub fn weights(model: Model, touchpoints: &[Touchpoint], conversion_at: DateTime<Utc>) -> Vec<f64> {
    let n = touchpoints.len();
    if n == 0 {
        return Vec::new();
    }
    let mut w = vec![0.0_f64; n];
    let last = n - 1;
    match model {
        Model::FirstClick => w[0] = 1.0,
        Model::LastClick => w[last] = 1.0,
        Model::LastNonDirectClick => {
            let i = last_non_direct_index(touchpoints).unwrap_or(last);
            w[i] = 1.0;
        }
        Model::Linear => w.fill(1.0 / n as f64),
        Model::PositionBased => match n {
            1 => w[0] = 1.0,
            2 => w.fill(0.5),
            _ => {
                w.fill(0.2 / (n - 2) as f64);
                w[0] = 0.4;
                w[last] = 0.4;
            }
        },
        Model::TimeDecay => {
            let ages: Vec<f64> = touchpoints
                .iter()
                .map(|t| {
                    conversion_at.signed_duration_since(t.at).num_milliseconds() as f64 / 1000.0
                })
                .collect();
            let youngest = ages.iter().copied().fold(f64::INFINITY, f64::min);
            for (wi, age) in w.iter_mut().zip(&ages) {
                *wi = (-(age - youngest) / HALF_LIFE_SECONDS).exp2();
            }
            let total: f64 = w.iter().sum();
            for wi in &mut w {
                *wi /= total;
            }
        }
    }
    settle(&mut w);
    w
}

/// Give the last non-zero weight `1.0 - (sum of the others, in order)` so the
/// in-order sum is exactly `1.0`.
pub(crate) fn settle(w: &mut [f64]) {
    let Some(k) = w.iter().rposition(|x| *x != 0.0) else {
        return;
    };
    let others: f64 = w
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != k)
        .map(|(_, x)| *x)
        .sum();
    w[k] = (1.0 - others).clamp(0.0, 1.0);
}
