//! Rate limits, in memory per process (governor's GCRA, a token bucket):
//! requests per key, GraphQL cost per key, and requests without a valid key
//! per client address. With several processes behind a load balancer each
//! enforces its own share; the README says so.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::AuthConfig;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;
type Metered<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// Which bucket a key's requests draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Read and admin keys.
    Read,
    /// Ingest-only keys.
    Ingest,
}

/// Over a limit: when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header, at least 1.
    pub fn seconds(&self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// A query's cost against its key's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostOutcome {
    /// Charged; `remaining` is what the key has left right now.
    Charged { remaining: u64 },
    /// Not enough left now: retry after.
    Later(RetryAfter),
    /// More than the whole budget: it can never run.
    TooExpensive { budget: u64 },
}

/// Every limiter of a process.
pub struct Limiters {
    read: Option<Keyed<i64>>,
    ingest: Option<Keyed<i64>>,
    anonymous: Option<Keyed<IpAddr>>,
    cost: Option<Metered<i64>>,
    cost_budget: u64,
    /// Addresses over the unauthenticated limit, until when: checked before
    /// any key lookup, so a flood of bad keys costs no database work.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    clock: DefaultClock,
}

fn quota(per_second: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Some(Quota::per_second(rate).allow_burst(burst))
}

impl Limiters {
    pub fn new(config: &AuthConfig) -> Self {
        let cost = NonZeroU32::new(config.query_cost_per_minute)
            .map(|budget| RateLimiter::keyed(Quota::per_minute(budget)).with_middleware());
        Limiters {
            read: quota(config.rate_limit_rps, config.rate_limit_burst).map(RateLimiter::keyed),
            ingest: quota(config.ingest_rate_limit_rps, config.ingest_rate_limit_burst)
                .map(RateLimiter::keyed),
            anonymous: quota(
                config.unauthenticated_rate_limit_rps,
                config.unauthenticated_rate_limit_burst,
            )
            .map(RateLimiter::keyed),
            cost,
            cost_budget: u64::from(config.query_cost_per_minute),
            blocked: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    /// One request of key `key` in `class`.
    pub fn request(&self, class: Class, key: i64) -> Result<(), RetryAfter> {
        let limiter = match class {
            Class::Read => &self.read,
            Class::Ingest => &self.ingest,
        };
        match limiter {
            None => Ok(()),
            Some(l) => l
                .check_key(&key)
                .map_err(|not_until| RetryAfter(not_until.wait_time_from(self.clock.now()))),
        }
    }

    /// Whether `address` is refused for now, before its key is looked at.
    pub fn is_blocked(&self, address: IpAddr) -> Option<RetryAfter> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let until = *blocked.get(&address)?;
        let now = Instant::now();
        (until > now).then(|| RetryAfter(until - now))
    }

    /// Counts a request from `address` that had no valid key; past the
    /// limit the address is blocked until its bucket has a token again.
    pub fn failed(&self, address: IpAddr) -> Result<(), RetryAfter> {
        let Some(limiter) = &self.anonymous else {
            return Ok(());
        };
        match limiter.check_key(&address) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
                blocked.insert(address, Instant::now() + wait);
                Err(RetryAfter(wait))
            }
        }
    }

    /// Charges a GraphQL request's complexity to its key.
    pub fn charge(&self, key: i64, cost: u64) -> CostOutcome {
        let Some(limiter) = &self.cost else {
            return CostOutcome::Charged {
                remaining: u64::MAX,
            };
        };
        // A query with no cost still reads what is left.
        let n = NonZeroU32::new(u32::try_from(cost.max(1)).unwrap_or(u32::MAX))
            .unwrap_or(NonZeroU32::MIN);
        match limiter.check_key_n(&key, n) {
            Err(_) => CostOutcome::TooExpensive {
                budget: self.cost_budget,
            },
            Ok(Err(not_until)) => {
                CostOutcome::Later(RetryAfter(not_until.wait_time_from(self.clock.now())))
            }
            Ok(Ok(snapshot)) => CostOutcome::Charged {
                remaining: u64::from(snapshot.remaining_burst_capacity()),
            },
        }
    }

    /// The budget per minute (`QUERY_COST_PER_MINUTE`); 0 is unlimited.
    pub fn cost_budget(&self) -> u64 {
        self.cost_budget
    }

    /// Forgets buckets that are full again and blocks that expired, so
    /// that memory stays bounded by recent clients (run every minute).
    pub fn housekeeping(&self) {
        for limiter in [&self.read, &self.ingest].into_iter().flatten() {
            limiter.retain_recent();
        }
        if let Some(l) = &self.anonymous {
            l.retain_recent();
        }
        if let Some(l) = &self.cost {
            l.retain_recent();
        }
        let now = Instant::now();
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig {
            rate_limit_rps: 1,
            rate_limit_burst: 3,
            ingest_rate_limit_rps: 0,
            unauthenticated_rate_limit_rps: 1,
            unauthenticated_rate_limit_burst: 2,
            query_cost_per_minute: 1_000,
            ..AuthConfig::default()
        }
    }

    #[test]
    fn a_key_gets_its_burst_then_waits_for_its_rate() {
        let l = Limiters::new(&config());
        for _ in 0..3 {
            assert!(l.request(Class::Read, 1).is_ok());
        }
        let retry = l.request(Class::Read, 1).unwrap_err();
        assert!(retry.0 <= Duration::from_secs(1) && retry.seconds() == 1);
        // Another key has its own bucket; a zero rate means no limit.
        assert!(l.request(Class::Read, 2).is_ok());
        for _ in 0..100 {
            assert!(l.request(Class::Ingest, 1).is_ok());
        }
    }

    #[test]
    fn an_address_past_its_failures_is_blocked_before_lookup() {
        let l = Limiters::new(&config());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.is_blocked(a).is_none());
        assert!(l.failed(a).is_ok() && l.failed(a).is_ok());
        assert!(l.failed(a).is_err());
        assert!(l.is_blocked(a).is_some());
        assert!(l.is_blocked("192.0.2.2".parse().unwrap()).is_none());
    }

    #[test]
    fn cost_is_charged_against_a_minute_budget() {
        let l = Limiters::new(&config());
        assert_eq!(l.charge(1, 600), CostOutcome::Charged { remaining: 400 });
        assert!(matches!(l.charge(1, 600), CostOutcome::Later(_)));
        assert_eq!(
            l.charge(1, 5_000),
            CostOutcome::TooExpensive { budget: 1_000 }
        );
        assert_eq!(l.charge(2, 1_000), CostOutcome::Charged { remaining: 0 });
    }
}
