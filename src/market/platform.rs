//! The sample marketplace as its own platform's trust-and-safety desk, for
//! issue 7's demo: spotcheck sends a notice, the "platform" acts on it, and
//! spotcheck then checks by re-crawling.
//!
//! [`Market::act_as_platform`] arms one [`Platform`] with a [`PlatformActor`]:
//! the spotcheck API base URL, the platform's API key, its Standard Webhooks
//! secret (`whsec_…`) and a [`Policy`]. From then on the market serves
//!
//! - `POST /mall/open-api/webhooks` (样品商城) and
//! - `POST /duo/open-api/webhooks` (样品多多)
//!
//! ([`Market::webhook_url`]); a platform not armed answers 404 there. Each
//! delivery is
//!
//! 1. checked with the market's own signature code ([`signature`], not
//!    `crate::notices::webhook`): a bad or stale signature is 401 and nothing
//!    is recorded; a body over [`WEBHOOK_BODY_LIMIT`] is 413;
//! 2. read as an event: a signed body that is no JSON event, or a notice id
//!    that is empty, over 128 bytes or not printable ASCII, is 400; event
//!    types other than `notice.issued` are answered 204 and left alone;
//! 3. de-duplicated by `webhook-id` (and by notice id): a repeat is answered
//!    200 and not acted on again;
//! 4. answered 202 at once, then acted on in a spawned task. The *n*-th
//!    distinct notice the platform receives gets [`Policy::decide`]`(n, case)`:
//!    [`Decision::Delist`] takes down every listing of the notice that is one
//!    of the platform's items ([`Market::delist`]; unknown ones are logged and
//!    skipped), then acknowledges and reports `delisted` (or
//!    `partially_delisted` / `rejected` when some / none were found);
//!    [`Decision::Dispute`] acknowledges and reports `disputed` with
//!    [`DISPUTE_REASON`]; [`Decision::Ignore`] only acknowledges.
//!
//! API calls (`POST {api}/api/platform/v1/notices/{id}/ack` and
//! `…/disposition`, bearer key, `Idempotency-Key: ack-{id}` /
//! `disposition-{id}` so a retry is the same request) are retried on
//! connection errors, 5xx and 429 with doubling back-off, waiting at least
//! what `Retry-After` asks; after [`Retry::attempts`] (or a `Retry-After`
//! beyond [`Retry::max_delay`]) the call is recorded as failed.
//!
//! Every handled notice becomes a [`PlatformAction`] in
//! [`Market::platform_log`]; [`Market::wait_handled`] waits for the log to
//! reach a length, so callers never sleep to synchronise. Ordinals follow the
//! order deliveries arrive in: with concurrent deliveries that order is the
//! sender's, so a caller that needs to know in advance which notice is
//! disputed pins it by case id ([`Policy::with_case`]) or issues one at a time.

mod api;
mod desk;
mod log;
mod signature;
mod webhook;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use url::Url;

pub(crate) use desk::Desks;
pub use log::{ApiCall, PlatformAction, WebhookCounts};
pub use signature::{SignatureError, TOLERANCE_SECS};
pub(crate) use webhook::routes;

use super::layout::Platform;
use super::Market;

/// The largest webhook body the platform reads (larger: 413).
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

/// The reason a disputed notice is given.
pub const DISPUTE_REASON: &str = "商家已提供有效的CCC证书，申请复核";

/// Why a [`PlatformActor`] cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PlatformActorError {
    #[error("bad webhook secret for {platform}")]
    Secret { platform: &'static str, source: SignatureError },
    #[error("bad spotcheck API base URL `{url}`: {detail}")]
    ApiBase { url: String, detail: String },
    #[error("cannot build the HTTP client of {platform}")]
    Client { platform: &'static str, source: reqwest::Error },
}

/// What the platform does about a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Take the listings down, acknowledge, report `delisted`.
    Delist,
    /// Acknowledge, report `disputed` with [`DISPUTE_REASON`].
    Dispute,
    /// Acknowledge only (acknowledging is not acting).
    Ignore,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Delist => "delist",
            Decision::Dispute => "dispute",
            Decision::Ignore => "ignore",
        })
    }
}

/// Which decision the *n*-th distinct notice (1-based, per platform, in order
/// of arrival) gets: a decision per ordinal, and one for all the others. A
/// decision pinned to a notice's case id comes first: arrival order is the
/// sender's when it delivers several notices at once, the case id is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    by_case: BTreeMap<String, Decision>,
    by_ordinal: BTreeMap<u64, Decision>,
    otherwise: Decision,
}

impl Policy {
    /// The same decision for every notice.
    pub fn always(decision: Decision) -> Policy {
        Policy { by_case: BTreeMap::new(), by_ordinal: BTreeMap::new(), otherwise: decision }
    }

    /// The same policy with notice number `ordinal` (1-based) getting `decision`.
    pub fn with(mut self, ordinal: u64, decision: Decision) -> Policy {
        self.by_ordinal.insert(ordinal, decision);
        self
    }

    /// The same policy with the notice of case `case_id` getting `decision`, whatever its ordinal.
    pub fn with_case(mut self, case_id: impl Into<String>, decision: Decision) -> Policy {
        self.by_case.insert(case_id.into(), decision);
        self
    }

    /// The decision for the `ordinal`-th notice, of case `case_id`.
    pub fn decide(&self, ordinal: u64, case_id: &str) -> Decision {
        let pinned = self.by_case.get(case_id).or_else(|| self.by_ordinal.get(&ordinal));
        pinned.copied().unwrap_or(self.otherwise)
    }
}

impl Default for Policy {
    /// The demo's: the 2nd notice is disputed, the 3rd ignored, all others delisted.
    fn default() -> Policy {
        Policy::always(Decision::Delist).with(2, Decision::Dispute).with(3, Decision::Ignore)
    }
}

/// How API calls are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles each time.
    pub base_delay: Duration,
    /// The longest wait between attempts; a `Retry-After` asking for more ends the call.
    pub max_delay: Duration,
    /// Whole-request timeout per attempt.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// The wait after failed attempt `attempt` (1-based): `base · 2^(attempt-1)`, at most `max_delay`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1).min(31)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// One platform's trust-and-safety desk: where to answer, how to prove it, what to decide.
#[derive(Clone)]
pub struct PlatformActor {
    platform: Platform,
    api_base: Url,
    api_key: String,
    secret: signature::Secret,
    policy: Policy,
    retry: Retry,
    client: reqwest::Client,
}

impl fmt::Debug for PlatformActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformActor")
            .field("platform", &self.platform)
            .field("api_base", &self.api_base.as_str())
            .field("policy", &self.policy)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl PlatformActor {
    /// `api_base` is where spotcheck's platform API is served (`http://host:port`);
    /// `api_key` the platform's bearer secret; `webhook_secret` its `whsec_…`.
    /// The policy is [`Policy::default`], the retries [`Retry::default`].
    pub fn new(
        platform: Platform,
        api_base: &str,
        api_key: impl Into<String>,
        webhook_secret: &str,
    ) -> Result<PlatformActor, PlatformActorError> {
        let name = platform.name();
        let bad_base = |detail: String| PlatformActorError::ApiBase { url: api_base.to_string(), detail };
        let api_base = Url::parse(api_base).map_err(|e| bad_base(e.to_string()))?;
        if api_base.cannot_be_a_base() || !matches!(api_base.scheme(), "http" | "https") {
            return Err(bad_base("not an http(s) base URL".into()));
        }
        let secret = signature::Secret::parse(webhook_secret)
            .map_err(|source| PlatformActorError::Secret { platform: name, source })?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(format!("{name}-trust-and-safety/1"))
            .build()
            .map_err(|source| PlatformActorError::Client { platform: name, source })?;
        Ok(PlatformActor {
            platform,
            api_base,
            api_key: api_key.into(),
            secret,
            policy: Policy::default(),
            retry: Retry::default(),
            client,
        })
    }

    pub fn with_policy(mut self, policy: Policy) -> PlatformActor {
        self.policy = policy;
        self
    }

    pub fn with_retry(mut self, retry: Retry) -> PlatformActor {
        self.retry = retry;
        self
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

impl Market {
    /// Makes the market act as `actor.platform()`'s trust-and-safety desk
    /// (replacing an earlier actor for it; what was received stays received).
    pub fn act_as_platform(&self, actor: PlatformActor) {
        self.desks.arm(actor);
    }

    /// Every notice handled so far, in the order handling finished.
    pub fn platform_log(&self) -> Vec<PlatformAction> {
        self.desks.log()
    }

    /// Waits until at least `n` notices have been fully handled (their API calls
    /// done or given up); `false` when `timeout` passes first.
    pub async fn wait_handled(&self, n: usize, timeout: Duration) -> bool {
        self.desks.wait_handled(n, timeout).await
    }

    /// Webhook deliveries accepted, repeated and refused so far.
    pub fn webhook_counts(&self) -> WebhookCounts {
        self.desks.counts()
    }

    /// Where `platform`'s webhook is served (`base/mall/open-api/webhooks`, `base/duo/open-api/webhooks`).
    pub fn webhook_url(&self, base: &Url, platform: Platform) -> Option<Url> {
        base.join(webhook::path(platform)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_disputes_the_second_and_ignores_the_third() {
        let policy = Policy::default();
        let decisions: Vec<Decision> = (1..=5).map(|n| policy.decide(n, "C1")).collect();
        use Decision::*;
        assert_eq!(decisions, [Delist, Dispute, Ignore, Delist, Delist]);
        assert_eq!(Policy::always(Ignore).with(1, Delist).decide(1, "C1"), Delist);
        assert_eq!(Policy::always(Ignore).decide(9, "C1"), Ignore);
        let pinned = Policy::default().with_case("C7", Ignore);
        assert_eq!((pinned.decide(1, "C7"), pinned.decide(2, "C7"), pinned.decide(2, "C8")), (Ignore, Ignore, Dispute));
    }

    #[test]
    fn retry_delays_double_up_to_the_bound() {
        let retry =
            Retry { base_delay: Duration::from_millis(100), max_delay: Duration::from_millis(500), ..Retry::default() };
        let delays: Vec<u128> = (1..=5).map(|a| retry.delay(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        assert_eq!(retry.delay(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn an_actor_needs_a_good_secret_and_base_url() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert!(PlatformActor::new(Platform::Mall, "http://127.0.0.1:9", "sk", secret).is_ok());
        assert!(PlatformActor::new(Platform::Mall, "http://127.0.0.1:9", "sk", "whsec_???").is_err());
        assert!(PlatformActor::new(Platform::Duo, "mailto:x@y", "sk", secret).is_err());
        assert!(PlatformActor::new(Platform::Duo, "not a url", "sk", secret).is_err());
        let debug = format!("{:?}", PlatformActor::new(Platform::Duo, "http://h", "sk_secret", secret));
        assert!(!debug.contains("sk_secret"), "{debug}");
    }
}
