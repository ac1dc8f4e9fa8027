//! A hostile HTTP server on loopback: everything a crawler meets on the bad
//! days of the open web, on one port. Reusable from any test file:
//!
//! ```ignore
//! mod support;
//! let (addr, server) = support::hostile::HostileServer::start().await;
//! let url = server.url("/ok");
//! ```
//!
//! Every request is logged (path + query → arrival instants) so tests can
//! assert what reached the server and when, instead of sleeping.
//!
//! | route | behaviour |
//! |---|---|
//! | `/robots.txt` | `Disallow: /private` for everyone (status settable with [`HostileServer::set_robots_status`], body with [`HostileServer::set_robots_body`]) |
//! | `/ok`, `/private/…` | small HTML pages |
//! | `/headers` | the request headers as received, one `name: value` per line |
//! | `/throttled?fail=N&status=S&retry_after=V` | `S` (429) with `Retry-After: V` for the first `N` hits of that exact query, then 200 |
//! | `/unavailable` | always 503 |
//! | `/redirect/chain/{n}` | `n` redirects then 200 |
//! | `/redirect/loop/a` ⇄ `/redirect/loop/b` | a redirect loop |
//! | `/redirect/relative` | `Location: ../ok` |
//! | `/redirect/to-private` | redirects into the robots-disallowed area |
//! | `/redirect/nowhere` | `Location: mailto:…` |
//! | `/huge` | 2 GiB of zeros, generated lazily; bytes produced counted |
//! | `/bomb` | ~2 MB gzip expanding to 2 GiB of zeros |
//! | `/gzip`, `/deflate`, `/br` | the same Chinese page, correctly encoded |
//! | `/zstd` | a body labelled with an encoding we do not support |
//! | `/trickle?every_ms=N` | one byte every `N` ms, forever |
//! | `/garbage` | 64 KiB of random bytes |
//! | `/broken.html` | HTML cut off mid-tag |
//! | `/gbk` | a GBK page declaring its charset in `<meta>` only |
//! | `/cookie/set`, `/cookie/need` | sets a session cookie; 403 without it |
//! | `/cookie/members` | 302 to `/cookie/login` (which sets the cookie and sends you back) unless logged in |
//!
//! Faults below HTTP need a raw socket: [`RawServer`] (its own port) answers
//!
//! | path | behaviour |
//! |---|---|
//! | `/robots.txt` | 404 (everything allowed) |
//! | `/reset` | headers promising 64 KiB, 1 KiB of body, then a TCP RST (`SO_LINGER` 0) |
//! | `/silent` | accepts, reads the request, never answers (the socket stays open) |

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures::StreamExt as _;

/// The Chinese product page every encoded route serves.
pub const PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>充电宝 20000mAh</title></head>\
<body><table><tr><th>品牌</th><td>小米</td></tr><tr><th>3C证书编号</th><td>2021011609123456</td></tr></table>\
<p>价格 ¥129.00</p></body></html>";

/// The GBK page's text (served GBK-encoded).
pub const GBK_TEXT: &str = "品牌：华为 型号：HW-6500 生产厂家：深圳某某电子有限公司";

/// Size of `/huge`.
pub const HUGE_BYTES: u64 = 2 << 30;

/// Shared state: the request log and the knobs tests turn.
#[derive(Default)]
pub struct HostileState {
    /// `path?query` → arrival instants, in order.
    hits: Mutex<HashMap<String, Vec<Instant>>>,
    /// Bytes of `/huge` generated so far (all requests).
    pub huge_bytes_produced: AtomicU64,
    /// Status of `/robots.txt` (0 = 200 with rules).
    robots_status: AtomicU16,
    /// A body (and `Content-Encoding`) `/robots.txt` answers 200 with instead of the rules.
    robots_body: Mutex<Option<(Bytes, Option<&'static str>)>>,
}

/// A running hostile server; stops when dropped.
pub struct HostileServer {
    pub addr: SocketAddr,
    pub state: Arc<HostileState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostileServer {
    /// Binds 127.0.0.1:0 and serves in a background task.
    pub async fn start() -> (SocketAddr, HostileServer) {
        let state = Arc::new(HostileState::default());
        let app = router(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (addr, HostileServer { addr, state, task })
    }

    pub fn url(&self, path_and_query: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{}", self.addr, path_and_query)).expect("valid test url")
    }

    /// Arrival instants of requests to exactly `path_and_query`.
    pub fn hits(&self, path_and_query: &str) -> Vec<Instant> {
        self.state.hits.lock().expect("hits lock").get(path_and_query).cloned().unwrap_or_default()
    }

    pub fn hit_count(&self, path_and_query: &str) -> usize {
        self.hits(path_and_query).len()
    }

    /// Makes `/robots.txt` answer with `status` (an empty body) from now on.
    pub fn set_robots_status(&self, status: u16) {
        self.state.robots_status.store(status, Ordering::SeqCst);
    }

    /// Makes `/robots.txt` answer 200 with `body`, sent with `Content-Encoding: encoding` if given.
    pub fn set_robots_body(&self, body: impl Into<Bytes>, encoding: Option<&'static str>) {
        *self.state.robots_body.lock().expect("robots lock") = Some((body.into(), encoding));
    }
}

fn router(state: Arc<HostileState>) -> Router {
    Router::new()
        .route("/robots.txt", get(robots))
        .route("/ok", get(|| async { html(PAGE) }))
        .route("/private/{*rest}", get(|| async { html("<p>secret</p>") }))
        .route("/headers", get(echo_headers))
        .route("/throttled", get(throttled))
        .route("/unavailable", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance") }))
        .route("/redirect/chain/{n}", get(chain))
        .route("/redirect/loop/a", get(|| async { redirect("/redirect/loop/b") }))
        .route("/redirect/loop/b", get(|| async { redirect("/redirect/loop/a") }))
        .route("/redirect/relative", get(|| async { redirect("../ok") }))
        .route("/redirect/to-private", get(|| async { redirect("/private/page") }))
        .route("/redirect/nowhere", get(|| async { redirect("mailto:someone@example.com") }))
        .route("/huge", get(huge))
        .route("/bomb", get(|| async { encoded("gzip", bomb().clone()) }))
        .route("/gzip", get(|| async { encoded("gzip", gzip(PAGE.as_bytes())) }))
        .route("/deflate", get(|| async { encoded("deflate", zlib(PAGE.as_bytes())) }))
        .route("/br", get(|| async { encoded("br", brotli_encode(PAGE.as_bytes())) }))
        .route("/zstd", get(|| async { encoded("zstd", Bytes::from_static(b"\x28\xb5\x2f\xfd whatever")) }))
        .route("/trickle", get(trickle))
        .route("/garbage", get(garbage))
        .route(
            "/broken.html",
            get(|| async { html("<html><head><title>半截页面</title><body><div class=\"price\">¥19<span") }),
        )
        .route("/gbk", get(gbk))
        .route("/cookie/set", get(cookie_set))
        .route("/cookie/need", get(cookie_need))
        .route("/cookie/login", get(cookie_login))
        .route("/cookie/members", get(cookie_members))
        .layer(middleware::from_fn_with_state(state.clone(), log_hit))
        .with_state(state)
}

async fn log_hit(State(state): State<Arc<HostileState>>, req: Request, next: Next) -> Response {
    let key = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    state.hits.lock().expect("hits lock").entry(key).or_default().push(Instant::now());
    next.run(req).await
}

fn html(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn redirect(location: &'static str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn encoded(coding: &'static str, body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_ENCODING, coding)], body).into_response()
}

async fn robots(State(state): State<Arc<HostileState>>) -> Response {
    if let Some((body, encoding)) = state.robots_body.lock().expect("robots lock").clone() {
        return match encoding {
            Some(coding) => {
                ([(header::CONTENT_TYPE, "text/plain"), (header::CONTENT_ENCODING, coding)], body).into_response()
            }
            None => ([(header::CONTENT_TYPE, "text/plain")], body).into_response(),
        };
    }
    match state.robots_status.load(Ordering::SeqCst) {
        0 | 200 => ([(header::CONTENT_TYPE, "text/plain")], "User-agent: *\nDisallow: /private\n").into_response(),
        s => StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response(),
    }
}

async fn echo_headers(headers: HeaderMap) -> String {
    headers.iter().map(|(k, v)| format!("{}: {}\n", k, String::from_utf8_lossy(v.as_bytes()))).collect()
}

async fn throttled(
    State(state): State<Arc<HostileState>>,
    Query(q): Query<HashMap<String, String>>,
    req_uri: axum::http::Uri,
) -> Response {
    let key = req_uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let seen = state.hits.lock().expect("hits lock").get(&key).map_or(0, Vec::len);
    let fail: usize = q.get("fail").and_then(|v| v.parse().ok()).unwrap_or(1);
    // `seen` includes this request (logged by the middleware).
    if seen <= fail {
        let status = q.get("status").and_then(|s| s.parse().ok()).and_then(|s| StatusCode::from_u16(s).ok());
        let mut resp = (status.unwrap_or(StatusCode::TOO_MANY_REQUESTS), "slow down").into_response();
        if let Some(v) = q.get("retry_after").and_then(|v| HeaderValue::from_str(v).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    html("<p>finally</p>")
}

async fn chain(Path(n): Path<u32>) -> Response {
    if n == 0 {
        return html("<p>end of chain</p>");
    }
    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, format!("/redirect/chain/{}", n - 1))]).into_response()
}

async fn huge(State(state): State<Arc<HostileState>>) -> Response {
    const CHUNK: usize = 64 * 1024;
    let zeros = Bytes::from(vec![0u8; CHUNK]);
    let chunks = HUGE_BYTES / CHUNK as u64;
    let stream = futures::stream::iter(0..chunks).map(move |_| {
        state.huge_bytes_produced.fetch_add(CHUNK as u64, Ordering::Relaxed);
        Ok::<_, std::io::Error>(zeros.clone())
    });
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, HUGE_BYTES.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// ~2 MB of gzip members, each 1 MiB of zeros: 2 GiB once decoded. Built once.
pub fn bomb() -> &'static Bytes {
    static BOMB: OnceLock<Bytes> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; 1 << 20]).expect("gzip to memory");
        let member = e.finish().expect("gzip to memory");
        Bytes::from(member.repeat(2048))
    })
}

pub fn gzip(b: &[u8]) -> Bytes {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).expect("gzip to memory");
    e.finish().expect("gzip to memory").into()
}

fn zlib(b: &[u8]) -> Bytes {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).expect("zlib to memory");
    e.finish().expect("zlib to memory").into()
}

fn brotli_encode(b: &[u8]) -> Bytes {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(b).expect("brotli to memory");
    }
    out.into()
}

async fn trickle(Query(q): Query<HashMap<String, String>>) -> Response {
    let every = Duration::from_millis(q.get("every_ms").and_then(|v| v.parse().ok()).unwrap_or(1000));
    let stream = futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(every).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), ()))
    });
    ([(header::CONTENT_TYPE, "text/html")], Body::from_stream(stream)).into_response()
}

async fn garbage() -> Response {
    use rand::{RngCore, SeedableRng};
    let mut bytes = vec![0u8; 64 * 1024];
    rand_chacha::ChaCha8Rng::seed_from_u64(7).fill_bytes(&mut bytes);
    ([(header::CONTENT_TYPE, "text/html")], bytes).into_response()
}

async fn gbk() -> Response {
    let page =
        format!("<html><head><meta charset=\"gbk\"><title>商品</title></head><body><p>{GBK_TEXT}</p></body></html>");
    let (bytes, _, _) = encoding_rs::GBK.encode(&page);
    ([(header::CONTENT_TYPE, "text/html")], bytes.into_owned()).into_response()
}

const SESSION: &str = "session=s3cr3t";

fn has_session(headers: &HeaderMap) -> bool {
    headers.get_all(header::COOKIE).iter().any(|v| v.to_str().is_ok_and(|c| c.split("; ").any(|kv| kv == SESSION)))
}

async fn cookie_set() -> Response {
    (
        [(header::SET_COOKIE, format!("{SESSION}; Path=/")), (header::CONTENT_TYPE, "text/plain".to_string())],
        "cookie set",
    )
        .into_response()
}

async fn cookie_need(headers: HeaderMap) -> Response {
    if has_session(&headers) {
        html("<p>welcome back</p>")
    } else {
        (StatusCode::FORBIDDEN, "no session").into_response()
    }
}

async fn cookie_login() -> Response {
    (
        StatusCode::FOUND,
        [(header::SET_COOKIE, format!("{SESSION}; Path=/")), (header::LOCATION, "/cookie/members".to_string())],
    )
        .into_response()
}

async fn cookie_members(headers: HeaderMap) -> Response {
    if has_session(&headers) {
        html("<p>members area</p>")
    } else {
        redirect("/cookie/login")
    }
}

/// A raw TCP server for faults below HTTP (see the module docs).
pub struct RawServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The part of `/reset`'s body sent before the reset.
pub const RESET_SENT: usize = 1024;

impl RawServer {
    /// Binds 127.0.0.1:0 and serves in a background task.
    pub async fn start() -> RawServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            // Silent connections are kept here, open, until the server is dropped.
            let held = Arc::new(Mutex::new(Vec::new()));
            while let Ok((socket, _)) = listener.accept().await {
                let held = held.clone();
                tokio::spawn(async move { raw_exchange(socket, held).await });
            }
        });
        RawServer { addr, task }
    }

    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{}", self.addr, path)).expect("valid test url")
    }
}

async fn raw_exchange(mut socket: tokio::net::TcpStream, held: Arc<Mutex<Vec<tokio::net::TcpStream>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request);
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    match path.as_str() {
        "/reset" => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 65536\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&[b'x'; RESET_SENT]).await;
            let _ = socket.flush().await;
            // Closing with a zero linger sends RST instead of FIN.
            let _ = socket.set_zero_linger();
            drop(socket);
        }
        "/silent" => held.lock().expect("held lock").push(socket),
        // Response heads no client should take whole: held open after, so only our limits end them.
        "/many-headers" | "/huge-header" | "/endless-head" => {
            let _ = socket.write_all(&hostile_head(&path)).await;
            held.lock().expect("held lock").push(socket);
        }
        "/reset-before-head" => {
            let _ = socket.set_zero_linger();
            drop(socket);
        }
        "/fine" => {
            let ok =
                b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
            let _ = socket.write_all(ok).await;
        }
        _ => {
            let _ = socket.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        }
    }
}

/// `/many-headers`: ten thousand header fields; `/huge-header`: one 1 MiB
/// header line; `/endless-head`: a head that never ends.
fn hostile_head(path: &str) -> Vec<u8> {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    match path {
        "/many-headers" => {
            for i in 0..10_000 {
                head.extend_from_slice(format!("x-h{i}: {i}\r\n").as_bytes());
            }
            head.extend_from_slice(b"content-length: 0\r\n\r\n");
        }
        "/huge-header" => head.extend_from_slice(format!("x-big: {}\r\n\r\n", "a".repeat(1 << 20)).as_bytes()),
        _ => head.extend_from_slice(b"x-a: b\r\n"),
    }
    head
}
