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
