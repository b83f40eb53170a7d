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

/// Shared by every request of one process; cheap to clone.
#[derive(Clone)]
pub struct ReportCache {
    entries: Arc<Mutex<LruCache<String, (i64, Cached)>>>,
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
}

impl Default for ReportCache {
    fn default() -> Self {
        Self {
            entries: Arc::new(Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            ))),
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }
}

impl ReportCache {
    /// The answer cached under `key` at `version`, if any.
    pub fn get(&self, key: &str, version: i64) -> Option<Cached> {
        let found = self.entries.lock().ok().and_then(|mut e| {
            e.get(key)
                .filter(|(v, _)| *v == version)
                .map(|(_, c)| c.clone())
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
        if let Ok(mut e) = self.entries.lock() {
            e.put(key, (version, answer));
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
}
