//! The accept loop: HTTP/1 connections driven by hyper directly, because
//! `axum::serve` has no knobs for what a hostile client exploits. Each
//! connection gets a header read timeout; open connections are capped; and
//! shutdown gives running requests a deadline, then drops them.
//!
//! At the cap the loop stops accepting instead of accepting and closing:
//! new connections wait in the kernel's backlog and are served as soon as one
//! ends. Because every connection that has not sent a complete request head
//! within the header timeout is closed (idle keep-alive connections
//! included, hyper restarts the timer for each request), a flood of idle
//! connections holds the slots for at most that long, so `/health` answers
//! within the header timeout however many idle connections an attacker
//! opens; a client dropped at the cap would instead have to guess when to
//! retry.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::written::{Pending, Written};

/// hyper adds the header timeout to `Instant::now()` unchecked; a library
/// caller's `Duration::MAX` must not panic every connection.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// The router, handed each request with its connection's `Pending`, so the
/// request log can wait for the response's bytes to be written.
struct WithPending {
    inner: TowerToHyperService<Router>,
    pending: Pending,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for WithPending {
    type Response = <TowerToHyperService<Router> as hyper::service::Service<
        hyper::Request<hyper::body::Incoming>,
    >>::Response;
    type Error = <TowerToHyperService<Router> as hyper::service::Service<
        hyper::Request<hyper::body::Incoming>,
    >>::Error;
    type Future = <TowerToHyperService<Router> as hyper::service::Service<
        hyper::Request<hyper::body::Incoming>,
    >>::Future;

    fn call(&self, mut request: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        request.extensions_mut().insert(self.pending.clone());
        self.inner.call(request)
    }
}

/// The connection-level limits of `ServerLimits`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnectionLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops
/// accepting, asks every connection to finish its request and close, and
/// after `shutdown_timeout` drops those still open.
pub(super) async fn serve_connections(
    mut listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let (stop_tx, stop_rx) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    let mut slot = None;
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    tracing::warn!("a connection task failed: {e}");
                }
            }
            permit = slots.clone().acquire_owned(), if slot.is_none() => {
                slot = Some(permit.expect("the connection semaphore is never closed"));
            }
            // axum's `Listener` for `TcpListener` retries accept errors
            // (EMFILE and the like) after a pause instead of failing.
            (stream, remote) = Listener::accept(&mut listener), if slot.is_some() => {
                let permit = slot.take();
                let mut stop = stop_rx.clone();
                let pending = Pending::default();
                let service = WithPending {
                    inner: TowerToHyperService::new(app.clone()),
                    pending: pending.clone(),
                };
                connections.spawn(async move {
                    let _permit = permit;
                    let mut builder = http1::Builder::new();
                    builder
                        .timer(TokioTimer::new())
                        .header_read_timeout(limits.header_timeout.min(LONGEST_TIMEOUT));
                    let mut conn = pin!(builder.serve_connection(TokioIo::new(Written::new(stream, pending)), service));
                    let result = tokio::select! {
                        result = conn.as_mut() => result,
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(%remote, "connection closed: {e}");
                    }
                });
            }
        }
    }
    drop(listener);
    drop(slot);
    let _ = stop_tx.send(());
    let open = connections.len();
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            of = open,
            "shutdown deadline of {:?} passed; dropping the connections still open",
            limits.shutdown_timeout
        );
        connections.shutdown().await;
    }
}
