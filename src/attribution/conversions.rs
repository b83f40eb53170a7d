//! Conversions: the user's conversion events with the touchpoints in play.
//!
//! A [`Journey`] sorts and sessionises a user's facts once; every conversion
//! (and every re-evaluation with another lookback) is then a couple of binary
//! searches over the sorted touchpoints and pageview times. Events, like
//! pageviews, are ordered by content and de-duplicated, so the result never
//! depends on the order or multiplicity in which the store returned them.

use std::cmp::Ordering;
use std::ops::Range;

use chrono::{DateTime, Duration, Utc};

use super::models::{last_non_direct_index, weights, Model};
use super::touchpoints::{sorted_unique, touchpoints_of_sorted, PageviewFact, Touchpoint};

/// The event name that marks a sign-up.
pub const SIGNUP: &str = "signup";
/// The event name that marks a trial start.
pub const TRIAL: &str = "trial";
/// The event name that marks a cancellation (churn, for LTV and cohorts).
pub const UNSUBSCRIBE: &str = "unsubscribe";

/// A stored product event (sign-up, trial, …).
#[derive(Debug, Clone, PartialEq)]
pub struct EventFact {
    /// Event name, lower-case (compared exactly).
    pub name: String,
    /// The fingerprint that sent the event.
    pub fingerprint: String,
    /// The application's user id, when known.
    pub user_id: Option<String>,
    /// When the event happened.
    pub at: DateTime<Utc>,
}

/// The content-based total order on events: `at`, `name`, `fingerprint`, `user_id`.
pub fn cmp_events(a: &EventFact, b: &EventFact) -> Ordering {
    a.at.cmp(&b.at)
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        .then_with(|| a.user_id.cmp(&b.user_id))
}

/// Engine settings (from the service config).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Inactivity after which the next pageview opens a new session (default 30 minutes).
    pub session_timeout: Duration,
    /// How far before a conversion touchpoints are in play (default 30 days).
    pub lookback: Duration,
    /// Event names that count as conversions (default `["signup", "trial"]`).
    pub conversion_events: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_timeout: Duration::minutes(30),
            lookback: Duration::days(30),
            conversion_events: vec![SIGNUP.to_owned(), TRIAL.to_owned()],
        }
    }
}

/// One conversion with everything attribution needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// The conversion event's name.
    pub name: String,
    /// The fingerprint that sent the conversion event.
    pub fingerprint: String,
    /// The conversion event's user id.
    pub user_id: Option<String>,
    /// When the conversion happened.
    pub at: DateTime<Utc>,
    /// `name == "signup"` and the user has a `"trial"` event strictly earlier.
    pub from_trial: bool,
    /// Touchpoints in play (`at - lookback <= tp.at <= at`), oldest first.
    pub touchpoints: Vec<Touchpoint>,
    /// Whole seconds (floored) from the first touchpoint in play to the conversion; `None` without touchpoints.
    pub time_to_convert_seconds: Option<i64>,
    /// The user's distinct pageviews with `at - lookback <= pv.at <= at`.
    pub pageviews_before: i64,
    /// The user's distinct pageviews with `pv.at > at`.
    pub pageviews_after: i64,
}

impl Conversion {
    /// The first touchpoint in play.
    pub fn first_click(&self) -> Option<&Touchpoint> {
        self.touchpoints.first()
    }

    /// The last touchpoint in play.
    pub fn last_click(&self) -> Option<&Touchpoint> {
        self.touchpoints.last()
    }

    /// The latest non-direct touchpoint in play, else the last one.
    pub fn last_non_direct_click(&self) -> Option<&Touchpoint> {
        last_non_direct_index(&self.touchpoints).and_then(|i| self.touchpoints.get(i))
    }

    /// The touchpoint a single-touch model credits (for filtering); `None` for
    /// multi-touch models and for conversions without touchpoints.
    pub fn single_touch(&self, model: Model) -> Option<&Touchpoint> {
        match model {
            Model::FirstClick => self.first_click(),
            Model::LastClick => self.last_click(),
            Model::LastNonDirectClick => self.last_non_direct_click(),
            Model::Linear | Model::PositionBased | Model::TimeDecay => None,
        }
    }

    /// One weight per touchpoint in play (see [`weights`]).
    pub fn weights(&self, model: Model) -> Vec<f64> {
        weights(model, &self.touchpoints, self.at)
    }

    /// `(touchpoint, weight)` pairs with weight > 0, in touchpoint order — what the API calls credits.
    pub fn credits(&self, model: Model) -> Vec<(&Touchpoint, f64)> {
        self.touchpoints
            .iter()
            .zip(self.weights(model))
            .filter(|(_, w)| *w > 0.0)
            .collect()
    }
}

/// A user's facts, sorted, de-duplicated and sessionised once, ready to
/// evaluate conversions under any lookback cheaply.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    touchpoints: Vec<Touchpoint>,
    pageview_times: Vec<DateTime<Utc>>,
    events: Vec<EventFact>,
    first_trial: Option<DateTime<Utc>>,
}

impl Journey {
    /// Builds the journey of one user from all their pageviews and events (every fingerprint).
    pub fn new(
        pageviews: &[PageviewFact],
        events: &[EventFact],
        session_timeout: Duration,
    ) -> Self {
        let sorted = sorted_unique(pageviews);
        let touchpoints = touchpoints_of_sorted(&sorted, session_timeout);
        let pageview_times = sorted.iter().map(|pv| pv.at).collect();
        let mut events = events.to_vec();
        events.sort_unstable_by(cmp_events);
        events.dedup();
        let first_trial = events.iter().find(|e| e.name == TRIAL).map(|e| e.at);
        Journey {
            touchpoints,
            pageview_times,
            events,
            first_trial,
        }
    }

    /// All touchpoints of the user, oldest first.
    pub fn touchpoints(&self) -> &[Touchpoint] {
        &self.touchpoints
    }

    /// The user's distinct events, oldest first.
    pub fn events(&self) -> &[EventFact] {
        &self.events
    }

    /// Conversions (events named in `conversion_events`), oldest first, with `lookback`.
    pub fn conversions(&self, lookback: Duration, conversion_events: &[String]) -> Vec<Conversion> {
        self.events
            .iter()
            .filter(|e| conversion_events.contains(&e.name))
            .map(|e| self.evaluate(e, lookback))
            .collect()
    }

    /// Evaluates one event as a conversion with the given lookback.
    pub fn evaluate(&self, event: &EventFact, lookback: Duration) -> Conversion {
        let at = event.at;
        let start = window_start(at, lookback);
        let touchpoints = self
            .touchpoints
            .get(self.in_play(at, lookback))
            .unwrap_or_default()
            .to_vec();
        let time_to_convert_seconds = touchpoints
            .first()
            .map(|t| at.signed_duration_since(t.at).num_seconds());
        let up_to_at = self.pageview_times.partition_point(|t| *t <= at);
        let pageviews_before = if start <= at {
            up_to_at - self.pageview_times.partition_point(|t| *t < start)
        } else {
            0
        };
        let pageviews_after = self.pageview_times.len() - up_to_at;
        Conversion {
            name: event.name.clone(),
            fingerprint: event.fingerprint.clone(),
            user_id: event.user_id.clone(),
            at,
            from_trial: event.name == SIGNUP && self.first_trial.is_some_and(|t| t < at),
            touchpoints,
            time_to_convert_seconds,
            pageviews_before: count(pageviews_before),
            pageviews_after: count(pageviews_after),
        }
    }

    /// The indexes in [`Journey::touchpoints`] of the touchpoints in play for a
    /// conversion at `at`: `at - lookback <= tp.at <= at`. A range because the
    /// touchpoints are sorted by time, so the ones in play are contiguous;
    /// callers that must know *which* touchpoints a conversion claimed (the
    /// data-driven models' training paths) use it instead of comparing copies.
    pub fn in_play(&self, at: DateTime<Utc>, lookback: Duration) -> Range<usize> {
        let start = window_start(at, lookback);
        if start <= at {
            self.touchpoints.partition_point(|t| t.at < start)
                ..self.touchpoints.partition_point(|t| t.at <= at)
        } else {
            0..0
        }
    }

    /// Re-evaluates a conversion with another lookback (the API's `lookbackDays` override).
    pub fn reevaluate(&self, conversion: &Conversion, lookback: Duration) -> Conversion {
        let event = EventFact {
            name: conversion.name.clone(),
            fingerprint: conversion.fingerprint.clone(),
            user_id: conversion.user_id.clone(),
            at: conversion.at,
        };
        self.evaluate(&event, lookback)
    }
}

/// `at - lookback`, saturating at the ends of the representable range.
fn window_start(at: DateTime<Utc>, lookback: Duration) -> DateTime<Utc> {
    at.checked_sub_signed(lookback)
        .unwrap_or(if lookback > Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// All conversions of one user, oldest first (content order: `at`, `name`,
/// `fingerprint`, `user_id`), identical events collapsed.
///
/// `pageviews` and `events` are all of the user's (every fingerprint). For
/// another lookback, call again with cloned settings, or build a [`Journey`]
/// once and call [`Journey::conversions`] / [`Journey::reevaluate`].
pub fn conversions(
    pageviews: &[PageviewFact],
    events: &[EventFact],
    settings: &Settings,
) -> Vec<Conversion> {
    Journey::new(pageviews, events, settings.session_timeout)
        .conversions(settings.lookback, &settings.conversion_events)
}

/// The user's attribution: the earliest `"signup"` conversion, if any.
pub fn first_signup(conversions: &[Conversion]) -> Option<&Conversion> {
    conversions
        .iter()
        .filter(|c| c.name == SIGNUP)
        .min_by(|a, b| a.at.cmp(&b.at))
}
