//! The browser's only way out: a small forward proxy on `127.0.0.1:0` that
//! applies the [`NetworkPolicy`] to every connection Chromium makes.
//!
//! Chromium is started with `--proxy-server` pointing here and
//! `--proxy-bypass-list=<-loopback>` (so loopback goes through the proxy
//! too). The proxy serves absolute-form HTTP requests (forwarded on a fresh
//! connection, one request each) and `CONNECT` (https, websockets: a tunnel).
//! It resolves the target itself with [`NetworkPolicy::resolve`] and
//! connects to exactly an address that passed, so a page cannot reach
//! loopback, the private network or the metadata service, whatever its
//! DNS says; a refused target gets `403` and no connection is made.
//!
//! Bounded: request heads up to [`MAX_HEAD`] read within [`HEAD_TIMEOUT`],
//! at most [`MAX_CONNECTIONS`] client connections, tunnels closed after
//! [`TUNNEL_IDLE`] of silence, bodies streamed (never buffered whole). It
//! runs on its own thread and runtime, so it works whichever runtime (or
//! none) launched the pool, and stops when the pool is dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fetch::{GuardError, NetworkPolicy};

/// Largest request head accepted from the browser (hyper's buffer).
const MAX_HEAD: usize = 64 * 1024;
/// Time for the browser to send a request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Client connections served at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 512;
/// Time to connect to the target.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a forwarded request to get its response head.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// A tunnel with no byte either way for this long is closed.
const TUNNEL_IDLE: Duration = Duration::from_secs(60);
/// Peer addresses remembered for the capture records (a small map, cleared when full).
const MAX_PEERS: usize = 4096;

/// The running proxy. Dropping it stops it.
pub(super) struct GuardProxy {
    addr: SocketAddr,
    peers: Arc<Mutex<HashMap<String, SocketAddr>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl GuardProxy {
    /// Binds `127.0.0.1:0` and serves on a thread of its own.
    pub(super) fn start(policy: NetworkPolicy) -> std::io::Result<GuardProxy> {
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let peers = Arc::new(Mutex::new(HashMap::new()));
        let state = Arc::new(State { policy, peers: Arc::clone(&peers) });
        std::thread::Builder::new().name("spotcheck-browser-proxy".to_string()).spawn(move || {
            runtime.block_on(serve(listener, state, rx));
            runtime.shutdown_background();
        })?;
        Ok(GuardProxy { addr, peers, shutdown: Some(tx) })
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the proxy last connected to for `host:port` (`host` as
    /// the URL writes it), for the capture's peer address.
    pub(super) fn peer(&self, host: &str, port: u16) -> Option<SocketAddr> {
        let peers = self.peers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        peers.get(&peer_key(host, port)).copied()
    }
}

impl Drop for GuardProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

struct State {
    policy: NetworkPolicy,
    peers: Arc<Mutex<HashMap<String, SocketAddr>>>,
}

fn peer_key(host: &str, port: u16) -> String {
    format!("{}:{port}", host.to_ascii_lowercase())
}

async fn serve(listener: std::net::TcpListener, state: Arc<State>, mut shutdown: tokio::sync::oneshot::Receiver<()>) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off a little.
                tracing::warn!(error = %e, "browser proxy: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue; // over the limit: dropping the stream closes it
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| handle(req, Arc::clone(&state)));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let _ = connection.await;
        });
    }
}

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Result<Response<Body>, Infallible> {
    Ok(match forward(req, &state).await {
        Ok(response) => response,
        Err(refusal) => refusal,
    })
}

/// A plain-text answer from the proxy itself.
fn answer(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain"));
    // A refused tunnel is not kept open for another try.
    headers.insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
    response
}

async fn forward(req: Request<Incoming>, state: &State) -> Result<Response<Body>, Response<Body>> {
    let uri = req.uri().clone();
    let authority = uri.authority().cloned().ok_or_else(|| {
        answer(StatusCode::BAD_REQUEST, format!("the proxy needs an absolute url or host:port, not `{uri}`"))
    })?;
    if req.method() == Method::CONNECT {
        let port = authority.port_u16().unwrap_or(443);
        let upstream = connect(state, authority.host(), port).await?;
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                splice(TokioIo::new(upgraded), upstream).await;
            }
        });
        return Ok(Response::new(Body::empty()));
    }
    if uri.scheme_str() != Some("http") {
        let text = format!("the proxy forwards absolute http urls only, not `{uri}`");
        return Err(answer(StatusCode::BAD_REQUEST, text));
    }
    let port = authority.port_u16().unwrap_or(80);
    let upstream = connect(state, authority.host(), port).await?;
    let bad_gateway = |e: hyper::Error| answer(StatusCode::BAD_GATEWAY, format!("`{uri}`: {e}"));
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await.map_err(bad_gateway)?;
    tokio::spawn(connection);
    let (mut parts, body) = req.into_parts();
    parts.uri = parts.uri.path_and_query().map_or_else(|| "/".parse(), |pq| pq.as_str().parse()).unwrap_or_default();
    for name in ["proxy-connection", "proxy-authorization", "keep-alive", "te", "trailer", "upgrade"] {
        parts.headers.remove(name);
    }
    let sent = tokio::time::timeout(RESPONSE_TIMEOUT, sender.send_request(Request::from_parts(parts, body)));
    match sent.await {
        Err(_) => Err(answer(StatusCode::GATEWAY_TIMEOUT, format!("`{uri}` sent no response"))),
        Ok(Err(e)) => Err(bad_gateway(e)),
        Ok(Ok(response)) => Ok(response.map(Body::new)),
    }
}

/// Resolves `host` under the policy and connects to an address that passed.
async fn connect(state: &State, host: &str, port: u16) -> Result<TcpStream, Response<Body>> {
    let addrs = state.policy.resolve(host, port).await.map_err(|e| match e {
        GuardError::Blocked(b) => {
            tracing::info!(host, port, reason = %b, "browser proxy refused a request");
            answer(StatusCode::FORBIDDEN, format!("blocked by spotcheck's network policy: {b}"))
        }
        e @ GuardError::Resolve { .. } => answer(StatusCode::BAD_GATEWAY, e.to_string()),
    })?;
    let mut last = String::from("no address");
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let mut peers = state.peers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if peers.len() >= MAX_PEERS {
                    peers.clear();
                }
                peers.insert(peer_key(host, port), addr);
                return Ok(stream);
            }
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => last = format!("{addr}: timed out"),
        }
    }
    Err(answer(StatusCode::BAD_GATEWAY, format!("cannot connect to `{host}:{port}`: {last}")))
}

/// Copies both ways until either side ends or both are silent for [`TUNNEL_IDLE`].
async fn splice(client: impl AsyncRead + AsyncWrite + Unpin, upstream: TcpStream) {
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let (activity, mut seen) = tokio::sync::watch::channel(());
    let up = pump(&mut client_read, &mut upstream_write, &activity);
    let down = pump(&mut upstream_read, &mut client_write, &activity);
    let idle = async {
        loop {
            if tokio::time::timeout(TUNNEL_IDLE, seen.changed()).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        _ = idle => {}
    }
}

async fn pump(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    activity: &tokio::sync::watch::Sender<()>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        activity.send_replace(());
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::fetch::HostAllow;

    /// A loopback server answering every request with `hello` (and counting connections).
    async fn origin() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
                    let _ = stream.write_all(answer).await;
                });
            }
        });
        (addr, count)
    }

    async fn exchange(proxy: SocketAddr, head: String, then: Option<&str>) -> String {
        let mut stream = TcpStream::connect(proxy).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        if let Some(more) = then {
            // The tunnel's 200 comes first; then speak through it.
            let mut buf = vec![0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap();
            let first = String::from_utf8_lossy(&buf[..n]).to_string();
            assert!(first.starts_with("HTTP/1.1 200"), "{first}");
            stream.write_all(more.as_bytes()).await.unwrap();
        }
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).to_string()
    }

    #[tokio::test]
    async fn forwards_and_tunnels_to_allowed_targets_and_refuses_the_rest_unconnected() {
        let (allowed, allowed_hits) = origin().await;
        let (other, other_hits) = origin().await;
        let proxy = GuardProxy::start(NetworkPolicy::allowing([HostAllow::socket(allowed)])).unwrap();
        let get = |target: SocketAddr| {
            format!("GET http://{target}/x HTTP/1.1\r\nHost: {target}\r\nProxy-Connection: keep-alive\r\nConnection: close\r\n\r\n")
        };

        let forwarded = exchange(proxy.addr(), get(allowed), None).await;
        assert!(forwarded.starts_with("HTTP/1.1 200") && forwarded.ends_with("hello"), "{forwarded}");
        assert_eq!(proxy.peer("127.0.0.1", allowed.port()), Some(allowed));

        let connect = |target: SocketAddr| format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
        let inner = "GET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let tunnelled = exchange(proxy.addr(), connect(allowed), Some(inner)).await;
        assert!(tunnelled.contains("HTTP/1.1 200 OK") && tunnelled.ends_with("hello"), "{tunnelled}");

        for head in [
            get(other),
            connect(other),
            "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n"
                .to_string(),
            format!("GET http://localhost:{}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", other.port()),
        ] {
            let refused = exchange(proxy.addr(), head.clone(), None).await;
            assert!(refused.starts_with("HTTP/1.1 403"), "{head}: {refused}");
            assert!(refused.contains("blocked by spotcheck's network policy"), "{refused}");
        }
        let odd = exchange(proxy.addr(), "GET /relative HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(), None);
        assert!(odd.await.starts_with("HTTP/1.1 400"));
        assert_eq!(other_hits.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection to a refused target");
        assert_eq!(allowed_hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
