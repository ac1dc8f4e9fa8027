//! What a hostile client can hold of `spotcheck serve`'s socket
//! (`api::server::serve`): a request head sent slowly (slowloris) or not at
//! all, an idle keep-alive connection, too many or too large headers, an
//! upload that trickles, and more connections than one address may open.
//!
//! Raw TCP on 127.0.0.1:0, with the limits shrunk so each test takes about a
//! second; every wait is for an event (the server closing, an answer), with a
//! generous outer bound so a regression fails instead of hanging.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failure by design

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::Router;
use spotcheck::api::server::{serve, ServerLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longer than any limit below: a test that reaches it has found a hang.
const NEVER: Duration = Duration::from_secs(20);

fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(600),
        request_timeout: Duration::from_millis(800),
        max_headers: 32,
        max_head_bytes: 16 << 10,
        max_connections: 64,
        max_connections_per_ip: 3,
        ..ServerLimits::default()
    }
}

/// A router with a route that reads the whole body, as every API write does.
async fn start(limits: ServerLimits) -> SocketAddr {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/upload", post(|body: Bytes| async move { format!("{} bytes", body.len()) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, app, limits, std::future::pending()));
    addr
}

/// Reads until the server closes the connection; what it sent on the way.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(NEVER, stream.read(&mut buf)).await.expect("the server never closed") {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// One request on a fresh connection; the status line's code.
async fn status_of(addr: SocketAddr, request: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.ok()?;
    let answer = until_closed(&mut stream).await;
    answer.split(' ').nth(1)?.parse().ok()
}

const GET: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_off_at_the_header_timeout() {
    let addr = start(limits()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    // A slowloris client: one byte of head every 100 ms, never finishing.
    let head = b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ";
    let mut closed_after = None;
    for byte in head.iter().chain(std::iter::repeat(&b'a')) {
        if stream.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 256];
        // Wait up to 100 ms for the server to answer or close; that is the trickle's pace.
        if let Ok(read) = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            assert!(matches!(read, Ok(0) | Err(_)), "no answer to half a head: {:?}", read.map(|n| &buf[..n]));
            closed_after = Some(started.elapsed());
            break;
        }
        assert!(started.elapsed() < NEVER, "the trickling client was never cut off");
    }
    let closed_after = closed_after.unwrap();
    assert!(closed_after >= Duration::from_millis(550), "cut off too early: {closed_after:?}");
    // The server is still there for everyone else.
    assert_eq!(status_of(addr, GET).await, Some(200));
}

#[tokio::test]
async fn a_connection_that_says_nothing_or_idles_after_a_request_is_closed() {
    let addr = start(limits()).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    assert_eq!(until_closed(&mut silent).await, "");
    assert!(started.elapsed() >= Duration::from_millis(550));

    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let answer = until_closed(&mut kept).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "the keep-alive connection was closed only after the answer: {answer}");
}

#[tokio::test]
async fn too_many_or_too_large_headers_are_refused() {
    let addr = start(limits()).await;
    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\n");
    for i in 0..40 {
        many.push_str(&format!("x-h{i}: {i}\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(status_of(addr, many.as_bytes()).await, Some(431));

    let huge = format!("GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "a".repeat(64 << 10));
    let status = status_of(addr, huge.as_bytes()).await;
    assert!(matches!(status, None | Some(431)), "a 64 KiB header past a 16 KiB head limit: {status:?}");

    let mut fine = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
    for i in 0..20 {
        fine.push_str(&format!("x-h{i}: {i}\r\n"));
    }
    fine.push_str("\r\n");
    assert_eq!(status_of(addr, fine.as_bytes()).await, Some(200), "headers within the limits");
}

#[tokio::test]
async fn an_upload_that_trickles_gets_408_at_the_request_timeout() {
    let addr = start(limits()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\nconnection: close\r\n\r\nabc")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "the API's error shape: {answer}");
    assert!(started.elapsed() >= Duration::from_millis(750));

    let whole = format!(
        "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n{}",
        "a".repeat(1000)
    );
    assert_eq!(status_of(addr, whole.as_bytes()).await, Some(200));
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_connections_and_gets_them_back() {
    let addr = start(ServerLimits { header_read_timeout: Duration::from_secs(30), ..limits() }).await;
    // Three keep-alive connections, each proven accepted by an answer.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(NEVER, stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    // A fourth from the same address is closed without an answer.
    assert_eq!(status_of(addr, GET).await, None);
    // Closing one gives its slot back (the server notices the close on its own time).
    drop(held.pop());
    let started = Instant::now();
    loop {
        if status_of(addr, GET).await == Some(200) {
            break;
        }
        assert!(started.elapsed() < NEVER, "the closed connection's slot never came back");
        tokio::task::yield_now().await;
    }
}
