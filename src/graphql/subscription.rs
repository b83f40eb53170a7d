//! The subscription root, served over WebSocket at `/graphql/ws` (see
//! [`super::ws`]): what was just recorded, and when reports changed.
//!
//! Each stream reads the store's live hub (`store::Live`): a batch per
//! commit, flattened into one message per item. Every subscription holds a
//! slot of its connection and of its key ([`Slots`]) for as long as it runs;
//! one that falls more than `store::live::BROADCAST_CAPACITY` batches behind
//! (a client that does not read) gets a `SUBSCRIBER_TOO_SLOW` error and ends,
//! instead of the server buffering for it without end.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::futures_util::stream::{self, Stream};
use async_graphql::{Context, SimpleObject, Subscription};
use tokio::sync::{broadcast, OwnedSemaphorePermit, Semaphore};

use super::error::{coded, ApiErrorCode};
use super::scalars::DateTime;
use super::types::{ConversionNode, Pageview};
use crate::attribution::Settings;
use crate::store::Store;

/// At most this many `reportsChanged` ticks a second per subscription: a
/// bulk load commits many steps a second, and a dashboard refetches on each.
const TICKS_PER_SECOND: u32 = 4;

/// The subscriptions a connection may still open: its own slots and its
/// key's (shared by every connection of that key). Put into the
/// connection's data when it is accepted.
#[derive(Clone)]
pub struct Slots {
    pub connection: Arc<Semaphore>,
    pub key: Arc<Semaphore>,
}

impl Slots {
    /// Both permits, or why not.
    fn take(&self) -> async_graphql::Result<[OwnedSemaphorePermit; 2]> {
        let full = |whose: &str, limit: &str| {
            coded(
                ApiErrorCode::TooManySubscriptions,
                format!(
                    "this {whose} has as many subscriptions open as it may ({limit}); \
                     stop one (`complete`) before starting another"
                ),
            )
        };
        let connection = self
            .connection
            .clone()
            .try_acquire_owned()
            .map_err(|_| full("connection", "MAX_SUBSCRIPTIONS_PER_CONNECTION"))?;
        let key = self
            .key
            .clone()
            .try_acquire_owned()
            .map_err(|_| full("key", "MAX_SUBSCRIPTIONS_PER_KEY"))?;
        Ok([connection, key])
    }
}

/// The subscription's slots, from the connection's data.
fn slots(ctx: &Context<'_>) -> async_graphql::Result<[OwnedSemaphorePermit; 2]> {
    ctx.data::<Slots>()
        .map_err(|_| {
            coded(
                ApiErrorCode::OperationNotSupported,
                "subscriptions are served over WebSocket at /graphql/ws",
            )
        })?
        .take()
}

fn too_slow() -> async_graphql::Error {
    coded(
        ApiErrorCode::SubscriberTooSlow,
        "this subscription fell behind the events it was sent and was ended; \
         subscribe again (and refetch what you show)",
    )
}

/// A tick of the derived data: refetch reports now.
#[derive(SimpleObject, Clone)]
pub struct ReportsVersion {
    /// The derived-data version: it only grows, and a report answered at
    /// one version is answered the same until the next.
    version: String,
    /// When this service process heard of it.
    at: DateTime,
}

/// What a flattening stream keeps between items.
struct Flatten<T, S> {
    receiver: broadcast::Receiver<Arc<[T]>>,
    pending: VecDeque<S>,
    /// Held until the stream is dropped.
    _slots: [OwnedSemaphorePermit; 2],
    ended: bool,
}

/// One item per element of each broadcast batch, `shape` turning a batch
/// into the items to send (filtering, reading what they need). Ends with
/// `SUBSCRIBER_TOO_SLOW` when the receiver lagged.
fn flatten<T, S, F, Fut>(
    receiver: broadcast::Receiver<Arc<[T]>>,
    slots: [OwnedSemaphorePermit; 2],
    shape: F,
) -> impl Stream<Item = async_graphql::Result<S>>
where
    T: Send + Sync + 'static,
    S: Send + 'static,
    F: Fn(Arc<[T]>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = async_graphql::Result<Vec<S>>> + Send,
{
    let state = Flatten {
        receiver,
        pending: VecDeque::new(),
        _slots: slots,
        ended: false,
    };
    let shape = Arc::new(shape);
    stream::unfold(state, move |mut state| {
        let shape = shape.clone();
        async move {
            loop {
                if let Some(item) = state.pending.pop_front() {
                    return Some((Ok(item), state));
                }
                if state.ended {
                    return None;
                }
                match state.receiver.recv().await {
                    Ok(batch) => match shape(batch).await {
                        Ok(items) => state.pending.extend(items),
                        Err(error) => return Some((Err(error), state)),
                    },
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        state.ended = true;
                        return Some((Err(too_slow()), state));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    })
}

/// The root of every subscription.
#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Each new conversion (`name`: only conversions of that event name),
    /// sent once the materialiser has written its attribution, so its
    /// `attribution` is what reports credit. A redelivered webhook sends
    /// nothing; a conversion whose journey is later recomputed is not sent
    /// again.
    async fn conversion_recorded(
        &self,
        ctx: &Context<'_>,
        name: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ConversionNode>>> {
        let name = match name {
            Some(n) => {
                super::args::text("name", &n)?;
                Some(n.trim().to_lowercase())
            }
            None => None,
        };
        let store = ctx.data::<Store>()?.clone();
        let lookback_days = ctx.data::<Arc<Settings>>()?.lookback.num_days();
        let receiver = store.live().conversions();
        let slots = slots(ctx)?;
        Ok(flatten(receiver, slots, move |batch| {
            let rows: Vec<entity::event::Model> = batch
                .iter()
                .filter(|e| name.as_ref().is_none_or(|n| &e.name == n))
                .cloned()
                .collect();
            let store = store.clone();
            async move {
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(super::query::with_keys(&store, rows)
                    .await?
                    .into_iter()
                    .map(|(event, key)| ConversionNode {
                        event,
                        key,
                        lookback_days,
                    })
                    .collect())
            }
        }))
    }

    /// Each new pageview, as stored (a redelivery sends nothing), in the
    /// order the service stored them.
    async fn pageview_recorded(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Pageview>>> {
        let receiver = ctx.data::<Store>()?.live().pageviews();
        let slots = slots(ctx)?;
        Ok(flatten(receiver, slots, |batch| async move {
            Ok(batch.iter().cloned().map(Pageview::from).collect())
        }))
    }

    /// A tick whenever the materialiser (or a spend upload, or an erasure)
    /// commits derived data, carrying the new version: refetch reports then.
    /// Coalesced: at most four a second, each with the latest version.
    async fn reports_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ReportsVersion>>> {
        let mut versions = ctx.data::<Store>()?.live().versions();
        // Only what changes from now on.
        versions.mark_unchanged();
        let slots = slots(ctx)?;
        let gap = Duration::from_secs(1) / TICKS_PER_SECOND;
        Ok(stream::unfold(
            (versions, slots, None::<tokio::time::Instant>),
            move |(mut versions, slots, last)| async move {
                if let Some(last) = last {
                    tokio::time::sleep_until(last + gap).await;
                }
                versions.changed().await.ok()?;
                let tick = (*versions.borrow_and_update())?;
                let item = ReportsVersion {
                    version: tick.version.to_string(),
                    at: DateTime(tick.at),
                };
                Some((
                    Ok(item),
                    (versions, slots, Some(tokio::time::Instant::now())),
                ))
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::futures_util::StreamExt;

    use super::*;

    fn permits() -> [OwnedSemaphorePermit; 2] {
        let semaphore = Arc::new(Semaphore::new(2));
        [
            semaphore.clone().try_acquire_owned().unwrap(),
            semaphore.try_acquire_owned().unwrap(),
        ]
    }

    #[tokio::test]
    async fn batches_are_flattened_in_order_and_a_subscriber_that_falls_behind_is_ended() {
        let (sender, receiver) = broadcast::channel::<Arc<[u32]>>(2);
        let stream = flatten(receiver, permits(), |batch| async move {
            Ok(batch.iter().map(|n| n * 10).collect::<Vec<_>>())
        });
        sender.send(Arc::from(vec![1, 2])).unwrap();
        sender.send(Arc::from(vec![3])).unwrap();
        drop(sender);
        let items: Vec<u32> = stream.map(Result::unwrap).collect().await;
        assert_eq!(items, [10, 20, 30]);

        let (sender, receiver) = broadcast::channel::<Arc<[u32]>>(2);
        let slots = Arc::new(Semaphore::new(2));
        let held = [
            slots.clone().try_acquire_owned().unwrap(),
            slots.clone().try_acquire_owned().unwrap(),
        ];
        let stream = flatten(receiver, held, |batch| async move { Ok(batch.to_vec()) });
        // Four batches for a channel that keeps two: the receiver lagged.
        for n in 0..4 {
            sender.send(Arc::from(vec![n])).unwrap();
        }
        let mut stream = Box::pin(stream);
        let error = stream.next().await.unwrap().unwrap_err();
        assert_eq!(
            error.extensions.as_ref().and_then(|e| e.get("code")),
            Some(&async_graphql::Value::from("SUBSCRIBER_TOO_SLOW"))
        );
        assert!(stream.next().await.is_none(), "ended after the error");
        drop(stream);
        assert_eq!(slots.available_permits(), 2, "its slots are given back");
    }
}
