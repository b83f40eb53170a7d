//! The HTTP server loop: hyper's HTTP/1.1 connection driver (what
//! `axum::serve` runs inside) with the connection limits `axum::serve` lacks.
//!
//! `axum::serve` keeps a connection for as long as the client likes: 600 idle
//! sockets used up a 512-descriptor limit and `/healthz` stopped answering.
//! Here every connection is in one of five [`Phase`]s, tracked from its socket
//! and its request and response bodies, and each phase but "busy" is bounded:
//!
//! - reading a head: from the accept, or on a kept-alive connection from the
//!   first byte of the next request, until the head is parsed; at most
//!   `header_read_timeout`, then the connection is closed;
//! - reading a body: at most `header_read_timeout` between two pieces of it;
//! - busy: the handler runs or its response is being produced; not bounded
//!   here (how long a request may take is the handlers' business);
//! - sending: the client does not take the response as fast as it is sent
//!   (the socket's buffer is full); at most `idle_timeout` without progress;
//! - idle: from the end of a response to the next request's first byte; at
//!   most `idle_timeout`.
//!
//! hyper's own `header_read_timeout` is not used: its timer also runs while a
//! kept-alive connection waits for its next request, so an idle connection
//! would be closed after the header timeout and no idle timeout could be
//! longer than that.
//!
//! At most `max_connections` connections are open (fewer if the open-file
//! limit cannot hold them next to the database's share). When a connection
//! arrives at the cap, the least recently active connection that is idle or
//! still reading its head is closed to admit it (closing an idle connection is
//! always allowed in HTTP/1.1; clients reconnect). So a client holding
//! hundreds of slow connections cannot keep others out: the newest arrivals
//! win the slots back, and the slow ones are the oldest. Only when every
//! connection is busy (a request running) does the server stop accepting
//! until one finishes; new clients then wait in the listen backlog. Refusing
//! at the cap with a 503 was the alternative: it would still cost a
//! descriptor per refused socket, and it would turn clients away while idle
//! sockets hold the slots.
//!
//! HTTP/2 is not served: it would add the `h2` crate for clients that all
//! speak HTTP/1.1 to this service today.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::ServeConfig;

/// At most one warning line per this long for the same condition.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (out of descriptors, say), so the loop
/// neither spins nor gives up.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// After closing a connection to free its descriptor, the time to let it go.
const EVICTION_PAUSE: Duration = Duration::from_millis(10);
/// At the cap, how often to look again for a connection to close.
const ROOM_RETRY: Duration = Duration::from_millis(100);
/// A connection this young is not closed to admit another: it has barely had
/// the time to send its request.
const EVICTION_MIN_AGE: Duration = Duration::from_millis(500);
/// Descriptors kept for everything but connections and the database pools:
/// the listener, stdio, the runtime's epoll and wakers, files being imported.
const RESERVED_FDS: usize = 64;
/// Descriptors one pooled database connection may use: a socket for
/// PostgreSQL; the database, WAL and shared-memory files for SQLite.
const FDS_PER_DATABASE_CONNECTION: usize = 3;

/// How the server treats connections (see [`crate::config::HttpConfig`]).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Longest time to send a request head, and longest pause in a body.
    pub header_read_timeout: Duration,
    /// Longest time a kept-alive connection waits for its next request.
    pub idle_timeout: Duration,
    /// Most connections open at once (before the open-file limit's say).
    pub max_connections: usize,
    /// Largest request head in bytes; larger ones get 431.
    pub max_header_bytes: usize,
    /// Descriptors left for everything but client connections, subtracted
    /// from the open-file limit to bound `max_connections`.
    pub reserved_fds: usize,
}

impl ServerSettings {
    /// The settings `serve` is configured with, reserving descriptors for
    /// the database pools (primary, and replica if there is one).
    pub fn from_config(config: &ServeConfig) -> Self {
        let http = &config.http;
        let pools = 1 + usize::from(config.database.database_read_url.is_some());
        let pooled =
            pools * config.database.max_connections as usize + crate::store::AUTH_POOL as usize;
        Self {
            header_read_timeout: Duration::from_secs(http.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(http.keep_alive_idle_timeout_secs),
            max_connections: usize::try_from(http.max_client_connections).unwrap_or(usize::MAX),
            max_header_bytes: usize::try_from(http.max_header_bytes).unwrap_or(usize::MAX),
            reserved_fds: RESERVED_FDS + FDS_PER_DATABASE_CONNECTION * pooled,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting, closes idle connections, lets in-flight requests finish and
/// returns once every connection has closed (bounding that wait is the
/// caller's business).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()>,
) {
    let fds = raise_open_file_limit();
    let limit = connection_limit(settings.max_connections, fds, settings.reserved_fds);
    if limit < settings.max_connections {
        tracing::warn!(
            configured = settings.max_connections,
            open_file_limit = fds,
            limit,
            "the open-file limit cannot hold the configured connections next to the database's; \
             serving fewer (raise `ulimit -n` to serve more)"
        );
    } else {
        tracing::debug!(limit, "accepting connections");
    }
    let settings = Arc::new(settings);
    let slots = Arc::new(Semaphore::new(limit));
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut at_cap = RateLimited::new(WARN_EVERY);
    let mut accept_failures = RateLimited::new(WARN_EVERY);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok(accepted) => accepted,
            // That one connection is gone; the listener is fine.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                if let Some(suppressed) = accept_failures.hit(Instant::now()) {
                    tracing::warn!(
                        error = %e,
                        suppressed,
                        "failed to accept a connection (out of file descriptors?); retrying shortly"
                    );
                }
                // Out of descriptors: an idle connection's is the one to free,
                // and it is free as soon as that connection's task has run.
                let pause = if registry.evict_one(Duration::ZERO) {
                    EVICTION_PAUSE
                } else {
                    ACCEPT_BACKOFF
                };
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::select! {
                () = &mut shutdown => break,
                permit = make_room(&slots, &registry, &mut at_cap, limit) => permit,
            },
        };
        let activity = Arc::new(Activity::new());
        let slot = registry.register(activity.clone(), permit);
        let (stream, peer) = stream;
        tokio::spawn(run_connection(
            stream,
            peer,
            router.clone(),
            settings.clone(),
            activity,
            stop_rx.clone(),
            slot,
        ));
    }
    // New connections are refused from here on.
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it has closed.
    let _ = slots
        .acquire_many(u32::try_from(limit).unwrap_or(u32::MAX))
        .await;
}

/// Errors of one connection that `accept` reports: the listener is fine.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Waits for a free slot at the cap, closing idle connections to make one.
async fn make_room(
    slots: &Arc<Semaphore>,
    registry: &Registry,
    warnings: &mut RateLimited,
    limit: usize,
) -> OwnedSemaphorePermit {
    let evicted = registry.evict_one(EVICTION_MIN_AGE);
    if let Some(suppressed) = warnings.hit(Instant::now()) {
        if evicted {
            tracing::warn!(
                limit,
                suppressed,
                "connection limit reached: closing the least recently active idle connection to admit a new one"
            );
        } else {
            tracing::warn!(
                limit,
                suppressed,
                "connection limit reached and every connection is busy: new connections wait until one finishes"
            );
        }
    }
    loop {
        if let Ok(Ok(permit)) =
            tokio::time::timeout(ROOM_RETRY, slots.clone().acquire_owned()).await
        {
            return permit;
        }
        // The one asked to close may have started a request; others may have
        // gone idle since.
        registry.evict_one(EVICTION_MIN_AGE);
    }
}

/// Drives one connection, closing it when its phase outlasts its timeout,
/// when asked to make room, or (gracefully) when the server stops.
async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    settings: Arc<ServerSettings>,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
    _slot: Slot,
) {
    let io = TokioIo::new(TrackedIo {
        stream,
        activity: activity.clone(),
    });
    let service = TrackedService {
        inner: TowerToHyperService::new(router),
        activity: activity.clone(),
        peer,
    };
    let mut builder = http1::Builder::new();
    builder
        .header_read_timeout(None)
        .max_header_size(settings.max_header_bytes);
    // Upgrades (WebSocket, `/graphql/ws`) hand the socket to their handler
    // once the 101 is sent: from then on `graphql::ws` bounds it, not this
    // loop, and it no longer counts here.
    let connection = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        let phase = activity.phase();
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = sleep_until(phase.deadline(&settings)) => {
                // A phase that changed meanwhile has a deadline of its own.
                if activity.phase() == phase {
                    tracing::debug!(?phase, "closing a connection that timed out");
                    return;
                }
            }
            () = activity.wake.notified() => {
                if activity.evict.swap(false, Relaxed) && activity.phase().evictable_since().is_some() {
                    tracing::debug!("closing an idle connection to make room");
                    return;
                }
            }
            stopped = stop.wait_for(|stop| *stop), if !draining => {
                drop(stopped);
                draining = true;
                // Idle connections close now, busy ones after their response.
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Where a connection is in its life; each variant but `Busy` carries when it
/// began (or last made progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request head.
    ReadingHead(Instant),
    /// A request's body is being received; when the last piece arrived.
    ReadingBody(Instant),
    /// A request is being handled or answered.
    Busy,
    /// The client is not reading the response; when it last took some.
    Sending(Instant),
    /// Between a response and the next request.
    Idle(Instant),
}

impl Phase {
    /// When a connection still in this phase is closed.
    fn deadline(self, settings: &ServerSettings) -> Option<Instant> {
        match self {
            Phase::ReadingHead(since) | Phase::ReadingBody(since) => {
                Some(since + settings.header_read_timeout)
            }
            Phase::Idle(since) | Phase::Sending(since) => Some(since + settings.idle_timeout),
            Phase::Busy => None,
        }
    }

    /// Since when the connection may be closed to make room, if it may: no
    /// request of it is in progress.
    fn evictable_since(self) -> Option<Instant> {
        match self {
            Phase::ReadingHead(since) | Phase::Idle(since) => Some(since),
            Phase::ReadingBody(_) | Phase::Busy | Phase::Sending(_) => None,
        }
    }
}

/// "Not set" for the millisecond marks of [`Activity`].
const UNSET: u64 = u64::MAX;

/// One connection's phase, updated by its socket, its service and its bodies.
///
/// Everything that writes here runs in the connection's own task (hyper's
/// HTTP/1 dispatcher polls the socket, the service and both bodies there),
/// so relaxed atomics are enough; the accept loop only reads, to pick a
/// connection to close.
struct Activity {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch` at which the current head began, or UNSET.
    head_since: AtomicU64,
    /// Milliseconds since `epoch` of the last piece of the current request
    /// body, or UNSET when no body is being received.
    body_progress: AtomicU64,
    /// Milliseconds since `epoch` at which the last response ended.
    idle_since: AtomicU64,
    /// Milliseconds since `epoch` of the last successful write.
    last_write: AtomicU64,
    /// The last write found the socket's buffer full: the client is not
    /// reading (hyper keeps writing until its buffer is empty or it is told
    /// to wait, so between two polls this is exactly "data waits").
    write_blocked: AtomicBool,
    /// Set by the accept loop to ask the connection to close to make room.
    evict: AtomicBool,
    /// Wakes the connection's task: its deadline moved earlier, or `evict`.
    wake: Notify,
}

impl Activity {
    /// A connection just accepted: it is reading its first head.
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            head_since: AtomicU64::new(0),
            body_progress: AtomicU64::new(UNSET),
            idle_since: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            write_blocked: AtomicBool::new(false),
            evict: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(UNSET - 1)
    }

    fn at(&self, millis: u64) -> Instant {
        self.epoch + Duration::from_millis(millis)
    }

    fn phase(&self) -> Phase {
        if self.write_blocked.load(Relaxed) {
            Phase::Sending(self.at(self.last_write.load(Relaxed)))
        } else if self.in_flight.load(Relaxed) > 0 {
            match self.body_progress.load(Relaxed) {
                UNSET => Phase::Busy,
                at => Phase::ReadingBody(self.at(at)),
            }
        } else {
            match self.head_since.load(Relaxed) {
                // The end of a response may have been sent after its body was.
                UNSET => Phase::Idle(
                    self.at(self
                        .idle_since
                        .load(Relaxed)
                        .max(self.last_write.load(Relaxed))),
                ),
                at => Phase::ReadingHead(self.at(at)),
            }
        }
    }

    /// Bytes arrived: on an idle connection, the next request has begun.
    fn bytes_read(&self) {
        if self.in_flight.load(Relaxed) == 0 && self.head_since.load(Relaxed) == UNSET {
            self.head_since.store(self.now(), Relaxed);
            // The head's deadline is earlier than the idle one being slept on.
            self.wake.notify_one();
        }
    }

    /// Bytes left for the client.
    fn bytes_written(&self) {
        self.last_write.store(self.now(), Relaxed);
        self.write_blocked.store(false, Relaxed);
    }

    /// The client's receive window and our socket buffer are full.
    fn write_blocked(&self) {
        self.write_blocked.store(true, Relaxed);
    }

    fn wrote(&self, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Ready(Ok(n)) if *n > 0 => self.bytes_written(),
            Poll::Pending => self.write_blocked(),
            Poll::Ready(_) => {}
        }
    }

    fn request_started(&self, has_body: bool) {
        self.in_flight.fetch_add(1, Relaxed);
        self.head_since.store(UNSET, Relaxed);
        let progress = if has_body { self.now() } else { UNSET };
        self.body_progress.store(progress, Relaxed);
    }

    fn body_progressed(&self) {
        self.body_progress.store(self.now(), Relaxed);
    }

    fn body_finished(&self) {
        self.body_progress.store(UNSET, Relaxed);
    }

    fn request_finished(&self) {
        self.idle_since.store(self.now(), Relaxed);
        self.in_flight.fetch_sub(1, Relaxed);
        // Busy had no deadline; idle has one.
        self.wake.notify_one();
    }
}

/// The socket, reporting traffic to the connection's [`Activity`].
struct TrackedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        result
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.activity.wrote(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.activity.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The router, telling the connection's [`Activity`] when a request starts,
/// how its body arrives and when its response is done.
struct TrackedService {
    inner: TowerToHyperService<Router>,
    activity: Arc<Activity>,
    /// The client's address, for per-address limits (`http::auth`).
    peer: SocketAddr,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for TrackedService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity
            .request_started(!request.body().is_end_stream());
        let in_flight = InFlight(self.activity.clone());
        let mut request = request.map(|body| RequestBody {
            body,
            activity: self.activity.clone(),
            finished: false,
        });
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        let response = hyper::service::Service::call(&self.inner, request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| ResponseBody {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// Marks the request finished when dropped: with the response body once it
/// has been sent, or with the handler if the connection closed before.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A request body that records its progress.
struct RequestBody {
    body: Incoming,
    activity: Arc<Activity>,
    finished: bool,
}

impl RequestBody {
    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.activity.body_finished();
        }
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) if !this.body.is_end_stream() => {
                this.activity.body_progressed()
            }
            Poll::Ready(_) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        // A handler that answers without reading the body is done with it.
        self.finish();
    }
}

/// A response body that keeps its request in flight until it is sent.
struct ResponseBody {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The open connections, so that one can be picked to close at the cap.
#[derive(Default)]
struct Registry {
    connections: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn register(self: &Arc<Self>, activity: Arc<Activity>, permit: OwnedSemaphorePermit) -> Slot {
        let id = self.next_id.fetch_add(1, Relaxed);
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, activity);
        Slot {
            registry: self.clone(),
            id,
            _permit: permit,
        }
    }

    /// Asks the least recently active connection that is idle or reading a
    /// head (and has been for at least `min_age`) to close. Whether there
    /// was one.
    fn evict_one(&self, min_age: Duration) -> bool {
        let now = Instant::now();
        let connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let victim = connections
            .values()
            .filter(|activity| !activity.evict.load(Relaxed))
            .filter_map(|activity| {
                let since = activity.phase().evictable_since()?;
                (now.saturating_duration_since(since) >= min_age).then_some((since, activity))
            })
            .min_by_key(|(since, _)| *since);
        match victim {
            Some((_, activity)) => {
                activity.evict.store(true, Relaxed);
                activity.wake.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's place under the cap, given back when the connection ends.
struct Slot {
    registry: Arc<Registry>,
    id: u64,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// How many connections to serve: the configured cap, lowered to what the
/// open-file limit leaves once `reserved` descriptors are set aside.
fn connection_limit(configured: usize, open_file_limit: Option<u64>, reserved: usize) -> usize {
    match open_file_limit {
        Some(fds) => {
            let available = usize::try_from(fds)
                .unwrap_or(usize::MAX)
                .saturating_sub(reserved);
            configured.min(available).max(1)
        }
        None => configured,
    }
}

/// Raises the soft open-file limit to the hard one (the soft default of 1024
/// exists for `select(2)`, which nothing here uses) and returns the limit.
#[cfg(unix)]
fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given. It fails
        // harmlessly where the hard limit is above what the kernel allows.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    Some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn raise_open_file_limit() -> Option<u64> {
    None
}

/// Lets a warning through at most once per period and counts the rest.
#[derive(Debug)]
struct RateLimited {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(how many were suppressed since the last one)` when this one
    /// should be logged.
    fn hit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now < last + self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ServerSettings {
        ServerSettings {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
            reserved_fds: 112,
        }
    }

    #[test]
    fn heads_and_bodies_get_the_header_timeout_and_idle_connections_the_idle_one() {
        let t = Instant::now();
        let s = settings();
        assert_eq!(
            Phase::ReadingHead(t).deadline(&s),
            Some(t + Duration::from_secs(10))
        );
        assert_eq!(
            Phase::ReadingBody(t).deadline(&s),
            Some(t + Duration::from_secs(10))
        );
        assert_eq!(
            Phase::Idle(t).deadline(&s),
            Some(t + Duration::from_secs(60))
        );
        assert_eq!(
            Phase::Sending(t).deadline(&s),
            Some(t + Duration::from_secs(60))
        );
        assert_eq!(Phase::Busy.deadline(&s), None);
    }

    #[test]
    fn only_connections_without_a_request_in_progress_may_be_closed_to_make_room() {
        let t = Instant::now();
        assert_eq!(Phase::ReadingHead(t).evictable_since(), Some(t));
        assert_eq!(Phase::Idle(t).evictable_since(), Some(t));
        assert_eq!(Phase::ReadingBody(t).evictable_since(), None);
        assert_eq!(Phase::Busy.evictable_since(), None);
        assert_eq!(Phase::Sending(t).evictable_since(), None);
    }

    #[test]
    fn a_connection_moves_through_its_phases_as_requests_come_and_go() {
        let activity = Activity::new();
        assert!(matches!(activity.phase(), Phase::ReadingHead(_)));
        activity.request_started(true);
        assert!(matches!(activity.phase(), Phase::ReadingBody(_)));
        activity.body_finished();
        assert_eq!(activity.phase(), Phase::Busy);
        // Body bytes and the response do not start a head.
        activity.bytes_read();
        activity.bytes_written();
        assert_eq!(activity.phase(), Phase::Busy);
        activity.request_finished();
        assert!(matches!(activity.phase(), Phase::Idle(_)));
        activity.bytes_read();
        assert!(matches!(activity.phase(), Phase::ReadingHead(_)));
        activity.request_started(false);
        assert_eq!(activity.phase(), Phase::Busy);
        activity.request_finished();
        // A response whose end waits for the client to read it is not idle.
        activity.write_blocked();
        assert!(matches!(activity.phase(), Phase::Sending(_)));
        activity.bytes_written();
        assert!(matches!(activity.phase(), Phase::Idle(_)));
    }

    #[test]
    fn the_connection_cap_leaves_room_for_the_database_under_the_open_file_limit() {
        assert_eq!(connection_limit(1024, Some(1024), 112), 912);
        assert_eq!(connection_limit(1024, Some(524_288), 112), 1024);
        assert_eq!(connection_limit(1024, None, 112), 1024);
        assert_eq!(connection_limit(1024, Some(100), 112), 1);
    }

    #[test]
    fn a_repeated_warning_is_logged_once_per_period_with_a_count_of_the_rest() {
        let mut warnings = RateLimited::new(Duration::from_secs(10));
        let t = Instant::now();
        assert_eq!(warnings.hit(t), Some(0));
        assert_eq!(warnings.hit(t + Duration::from_secs(1)), None);
        assert_eq!(warnings.hit(t + Duration::from_secs(9)), None);
        assert_eq!(warnings.hit(t + Duration::from_secs(10)), Some(2));
        assert_eq!(warnings.hit(t + Duration::from_secs(11)), None);
    }
}
