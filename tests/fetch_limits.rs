#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The fetcher against responses no HTTP library should accept whole: ten
//! thousand header fields, one header line of a megabyte, a response head
//! that never ends, and a connection reset before the head. Each is a clear
//! error naming its URL, quickly, and the next fetch from the same fetcher
//! works.
//!
//! The server is raw TCP on 127.0.0.1:0 writing exactly the bytes under test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use evidence::BlobStore;
use spotcheck::fetch::{FetchConfig, FetchContext, Fetcher, HostAllow, NetworkPolicy, Politeness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `respond(path)` to every request: the raw bytes to write (None: reset the connection).
async fn raw_server(respond: fn(&str) -> Option<Vec<u8>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let path = text.split(' ').nth(1).unwrap_or("/").to_string();
                match respond(&path) {
                    Some(bytes) => {
                        let _ = stream.write_all(&bytes).await;
                        // Keep the socket open (a head that never ends must be cut by us, not by EOF).
                        let _ = stream.read(&mut buf).await;
                    }
                    None => {
                        // SO_LINGER 0: close sends RST instead of FIN.
                        let _ = stream.set_zero_linger();
                        drop(stream);
                    }
                }
            });
        }
    });
    addr
}

fn respond(path: &str) -> Option<Vec<u8>> {
    let ok = b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\n\r\nhello".to_vec();
    match path {
        "/many-headers" => {
            let mut r = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..10_000 {
                r.extend_from_slice(format!("x-h{i}: {i}\r\n").as_bytes());
            }
            r.extend_from_slice(b"content-length: 0\r\n\r\n");
            Some(r)
        }
        "/huge-header" => Some(format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n", "a".repeat(1 << 20)).into_bytes()),
        "/endless-head" => {
            let mut r = b"HTTP/1.1 200 OK\r\n".to_vec();
            r.extend_from_slice(b"x-a: b\r\n");
            Some(r)
        }
        "/reset" => None,
        "/robots.txt" => Some(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_vec()),
        _ => Some(ok),
    }
}

#[tokio::test]
async fn hostile_response_heads_are_clear_errors_and_the_fetcher_goes_on() {
    let addr = raw_server(respond).await;
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(dir.path()).unwrap();
    let config = FetchConfig {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(3),
        read_idle_timeout: Duration::from_secs(2),
        max_retries: 0,
        default_politeness: Politeness::unlimited(),
        network: NetworkPolicy::allowing([HostAllow::socket(addr)]),
        ..FetchConfig::default()
    };
    let fetcher = Fetcher::new(config, blobs).unwrap();
    let job = FetchContext::default();
    // (path, what the error must say beyond the url)
    let cases =
        [("/many-headers", ""), ("/huge-header", "too large"), ("/endless-head", "timed out"), ("/reset", "reset")];
    for (path, why) in cases {
        let url = url::Url::parse(&format!("http://{addr}{path}")).unwrap();
        let started = Instant::now();
        let err = fetcher.fetch(&url, &job).await.expect_err(path);
        let message = err.to_string();
        assert!(message.contains(path), "{path}: the error names the url: {message}");
        assert!(message.contains(why), "{path}: the error says why ({why}): {message}");
        assert!(started.elapsed() < Duration::from_secs(10), "{path}: took {:?}", started.elapsed());
        eprintln!("{path}: {message}");
    }
    let ok = fetcher.fetch(&url::Url::parse(&format!("http://{addr}/fine")).unwrap(), &job).await.unwrap();
    assert_eq!((ok.status, &ok.body[..]), (200, &b"hello"[..]));
}
