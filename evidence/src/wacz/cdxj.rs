//! The CDXJ index (`indexes/index.cdx`) and the page list (`pages/pages.jsonl`).
//!
//! The index is built from the WARC bytes themselves (not from what the
//! writer reported), so a verifier can rebuild it and compare byte for byte.
//! One line per `response`, `resource` or `revisit` record:
//!
//! `<SURT> <YYYYMMDDhhmmss> {"url":…,"mime":…,"status":"200","digest":"sha256:…","length":"…","offset":"…","filename":"data.warc"}`
//!
//! with numbers as strings, as pywb's cdxj-indexer writes them; `status` is
//! left out for records without an HTTP status (resources), `mime` when the
//! record has no Content-Type. `length` excludes the record's trailing CRLF
//! CRLF (as warcio and cdxj-indexer count it). Lines are sorted by their
//! bytes. Unlike cdxj-indexer, `metadata` records are not indexed: they hold
//! provenance, not content to replay. Otherwise the fields equal
//! cdxj-indexer's (the test suite compares them).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::WaczError;
use crate::warc::{read_records, uri_for_warc, WarcError};

/// One index line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdxjEntry {
    pub urlkey: String,
    /// 14 digits, UTC.
    pub timestamp: String,
    pub url: String,
    /// The payload's media type without parameters, lowercased; `None` when
    /// the record does not say.
    pub mime: Option<String>,
    pub status: Option<u16>,
    pub digest: String,
    /// The record's bytes without its trailing CRLF CRLF (as warcio counts
    /// an uncompressed record).
    pub length: u64,
    pub offset: u64,
    pub filename: String,
}

#[derive(Serialize)]
struct CdxjJson<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mime: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    digest: &'a str,
    length: String,
    offset: String,
    filename: &'a str,
}

impl CdxjEntry {
    /// The line, without the trailing newline.
    pub fn render(&self) -> String {
        let json = CdxjJson {
            url: &self.url,
            mime: self.mime.as_deref(),
            status: self.status.map(|s| s.to_string()),
            digest: &self.digest,
            length: self.length.to_string(),
            offset: self.offset.to_string(),
            filename: &self.filename,
        };
        // Serializing strings cannot fail.
        let json = serde_json::to_string(&json).unwrap_or_default();
        format!("{} {} {}", self.urlkey, self.timestamp, json)
    }
}

/// Index entries for the records of one WARC file (`filename` is its name
/// inside `archive/`).
pub fn cdxj_entries(filename: &str, warc: &[u8]) -> Result<Vec<CdxjEntry>, WaczError> {
    let index_err = |source: WarcError| WaczError::Index { file: filename.to_string(), source: Box::new(source) };
    let mut out = Vec::new();
    for record in read_records(warc).map_err(index_err)? {
        let kind = record.record_type();
        if !matches!(kind, "response" | "resource" | "revisit") {
            continue;
        }
        let Some(url) = record.target_uri() else {
            continue;
        };
        let date = record.header("WARC-Date").unwrap_or("");
        let timestamp = DateTime::parse_from_rfc3339(date)
            .map(|d| d.with_timezone(&Utc).format("%Y%m%d%H%M%S").to_string())
            .map_err(|_| {
                index_err(WarcError::Malformed {
                    offset: record.offset,
                    reason: format!("WARC-Date `{date}` is not RFC 3339"),
                })
            })?;
        let (status, mime) = if kind == "resource" {
            (None, record.header("Content-Type").unwrap_or("").to_string())
        } else {
            let (line, headers) = record.http_head().map_err(index_err)?;
            let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok());
            let mime = headers.into_iter().find(|(n, _)| n.eq_ignore_ascii_case("content-type")).map(|(_, v)| v);
            (status, mime.unwrap_or_default())
        };
        let mime = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let digest = record
            .header("WARC-Payload-Digest")
            .or_else(|| record.header("WARC-Block-Digest"))
            .unwrap_or("")
            .to_string();
        out.push(CdxjEntry {
            urlkey: surt(url),
            timestamp,
            url: url.to_string(),
            mime: (!mime.is_empty()).then_some(mime),
            status,
            digest,
            length: record.length.saturating_sub(4),
            offset: record.offset,
            filename: filename.to_string(),
        });
    }
    Ok(out)
}

/// The index file: entries rendered, sorted by their bytes, one per line.
pub fn render_cdxj(entries: &[CdxjEntry]) -> Vec<u8> {
    let mut lines: Vec<String> = entries.iter().map(CdxjEntry::render).collect();
    lines.sort();
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The SURT form of a URL as pywb/warcio.js compute it for lookups:
/// lowercased, scheme and `www.` dropped, host labels reversed and joined by
/// `,`, default ports dropped, then `)` and the path, then the query with its
/// parameters sorted. The fragment is dropped. Non-ASCII is percent-encoded
/// first; hosts are expected in their ASCII (punycode) form.
pub fn surt(url: &str) -> String {
    let url = uri_for_warc(url).to_ascii_lowercase();
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) if s == "http" || s == "https" => (s, r),
        _ => return url,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => (v6, None),
        },
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let default_port = if scheme == "http" { "80" } else { "443" };
    let port = port.filter(|p| !p.is_empty() && *p != default_port);
    let host = strip_www(host.trim_end_matches('.'));
    let mut out: String = host.split('.').rev().collect::<Vec<_>>().join(",");
    if let Some(p) = port {
        out.push(':');
        out.push_str(p);
    }
    out.push(')');
    let tail = rest[end..].split('#').next().unwrap_or("");
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    out.push_str(if path.is_empty() { "/" } else { path });
    if !query.is_empty() {
        let mut params: Vec<&str> = query.split('&').collect();
        params.sort();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// Drops a leading `www.` / `www2.` … label (as the SURT canonicaliser does).
fn strip_www(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix("www") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Some(after) = rest[digits..].strip_prefix('.') {
            if !after.is_empty() {
                return after;
            }
        }
    }
    host
}

/// One line of `pages/pages.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageEntry {
    pub id: String,
    pub url: String,
    #[serde(serialize_with = "ts_rfc3339")]
    pub ts: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

fn ts_rfc3339<S: serde::Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ts.to_rfc3339_opts(SecondsFormat::Micros, true))
}

#[derive(Serialize)]
struct PagesHeader<'a> {
    format: &'a str,
    id: &'a str,
    title: &'a str,
}

/// The page list: the `json-pages-1.0` header line, then one line per page
/// in the given order. Page URLs are written as in the WARC (percent-encoded).
pub fn pages_jsonl(title: &str, pages: &[PageEntry]) -> Vec<u8> {
    let header = PagesHeader { format: "json-pages-1.0", id: "pages", title };
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    for page in pages {
        let page = PageEntry { url: uri_for_warc(&page.url), ..page.clone() };
        out.extend_from_slice(&serde_json::to_vec(&page).unwrap_or_default());
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surt_matches_the_usual_canonical_form() {
        assert_eq!(surt("https://www.Example.com/Path?b=2&a=1#x"), "com,example)/path?a=1&b=2");
        assert_eq!(surt("http://example.com:80"), "com,example)/");
        assert_eq!(surt("http://shop.example:8080/x"), "example,shop:8080)/x");
        assert_eq!(surt("https://a.example/café"), "example,a)/caf%c3%a9");
        assert_eq!(surt("urn:x"), "urn:x");
    }
}
