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
//!
//! Rollups are the second stage. A step queues, in its own transaction,
//! every hour whose touchpoints or credits it changed (old rows against new
//! ones); a stored pageview queues its hour in the write's transaction. A
//! rebuild then recomputes each queued hour's cells from the derived rows of
//! that hour and removes the marks whose version is unchanged — the same
//! optimistic scheme as the fingerprints — queueing the hours' days; a day
//! is then merged from its 24 hourly cells, optimistically too, so no lock
//! is held while cells are decoded and merged. Rebuilding a whole hour from its rows, rather than patching
//! cells row by row, is what keeps them exact (bitmaps, medians, float sums
//! in a fixed order) and cheap under a bulk load: every step of an import
//! touches the same hours, which are rebuilt once when the queue drains.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;
use std::time::Instant;

use entity::{acquisition, credit, revenue_fact, touchpoint};
use sea_orm::DbErr;
use tokio::sync::Mutex;

use crate::attribution::{self, Model, PageviewFact, Settings, SIGNUP, TRIAL};
use crate::config::AttributionConfig;
use crate::journeys::{self, JourneyKey, UserJourney};
use crate::reports::cache::ReportCache;
use crate::reports::cells::{self, CellDim, Grain};
use crate::reports::{source, Credited, TouchKey};
use crate::store::{HourCells, RevenueRows, Store, VisitorTouch};

/// Fingerprints recomputed per step: big enough to amortise the queries,
/// small enough to keep the write lock short.
const STEP: u64 = 1000;

/// Steps per background pass: a report's flush waits for at most one pass
/// before it takes its turn.
const PASS_STEPS: usize = 4;

/// Hours rebuilt per rollup step: two days of a bulk load at once.
const HOUR_STEP: u64 = 48;

/// How long the background task waits after a step that found fewer
/// fingerprints than a full batch.
const TRICKLE_PAUSE: Duration = Duration::from_millis(100);

/// How often an idle background task looks at the queues.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Days merged from their hours per step.
const DAY_STEP: u64 = 8;

/// The background task rebuilds rollups at most this often while ingest
/// goes on, so a stream of webhooks (each dirtying an hour) is batched.
const REBUILD_AT_MOST_EVERY: Duration = Duration::from_secs(1);

/// How long the background task lets a bulk load postpone rollup rebuilds
/// (reports rebuild what is queued anyway, before they read): rebuilding
/// hours that the next steps will change again is wasted work.
const REBUILD_AT_LEAST_EVERY: Duration = Duration::from_secs(30);

/// What is materialised beyond the default: the lookbacks whose credits are
/// kept, and whether reports read rollups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Days, sorted, the default (`LOOKBACK_DAYS`) among them.
    pub lookbacks: Vec<i32>,
    /// `ROLLUPS`: reports read rollups (else they fold the derived rows).
    pub rollups: bool,
}

impl Plan {
    pub fn from_config(config: &AttributionConfig) -> Self {
        let mut lookbacks: Vec<i32> = std::iter::once(config.lookback_days)
            .chain(config.lookback_windows.iter().copied())
            .map(|d| i32::try_from(d).unwrap_or(i32::MAX))
            .collect();
        lookbacks.sort_unstable();
        lookbacks.dedup();
        Self {
            lookbacks,
            rollups: config.rollups,
        }
    }

    /// Whether credits at `days` are materialised.
    pub fn has_lookback(&self, days: i64) -> bool {
        self.lookbacks.iter().any(|d| i64::from(*d) == days)
    }
}

impl Default for Plan {
    fn default() -> Self {
        Self::from_config(&AttributionConfig::default())
    }
}

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

/// The touchpoint rows of some fingerprints' pageviews (ids unset: 0).
pub fn touchpoint_rows(pageviews: &[PageviewFact], settings: &Settings) -> Vec<touchpoint::Model> {
    attribution::touchpoints(pageviews, settings.session_timeout)
        .into_iter()
        .map(|t| touchpoint::Model {
            id: 0,
            fingerprint: t.fingerprint,
            at: t.at,
            source: t.source,
            medium: t.medium,
            campaign: t.campaign,
            channel: t.channel.as_str().to_owned(),
            landing_page: t.landing_page,
        })
        .collect()
}

/// The credit rows of one journey (ids unset: 0): every materialised
/// conversion at every lookback of `plan`, one row per touchpoint in play
/// with every model's weight (0 where a model gives it none; see
/// `entity::credit`).
pub fn credit_rows(journey: &UserJourney, settings: &Settings, plan: &Plan) -> Vec<credit::Model> {
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
        for &days in &plan.lookbacks {
            let lookback = chrono::Duration::days(i64::from(days));
            let c = journey.journey.evaluate(&event.fact, lookback);
            let row = |k: TouchKey| credit::Model {
                id: 0,
                journey_key: key.clone(),
                conversion_id: event.id.clone(),
                name: c.name.clone(),
                conversion_at: c.at,
                user_id: user.map(str::to_owned),
                from_trial: c.from_trial,
                time_to_convert_seconds: c.time_to_convert_seconds,
                pageviews_before: c.pageviews_before,
                pageviews_after: c.pageviews_after,
                lookback_days: days,
                first_click: 0.0,
                last_click: 0.0,
                last_non_direct_click: 0.0,
                linear: 0.0,
                position_based: 0.0,
                time_decay: 0.0,
                source: k.source,
                medium: k.medium,
                campaign: k.campaign,
                channel: k.channel.as_str().to_owned(),
                landing_page: k.landing_page,
            };
            if c.touchpoints.is_empty() {
                // What `reports::credited` gives every model then.
                let mut r = row(TouchKey::not_set());
                for model in Model::ALL {
                    source::set_weight(&mut r, model, 1.0);
                }
                rows.push(r);
                continue;
            }
            let mut per_touch: Vec<credit::Model> =
                c.touchpoints.iter().map(|t| row(TouchKey::of(t))).collect();
            for model in Model::ALL {
                for (r, w) in per_touch.iter_mut().zip(c.weights(model)) {
                    source::set_weight(r, model, w);
                }
            }
            rows.extend(
                per_touch
                    .into_iter()
                    .filter(|r| Model::ALL.iter().any(|m| source::weight(r, *m) > 0.0)),
            );
        }
    }
    rows
}

/// A journey's acquisition (its first signup, and its first unsubscribe at
/// or after it) and its revenue facts: every event of the journey with
/// revenue, before the acquisition too (`overview.revenue` books those; the
/// LTV fields skip them).
pub fn revenue_rows(journey: &UserJourney, into: &mut RevenueRows) {
    let key = key_text(&journey.key);
    if let Some(first) = journey.first_signup() {
        let at = first.fact.at;
        // Events are in content order: the first unsubscribe after the
        // signup in that order is the churn, even at the signup's instant.
        let churned_at = journey
            .events
            .iter()
            .skip_while(|e| e.id != first.id)
            .find(|e| e.fact.name == attribution::UNSUBSCRIBE)
            .map(|e| e.fact.at);
        into.acquisitions.push(acquisition::Model {
            journey_key: key.clone(),
            conversion_id: first.id.clone(),
            user_id: match &journey.key {
                JourneyKey::User(u) => Some(u.clone()),
                JourneyKey::Anonymous(_) => None,
            },
            acquired_at: at,
            churned_at,
        });
    }
    into.facts.extend(journey.events.iter().filter_map(|e| {
        e.row.revenue_micros.map(|micros| revenue_fact::Model {
            id: 0,
            journey_key: key.clone(),
            event_id: e.id.clone(),
            at: e.fact.at,
            revenue_micros: micros,
        })
    }));
}

/// The cells of one hour from its derived rows: touchpoints (with visitor
/// ids), the visitor id of each pageview, and every credit.
pub fn hour_cells(
    hour: i64,
    touches: &[VisitorTouch],
    pageviews: &[i64],
    credits: Vec<credit::Model>,
) -> Result<HourCells, DbErr> {
    let id = |v: i64| {
        u32::try_from(v)
            .map_err(|_| DbErr::Custom(format!("visitor id {v} exceeds the bitmaps' range")))
    };
    let keyed: Vec<(u32, TouchKey)> = touches
        .iter()
        .map(|t| {
            Ok((
                id(t.visitor)?,
                TouchKey {
                    campaign: t.campaign.clone(),
                    source: t.source.clone(),
                    medium: t.medium.clone(),
                    channel: t
                        .channel
                        .parse()
                        .unwrap_or(crate::domain::Channel::Unassigned),
                    landing_page: t.landing_page.clone(),
                },
            ))
        })
        .collect::<Result<_, DbErr>>()?;
    let mut out = HourCells {
        hour,
        ..HourCells::default()
    };
    for dim in CellDim::TOUCHES {
        let cell = cells::touch_cell(dim, keyed.iter().map(|(v, k)| (*v, k)));
        if !cell.is_empty() {
            out.touches.push((dim.code(), cells::encode_touches(&cell)));
        }
    }
    let traffic = cells::traffic_cell(
        pageviews
            .iter()
            .map(|v| id(*v))
            .collect::<Result<Vec<_>, _>>()?,
    );
    if !traffic.is_empty() {
        out.touches
            .push((CellDim::Traffic.code(), cells::encode_touches(&traffic)));
    }
    // Per (lookback, name), per model, the credits.
    let mut groups: BTreeMap<(i32, String), BTreeMap<String, Vec<Credited>>> = BTreeMap::new();
    for c in credits {
        let models = groups.entry((c.lookback_days, c.name.clone())).or_default();
        for model in Model::ALL {
            if let Some(credited) = source::credited_of(&c, model) {
                models
                    .entry(model.as_str().to_owned())
                    .or_default()
                    .push(credited);
            }
        }
    }
    for ((lookback, name), models) in groups {
        for dim in CellDim::CREDITS {
            let packed: cells::ModelCells = models
                .iter()
                .map(|(model, rows)| {
                    let refs: Vec<&Credited> = rows.iter().collect();
                    (model.clone(), cells::credit_cell(dim, &refs))
                })
                .collect();
            out.credits.push((
                dim.code(),
                lookback,
                name.clone(),
                cells::encode_models(&packed),
            ));
        }
    }
    Ok(out)
}

/// A day's cells as the merge of its hourly cells (given in hour order).
pub fn day_cells(
    day: i64,
    hour_touches: &[entity::rollup_touch::Model],
    hour_credits: &[entity::rollup_credit::Model],
) -> Result<
    (
        Vec<entity::rollup_touch::Model>,
        Vec<entity::rollup_credit::Model>,
    ),
    DbErr,
> {
    let bad = |e: cells::CellError| DbErr::Custom(e.to_string());
    let mut touches: BTreeMap<i16, cells::TouchCell> = BTreeMap::new();
    for m in hour_touches {
        let cell = cells::decode_touches(&m.data).map_err(bad)?;
        cells::merge_touches(touches.entry(m.dimension).or_default(), &cell);
    }
    let mut credits: BTreeMap<(i16, i32, String), cells::ModelCells> = BTreeMap::new();
    for m in hour_credits {
        let day = credits
            .entry((m.dimension, m.lookback_days, m.name.clone()))
            .or_default();
        for (model, cell) in cells::decode_models(&m.data).map_err(bad)? {
            cells::merge_credits(day.entry(model).or_default(), &cell);
        }
    }
    let touches = touches
        .into_iter()
        .map(|(dimension, cell)| entity::rollup_touch::Model {
            grain: Grain::Day.code(),
            dimension,
            bucket: day,
            data: cells::encode_touches(&cell),
        })
        .collect();
    let credits = credits
        .into_iter()
        .map(
            |((dimension, lookback_days, name), models)| entity::rollup_credit::Model {
                grain: Grain::Day.code(),
                dimension,
                lookback_days,
                name,
                bucket: day,
                data: cells::encode_models(&models),
            },
        )
        .collect();
    Ok((touches, credits))
}

/// Claimed hour marks and the cells rebuilt for them.
type PreparedHours = (Vec<(i64, i64)>, Vec<HourCells>);

/// One step's recomputed rows, ready to replace the stored ones.
struct Prepared {
    claimed: Vec<(String, i64)>,
    fingerprints: Vec<String>,
    touchpoints: Vec<touchpoint::Model>,
    key_texts: Vec<String>,
    credits: Vec<credit::Model>,
    revenue: RevenueRows,
}

impl Prepared {
    async fn write(self, store: &Store) -> Result<usize, DbErr> {
        let started = Instant::now();
        let n = self.fingerprints.len();
        store
            .replace_derived(
                &self.claimed,
                &self.fingerprints,
                self.touchpoints,
                &self.key_texts,
                self.credits,
                self.revenue,
            )
            .await?;
        tracing::debug!(
            fingerprints = n,
            write_ms = started.elapsed().as_millis() as u64,
            "materialiser step written"
        );
        Ok(n)
    }
}

/// Recomputes derived rows from the dirty queue.
#[derive(Clone)]
pub struct Materializer {
    store: Store,
    settings: Arc<Settings>,
    plan: Arc<Plan>,
    /// Reports answered at the current derived-data version (see
    /// `reports::cache`); here because the materialiser is what every
    /// report flushes and what changes that version.
    cache: ReportCache,
    /// Set once the stored derived rows are known to follow this process's
    /// settings (see `Store::align_derived_config`).
    aligned: Arc<std::sync::atomic::AtomicBool>,
    /// One step at a time: two concurrent steps would claim disjoint marks
    /// but could write the same journey's credits twice.
    running: Arc<Mutex<()>>,
}

impl Materializer {
    pub fn new(store: Store, settings: Arc<Settings>, plan: Plan) -> Self {
        Self {
            store,
            settings,
            plan: Arc::new(plan),
            cache: ReportCache::default(),
            aligned: Arc::default(),
            running: Arc::new(Mutex::new(())),
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Whether this process checked that the stored derived rows follow its
    /// settings (its first step does).
    pub fn is_aligned(&self) -> bool {
        self.aligned.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn cache(&self) -> &ReportCache {
        &self.cache
    }

    /// Rebuilds every dirty hour's cells (`drain`) or one batch of them,
    /// then merges up to one batch of dirty days; returns whether a batch
    /// was full (more is probably queued).
    pub async fn rebuild(&self, drain: bool) -> Result<bool, DbErr> {
        let _running = self.running.lock().await;
        let hours = self
            .rebuild_hours_locked(if drain { usize::MAX } else { 1 })
            .await?;
        let days = self.merge_days_locked().await?;
        Ok((!drain && hours >= HOUR_STEP as usize) || days >= DAY_STEP as usize)
    }

    async fn merge_days_locked(&self) -> Result<usize, DbErr> {
        let claimed = self.store.dirty_days(DAY_STEP).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let mut touches = Vec::new();
        let mut credits = Vec::new();
        for (day, _) in &claimed {
            let (hour_touches, hour_credits) = self.store.hour_cells_of_day(*day).await?;
            let (t, c) = day_cells(*day, &hour_touches, &hour_credits)?;
            touches.extend(t);
            credits.extend(c);
        }
        self.store.replace_days(&claimed, touches, credits).await?;
        Ok(claimed.len())
    }

    /// Rebuilds up to `max_batches` batches of queued hours, each batch's
    /// reads and cells computed while the previous batch is written (as
    /// [`Self::pass_locked`]; the batches hold disjoint hours, and an hour's
    /// cells are a function of its rows alone, so the order of their commits
    /// does not matter). Returns the hours rebuilt.
    async fn rebuild_hours_locked(&self, max_batches: usize) -> Result<usize, DbErr> {
        let Some(mut next) = self.prepare_hours(None).await? else {
            return Ok(0);
        };
        let mut total = 0;
        let mut batches = 1;
        loop {
            let full = next.0.len() >= HOUR_STEP as usize;
            let after = next.0.last().map(|(hour, _)| *hour);
            let store = self.store.clone();
            let writing = tokio::spawn(async move {
                let (claimed, hours) = next;
                let started = Instant::now();
                store.replace_rollups(&claimed, hours).await?;
                tracing::debug!(
                    hours = claimed.len(),
                    write_ms = started.elapsed().as_millis() as u64,
                    "rollup hours written"
                );
                Ok::<_, DbErr>(claimed.len())
            });
            let following = if full && batches < max_batches {
                batches += 1;
                self.prepare_hours(after).await
            } else {
                Ok(None)
            };
            total += writing
                .await
                .map_err(|e| DbErr::Custom(format!("rollup write task failed: {e}")))??;
            match following? {
                Some(prepared) => next = prepared,
                None => return Ok(total),
            }
        }
    }

    /// Claims up to one batch of queued hours (after `after`, when given)
    /// and computes their cells from their derived rows.
    async fn prepare_hours(&self, after: Option<i64>) -> Result<Option<PreparedHours>, DbErr> {
        let claimed = self.store.dirty_hours(after, HOUR_STEP).await?;
        if claimed.is_empty() {
            return Ok(None);
        }
        // Contiguous runs of hours, each read with one query per table.
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for (hour, _) in &claimed {
            match runs.last_mut() {
                Some((_, end)) if *end == *hour => *end += Grain::Hour.seconds(),
                _ => runs.push((*hour, hour + Grain::Hour.seconds())),
            }
        }
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap_or_default();
        let mut hours = Vec::with_capacity(claimed.len());
        let started = Instant::now();
        self.store.ensure_visitor_ids(&runs).await?;
        let ids = started.elapsed();
        let (mut read, mut rows) = (Duration::ZERO, 0);
        for (from, to) in runs {
            let reading = Instant::now();
            let mut touches: BTreeMap<i64, Vec<VisitorTouch>> = BTreeMap::new();
            for t in self.store.visitor_touches(at(from), at(to)).await? {
                touches
                    .entry(Grain::Hour.floor(t.at.timestamp()))
                    .or_default()
                    .push(t);
            }
            let mut pageviews: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
            for (visitor, when) in self.store.visitor_pageviews(at(from), at(to)).await? {
                pageviews
                    .entry(Grain::Hour.floor(when.timestamp()))
                    .or_default()
                    .push(visitor);
            }
            let mut credits: BTreeMap<i64, Vec<credit::Model>> = BTreeMap::new();
            for c in self.store.credits_between(at(from), at(to)).await? {
                credits
                    .entry(Grain::Hour.floor(c.conversion_at.timestamp()))
                    .or_default()
                    .push(c);
            }
            read += reading.elapsed();
            rows += touches.values().map(Vec::len).sum::<usize>()
                + pageviews.values().map(Vec::len).sum::<usize>()
                + credits.values().map(Vec::len).sum::<usize>();
            let mut hour = from;
            while hour < to {
                hours.push(hour_cells(
                    hour,
                    touches.get(&hour).map(Vec::as_slice).unwrap_or_default(),
                    pageviews.get(&hour).map(Vec::as_slice).unwrap_or_default(),
                    credits.remove(&hour).unwrap_or_default(),
                )?);
                hour += Grain::Hour.seconds();
            }
        }
        tracing::debug!(
            hours = claimed.len(),
            rows,
            visitor_ids_ms = ids.as_millis() as u64,
            read_ms = read.as_millis() as u64,
            compute_ms = (started.elapsed() - ids - read).as_millis() as u64,
            "rollup hours computed"
        );
        Ok(Some((claimed, hours)))
    }

    /// Recomputes up to `max_steps` batches, pipelined (see
    /// [`Self::pass_locked`]); returns how many fingerprints.
    pub async fn pass(&self, max_steps: usize) -> Result<usize, DbErr> {
        let _running = self.running.lock().await;
        self.pass_locked(max_steps).await
    }

    /// The settings the derived rows depend on, as stored beside them.
    fn derived_config(&self) -> String {
        format!(
            "session_timeout_secs={};lookbacks={:?};conversions={:?}",
            self.settings.session_timeout.num_seconds(),
            self.plan.lookbacks,
            materialised_names(&self.settings)
        )
    }

    /// Checks once per process that the stored derived rows follow this
    /// process's settings, queueing everything again when they do not.
    async fn align(&self) -> Result<(), DbErr> {
        if !self.aligned.load(std::sync::atomic::Ordering::Acquire) {
            if self
                .store
                .align_derived_config(&self.derived_config())
                .await?
            {
                tracing::info!(
                    "derived rows were computed with other settings: recomputing them all"
                );
            }
            self.aligned
                .store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// Up to `max_steps` steps, each one's reads and computation running
    /// while the previous one writes, so that the database's writer and the
    /// materialiser's own work use both cores. Returns the fingerprints
    /// recomputed.
    ///
    /// Still exact: a step claims only marks after the previous step's
    /// last fingerprint (so no mark is claimed twice), and writes only once
    /// the previous write has committed. Steps therefore commit in the order
    /// they read the facts, which is all the optimistic scheme needs: a
    /// step that read after another cannot be overwritten by it.
    async fn pass_locked(&self, max_steps: usize) -> Result<usize, DbErr> {
        self.align().await?;
        let Some(mut next) = self.prepare(None).await? else {
            return Ok(0);
        };
        let mut total = 0;
        let mut steps = 1;
        loop {
            let full = next.fingerprints.len() >= STEP as usize;
            let after = next.fingerprints.last().cloned();
            let store = self.store.clone();
            let writing = tokio::spawn(async move { next.write(&store).await });
            let following = if full && steps < max_steps {
                steps += 1;
                self.prepare(after.as_deref()).await
            } else {
                Ok(None)
            };
            // The write is awaited even when the next step's reads failed:
            // it must not outlive this step's hold on `running`.
            total += writing
                .await
                .map_err(|e| DbErr::Custom(format!("materialiser write task failed: {e}")))??;
            match following? {
                Some(prepared) => next = prepared,
                None => return Ok(total),
            }
        }
    }

    /// Claims up to one batch of marks (those after `after`, when given)
    /// and recomputes their rows from the committed facts.
    async fn prepare(&self, after: Option<&str>) -> Result<Option<Prepared>, DbErr> {
        let claimed = self.store.dirty_fingerprints(after, STEP).await?;
        if claimed.is_empty() {
            return Ok(None);
        }
        let started = Instant::now();
        let fingerprints: Vec<String> = claimed.iter().map(|(fp, _)| fp.clone()).collect();
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
        // The anonymous keys make the load read every claimed fingerprint's
        // pageviews: the touchpoints are computed from those.
        let (loaded, facts) = journeys::load_with_facts(&self.store, &self.settings, &keys).await?;
        let read = started.elapsed();
        let claimed_facts: Vec<PageviewFact> = fingerprints
            .iter()
            .flat_map(|fp| facts.get(fp).into_iter().flatten().cloned())
            .collect();
        let touchpoints = touchpoint_rows(&claimed_facts, &self.settings);
        let mut credits = Vec::new();
        let mut revenue = RevenueRows::default();
        for key in &keys {
            if let Some(journey) = loaded.get(key) {
                credits.extend(credit_rows(journey, &self.settings, &self.plan));
                revenue_rows(journey, &mut revenue);
            }
        }
        let key_texts: Vec<String> = keys.iter().map(key_text).collect();
        tracing::debug!(
            fingerprints = fingerprints.len(),
            touchpoints = touchpoints.len(),
            credits = credits.len(),
            read_ms = read.as_millis() as u64,
            compute_ms = (started.elapsed() - read).as_millis() as u64,
            "materialiser step computed"
        );
        Ok(Some(Prepared {
            claimed,
            fingerprints,
            touchpoints,
            key_texts,
            credits,
            revenue,
        }))
    }

    /// Processes the whole queue: afterwards the derived tables reflect every
    /// write acknowledged before the call.
    pub async fn flush(&self) -> Result<(), DbErr> {
        let _running = self.running.lock().await;
        while self.pass_locked(usize::MAX).await? > 0 {}
        while self.rebuild_hours_locked(usize::MAX).await? > 0 {}
        while self.merge_days_locked().await? > 0 {}
        Ok(())
    }

    /// Keeps the queue short in the background until the process ends (the
    /// queue is in the database, so stopping loses nothing).
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    /// What [`Materializer::spawn`] runs: never returns; drop it to stop
    /// (a step is one transaction, so stopping mid-step loses nothing).
    pub async fn run(self) {
        let mut rebuilt_at = Instant::now();
        // Whether the last rebuild left work behind (a full batch): then
        // the next one is due at once, not after the trickle interval.
        let mut rollup_backlog = false;
        loop {
            // One statement per tick while idle (the queues are in the
            // database, written by every process).
            let (fingerprints, rollups) = match self.store.queued().await {
                Ok(q) => q,
                Err(e) => {
                    tracing::warn!(error = %e, "materialiser cannot read its queues; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if !fingerprints && !rollups && self.is_aligned() {
                rollup_backlog = false;
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            let stepped = if fingerprints || !self.is_aligned() {
                match self.pass(PASS_STEPS).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "materialiser step failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            } else {
                0
            };
            // Hours are rebuilt at most once a second while webhooks
            // trickle in (each dirtying an hour), so that one rebuild
            // serves many of them; a backlog left by a bulk load is
            // drained back to back. While a bulk load still fills every
            // fingerprint step, hours wait up to half a minute, so each
            // is rebuilt about once, at the load's end. Reports rebuild
            // whatever is queued before they read anyway.
            let since = rebuilt_at.elapsed();
            let bulk = stepped >= STEP as usize;
            let due = if bulk {
                since >= REBUILD_AT_LEAST_EVERY
            } else {
                rollup_backlog || since >= REBUILD_AT_MOST_EVERY
            };
            if rollups && due {
                rebuilt_at = Instant::now();
                // While a bulk load goes on, one batch: the next steps
                // will change most hours again.
                match self.rebuild(!bulk).await {
                    Ok(full) => rollup_backlog = full,
                    Err(e) => {
                        tracing::warn!(error = %e, "rollup rebuild failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            if bulk || rollup_backlog {
                tokio::task::yield_now().await;
            } else if stepped > 0 {
                // A trickle of webhooks: wait for a few more before the
                // next step, so one step (one write transaction) serves
                // many webhooks instead of taking the write lock after
                // each. Reports flush what is queued anyway.
                tokio::time::sleep(TRICKLE_PAUSE).await;
            } else {
                // Only rollups queued, and not due yet: do not spin on
                // the queue statement until they are.
                tokio::time::sleep(
                    REBUILD_AT_MOST_EVERY
                        .saturating_sub(rebuilt_at.elapsed())
                        .max(IDLE_POLL),
                )
                .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::attribution::{EventFact, Journey};
    use crate::domain::Channel;
    use crate::journeys::StoredEvent;

    fn pageview(minute: i64, url: &str, source: &str, channel: Channel) -> PageviewFact {
        let direct = channel == Channel::Direct;
        PageviewFact {
            fingerprint: "fp".into(),
            at: Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap() + Duration::minutes(minute),
            url: format!("https://app.example.com{url}"),
            landing_page: url.into(),
            referrer_url: (!direct).then(|| format!("https://{source}/")),
            source: source.into(),
            medium: if direct { "(none)" } else { "referral" }.into(),
            campaign: None,
            content: None,
            term: None,
            channel,
            rule: "test".into(),
        }
    }

    fn event(name: &str, minute: i64) -> StoredEvent {
        let at = Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap() + Duration::minutes(minute);
        StoredEvent {
            id: format!("{name}-{minute}"),
            row: entity::event::Model {
                id: 0,
                dedup_key: Vec::new(),
                name: name.into(),
                fingerprint: "fp".into(),
                user_id: Some("u1".into()),
                created_at: at,
                received_at: at,
                revenue_micros: None,
                currency: None,
            },
            fact: EventFact {
                name: name.into(),
                fingerprint: "fp".into(),
                user_id: Some("u1".into()),
                at,
            },
        }
    }

    /// Every model's credits, one row per model with credit, as
    /// `reports::credited` gives them: what the folded rows must expand to.
    fn expanded(rows: &[credit::Model], model: Model) -> Vec<Credited> {
        rows.iter()
            .filter_map(|r| source::credited_of(r, model))
            .collect()
    }

    #[test]
    fn folded_credit_rows_expand_to_each_models_credits() {
        // Four touchpoints (two of them DIRECT, one before the 7-day
        // lookback), a trial, a signup, and a signup with no touchpoint in
        // play at the 7-day lookback.
        let pageviews = vec![
            pageview(0, "/a", "news.example", Channel::Referral),
            pageview(60 * 24 * 9, "/b", "(direct)", Channel::Direct),
            pageview(60 * 24 * 10, "/c", "google", Channel::OrganicSearch),
            pageview(60 * 24 * 10 + 90, "/d", "(direct)", Channel::Direct),
        ];
        let events = vec![
            event("trial", 60 * 24 * 10 + 30),
            event("signup", 60 * 24 * 11),
            event("signup", 60 * 24 * 40),
        ];
        let settings = Settings::default();
        let facts: Vec<EventFact> = events.iter().map(|e| e.fact.clone()).collect();
        let journey = UserJourney {
            key: JourneyKey::User("u1".into()),
            fingerprints: vec!["fp".into()],
            first_seen_at: None,
            journey: Journey::new(&pageviews, &facts, settings.session_timeout),
            events,
        };
        let plan = Plan::default();
        let rows = credit_rows(&journey, &settings, &plan);
        for &days in &plan.lookbacks {
            let at_lookback: Vec<credit::Model> = rows
                .iter()
                .filter(|r| r.lookback_days == days)
                .cloned()
                .collect();
            for model in Model::ALL {
                let mut expected = Vec::new();
                for e in &journey.events {
                    let lookback = Duration::days(i64::from(days));
                    let c = journey.journey.evaluate(&e.fact, lookback);
                    expected.extend(crate::reports::credited(&c, &e.id, Some("u1"), model));
                }
                assert_eq!(
                    expanded(&at_lookback, model),
                    expected,
                    "{model} at {days} days"
                );
                let total: f64 = expected.iter().map(|c| c.weight).sum();
                assert_eq!(total, 3.0, "{model} at {days} days: one unit a conversion");
            }
        }
        // One row per touchpoint in play, not one per model.
        let most = Model::ALL
            .iter()
            .map(|m| expanded(&rows, *m).len())
            .max()
            .unwrap();
        assert_eq!(rows.len(), most);
    }
}
