//! robots.txt (RFC 9309): what a host allows, fetched once per origin and
//! cached for the life of the [`super::Fetcher`] (that is, one crawl job).
//!
//! - 2xx: the rules for the `spotcheck` token apply;
//! - 4xx (including 404): no robots.txt, everything is allowed;
//! - 5xx or unreachable: the whole origin is disallowed "for now": the answer
//!   is cached for [`UNREACHABLE_TTL`] only, then asked again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use texting_robots::Robot;

/// The product token matched against `User-agent:` lines.
pub const ROBOTS_TOKEN: &str = "spotcheck";

/// RFC 9309: crawlers should parse at least the first 500 KiB; we read that much.
pub(crate) const ROBOTS_MAX_BYTES: u64 = 500 * 1024;

/// The part of a robots.txt body that is read: all of it up to
/// [`ROBOTS_MAX_BYTES`]; past that, the whole lines within the limit (RFC 9309
/// §2.5), so a rule cut in half (`Disallow: /o` of `Disallow: /only-this`)
/// is never read as a different rule.
pub(crate) fn within_limit(body: &[u8]) -> &[u8] {
    if body.len() as u64 <= ROBOTS_MAX_BYTES {
        return body;
    }
    let head = &body[..ROBOTS_MAX_BYTES as usize];
    match head.iter().rposition(|&b| b == b'\n' || b == b'\r') {
        Some(end) => &head[..=end],
        None => &[],
    }
}

/// How long a readable robots.txt (or its absence) is trusted (RFC 9309 caps caching at 24 h).
const READABLE_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long an unreachable robots.txt keeps the origin disallowed before trying again.
pub(crate) const UNREACHABLE_TTL: Duration = Duration::from_secs(60);

/// What one origin's robots.txt says.
#[derive(Debug, Clone)]
pub(crate) enum RobotsRules {
    /// No robots.txt (4xx) or one without rules for us.
    AllowAll,
    /// 5xx or unreachable ("unreachable" in RFC 9309 terms): everything disallowed; the reason is for the error message.
    Unreachable(String),
    /// The network policy refuses the origin itself (its name resolves only
    /// to blocked addresses): the page is refused for that reason, not for robots.txt.
    Blocked(String),
    /// Parsed rules.
    Rules(Arc<Robot>),
}

impl RobotsRules {
    /// Interprets a robots.txt response (after redirects) per RFC 9309.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> RobotsRules {
        match status {
            200..=299 => match Robot::new(ROBOTS_TOKEN, body) {
                Ok(robot) => RobotsRules::Rules(Arc::new(robot)),
                // texting_robots is lenient; a file it still cannot read has no rules we can honour.
                Err(e) => {
                    tracing::warn!(error = %e, "unparsable robots.txt, treating as allow-all");
                    RobotsRules::AllowAll
                }
            },
            400..=499 => RobotsRules::AllowAll,
            s => RobotsRules::Unreachable(format!("status {s}")),
        }
    }

    fn ttl(&self) -> Duration {
        match self {
            RobotsRules::Unreachable(_) | RobotsRules::Blocked(_) => UNREACHABLE_TTL,
            _ => READABLE_TTL,
        }
    }
}

/// One cached answer.
#[derive(Debug)]
pub(crate) struct CachedRobots {
    pub rules: RobotsRules,
    until: Instant,
}

type Slot = Arc<tokio::sync::OnceCell<CachedRobots>>;

/// Origin (`scheme://host:port`) → robots rules. Concurrent fetches to a new
/// origin wait for a single robots.txt request.
#[derive(Debug, Default)]
pub(crate) struct RobotsCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl RobotsCache {
    /// The rules for `origin`, loading them with `load` when not cached (or expired).
    pub(crate) async fn rules<F>(&self, origin: &str, load: F) -> RobotsRules
    where
        F: std::future::Future<Output = RobotsRules>,
    {
        let slot = {
            let mut map = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = map.get(origin).filter(|s| s.get().is_none_or(|c| c.until > Instant::now())).cloned();
            match fresh {
                Some(s) => s,
                None => {
                    let s = Slot::default();
                    map.insert(origin.to_string(), s.clone());
                    s
                }
            }
        };
        let cached = slot
            .get_or_init(|| async {
                let rules = load.await;
                let until = Instant::now() + rules.ttl();
                CachedRobots { rules, until }
            })
            .await;
        cached.rules.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn allowed(r: &RobotsRules, url: &str) -> bool {
        match r {
            RobotsRules::AllowAll => true,
            RobotsRules::Unreachable(_) | RobotsRules::Blocked(_) => false,
            RobotsRules::Rules(robot) => robot.allowed(url),
        }
    }

    #[test]
    fn rfc9309_status_semantics() {
        let txt = b"User-agent: spotcheck\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n";
        let r = RobotsRules::from_response(200, txt);
        assert!(allowed(&r, "http://h/ok"));
        assert!(!allowed(&r, "http://h/private/x"));
        assert!(allowed(&RobotsRules::from_response(404, b""), "http://h/private"));
        assert!(!allowed(&RobotsRules::from_response(503, b""), "http://h/ok"));
    }

    #[tokio::test]
    async fn loads_once_per_origin() {
        let cache = RobotsCache::default();
        let loads = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..3 {
            cache
                .rules("http://h:1", async {
                    loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    RobotsRules::AllowAll
                })
                .await;
        }
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
