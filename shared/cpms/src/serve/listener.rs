//! The accept loop of every listener of `cpms serve`, with the bounds one client's junk must not break:
//! - a cap on open connections per listener, from the process's open-files limit, so the operator API and
//!   the chargers each keep descriptors whatever the other listener is sent;
//! - on the OCPP listener, a cap on connections that have not authenticated yet (no finished handshake):
//!   when it is reached the oldest of them is dropped, so a flood of silent connections cannot keep a
//!   charger that handshakes at once from getting in;
//! - a deadline for the request headers (a few seconds), so half-open and slow connections are reaped.
//!
//! Each connection runs on hyper's HTTP/1 server with upgrades (the WebSocket endpoint) and the axum
//! router as its service; the peer address is offered as axum's `ConnectInfo`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Bounds of one listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most (further ones wait in the kernel's backlog).
    pub max_connections: usize,
    /// Connections not yet authenticated at most (`None`: not tracked).
    pub max_unauthenticated: Option<usize>,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
}

/// Descriptors kept for the store, logs and the process itself.
const RESERVED_FDS: usize = 64;

/// The open-files limit of the process, after raising it to the hard limit.
pub fn open_files_limit() -> usize {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "cannot raise the open-files limit");
    }
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map(|(soft, _)| soft.min(1 << 20) as usize)
        .unwrap_or(1024)
}

/// How the descriptors are shared: the operator API and the management API get a fixed share each, the
/// chargers the rest; at most half of the chargers' share (and at most `pending`) may be connections that
/// have not authenticated.
pub fn split(fds: usize, pending: usize, header_timeout: Duration) -> (Limits, Limits) {
    let usable = fds.saturating_sub(RESERVED_FDS).max(64);
    let api = (usable / 8).clamp(16, 1024);
    let ws = usable.saturating_sub(2 * api).max(16);
    let ws_limits = Limits {
        max_connections: ws,
        max_unauthenticated: Some(pending.clamp(1, (ws / 2).max(1))),
        header_timeout,
    };
    let api_limits = Limits {
        max_connections: api,
        max_unauthenticated: None,
        header_timeout,
    };
    (ws_limits, api_limits)
}

/// A connection that has not authenticated yet. The WebSocket endpoint marks it once the charger is let
/// in; until then it may be dropped to make room.
pub struct Unauthenticated {
    token: CancellationToken,
    done: AtomicBool,
    queue: Arc<PendingQueue>,
}

impl Unauthenticated {
    /// The connection is authenticated (or ended): it no longer counts, and is no longer dropped.
    pub fn authenticated(&self) {
        if !self.done.swap(true, Ordering::AcqRel) {
            self.queue.count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The request extension that names the connection's [`Unauthenticated`] entry.
#[derive(Clone)]
pub struct Handshake(pub Option<Arc<Unauthenticated>>);

impl Handshake {
    /// Marks the connection authenticated.
    pub fn authenticated(&self) {
        if let Some(u) = &self.0 {
            u.authenticated();
        }
    }
}

#[derive(Default)]
struct PendingQueue {
    entries: Mutex<VecDeque<Weak<Unauthenticated>>>,
    count: AtomicUsize,
}

impl PendingQueue {
    /// Registers a new connection; drops the oldest unauthenticated one when over `max`.
    fn admit(self: &Arc<Self>, max: usize) -> Arc<Unauthenticated> {
        let entry = Arc::new(Unauthenticated {
            token: CancellationToken::new(),
            done: AtomicBool::new(false),
            queue: self.clone(),
        });
        let mut q = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let over = self.count.fetch_add(1, Ordering::AcqRel) + 1 > max;
        if over {
            while let Some(old) = q.pop_front() {
                if let Some(old) = old.upgrade()
                    && !old.done.load(Ordering::Acquire)
                {
                    old.token.cancel();
                    old.authenticated();
                    break;
                }
            }
        }
        // Forget entries of connections that ended, so the queue stays as long as the live ones.
        if q.len() > 2 * max {
            q.retain(|w| w.upgrade().is_some_and(|u| !u.done.load(Ordering::Acquire)));
        }
        q.push_back(Arc::downgrade(&entry));
        entry
    }
}

/// A socket that holds its listener's connection permit for as long as it is open (also once a
/// WebSocket has taken it over).
struct Guarded {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves `app` on `listener` within `limits` until `stop` turns true; in-flight requests then finish.
pub fn spawn(
    tasks: &TaskTracker,
    stop: &watch::Receiver<bool>,
    listener: TcpListener,
    app: Router,
    limits: Limits,
    what: &'static str,
) {
    let mut stop = stop.clone();
    let conn_tasks = tasks.clone();
    tasks.spawn(async move {
        let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let pending = Arc::new(PendingQueue::default());
        loop {
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
                _ = stop.changed() => return,
            };
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, listener = what, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = stop.changed() => return,
            };
            let _ = stream.set_nodelay(true);
            let entry = limits.max_unauthenticated.map(|max| pending.admit(max));
            let io = Guarded {
                stream,
                _permit: permit,
            };
            conn_tasks.spawn(connection(
                io,
                peer,
                app.clone(),
                entry,
                limits.header_timeout,
                stop.clone(),
            ));
        }
    });
}

async fn connection(
    io: Guarded,
    peer: SocketAddr,
    app: Router,
    entry: Option<Arc<Unauthenticated>>,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let handshake = Handshake(entry.clone());
    let svc = app.map_request(move |req: http::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(handshake.clone());
        req
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(svc))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let dropped = async {
        match &entry {
            Some(e) => e.token.cancelled().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = dropped => {
            tracing::debug!(peer = %peer, "unauthenticated connection dropped to make room");
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
    if let Some(e) = entry {
        e.authenticated();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_shared_with_a_reserve() {
        let (ws, api) = split(1024, 1000, Duration::from_secs(5));
        assert_eq!(api.max_connections, 120);
        assert_eq!(ws.max_connections, 1024 - 64 - 240);
        assert_eq!(ws.max_unauthenticated, Some(360));
        assert!(ws.max_connections + 2 * api.max_connections < 1024);
    }

    #[test]
    fn the_oldest_unauthenticated_connection_makes_room() {
        let q = Arc::new(PendingQueue::default());
        let a = q.admit(2);
        let b = q.admit(2);
        b.authenticated();
        let c = q.admit(2);
        assert!(!a.token.is_cancelled());
        let _d = q.admit(2);
        assert!(a.token.is_cancelled(), "the oldest pending one goes");
        assert!(!b.token.is_cancelled() && !c.token.is_cancelled());
        assert_eq!(q.count.load(Ordering::Acquire), 2);
    }
}
