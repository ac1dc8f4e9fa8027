//! What can go wrong while fetching one URL.
//!
//! Every message names the URL (in backticks) and what went wrong, so a crawl
//! log line is enough to understand why a page is missing. Errors that happen
//! after a response was received (size, decoding) carry the id of the capture
//! that was stored anyway: the evidence of what the server sent is kept.

use std::time::Duration;

use evidence::{BlobError, Digest};

/// The fetcher's error: one variant per way a fetch can fail.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not something we fetch (not http/https, no host).
    #[error("cannot fetch `{url}`: {reason}")]
    InvalidUrl { url: String, reason: &'static str },

    /// The network policy refuses the target (a non-public address the
    /// operator did not allow, or a scheme other than http(s)); never retried.
    #[error(
        "refusing to fetch `{url}`: {reason} (only public http(s) addresses are fetched unless an operator allows the host with --allow-host)"
    )]
    Blocked { url: String, reason: String },

    /// The host's robots.txt disallows the URL for the `spotcheck` user agent.
    #[error("robots.txt of `{}` disallows `{url}`", host_of(url))]
    RobotsDisallowed { url: String },

    /// The host's robots.txt could not be read (5xx or unreachable): per
    /// RFC 9309 the whole host counts as disallowed until it can be read.
    #[error("robots.txt of `{}` is unreachable ({reason}), so `{url}` is treated as disallowed", host_of(url))]
    RobotsUnreachable { url: String, reason: String },

    /// The TCP/TLS connection could not be established.
    #[error("cannot connect to `{url}`: {}", with_causes(source))]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// The whole exchange (headers and body) took longer than the total timeout.
    #[error("fetching `{url}` timed out after {}", humantime::format_duration(*after))]
    Timeout { url: String, after: Duration },

    /// The server stopped sending (or trickled too slowly) between two body chunks.
    #[error("`{url}` sent nothing for {} while sending its body", humantime::format_duration(*idle))]
    IdleTimeout { url: String, idle: Duration },

    /// Any other transport failure (reset connection, malformed HTTP …).
    /// The message carries the whole cause chain: reqwest's own text alone
    /// ("error decoding response body") does not say the peer reset.
    #[error("http exchange with `{url}` failed: {}", with_causes(source))]
    Network {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// More redirects than the configured maximum.
    #[error("too many redirects from `{url}` (more than {max})")]
    TooManyRedirects { url: String, max: usize },

    /// A redirect pointed back at a URL already visited in this fetch.
    #[error("redirect loop at `{url}`")]
    RedirectLoop { url: String },

    /// A redirect whose `Location` is unparsable or has no host (another scheme is [`FetchError::Blocked`]).
    #[error("bad redirect from `{url}` to `{location}`: {reason}")]
    BadRedirect { url: String, location: String, reason: String },

    /// The raw body exceeded `max_body_bytes`; reading stopped at the limit and
    /// the truncated exchange was stored as `capture_id`.
    #[error("response body of `{url}` exceeds {}", human_bytes(*limit))]
    TooLarge { url: String, limit: u64, capture_id: Option<Digest> },

    /// Content decoding produced more than `max_decoded_bytes`, or more than
    /// `max_decompression_ratio` times the raw size.
    #[error("`{encoding}` body of `{url}` is a decompression bomb: {detail}")]
    DecompressionBomb { url: String, encoding: String, detail: String, capture_id: Option<Digest> },

    /// The body is not valid for its declared `Content-Encoding`.
    #[error("cannot decode the `{encoding}` body of `{url}`: {source}")]
    Decode {
        url: String,
        encoding: String,
        capture_id: Option<Digest>,
        #[source]
        source: std::io::Error,
    },

    /// A `Content-Encoding` we do not implement.
    #[error("`{url}` uses unsupported content encoding `{encoding}`")]
    UnsupportedEncoding { url: String, encoding: String, capture_id: Option<Digest> },

    /// The raw body or the capture record could not be stored.
    #[error("cannot store the capture of `{url}`: {source}")]
    Store {
        url: String,
        #[source]
        source: BlobError,
    },

    /// The shared politeness gate (the control plane of a cluster, see
    /// [`super::Gatekeeper`]) gave no permit to fetch from the host. Not the
    /// page's fault: the task is handed back, never recorded as failed.
    #[error("no permit to fetch `{url}` from the politeness coordinator: {reason}")]
    Coordinator { url: String, reason: String },

    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("cannot build the http client: {0}")]
    Client(#[source] reqwest::Error),
}

impl FetchError {
    /// Whether trying the same URL again later may succeed: connection
    /// failures, timeouts, transport errors and an unreachable robots.txt.
    /// (429 and 503 are not errors: they are returned as responses after the
    /// fetcher's own retries.)
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            FetchError::Connect { .. }
                | FetchError::Timeout { .. }
                | FetchError::IdleTimeout { .. }
                | FetchError::Network { .. }
                | FetchError::RobotsUnreachable { .. }
        )
    }

    /// The capture stored for this failed fetch, when a response was received.
    pub fn capture_id(&self) -> Option<Digest> {
        match self {
            FetchError::TooLarge { capture_id, .. }
            | FetchError::DecompressionBomb { capture_id, .. }
            | FetchError::Decode { capture_id, .. }
            | FetchError::UnsupportedEncoding { capture_id, .. } => *capture_id,
            _ => None,
        }
    }

    /// The URL the error is about.
    pub fn url(&self) -> Option<&str> {
        match self {
            FetchError::InvalidUrl { url, .. }
            | FetchError::Blocked { url, .. }
            | FetchError::RobotsDisallowed { url }
            | FetchError::RobotsUnreachable { url, .. }
            | FetchError::Connect { url, .. }
            | FetchError::Timeout { url, .. }
            | FetchError::IdleTimeout { url, .. }
            | FetchError::Network { url, .. }
            | FetchError::TooManyRedirects { url, .. }
            | FetchError::RedirectLoop { url }
            | FetchError::BadRedirect { url, .. }
            | FetchError::TooLarge { url, .. }
            | FetchError::DecompressionBomb { url, .. }
            | FetchError::Decode { url, .. }
            | FetchError::UnsupportedEncoding { url, .. }
            | FetchError::Store { url, .. }
            | FetchError::Coordinator { url, .. } => Some(url),
            FetchError::Client(_) => None,
        }
    }
}

/// An error's message followed by each of its causes not already in it:
/// `error decoding response body: … : connection reset by peer (os error 104)`.
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// The host part of a URL string, for messages (the whole string if unparsable).
fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}

/// `16 MiB`, `512 KiB`, `100 bytes`: limits as people write them.
pub(crate) fn human_bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    match n {
        n if n >= GIB && n % GIB == 0 => format!("{} GiB", n / GIB),
        n if n >= MIB && n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n >= KIB && n % KIB == 0 => format!("{} KiB", n / KIB),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_url_and_host() {
        let e = FetchError::RobotsDisallowed { url: "http://a.example:8080/x".into() };
        assert_eq!(e.to_string(), "robots.txt of `a.example:8080` disallows `http://a.example:8080/x`");
        let e = FetchError::TooLarge { url: "http://b/x".into(), limit: 16 << 20, capture_id: None };
        assert_eq!(e.to_string(), "response body of `http://b/x` exceeds 16 MiB");
        assert_eq!(FetchError::RedirectLoop { url: "http://c/".into() }.to_string(), "redirect loop at `http://c/`");
    }

    #[test]
    fn human_bytes_picks_the_exact_unit() {
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(1536), "1536 bytes");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(7), "7 bytes");
    }
}
