//! GraphQL cost per key (Shopify-style): each request's complexity, as
//! async-graphql's validation computes it, is charged to its key's
//! per-minute budget (`QUERY_COST_PER_MINUTE`) and reported in
//! `extensions.cost` as `{"requested": N, "remaining": M}`. Over budget,
//! the request is refused before execution with 429 and `Retry-After`.

use std::sync::{Arc, Mutex};

use async_graphql::ServerError;

use crate::auth::limiter::CostOutcome;
use crate::auth::Gate;

/// `extensions.code` of a request over a rate limit or cost budget.
pub const RATE_LIMITED: &str = "RATE_LIMITED";

/// One request's meter: put in the request's data, read by the extension
/// in `limits` after validation and by the HTTP layer for the answer.
pub struct CostMeter {
    key: Option<i64>,
    gate: Arc<Gate>,
    charged: Mutex<Option<Charge>>,
}

/// What a request was charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    pub requested: u64,
    /// What the key has left; `None` without a budget.
    pub remaining: Option<u64>,
    /// Set when refused: seconds until enough budget has leaked back.
    pub retry_after: Option<u64>,
}

impl CostMeter {
    pub fn new(key: Option<i64>, gate: Arc<Gate>) -> Self {
        CostMeter {
            key,
            gate,
            charged: Mutex::new(None),
        }
    }

    /// Charges `complexity`; an error refuses the request.
    pub fn charge(&self, complexity: usize) -> Result<(), ServerError> {
        let requested = complexity as u64;
        let limiters = &self.gate.limiters;
        let (charge, refusal) = match self.key {
            None => (
                Charge {
                    requested,
                    remaining: None,
                    retry_after: None,
                },
                None,
            ),
            Some(key) => match limiters.charge(key, requested) {
                CostOutcome::Charged { remaining } => (
                    Charge {
                        requested,
                        remaining: (limiters.cost_budget() > 0).then_some(remaining),
                        retry_after: None,
                    },
                    None,
                ),
                CostOutcome::Later(retry) => (
                    Charge {
                        requested,
                        remaining: Some(0),
                        retry_after: Some(retry.seconds()),
                    },
                    Some(format!(
                        "this query costs {requested} and the key's budget (QUERY_COST_PER_MINUTE) has less left: retry after {} s",
                        retry.seconds()
                    )),
                ),
                CostOutcome::TooExpensive { budget } => (
                    Charge {
                        requested,
                        remaining: None,
                        retry_after: None,
                    },
                    Some(format!(
                        "this query costs {requested}, more than a key's whole budget of {budget} a minute (QUERY_COST_PER_MINUTE): ask for less"
                    )),
                ),
            },
        };
        *self.charged.lock().unwrap_or_else(|e| e.into_inner()) = Some(charge);
        match refusal {
            None => Ok(()),
            Some(message) => {
                let mut error = ServerError::new(message, None);
                let extensions = error.extensions.get_or_insert_with(Default::default);
                if charge.retry_after.is_some() {
                    extensions.set("code", RATE_LIMITED);
                } else {
                    extensions.set("code", super::limits::VALIDATION_FAILED);
                    extensions.set("limit", "cost");
                }
                Err(error)
            }
        }
    }

    pub fn charged(&self) -> Option<Charge> {
        *self.charged.lock().unwrap_or_else(|e| e.into_inner())
    }
}
