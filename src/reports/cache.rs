//! The report cache: a dashboard polling the same report every few seconds
//! costs a lookup while no derived data changed.
//!
//! Entries are keyed by everything the answer depends on (the report, its
//! resolved range, model, conversion, lookback, zone, …) and hold the
//! version of the derived data they were computed at. The version is a
//! counter in the database that every transaction changing derived rows,
//! rollups or spend bumps, so every service process on one database sees a
//! change made by any of them; an entry is served only while the version
//! read after the report's flush is the one it was computed at.
//!
//! A range that ends `now` (`lastDays`) resolves to a new range every time,
//! so it is a new key; a dashboard that polls fixed ranges hits.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;

use super::{Overview, Row, Series};

/// Entries kept: a few dashboards' worth of panels.
const CAPACITY: usize = 512;

/// The most items (rows, points, acquisitions and their facts, touchpoints)
/// all entries may hold together. Entries differ by orders of magnitude (an
/// overview is one item, a year of acquisitions tens of thousands), so a
/// count of entries alone let 512 ranges of acquisitions hold hundreds of
/// MiB; least recently used entries go first once the sum passes this.
const WEIGHT_BUDGET: usize = 250_000;

/// A cached answer.
#[derive(Clone)]
pub enum Cached {
    Rows(Arc<Vec<Row>>),
    Overview(Arc<Overview>),
    Series(Arc<Vec<Series>>),
    /// The acquisitions of a range under one model and lookback (see
    /// `revenue`), shared by every dimension's revenue fields.
    Acquisitions(Arc<Vec<super::revenue::CreditedAcquisition>>),
    /// The conversions of a range with their touchpoints in play (see
    /// `source::in_play`), shared by the paths, the path lengths and every
    /// report's assists.
    InPlay(Arc<Vec<super::paths::InPlay>>),
}

impl Cached {
    /// Roughly how many items the entry holds (see [`WEIGHT_BUDGET`]).
    fn weight(&self) -> usize {
        1 + match self {
            Cached::Rows(rows) => rows.len(),
            Cached::Overview(_) => 0,
            Cached::Series(series) => series.iter().map(|s| s.values.len()).sum(),
            Cached::Acquisitions(a) => a
                .iter()
                .map(|c| c.credits.len() + c.acquisition.revenue.len())
                .sum(),
            Cached::InPlay(c) => c.iter().map(|c| 1 + c.touchpoints.len()).sum(),
        }
    }
}

struct Entries {
    lru: LruCache<String, (i64, Cached)>,
    weight: usize,
}

/// Shared by every request of one process; cheap to clone.
#[derive(Clone)]
pub struct ReportCache {
    entries: Arc<Mutex<Entries>>,
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
}

impl Default for ReportCache {
    fn default() -> Self {
        Self {
            entries: Arc::new(Mutex::new(Entries {
                lru: LruCache::new(NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN)),
                weight: 0,
            })),
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }
}

impl ReportCache {
    /// The answer cached under `key` at `version`, if any.
    pub fn get(&self, key: &str, version: i64) -> Option<Cached> {
        let found = self.entries.lock().ok().and_then(|mut e| {
            match e.lru.get(key) {
                Some((v, c)) if *v == version => Some(c.clone()),
                // Stale for good (versions only grow): free it now.
                Some(_) => {
                    if let Some((_, (_, old))) = e.lru.pop_entry(key) {
                        e.weight = e.weight.saturating_sub(old.weight());
                    }
                    None
                }
                None => None,
            }
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn put(&self, key: String, version: i64, answer: Cached) {
        let weight = answer.weight();
        if weight > WEIGHT_BUDGET {
            return;
        }
        if let Ok(mut e) = self.entries.lock() {
            e.weight += weight;
            if let Some((_, (_, old))) = e.lru.push(key, (version, answer)) {
                e.weight = e.weight.saturating_sub(old.weight());
            }
            while e.weight > WEIGHT_BUDGET {
                match e.lru.pop_lru() {
                    Some((_, (_, old))) => e.weight = e.weight.saturating_sub(old.weight()),
                    None => break,
                }
            }
        }
    }

    /// Lookups answered from the cache since start-up.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that had to compute.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_only_at_the_version_it_was_computed_at() {
        let cache = ReportCache::default();
        cache.put(
            "k".into(),
            3,
            Cached::Overview(Arc::new(Overview::default())),
        );
        assert!(cache.get("k", 3).is_some());
        assert!(cache.get("k", 4).is_none());
        assert!(cache.get("other", 3).is_none());
        assert_eq!((cache.hits(), cache.misses()), (1, 2));
    }

    fn rows(n: usize) -> Cached {
        let row = Row::new(super::super::RowKey::Source("s".into()));
        Cached::Rows(Arc::new(vec![row; n]))
    }

    #[test]
    fn entries_are_evicted_by_what_they_hold_not_only_by_their_number() {
        let cache = ReportCache::default();
        cache.put("small".into(), 1, rows(10));
        cache.put("big".into(), 1, rows(WEIGHT_BUDGET - 100));
        assert!(cache.get("small", 1).is_some() && cache.get("big", 1).is_some());
        // Over the budget: the least recently used ("small", then "big")
        // go until it fits.
        cache.put("next".into(), 1, rows(1_000));
        assert!(cache.get("big", 1).is_none());
        assert!(cache.get("next", 1).is_some());
        // An entry bigger than the whole budget is not kept at all.
        cache.put("huge".into(), 1, rows(WEIGHT_BUDGET + 1));
        assert!(cache.get("huge", 1).is_none());
        // A stale version frees its entry.
        assert!(cache.get("next", 2).is_none());
        assert_eq!(cache.entries.lock().unwrap().lru.len(), 0);
    }
}
