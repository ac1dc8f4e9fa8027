use serde::{Deserialize, Serialize};

/// How hard one host may be hit: a token bucket (`rate` requests per second,
/// `burst` at once) and at most `concurrency` requests in flight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Politeness {
    /// Requests per second, sustained. `0` means no rate limit.
    pub rate: f64,
    /// Requests allowed at once above the sustained rate.
    #[serde(default = "one")]
    pub burst: u32,
    /// Requests in flight to the host at the same time.
    #[serde(default = "one_usize")]
    pub concurrency: usize,
}

fn one() -> u32 {
    1
}

fn one_usize() -> usize {
    1
}

impl Politeness {
    /// No rate limit and no concurrency limit beyond the crawl's own (benchmarks, tests).
    pub fn unlimited() -> Politeness {
        Politeness { rate: 0.0, burst: 1, concurrency: usize::MAX }
    }

    pub fn is_unlimited_rate(&self) -> bool {
        !(self.rate.is_finite() && self.rate > 0.0)
    }
}

impl Default for Politeness {
    /// One request per second per host, one at a time: polite to a stranger's server.
    fn default() -> Politeness {
        Politeness { rate: 1.0, burst: 1, concurrency: 1 }
    }
}

/// The politeness in force for one host: its token bucket and its
/// concurrency semaphore. Either is absent when unlimited, so an unlimited
/// host costs one map lookup per request.
#[derive(Debug)]
pub struct HostGate {
    limiter: Option<governor::DefaultDirectRateLimiter>,
    slots: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

/// Held while a request to the host is in flight; dropping it frees the slot
/// (or, for a permit from a [`Gatekeeper`], tells the gatekeeper).
pub struct HostPermit {
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
    _remote: Option<Box<dyn Send + Sync>>,
}

impl HostPermit {
    /// A permit granted elsewhere: `release` is dropped when the request is done.
    pub fn remote(release: Box<dyn Send + Sync>) -> HostPermit {
        HostPermit { _slot: None, _remote: Some(release) }
    }
}

/// Decides when a request to a host may start, for fetchers in many
/// processes together (crawl workers asking their control plane): the
/// per-host token bucket and concurrency limit are then one for all of them.
/// A fetcher without one keeps its own gates ([`HostGates`]).
pub trait Gatekeeper: Send + Sync + std::fmt::Debug {
    /// Waits until a request to `host` may start; the permit is held while it runs.
    /// An error is the gatekeeper's failure, not the page's ([`super::FetchError::Coordinator`]).
    fn enter<'a>(&'a self, host: &'a str) -> futures::future::BoxFuture<'a, Result<HostPermit, String>>;
}

/// The gates of one fetcher: its own, or a shared [`Gatekeeper`]'s.
#[derive(Debug)]
pub(crate) enum Gates {
    Local(HostGates),
    Shared(std::sync::Arc<dyn Gatekeeper>),
}

impl Gates {
    /// Waits at `url`'s host's gate.
    pub(crate) async fn enter(&self, url: &url::Url) -> Result<HostPermit, super::FetchError> {
        let host = url.host_str().unwrap_or_default();
        match self {
            Gates::Local(gates) => Ok(gates.get(host).enter().await),
            Gates::Shared(keeper) => keeper
                .enter(host)
                .await
                .map_err(|reason| super::FetchError::Coordinator { url: url.to_string(), reason }),
        }
    }

    /// Sets a host's politeness (a shared gatekeeper decides its own: ignored).
    pub(crate) fn set(&self, host: &str, p: Politeness) {
        if let Gates::Local(gates) = self {
            gates.set(host, p);
        }
    }
}

impl HostGate {
    pub fn new(p: &Politeness) -> HostGate {
        let limiter = if p.is_unlimited_rate() {
            None
        } else {
            let period = std::time::Duration::from_secs_f64(1.0 / p.rate);
            let burst = std::num::NonZeroU32::new(p.burst.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
            governor::Quota::with_period(period).map(|q| governor::RateLimiter::direct(q.allow_burst(burst)))
        };
        // tokio caps a semaphore's permits well below usize::MAX: anything that
        // large means "no limit".
        let slots = (p.concurrency < tokio::sync::Semaphore::MAX_PERMITS)
            .then(|| std::sync::Arc::new(tokio::sync::Semaphore::new(p.concurrency.max(1))));
        HostGate { limiter, slots }
    }

    /// Waits for a concurrency slot, then for the rate limiter.
    pub async fn enter(&self) -> HostPermit {
        let slot = match &self.slots {
            // The semaphore is never closed, so acquiring cannot fail.
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        if let Some(l) = &self.limiter {
            l.until_ready().await;
        }
        HostPermit { _slot: slot, _remote: None }
    }
}

/// Per-host gates, created on first use from the default politeness.
#[derive(Debug)]
pub struct HostGates {
    default: Politeness,
    gates: std::sync::RwLock<std::collections::HashMap<String, std::sync::Arc<HostGate>>>,
}

impl HostGates {
    pub fn new(default: Politeness) -> HostGates {
        HostGates { default, gates: Default::default() }
    }

    /// Replaces the politeness of `host` (requests already waiting keep the old gate).
    pub fn set(&self, host: &str, p: Politeness) {
        let gate = std::sync::Arc::new(HostGate::new(&p));
        let mut map = self.gates.write().unwrap_or_else(|e| e.into_inner());
        map.insert(host.to_ascii_lowercase(), gate);
    }

    pub fn get(&self, host: &str) -> std::sync::Arc<HostGate> {
        if let Some(g) = self.gates.read().unwrap_or_else(|e| e.into_inner()).get(host) {
            return g.clone();
        }
        let mut map = self.gates.write().unwrap_or_else(|e| e.into_inner());
        map.entry(host.to_string()).or_insert_with(|| std::sync::Arc::new(HostGate::new(&self.default))).clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrency_is_capped_per_host() {
        let gates = HostGates::new(Politeness { rate: 0.0, burst: 1, concurrency: 2 });
        let g = gates.get("a");
        let _p1 = g.enter().await;
        let _p2 = g.enter().await;
        let third = tokio::time::timeout(std::time::Duration::from_millis(20), g.enter()).await;
        assert!(third.is_err(), "a third request must wait for a slot");
        // Another host is not affected.
        let _q = gates.get("b").enter().await;
    }

    #[tokio::test]
    async fn rate_limit_spaces_requests_after_the_burst() {
        let gates = HostGates::new(Politeness::unlimited());
        gates.set("slow", Politeness { rate: 20.0, burst: 2, concurrency: usize::MAX });
        let g = gates.get("slow");
        let t0 = std::time::Instant::now();
        for _ in 0..4 {
            drop(g.enter().await);
        }
        // Two at once, then two more at 50 ms intervals.
        assert!(t0.elapsed() >= std::time::Duration::from_millis(90), "{:?}", t0.elapsed());
    }

    #[test]
    fn unlimited_has_no_gate_parts() {
        let g = HostGate::new(&Politeness::unlimited());
        assert!(g.limiter.is_none() && g.slots.is_none());
    }
}
