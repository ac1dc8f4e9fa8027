//! Fetching pages over HTTP, politely and as evidence.
//!
//! One [`Fetcher`] serves one crawl job: it owns the job's connection pool and
//! cookie jar, the per-host politeness gates (a governor token bucket plus a
//! concurrency semaphore per host, see [`Politeness`]) and the robots.txt
//! cache. [`Fetcher::fetch`] does, for one URL:
//!
//! 0. the network policy for every hop, robots.txt included ([`guard`]: only
//!    public addresses unless the operator allowed the host; checked on the
//!    address connected to, so DNS rebinding cannot pass; refusals are
//!    [`FetchError::Blocked`], never retried);
//! 1. robots.txt check for every hop's origin (RFC 9309, token `spotcheck`),
//!    unless the job overrides it with a reason ([`FetchContext::robots_override`]);
//! 2. the GET itself, with retries on connect errors, timeouts, 429 and 503
//!    (backoff with jitter, or `Retry-After`), under connect / total / idle
//!    timeouts, reading at most `max_body_bytes` ([`exchange`]);
//! 3. redirects followed by hand, each hop recorded, with a limit and loop detection;
//! 4. the capture: the raw body (as on the wire) and an [`evidence::CaptureRecord`]
//!    stored in the [`evidence::BlobStore`]; the capture id is the record's digest ([`capture`]);
//! 5. content decoding (gzip, deflate, br) bounded against decompression bombs ([`decode`]).
//!
//! [`Fetched::text`] then decodes the body by its charset ([`charset`]).

mod capture;
mod charset;
mod decode;
mod error;
mod exchange;
mod guard;
mod politeness;
mod robots;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use reqwest::cookie::CookieStore;
use reqwest::header::{self, HeaderValue};
use url::Url;

pub use charset::decode_text;
pub use error::FetchError;
pub use exchange::parse_retry_after;
pub use guard::{blocked_reason, AllowedHost, Blocked, GuardError, HostAllow, HostAllowError, NetworkPolicy};
pub use politeness::{Gatekeeper, HostGate, HostGates, HostPermit, Politeness};
pub use robots::ROBOTS_TOKEN;

use decode::{DecodeFailure, DecodeLimits};
use exchange::{Exchange, Transport, TransportSettings};
use robots::{RobotsCache, RobotsRules};

/// How a [`Fetcher`] behaves. `Default` is polite and safe for the open web;
/// tests and benchmarks shrink the limits and switch politeness off.
/// Serialisable: a cluster's control plane hands its own to the workers.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FetchConfig {
    /// Sent as `User-Agent`. robots.txt is matched on [`ROBOTS_TOKEN`] whatever this says.
    pub user_agent: String,
    /// Time to establish a TCP (+TLS) connection.
    pub connect_timeout: Duration,
    /// Time for one whole request: headers and the complete body.
    pub timeout: Duration,
    /// Longest silence allowed between two body chunks.
    pub read_idle_timeout: Duration,
    /// Redirects followed before giving up with [`FetchError::TooManyRedirects`].
    pub max_redirects: usize,
    /// Raw (on the wire) body size at which reading stops with [`FetchError::TooLarge`].
    pub max_body_bytes: u64,
    /// Decoded body size at which decoding stops with [`FetchError::DecompressionBomb`].
    pub max_decoded_bytes: u64,
    /// Largest decoded/raw size ratio accepted (checked past 1 MiB of output).
    pub max_decompression_ratio: u64,
    /// Retries after the first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: u32,
    /// First backoff; doubled on each retry, with jitter.
    pub backoff_base: Duration,
    /// Cap on any single wait, including a server's `Retry-After`.
    pub max_retry_wait: Duration,
    /// Honour robots.txt (a job can still override with a reason).
    pub respect_robots: bool,
    /// Politeness of hosts without their own ([`Fetcher::set_politeness`]).
    pub default_politeness: Politeness,
    /// Recorded in every capture.
    pub station: Option<String>,
    pub operators: Vec<String>,
    /// Which addresses may be reached ([`NetworkPolicy`]): public ones, and
    /// the hosts the operator allowed. Redirect hops and robots.txt included.
    pub network: NetworkPolicy,
}

impl Default for FetchConfig {
    fn default() -> FetchConfig {
        FetchConfig {
            user_agent: format!("{} (+online product-quality spot check)", crate::TOOL),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            read_idle_timeout: Duration::from_secs(20),
            max_redirects: 10,
            max_body_bytes: 16 << 20,
            max_decoded_bytes: 64 << 20,
            max_decompression_ratio: 100,
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            max_retry_wait: Duration::from_secs(60),
            respect_robots: true,
            default_politeness: Politeness::default(),
            station: None,
            operators: Vec::new(),
            network: NetworkPolicy::default(),
        }
    }
}

/// Who a fetch is for, recorded in its capture.
#[derive(Debug, Clone, Default)]
pub struct FetchContext {
    pub job_id: Option<String>,
    pub plan_id: Option<String>,
    /// When set, robots.txt is not consulted; the reason is sealed in the
    /// capture record ([`evidence::CaptureRecord::robots_override`]) and
    /// returned in [`Fetched::robots_override`].
    pub robots_override: Option<String>,
}

/// A completed fetch: the stored capture and the decoded body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Digest of the capture record's canonical JSON in the blob store.
    pub capture_id: evidence::Digest,
    pub capture: evidence::CaptureRecord,
    pub status: u16,
    pub final_url: Url,
    pub content_type: Option<String>,
    /// The body after content decoding (the raw body is in the blob store).
    pub body: Bytes,
    /// HTTP requests made for the final hop chain, retries included.
    pub attempts: u32,
    /// The job's reason for not consulting robots.txt, when it did not.
    pub robots_override: Option<String>,
}

impl Fetched {
    /// The body as text, decoded by Content-Type charset, `<meta charset>`, or UTF-8; lossy.
    pub fn text(&self) -> String {
        decode_text(&self.body, self.content_type.as_deref())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The HTTP fetcher of one crawl job. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

struct Inner {
    config: FetchConfig,
    transport: Transport,
    robots: RobotsCache,
    blobs: evidence::BlobStore,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher with its own connection pool and empty cookie jar, storing captures in `blobs`.
    pub fn new(config: FetchConfig, blobs: evidence::BlobStore) -> Result<Fetcher, FetchError> {
        let gates = politeness::Gates::Local(politeness::HostGates::new(config.default_politeness));
        Fetcher::build(config, blobs, gates)
    }

    /// A fetcher whose per-host politeness `keeper` decides for it and for
    /// every other fetcher it serves (a crawl worker: its control plane).
    pub fn with_gatekeeper(
        config: FetchConfig,
        blobs: evidence::BlobStore,
        keeper: Arc<dyn Gatekeeper>,
    ) -> Result<Fetcher, FetchError> {
        Fetcher::build(config, blobs, politeness::Gates::Shared(keeper))
    }

    fn build(config: FetchConfig, blobs: evidence::BlobStore, gates: politeness::Gates) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // The resolver is the network guard: a proxy would resolve for us.
            .no_proxy()
            .dns_resolver(Arc::new(guard::GuardedResolver::new(config.network.clone())))
            .connect_timeout(config.connect_timeout)
            .tls_info(true)
            .build()
            .map_err(FetchError::Client)?;
        let user_agent =
            HeaderValue::from_str(&config.user_agent).unwrap_or_else(|_| HeaderValue::from_static(crate::TOOL));
        let transport = Transport {
            client,
            jar: Arc::new(reqwest::cookie::Jar::default()),
            gates,
            settings: TransportSettings {
                user_agent,
                timeout: config.timeout,
                read_idle_timeout: config.read_idle_timeout,
                max_retries: config.max_retries,
                backoff_base: config.backoff_base,
                max_retry_wait: config.max_retry_wait,
            },
            policy: config.network.clone(),
        };
        Ok(Fetcher { inner: Arc::new(Inner { config, transport, robots: RobotsCache::default(), blobs }) })
    }

    /// Sets the politeness of `host` (a host name, without port), e.g. from its site adapter.
    pub fn set_politeness(&self, host: &str, politeness: Politeness) {
        self.inner.transport.gates.set(host, politeness);
    }

    pub fn config(&self) -> &FetchConfig {
        &self.inner.config
    }

    pub fn blobs(&self) -> &evidence::BlobStore {
        &self.inner.blobs
    }

    /// Fetches `url` (following redirects), stores the capture, and returns the decoded body.
    ///
    /// Any HTTP status is a success at this level (a 404 is evidence too);
    /// errors are for what prevented a complete, acceptable exchange.
    pub async fn fetch(&self, url: &Url, ctx: &FetchContext) -> Result<Fetched, FetchError> {
        check_fetchable(url)?;
        let cfg = &self.inner.config;
        let started_at = Utc::now();
        let mut current = url.clone();
        // URL → the Cookie header it was requested with: asking again for the
        // same URL with the same cookies can only go round in circles.
        let mut visited: HashMap<Url, Option<HeaderValue>> = HashMap::new();
        let mut hops = Vec::new();
        let mut attempts = 0;
        loop {
            self.check_network(&current).await?;
            self.check_robots(&current, ctx).await?;
            visited.insert(current.clone(), self.inner.transport.jar.cookies(&current));
            let (ex, n) = self.inner.transport.send_with_retries(&current, cfg.max_body_bytes).await?;
            attempts += n;
            let Some(next) = redirect_target(&ex)? else {
                return self.finish(url, ex, hops, attempts, started_at, ctx).await;
            };
            hops.push(evidence::Hop { url: current.to_string(), status: ex.status, location: next.1 });
            if hops.len() > cfg.max_redirects {
                return Err(FetchError::TooManyRedirects { url: url.to_string(), max: cfg.max_redirects });
            }
            let next = next.0;
            if visited.get(&next).is_some_and(|sent| *sent == self.inner.transport.jar.cookies(&next)) {
                return Err(FetchError::RedirectLoop { url: next.to_string() });
            }
            current = next;
        }
    }

    /// Stores the capture of the final exchange, then checks size and decodes.
    async fn finish(
        &self,
        requested: &Url,
        ex: Exchange,
        hops: Vec<evidence::Hop>,
        attempts: u32,
        started_at: chrono::DateTime<Utc>,
        ctx: &FetchContext,
    ) -> Result<Fetched, FetchError> {
        let cfg = &self.inner.config;
        let parts = capture::CaptureParts { requested, hops, started_at, config: cfg, ctx };
        let record = capture::record(&ex, parts);
        let capture_id = capture::store(&self.inner.blobs, ex.body.clone(), &record).await?;
        let final_url = ex.url.to_string();
        if ex.truncated {
            return Err(FetchError::TooLarge {
                url: final_url,
                limit: cfg.max_body_bytes,
                capture_id: Some(capture_id),
            });
        }
        let header_str = |name| ex.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_string);
        let content_type = header_str(header::CONTENT_TYPE);
        let encoding = header_str(header::CONTENT_ENCODING);
        let limits = DecodeLimits { max_decoded_bytes: cfg.max_decoded_bytes, max_ratio: cfg.max_decompression_ratio };
        let body = decode_off_thread(ex.body, encoding, limits).await.map_err(|f| match f {
            DecodeFailure::Unsupported(encoding) => {
                FetchError::UnsupportedEncoding { url: final_url.clone(), encoding, capture_id: Some(capture_id) }
            }
            DecodeFailure::Corrupt { encoding, source } => {
                FetchError::Decode { url: final_url.clone(), encoding, capture_id: Some(capture_id), source }
            }
            DecodeFailure::Bomb { encoding, detail } => {
                FetchError::DecompressionBomb { url: final_url.clone(), encoding, detail, capture_id: Some(capture_id) }
            }
        })?;
        Ok(Fetched {
            capture_id,
            status: ex.status,
            final_url: ex.url,
            content_type,
            body,
            attempts,
            robots_override: ctx.robots_override.clone(),
            capture: record,
        })
    }

    /// Admits a page that another client (the browser) will load: refuses it
    /// if robots.txt disallows it (unless the job recorded an override), then
    /// waits at the host's politeness gate. Hold the permit while the page
    /// loads, so browser pages count against the host's limits like ours.
    pub(crate) async fn admit(&self, url: &Url, ctx: &FetchContext) -> Result<politeness::HostPermit, FetchError> {
        self.check_network(url).await?;
        self.check_robots(url, ctx).await?;
        self.inner.transport.gates.enter(url).await
    }

    /// Refuses `url` if the network policy does (before its robots.txt is asked for).
    async fn check_network(&self, url: &Url) -> Result<(), FetchError> {
        let policy = &self.inner.config.network;
        policy.check_url(url).await.map_err(|b| FetchError::Blocked { url: url.to_string(), reason: b.reason })
    }

    /// Refuses `url` if its origin's robots.txt disallows it for us.
    async fn check_robots(&self, url: &Url, ctx: &FetchContext) -> Result<(), FetchError> {
        if !self.inner.config.respect_robots || ctx.robots_override.is_some() || url.path() == "/robots.txt" {
            return Ok(());
        }
        let origin = url.origin().ascii_serialization();
        match self.inner.robots.rules(&origin, self.load_robots(url, ctx)).await {
            RobotsRules::AllowAll => Ok(()),
            RobotsRules::Rules(robot) if robot.allowed(url.as_str()) => Ok(()),
            RobotsRules::Rules(_) => Err(FetchError::RobotsDisallowed { url: url.to_string() }),
            RobotsRules::Unreachable(reason) => Err(FetchError::RobotsUnreachable { url: url.to_string(), reason }),
            RobotsRules::Blocked(reason) => Err(FetchError::Blocked { url: url.to_string(), reason }),
        }
    }

    /// Fetches `/robots.txt` of `url`'s origin through the same politeness,
    /// retries and capture path as any page (RFC 9309: up to five redirects).
    async fn load_robots(&self, url: &Url, ctx: &FetchContext) -> RobotsRules {
        let Ok(mut current) = url.join("/robots.txt") else {
            return RobotsRules::AllowAll;
        };
        let requested = current.clone();
        let mut hops = Vec::new();
        let started_at = Utc::now();
        for _ in 0..=5 {
            let ex = match self.inner.transport.send_with_retries(&current, robots::ROBOTS_MAX_BYTES).await {
                Ok((ex, _)) => ex,
                // The origin itself is refused (a redirect elsewhere is only robots.txt's problem).
                Err(FetchError::Blocked { reason, .. }) if hops.is_empty() => return RobotsRules::Blocked(reason),
                Err(e) => return RobotsRules::Unreachable(e.to_string()),
            };
            match redirect_target(&ex) {
                Ok(Some((next, location))) => {
                    hops.push(evidence::Hop { url: current.to_string(), status: ex.status, location });
                    current = next;
                    continue;
                }
                Ok(None) => {}
                Err(_) => return RobotsRules::AllowAll,
            }
            let parts =
                capture::CaptureParts { requested: &requested, hops, started_at, config: &self.inner.config, ctx };
            let record = capture::record(&ex, parts);
            if let Err(e) = capture::store(&self.inner.blobs, ex.body.clone(), &record).await {
                tracing::warn!(error = %e, "robots.txt capture not stored");
            }
            let encoding = ex.headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok());
            if ex.truncated && encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")) {
                // A cut compressed stream cannot be read up to the limit: what
                // it says is unknown, so the host is treated as unreachable.
                let reason = format!(
                    "robots.txt is {} and longer than {} KiB, so it cannot be read",
                    encoding.unwrap_or_default(),
                    robots::ROBOTS_MAX_BYTES / 1024
                );
                return RobotsRules::Unreachable(reason);
            }
            let limits = DecodeLimits { max_decoded_bytes: robots::ROBOTS_MAX_BYTES * 4, max_ratio: u64::MAX };
            return match decode::decode_body(ex.body.clone(), encoding, limits) {
                Ok(body) => RobotsRules::from_response(ex.status, robots::within_limit(&body)),
                Err(e) => RobotsRules::Unreachable(format!("robots.txt cannot be decoded: {e}")),
            };
        }
        // RFC 9309 §2.3.1.2: after five redirects robots.txt may be treated as unavailable (allow).
        RobotsRules::AllowAll
    }
}

/// Only absolute http(s) URLs with a host are fetched.
fn check_fetchable(url: &Url) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::InvalidUrl { url: url.to_string(), reason: "only http and https are fetched" });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::InvalidUrl { url: url.to_string(), reason: "the url has no host" });
    }
    Ok(())
}

/// For a redirect response with a `Location`: the resolved next URL and the
/// header as sent. A 3xx without `Location` is a final response (`None`).
fn redirect_target(ex: &Exchange) -> Result<Option<(Url, String)>, FetchError> {
    if !matches!(ex.status, 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(value) = ex.headers.get(header::LOCATION) else {
        return Ok(None);
    };
    let location = String::from_utf8_lossy(value.as_bytes()).into_owned();
    let bad = |reason: String| FetchError::BadRedirect { url: ex.url.to_string(), location: location.clone(), reason };
    let mut next = ex.url.join(location.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(next.scheme(), "http" | "https") {
        let reason = format!("redirected from `{}` to scheme `{}`, which is not http or https", ex.url, next.scheme());
        return Err(FetchError::Blocked { url: next.to_string(), reason });
    }
    check_fetchable(&next).map_err(|_| bad("not an http(s) url with a host".to_string()))?;
    // A fragment never reaches the server; keep the one we had if the Location has none.
    if next.fragment().is_none() {
        next.set_fragment(ex.url.fragment());
    }
    Ok(Some((next, location)))
}

/// Bodies above this size are decoded on the blocking pool, not on a worker.
const DECODE_INLINE_MAX: usize = 64 * 1024;

async fn decode_off_thread(raw: Bytes, encoding: Option<String>, limits: DecodeLimits) -> Result<Bytes, DecodeFailure> {
    if encoding.is_none() {
        return Ok(raw);
    }
    if raw.len() <= DECODE_INLINE_MAX {
        return decode::decode_body(raw, encoding.as_deref(), limits);
    }
    tokio::task::spawn_blocking(move || decode::decode_body(raw, encoding.as_deref(), limits)).await.unwrap_or_else(
        |e| {
            Err(DecodeFailure::Corrupt {
                encoding: "unknown".to_string(),
                source: std::io::Error::other(e.to_string()),
            })
        },
    )
}
