//! Group commit: many concurrent webhook writes, one transaction.
//!
//! With `synchronous=FULL` every SQLite COMMIT waits for the disk, and SQLite
//! has a single writer, so one transaction per request caps the service at
//! a few thousand requests a second whatever the handler costs. Instead,
//! every pageview or event write is queued to one writer task. The writer
//! takes everything pending (up to [`MAX_GROUP_REQUESTS`] requests or about
//! [`MAX_GROUP_ROWS`] rows), executes it in ONE transaction and commits once.
//! No request waits for a timer: the queue fills while the previous group's
//! COMMIT is on disk, so groups grow exactly as fast as load does.
//!
//! Durability is unchanged: a request's caller is answered (through its
//! oneshot channel) only after the COMMIT containing its rows returned, so a
//! 2xx still means the rows survive a crash. A request whose caller went away
//! is still written; only its answer is dropped.
//!
//! Isolation between requests: if anything in the group transaction fails
//! (one bad row, a constraint, the COMMIT itself), the group is rolled back
//! and each request is retried alone in a transaction of its own, so one
//! poisoned request cannot fail its neighbours and its caller gets the real
//! error. Retrying is safe because every insert is idempotent (`ON CONFLICT
//! DO NOTHING` on the natural key, links keep the earliest time).
//!
//! On PostgreSQL the single writer is kept too: grouping saves the same
//! per-transaction WAL flush there, and one writer means concurrent webhooks
//! can never deadlock on each other's unique-index entries. The SQLite write
//! gate is still taken around each group so campaign spend, which writes
//! outside the group, keeps its turn.
//!
//! Faults: a group that fails because the database is unreachable or its
//! disk is full is not retried request by request (every retry would fail
//! the same way, and an unreachable database would be waited for once per
//! request): all its requests get that error at once. While the database is
//! known to be down (see `health`) the writer answers every queued request
//! with "unavailable" without touching the pool, so the queue drains at
//! once instead of at one connect timeout per group.
//!
//! A group that PostgreSQL aborts to break a deadlock or a serialisation
//! conflict (with a materialiser step or an erasure) is run again, up to
//! [`CONFLICT_RETRIES`] times, before its requests see the error (a 503).
//!
//! Shutdown: the writer owns the receiving end and runs until every sender
//! (every clone of the `Store`) is dropped, so requests already queued are
//! committed and answered before it stops.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::fault;
use super::health::Health;
use super::write::{self, Write};
use super::InsertOutcome;

/// At most this many requests share a transaction: enough to absorb a burst
/// of single-payload webhooks from many connections in one fsync.
pub(super) const MAX_GROUP_REQUESTS: usize = 64;

/// A group stops taking requests once it holds this many rows (it may exceed
/// it by the last request taken, itself capped by the batch limit): keeps a
/// group's transaction, and so its requests' latency, bounded.
pub(super) const MAX_GROUP_ROWS: usize = 10_000;

/// Requests waiting for the writer before senders wait too (back-pressure).
const QUEUE: usize = 1024;

/// One queued write and where its answer goes.
struct Job {
    write: Write,
    reply: oneshot::Sender<Result<InsertOutcome, DbErr>>,
}

/// The sending side of the writer task's queue; cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Spawns the writer task on the current Tokio runtime.
    pub(super) fn start(
        db: DatabaseConnection,
        gate: Option<Arc<Mutex<()>>>,
        health: Health,
        live: super::Live,
    ) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let writer = Group {
            db,
            gate,
            health,
            live,
        };
        tokio::spawn(run(writer, jobs));
        Self { queue }
    }

    /// Queues a write and waits until the transaction holding it committed
    /// (or, on failure, until it was retried alone).
    pub(super) async fn submit(&self, write: Write) -> Result<InsertOutcome, DbErr> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { write, reply })
            .await
            .map_err(|_| DbErr::Custom("the group-commit writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| DbErr::Custom("the group-commit writer dropped a write".into()))?
    }
}

/// What the writer task writes with.
struct Group {
    db: DatabaseConnection,
    gate: Option<Arc<Mutex<()>>>,
    health: Health,
    /// Told of the new pageviews once they have committed.
    live: super::Live,
}

/// The writer task: one group at a time until the queue is closed and empty.
/// Times a group that PostgreSQL aborted for a deadlock or a serialisation
/// conflict is run again before its requests get the error.
const CONFLICT_RETRIES: u32 = 3;

async fn run(writer: Group, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut rows = first.write.len();
        let mut group = vec![first];
        while group.len() < MAX_GROUP_REQUESTS && rows < MAX_GROUP_ROWS {
            match jobs.try_recv() {
                Ok(job) => {
                    rows += job.write.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        writer.commit_group(group).await;
    }
}

impl Group {
    /// Commits a group and answers its requests; on failure retries each alone.
    async fn commit_group(&self, group: Vec<Job>) {
        let (writes, replies): (Vec<Write>, Vec<_>) =
            group.into_iter().map(|job| (job.write, job.reply)).unzip();
        match self.transaction(&writes).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // The caller may have gone away; its rows are stored anyway.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) if writes.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(e) if fault::copy(&e).is_some() => {
                // A full disk is news each time; an outage is logged once,
                // by the health probe, however many groups it refuses.
                if fault::fault(&e) == Some(fault::Fault::StorageFull) {
                    tracing::warn!(
                        error = %e,
                        requests = writes.len(),
                        "group commit refused: the database's disk is full"
                    );
                } else {
                    tracing::debug!(
                        error = %e,
                        requests = writes.len(),
                        "group commit refused: the database is unavailable"
                    );
                }
                for reply in replies {
                    let copy = fault::copy(&e).unwrap_or_else(fault::unavailable);
                    let _ = reply.send(Err(copy));
                }
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    requests = writes.len(),
                    "group commit failed; retrying each request alone"
                );
                for (write, reply) in writes.iter().zip(replies) {
                    let alone =
                        self.transaction(std::slice::from_ref(write))
                            .await
                            .and_then(|outcomes| {
                                outcomes.into_iter().next().ok_or_else(|| {
                                    DbErr::Custom("a write returned no outcome".into())
                                })
                            });
                    let _ = reply.send(alone);
                }
            }
        }
    }

    /// Runs `writes` in one transaction under the write gate; the outcomes are
    /// returned only once COMMIT has returned. Fails at once while the
    /// database is known to be down.
    async fn transaction(&self, writes: &[Write]) -> Result<Vec<InsertOutcome>, DbErr> {
        // A deadlock or serialisation failure is another transaction's
        // doing (a materialiser step, an erasure): PostgreSQL rolled this
        // one back whole, and running it again is safe (every write is
        // idempotent) and normally succeeds. Past the retries it answers as
        // the database being unavailable, with a Retry-After.
        let mut attempt = 0;
        loop {
            match self.attempt(writes).await {
                Err(e) if fault::is_conflict(&e) && attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "group commit conflicted; running it again");
                    tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt)))
                        .await;
                }
                result => return result,
            }
        }
    }

    async fn attempt(&self, writes: &[Write]) -> Result<Vec<InsertOutcome>, DbErr> {
        let _turn = match &self.gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        let txn = self.health.guard(self.db.begin()).await?;
        let result = match write::apply(&txn, writes, &self.live).await {
            Ok((outcomes, signal)) => txn.commit().await.map(|()| {
                self.live.publish([signal]);
                outcomes
            }),
            Err(e) => {
                // Release the write lock now rather than when the handle drops.
                let _ = txn.rollback().await;
                Err(e)
            }
        };
        if let Err(e) = &result {
            self.health.saw(e);
        }
        result
    }
}
