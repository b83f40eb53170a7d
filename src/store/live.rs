//! Live signals: what a transaction just stored or derived, for the GraphQL
//! subscriptions (`pageviewRecorded`, `conversionRecorded`, `reportsChanged`).
//!
//! A write names what it committed as a [`Signal`]: the ids of the new
//! pageviews, the ids of the conversions whose attribution a materialiser
//! step wrote for the first time, the new derived-data version. The store
//! publishes it to this process's hub once the transaction has committed,
//! and on PostgreSQL also sends it with `pg_notify` *inside* the transaction,
//! so that the other service processes (each `LISTEN`ing on [`CHANNEL`])
//! hear of it exactly when it becomes visible, and never of a write that
//! rolled back. Each process drops its own notifications (it published them
//! already) by the hub's random origin.
//!
//! Signals carry ids, not rows: a PostgreSQL notification holds under 8,000
//! bytes. The hub's fan-out task reads the rows once per signal, and only
//! while someone in this process subscribes, so a busy ingest costs nothing
//! here when nobody watches.
//!
//! Live delivery is best effort by design: a subscriber hears what commits
//! while it is connected, a slow one is dropped (see `graphql::subscription`),
//! and a lost LISTEN connection misses what commits until it is back. The
//! stored facts stay the truth: a client refetches after it (re)subscribes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{event, pageview};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};

use super::Store;

/// The PostgreSQL notification channel every service process listens on.
pub const CHANNEL: &str = "growth_analytics_live";

/// Under PostgreSQL's 8,000-byte limit on a notification's payload.
const MAX_PAYLOAD: usize = 7_000;

/// Signals waiting for the fan-out task; past this, new ones are dropped
/// (and counted) rather than queued without end.
const QUEUE: usize = 4_096;

/// Batches each broadcast channel keeps for its slowest receiver; one that
/// falls further behind is dropped by its subscription.
pub const BROADCAST_CAPACITY: usize = 256;

/// How long to wait before listening again after the LISTEN connection
/// failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// What a committed transaction changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Signal {
    /// New pageviews (database ids).
    #[serde(rename = "pv")]
    Pageviews { ids: Vec<i64> },
    /// Conversions attributed for the first time (their public ids: the
    /// events' natural keys in hex).
    #[serde(rename = "cv")]
    Conversions { ids: Vec<String> },
    /// The derived-data version after the commit.
    #[serde(rename = "v")]
    Version { version: i64 },
}

impl Signal {
    /// The signal split into parts that each fit one notification.
    fn parts(&self) -> Vec<Signal> {
        // Ids are at most 20 digits (a pageview's) or a key's hex (about 100
        // characters); JSON adds a comma or quotes.
        let fits = |width: usize| (MAX_PAYLOAD / (width + 3)).max(1);
        match self {
            Signal::Pageviews { ids } => ids
                .chunks(fits(20))
                .map(|c| Signal::Pageviews { ids: c.to_vec() })
                .collect(),
            Signal::Conversions { ids } => {
                let width = ids.iter().map(String::len).max().unwrap_or(1);
                ids.chunks(fits(width))
                    .map(|c| Signal::Conversions { ids: c.to_vec() })
                    .collect()
            }
            Signal::Version { .. } => vec![self.clone()],
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Signal::Pageviews { ids } => ids.is_empty(),
            Signal::Conversions { ids } => ids.is_empty(),
            Signal::Version { .. } => false,
        }
    }
}

/// A notification's payload: a signal and the hub that sent it.
#[derive(Serialize, Deserialize)]
struct Envelope {
    o: u64,
    #[serde(flatten)]
    signal: Signal,
}

/// A tick of the derived-data version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionTick {
    pub version: i64,
    /// When this process heard of it.
    pub at: DateTime<Utc>,
}

/// This process's hub (one per [`Store`], shared by its clones).
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    /// Random per hub: tells its own notifications from other processes'.
    origin: u64,
    queue: mpsc::Sender<Signal>,
    /// Taken by [`Store::start_live`]; until then publishing is a no-op.
    receiver: Mutex<Option<mpsc::Receiver<Signal>>>,
    pageviews: broadcast::Sender<Arc<[pageview::Model]>>,
    conversions: broadcast::Sender<Arc<[event::Model]>>,
    version: watch::Sender<Option<VersionTick>>,
    /// Signals dropped because the fan-out queue was full.
    dropped: AtomicU64,
}

impl Default for Live {
    fn default() -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let mut origin = [0u8; 8];
        // Without randomness two hubs could share an origin; the clock's
        // nanoseconds still tell processes apart in practice.
        if getrandom::fill(&mut origin).is_err() {
            origin = Utc::now()
                .timestamp_nanos_opt()
                .unwrap_or_default()
                .to_le_bytes();
        }
        Self {
            inner: Arc::new(Inner {
                origin: u64::from_le_bytes(origin),
                queue,
                receiver: Mutex::new(Some(receiver)),
                pageviews: broadcast::channel(BROADCAST_CAPACITY).0,
                conversions: broadcast::channel(BROADCAST_CAPACITY).0,
                version: watch::channel(None).0,
                dropped: AtomicU64::new(0),
            }),
        }
    }
}

impl Live {
    /// Hands committed signals to this process's subscribers.
    pub fn publish(&self, signals: impl IntoIterator<Item = Signal>) {
        for signal in signals {
            if signal.is_empty() {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = self.inner.queue.try_send(signal) {
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Sends `signal` to the other processes when `txn` commits (PostgreSQL
    /// only: SQLite has one process per database file).
    pub async fn notify_in(&self, txn: &DatabaseTransaction, signal: &Signal) -> Result<(), DbErr> {
        if txn.get_database_backend() != DbBackend::Postgres || signal.is_empty() {
            return Ok(());
        }
        for part in signal.parts() {
            let payload = serde_json::to_string(&Envelope {
                o: self.inner.origin,
                signal: part,
            })
            .map_err(|e| DbErr::Custom(format!("Failed to encode a live signal: {e}")))?;
            txn.execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// New pageviews, a batch per commit.
    pub fn pageviews(&self) -> broadcast::Receiver<Arc<[pageview::Model]>> {
        self.inner.pageviews.subscribe()
    }

    /// Conversion events attributed for the first time, a batch per step.
    pub fn conversions(&self) -> broadcast::Receiver<Arc<[event::Model]>> {
        self.inner.conversions.subscribe()
    }

    /// The latest derived-data version heard of (`None` before the first).
    pub fn versions(&self) -> watch::Receiver<Option<VersionTick>> {
        self.inner.version.subscribe()
    }

    /// Signals dropped because the fan-out fell behind.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// A signal from a notification, unless this hub sent it.
    fn heard(&self, payload: &str) -> Option<Signal> {
        match serde_json::from_str::<Envelope>(payload) {
            Ok(envelope) if envelope.o == self.inner.origin => None,
            Ok(envelope) => Some(envelope.signal),
            Err(error) => {
                tracing::debug!(%error, "ignoring a notification that is not a live signal");
                None
            }
        }
    }

    fn tick(&self, version: i64) {
        self.inner.version.send_if_modified(|latest| {
            // Processes' notifications can arrive out of order: never back.
            if latest.is_some_and(|t| t.version >= version) {
                return false;
            }
            *latest = Some(VersionTick {
                version,
                at: Utc::now(),
            });
            true
        });
    }
}

impl Store {
    /// This process's live hub.
    pub fn live(&self) -> &Live {
        &self.live
    }

    /// Starts delivering signals to subscribers: the fan-out task and, on
    /// PostgreSQL, the LISTEN task, whose handles it returns (abort them to
    /// stop). Idempotent; without it nothing is delivered (the CLI's
    /// commands never start it).
    pub fn start_live(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let receiver = self
            .live
            .inner
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(receiver) = receiver else {
            return Vec::new();
        };
        let mut tasks = vec![tokio::spawn(fan_out(self.on_primary(), receiver))];
        if self.backend() == DbBackend::Postgres {
            tasks.push(tokio::spawn(listen(
                self.live.clone(),
                self.database_url.clone(),
            )));
        }
        tasks
    }
}

/// Reads the rows a signal names, once, and broadcasts them.
async fn fan_out(store: Store, mut signals: mpsc::Receiver<Signal>) {
    while let Some(signal) = signals.recv().await {
        let live = &store.live.inner;
        let result = match signal {
            Signal::Version { version } => {
                store.live.tick(version);
                Ok(())
            }
            Signal::Pageviews { ids } if live.pageviews.receiver_count() > 0 => store
                .pageviews_by_ids(&ids)
                .await
                .map(|rows| drop(live.pageviews.send(rows.into()))),
            Signal::Conversions { ids } if live.conversions.receiver_count() > 0 => {
                let keys: Vec<Vec<u8>> = ids.iter().filter_map(|id| hex(id)).collect();
                store.events_by_keys(keys).await.map(|mut rows| {
                    rows.sort_by_key(|r| (r.created_at, r.id));
                    drop(live.conversions.send(rows.into()));
                })
            }
            Signal::Pageviews { .. } | Signal::Conversions { .. } => Ok(()),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "could not read the rows of a live signal; its subscribers miss them");
        }
    }
}

/// `LISTEN`s for the other processes' signals until the process ends,
/// listening again after the connection fails.
async fn listen(live: Live, database_url: Arc<str>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect(&database_url).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot LISTEN for other processes' live signals; retrying");
                tokio::time::sleep(RELISTEN_AFTER).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "cannot LISTEN for other processes' live signals; retrying");
            tokio::time::sleep(RELISTEN_AFTER).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Some(signal) = live.heard(notification.payload()) {
                        live.publish([signal]);
                    }
                }
                // The connection was lost and is back (sqlx listens again).
                Ok(None) => {
                    tracing::warn!("the LISTEN connection was lost and is back; other processes' live signals sent meanwhile were missed");
                }
                Err(error) => {
                    tracing::warn!(%error, "the LISTEN connection failed; live signals of other processes are missed until it is back");
                    break;
                }
            }
        }
        tokio::time::sleep(RELISTEN_AFTER).await;
    }
}

/// A natural key from its public hex id.
fn hex(id: &str) -> Option<Vec<u8>> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(id.as_bytes())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_a_signal_fits_a_notification_and_together_they_carry_all_of_it() {
        let ids: Vec<i64> = (0..5_000).map(|i| i64::MAX - i).collect();
        let parts = Signal::Pageviews { ids: ids.clone() }.parts();
        assert!(parts.len() > 1);
        let mut again = Vec::new();
        for part in parts {
            let payload = serde_json::to_string(&Envelope {
                o: u64::MAX,
                signal: part.clone(),
            })
            .unwrap();
            assert!(payload.len() < 8_000, "{} bytes", payload.len());
            if let Signal::Pageviews { ids } = part {
                again.extend(ids);
            }
        }
        assert_eq!(again, ids);

        let keys: Vec<String> = (0..300).map(|i| format!("{i:0>96x}")).collect();
        let parts = Signal::Conversions { ids: keys.clone() }.parts();
        let mut again = Vec::new();
        for part in parts {
            let payload = serde_json::to_string(&Envelope {
                o: 1,
                signal: part.clone(),
            })
            .unwrap();
            assert!(payload.len() < 8_000, "{} bytes", payload.len());
            if let Signal::Conversions { ids } = part {
                again.extend(ids);
            }
        }
        assert_eq!(again, keys);
    }

    #[test]
    fn a_hub_ignores_its_own_notifications_and_hears_the_others() {
        let (one, other) = (Live::default(), Live::default());
        let payload = |live: &Live| {
            serde_json::to_string(&Envelope {
                o: live.inner.origin,
                signal: Signal::Version { version: 7 },
            })
            .unwrap()
        };
        assert_eq!(one.heard(&payload(&one)), None);
        assert_eq!(
            one.heard(&payload(&other)),
            Some(Signal::Version { version: 7 })
        );
        assert_eq!(one.heard("not json"), None);
    }

    #[test]
    fn the_version_only_moves_forward() {
        let live = Live::default();
        let versions = live.versions();
        live.tick(5);
        live.tick(3);
        assert_eq!(versions.borrow().map(|t| t.version), Some(5));
        live.tick(6);
        assert_eq!(versions.borrow().map(|t| t.version), Some(6));
    }
}
