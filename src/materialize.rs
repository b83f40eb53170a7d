//! The materialiser: keeps the derived tables (touchpoints, credits at the
//! default lookback, every model) exactly equal to computing them from the
//! raw webhooks.
//!
//! Every write marks the fingerprints it touched in `dirty_fingerprints`, in
//! its own transaction, with a fresh version. A step reads a batch of marks,
//! then — without holding any lock, so webhooks keep flowing — recomputes
//! from the committed facts the touchpoints of those fingerprints and the
//! credits of every journey that contains them (their linked users, and the
//! fingerprint alone for anonymous events). One short transaction then
//! replaces the old rows and deletes each mark whose version is unchanged. A
//! write that raced with the step either committed before the marks were
//! read (its facts are in the computation) or rewrote its mark's version (it
//! stays queued and the next step recomputes it).
//! Reports call [`Materializer::flush`] before reading, so what they read is
//! never behind what was acknowledged. A background task keeps the queue
//! short so that flush has little to do.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use entity::{credit, touchpoint};
use sea_orm::{DbErr, Set};
use tokio::sync::Mutex;

use crate::attribution::{self, Model, PageviewFact, Settings, SIGNUP, TRIAL};
use crate::journeys::{self, JourneyKey, UserJourney};
use crate::reports;
use crate::store::Store;

/// Fingerprints recomputed per step: big enough to amortise the queries,
/// small enough to keep the write lock short.
const STEP: u64 = 300;

/// A journey key as stored in `credits.journey_key`.
pub fn key_text(key: &JourneyKey) -> String {
    match key {
        JourneyKey::User(u) => format!("u:{u}"),
        JourneyKey::Anonymous(fp) => format!("a:{fp}"),
    }
}

/// The event names whose credits are materialised: the configured
/// conversions plus signups and trials (the reports' trial columns).
pub fn materialised_names(settings: &Settings) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = settings.conversion_events.iter().cloned().collect();
    names.insert(SIGNUP.into());
    names.insert(TRIAL.into());
    names
}

/// The touchpoint rows of some fingerprints' pageviews.
pub fn touchpoint_rows(
    pageviews: &[PageviewFact],
    settings: &Settings,
) -> Vec<touchpoint::ActiveModel> {
    attribution::touchpoints(pageviews, settings.session_timeout)
        .into_iter()
        .map(|t| touchpoint::ActiveModel {
            id: Default::default(),
            fingerprint: Set(t.fingerprint),
            at: Set(t.at),
            source: Set(t.source),
            medium: Set(t.medium),
            campaign: Set(t.campaign),
            channel: Set(t.channel.as_str().to_owned()),
            landing_page: Set(t.landing_page),
        })
        .collect()
}

/// The credit rows of one journey: every materialised conversion under every
/// model at the default lookback.
pub fn credit_rows(journey: &UserJourney, settings: &Settings) -> Vec<credit::ActiveModel> {
    let names = materialised_names(settings);
    let key = key_text(&journey.key);
    let user = match &journey.key {
        JourneyKey::User(u) => Some(u.as_str()),
        JourneyKey::Anonymous(_) => None,
    };
    let mut rows = Vec::new();
    for event in journey
        .events
        .iter()
        .filter(|e| names.contains(&e.fact.name))
    {
        let conversion = journey.journey.evaluate(&event.fact, settings.lookback);
        for model in Model::ALL {
            for c in reports::credited(&conversion, &event.id, user, model) {
                rows.push(credit::ActiveModel {
                    id: Default::default(),
                    journey_key: Set(key.clone()),
                    conversion_id: Set(c.conversion_id),
                    name: Set(c.name),
                    conversion_at: Set(c.at),
                    user_id: Set(c.user_id),
                    from_trial: Set(c.from_trial),
                    time_to_convert_seconds: Set(c.time_to_convert_seconds),
                    pageviews_before: Set(c.pageviews_before),
                    pageviews_after: Set(c.pageviews_after),
                    model: Set(model.as_str().to_owned()),
                    weight: Set(c.weight),
                    source: Set(c.key.source),
                    medium: Set(c.key.medium),
                    campaign: Set(c.key.campaign),
                    channel: Set(c.key.channel.as_str().to_owned()),
                    landing_page: Set(c.key.landing_page),
                });
            }
        }
    }
    rows
}

/// Recomputes derived rows from the dirty queue.
#[derive(Clone)]
pub struct Materializer {
    store: Store,
    settings: Arc<Settings>,
    /// One step at a time: two concurrent steps would claim disjoint marks
    /// but could write the same journey's credits twice.
    running: Arc<Mutex<()>>,
}

impl Materializer {
    pub fn new(store: Store, settings: Arc<Settings>) -> Self {
        Self {
            store,
            settings,
            running: Arc::new(Mutex::new(())),
        }
    }

    /// Recomputes up to one batch of dirty fingerprints; returns how many.
    pub async fn step(&self) -> Result<usize, DbErr> {
        let _running = self.running.lock().await;
        self.step_locked().await
    }

    async fn step_locked(&self) -> Result<usize, DbErr> {
        let claimed = self.store.dirty_fingerprints(STEP).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let fingerprints: Vec<String> = claimed.iter().map(|(fp, _)| fp.clone()).collect();
        let pageviews = self.store.pageviews_of_fingerprints(&fingerprints).await?;
        let facts: Vec<PageviewFact> = pageviews.iter().map(PageviewFact::from).collect();
        let touchpoints = touchpoint_rows(&facts, &self.settings);
        let users: BTreeSet<String> = self
            .store
            .links_of_fingerprints(&fingerprints)
            .await?
            .into_iter()
            .map(|l| l.user_id)
            .collect();
        let keys: Vec<JourneyKey> = users
            .into_iter()
            .map(JourneyKey::User)
            .chain(fingerprints.iter().cloned().map(JourneyKey::Anonymous))
            .collect();
        let loaded = journeys::load(&self.store, &self.settings, &keys).await?;
        let mut credits = Vec::new();
        for key in &keys {
            if let Some(journey) = loaded.get(key) {
                credits.extend(credit_rows(journey, &self.settings));
            }
        }
        let key_texts: Vec<String> = keys.iter().map(key_text).collect();
        self.store
            .replace_derived(&claimed, &fingerprints, touchpoints, &key_texts, credits)
            .await?;
        Ok(fingerprints.len())
    }

    /// Processes the whole queue: afterwards the derived tables reflect every
    /// write acknowledged before the call.
    pub async fn flush(&self) -> Result<(), DbErr> {
        let _running = self.running.lock().await;
        while self.step_locked().await? > 0 {}
        Ok(())
    }

    /// Keeps the queue short in the background until the process ends (the
    /// queue is in the database, so stopping loses nothing).
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.step().await {
                    Ok(0) => tokio::time::sleep(Duration::from_millis(200)).await,
                    Ok(_) => tokio::task::yield_now().await,
                    Err(e) => {
                        tracing::warn!(error = %e, "materialiser step failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })
    }
}
