//! One HTTP request/response on the wire, and the retry loop around it.
//!
//! [`Transport::send`] does exactly one GET: it waits for the host's
//! politeness gate, sends the headers we choose (so the capture can record
//! them as sent, cookies included), reads the body chunk by chunk under the
//! total and idle timeouts, and stops at the body limit. [`Transport::send_with_retries`]
//! repeats it on connection errors, timeouts, 429 and 503, with exponential
//! backoff and jitter or the server's `Retry-After`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::time::Instant;
use url::Url;

use super::guard::{Blocked, NetworkPolicy};
use super::politeness::Gates;
use super::FetchError;

/// One request and its response, body read (possibly cut at the limit).
#[derive(Debug)]
pub(crate) struct Exchange {
    pub url: Url,
    pub request_headers: Vec<(String, String)>,
    pub status: u16,
    pub http_version: String,
    pub headers: HeaderMap,
    /// The body as received on the wire (still content-encoded).
    pub body: Bytes,
    /// True when the body was cut at the limit.
    pub truncated: bool,
    pub remote_addr: Option<SocketAddr>,
    pub tls_peer_cert_sha256: Option<String>,
    pub finished_at: DateTime<Utc>,
}

/// Timeouts and retry policy, copied out of the config.
#[derive(Debug, Clone)]
pub(crate) struct TransportSettings {
    pub user_agent: HeaderValue,
    pub timeout: Duration,
    pub read_idle_timeout: Duration,
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub max_retry_wait: Duration,
}

/// The HTTP client of one crawl job: its connection pool, cookie jar and host gates.
pub(crate) struct Transport {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub gates: Gates,
    pub settings: TransportSettings,
    /// Checked before every request (IP literals, schemes); names are
    /// filtered by the client's resolver ([`super::guard::GuardedResolver`]).
    pub policy: NetworkPolicy,
}

const ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,application/json;q=0.8,*/*;q=0.5";
const ACCEPT_ENCODING: &str = "gzip, deflate, br";
const ACCEPT_LANGUAGE: &str = "zh-CN,zh;q=0.9,en;q=0.5";

impl Transport {
    /// Sends one GET and reads at most `body_limit` bytes of the body.
    pub(crate) async fn send(&self, url: &Url, body_limit: u64) -> Result<Exchange, FetchError> {
        self.policy.check_url(url).await.map_err(|b| FetchError::Blocked { url: url.to_string(), reason: b.reason })?;
        let _permit = self.gates.enter(url).await?;

        let mut headers = HeaderMap::with_capacity(5);
        headers.insert(header::USER_AGENT, self.settings.user_agent.clone());
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(ACCEPT_ENCODING));
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static(ACCEPT_LANGUAGE));
        if let Some(cookies) = self.jar.cookies(url) {
            headers.insert(header::COOKIE, cookies);
        }
        let request_headers = header_pairs(&headers);
        let request = self
            .client
            .get(url.clone())
            .headers(headers)
            .build()
            .map_err(|source| FetchError::Network { url: url.to_string(), source })?;

        let deadline = Instant::now() + self.settings.timeout;
        let timed_out = || FetchError::Timeout { url: url.to_string(), after: self.settings.timeout };
        let mut response = match tokio::time::timeout_at(deadline, self.client.execute(request)).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) => return Err(classify(url, e)),
            Ok(Ok(r)) => r,
        };
        let mut set_cookies = response.headers().get_all(header::SET_COOKIE).iter().peekable();
        if set_cookies.peek().is_some() {
            self.jar.set_cookies(&mut set_cookies, url);
        }
        let remote_addr = response.remote_addr();
        let tls_peer_cert_sha256 = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|t| t.peer_certificate())
            .map(|der| evidence::Digest::of(der).to_hex());
        let status = response.status().as_u16();
        let http_version = format!("{:?}", response.version());

        let mut body = BytesMut::new();
        let mut truncated = false;
        loop {
            let idle_deadline = (Instant::now() + self.settings.read_idle_timeout).min(deadline);
            match tokio::time::timeout_at(idle_deadline, response.chunk()).await {
                Err(_) if Instant::now() >= deadline => return Err(timed_out()),
                Err(_) => {
                    return Err(FetchError::IdleTimeout { url: url.to_string(), idle: self.settings.read_idle_timeout })
                }
                Ok(Err(e)) => return Err(classify(url, e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    let room = body_limit.saturating_sub(body.len() as u64);
                    if chunk.len() as u64 > room {
                        // Keep exactly the limit, then hang up: never read the rest.
                        body.extend_from_slice(&chunk[..room as usize]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
        let headers = std::mem::take(response.headers_mut());
        Ok(Exchange {
            url: url.clone(),
            request_headers,
            status,
            http_version,
            headers,
            body: body.freeze(),
            truncated,
            remote_addr,
            tls_peer_cert_sha256,
            finished_at: Utc::now(),
        })
    }

    /// [`Transport::send`] with retries; returns the last exchange and the number of attempts.
    ///
    /// A 429 or 503 is retried while retries remain; after the last one the
    /// response is returned as is (it is still what the server said).
    pub(crate) async fn send_with_retries(&self, url: &Url, body_limit: u64) -> Result<(Exchange, u32), FetchError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let last = attempt > self.settings.max_retries;
            let wait = match self.send(url, body_limit).await {
                Ok(ex) if !last && matches!(ex.status, 429 | 503) => {
                    let asked = ex
                        .headers
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, Utc::now()));
                    asked.unwrap_or_else(|| self.backoff(attempt))
                }
                Ok(ex) => return Ok((ex, attempt)),
                Err(e) if !last && e.is_retryable() => {
                    tracing::debug!(error = %e, attempt, "retrying");
                    self.backoff(attempt)
                }
                Err(e) => return Err(e),
            };
            tokio::time::sleep(wait.min(self.settings.max_retry_wait)).await;
        }
    }

    /// `base · 2^(attempt-1)`, times a random factor in [0.5, 1) so that
    /// many workers hitting the same failure do not retry in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.settings.backoff_base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        exp.mul_f64(rand::rng().random_range(0.5..1.0)).min(self.settings.max_retry_wait)
    }
}

/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3); a date
/// in the past means "now".
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Header pairs in order, values lossily UTF-8.
pub(crate) fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

fn classify(url: &Url, e: reqwest::Error) -> FetchError {
    let url = url.to_string();
    // The guarded resolver's refusal arrives wrapped as a connect error.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(blocked) = c.downcast_ref::<Blocked>() {
            return FetchError::Blocked { url, reason: blocked.reason.clone() };
        }
        cause = c.source();
    }
    if e.is_connect() {
        FetchError::Connect { url, source: e }
    } else {
        FetchError::Network { url, source: e }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:50Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
