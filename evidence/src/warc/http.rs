//! Rebuilding the HTTP messages of a capture as WARC record blocks.
//!
//! The HTTP client keeps the status, the header pairs in received order and
//! the body bytes as they came off the connection (still content-encoded,
//! chunked transfer coding already removed). The block is rebuilt from those:
//!
//! - Status line: `HTTP/1.1 <status> ` for HTTP/1.1, HTTP/2 and HTTP/3,
//!   `HTTP/1.0 <status> ` for HTTP/1.0. The reason phrase is empty (the client
//!   does not keep it, and HTTP/2 has none), written with the trailing space
//!   RFC 7230 requires. HTTP/2 and HTTP/3 messages are written in their
//!   HTTP/1.1 form, as the IIPC "WARC extensions for HTTP/2" proposal says
//!   (never `HTTP/2 200`, which warcio and pywb do not parse as a status line);
//!   the original protocol goes in `WARC-Protocol: h2` / `h3` ([`warc_protocol`]).
//! - Headers: every received pair, in order, as `Name: value`. A
//!   `Transfer-Encoding` header is renamed `X-Crawler-Transfer-Encoding`
//!   (the Common Crawl convention): the stored body is no longer chunked, and
//!   a reader that saw `Transfer-Encoding: chunked` would try to de-chunk it.
//!   `Content-Length` and `Content-Encoding` are kept as received: the body is
//!   the exact received (content-encoded) bytes, so they still describe it.
//!   No header is added; a body without `Content-Length` is delimited by the
//!   WARC record itself. CR, LF and NUL (which cannot come off an HTTP/1 wire
//!   but might be in a hand-made record) are written as spaces.
//! - Body: the stored bytes, unchanged. The payload digest covers exactly them.
//!
//! The request block is `<METHOD> <path?query> HTTP/1.1`, a `Host` header
//! (from the URL) unless one was recorded — the client adds `Host` (HTTP/1)
//! or `:authority` (HTTP/2) itself, so it is not among the recorded pairs —
//! then the recorded request headers in order. A GET has no body.

use crate::capture::{CaptureRecord, Hop};

/// The `WARC-Protocol` value (an ALPN id) for a recorded HTTP version.
pub fn warc_protocol(http_version: &str) -> Option<&'static str> {
    match http_version {
        "HTTP/2" | "HTTP/2.0" => Some("h2"),
        "HTTP/3" | "HTTP/3.0" => Some("h3"),
        "HTTP/1.1" => Some("http/1.1"),
        "HTTP/1.0" => Some("http/1.0"),
        _ => None,
    }
}

/// The HTTP/1.x version written in the status or request line.
fn wire_version(http_version: &str) -> &'static str {
    match http_version {
        "HTTP/1.0" | "HTTP/0.9" => "HTTP/1.0",
        _ => "HTTP/1.1",
    }
}

/// The response block of a capture and the offset where its payload (the
/// body) starts.
pub fn http_response_block(capture: &CaptureRecord, body: &[u8]) -> (Vec<u8>, usize) {
    let r = &capture.response;
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(format!("{} {} \r\n", wire_version(&r.http_version), r.status).as_bytes());
    for (name, value) in &r.headers {
        let name = if name.eq_ignore_ascii_case("transfer-encoding") { "X-Crawler-Transfer-Encoding" } else { name };
        push_header(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    let payload_offset = out.len();
    out.extend_from_slice(body);
    (out, payload_offset)
}

/// The request block of a capture's final request (headers only).
pub fn http_request_block(capture: &CaptureRecord) -> Vec<u8> {
    let url = super::uri_for_warc(&capture.final_url);
    let (authority, target) = split_url(&url);
    let method = if capture.request.method.is_empty() { "GET" } else { &capture.request.method };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(
        format!("{} {} {}\r\n", clean(method), target, wire_version(&capture.response.http_version)).as_bytes(),
    );
    let has_host = capture.request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host"));
    if !has_host && !authority.is_empty() {
        push_header(&mut out, "Host", authority);
    }
    for (name, value) in &capture.request.headers {
        push_header(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The reduced block of a redirect that was followed: only its status and
/// `Location` were recorded.
pub fn http_redirect_block(hop: &Hop) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} \r\n", hop.status).into_bytes();
    push_header(&mut out, "Location", &hop.location);
    out.extend_from_slice(b"\r\n");
    out
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(clean(name).as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(clean(value).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Replaces CR, LF and NUL with spaces so a value cannot start a new line.
fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        s.replace(['\r', '\n', '\0'], " ").into()
    } else {
        s.into()
    }
}

/// Splits `scheme://[userinfo@]authority/path?query#fragment` into the
/// authority (without userinfo) and the request target (`/path?query`).
pub(crate) fn split_url(url: &str) -> (&str, String) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    let path = rest[end..].split('#').next().unwrap_or("");
    let target = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
    (authority, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_url_parts() {
        assert_eq!(split_url("https://u:p@example.com:8443/a/b?x=1#frag"), ("example.com:8443", "/a/b?x=1".into()));
        assert_eq!(split_url("http://example.com"), ("example.com", "/".into()));
        assert_eq!(split_url("http://example.com#x"), ("example.com", "/".into()));
        assert_eq!(split_url("http://example.com?q=1"), ("example.com", "/?q=1".into()));
    }

    #[test]
    fn protocols() {
        assert_eq!(warc_protocol("HTTP/2.0"), Some("h2"));
        assert_eq!(wire_version("HTTP/2.0"), "HTTP/1.1");
        assert_eq!(wire_version("HTTP/1.0"), "HTTP/1.0");
    }
}
