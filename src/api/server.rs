//! Serving the API and the console on a socket, with limits a hostile client
//! cannot get round.
//!
//! `axum::serve` runs hyper without a timer, so a client that sends its
//! request head one byte a minute (slowloris), or opens connections and says
//! nothing, holds them for ever. [`serve`] is the accept loop with the limits
//! of [`ServerLimits`]:
//!
//! - the request head must arrive within `header_read_timeout`; the same
//!   clock closes a keep-alive connection that sits idle between requests;
//! - at most `max_headers` header fields (431 beyond) and `max_head_bytes`
//!   of request head (the connection is closed beyond);
//! - a request must be answered within `request_timeout`, body upload
//!   included (408 in the API's error shape), so a slow upload cannot hold a
//!   handler; a response body that streams afterwards is not cut;
//! - at most `max_connections` open at once and `max_connections_per_ip`
//!   from one address; a connection over either is closed at once, so one
//!   client cannot take all of them.
//!
//! HTTP/1.1 only: the API sits behind a TLS-terminating proxy in deployment
//! (DEPLOY notes in README), and HTTP/2 has no head-read clock in hyper.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::errors::ApiError;

/// What one client may hold of the server. `Default` suits `spotcheck serve`.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Time to send a request's head (and the longest idle keep-alive wait).
    pub header_read_timeout: Duration,
    /// Time from the request's head to the response's head, body upload included.
    pub request_timeout: Duration,
    /// Header fields in one request.
    pub max_headers: usize,
    /// Bytes of request head buffered for one connection (at least 8 KiB).
    pub max_head_bytes: usize,
    /// Connections open at once, from everyone.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_connections_per_ip: usize,
    /// How long a graceful shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_headers: 64,
            max_head_bytes: 64 << 10,
            max_connections: 2048,
            max_connections_per_ip: 256,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then
/// lets the requests in flight finish (at most `shutdown_grace`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let app = app.layer(middleware::from_fn_with_state(limits.request_timeout, deadline));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.max_headers)
        .max_buf_size(limits.max_head_bytes.max(8192));
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = PerIp::new(limits.max_connections_per_ip);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            // Debug, not warn: a flood of refused connections must not become a flood of log lines.
            tracing::debug!(%peer, "connection closed: {} connections already open", limits.max_connections);
            continue;
        };
        let Some(slot) = per_ip.take(peer) else {
            tracing::debug!(%peer, "connection closed: {} already open from this address", limits.max_connections_per_ip);
            continue;
        };
        // Small JSON answers: do not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop((permit, slot));
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("requests still in flight after {:?}; stopping anyway", limits.shutdown_grace);
        }
    }
    Ok(())
}

/// Answers 408 when the handler (reading the body included) overruns.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout(limit.as_secs()).into_response(),
    }
}

/// Open connections per peer address.
#[derive(Clone)]
struct PerIp {
    limit: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection counted against its address; uncounted on drop.
struct IpSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerIp {
    fn new(limit: usize) -> PerIp {
        PerIp { limit, open: Arc::default() }
    }

    fn take(&self, peer: SocketAddr) -> Option<IpSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(peer.ip()).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(IpSlot { ip: peer.ip(), open: Arc::clone(&self.open) })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_limit_of_slots_and_gets_them_back_on_drop() {
        let per_ip = PerIp::new(2);
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1000".parse().unwrap();
        let first = per_ip.take(a).unwrap();
        let _second = per_ip.take(a).unwrap();
        assert!(per_ip.take(a).is_none(), "a third connection from one address");
        assert!(per_ip.take(b).is_some(), "another address is not affected");
        drop(first);
        assert!(per_ip.take(a).is_some(), "a closed connection frees its slot");
    }

    #[test]
    fn the_map_does_not_keep_addresses_with_no_connection() {
        let per_ip = PerIp::new(1);
        for port in 0..100u16 {
            let peer = SocketAddr::from(([192, 0, 2, (port % 250) as u8], port));
            drop(per_ip.take(peer));
        }
        assert!(per_ip.open.lock().unwrap().is_empty());
    }
}
