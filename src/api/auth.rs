//! Who is asking, and whether they may ask again so soon.
//!
//! Every audience proves itself with `Authorization: Bearer <secret>`. A
//! platform's secret goes straight to [`ApiKeys::authenticate`], whose answer
//! is the only way to reach a platform's notices; a person's token goes to
//! [`AccessTokens::authenticate`], and its [`Role`] must be the one the route
//! is for (else 403). A platform key is unknown to the token routes and a
//! token unknown to the platform routes (401 either way). The rate limit is a
//! token bucket per key or token (not per platform or person), checked only
//! after authentication, so an attacker guessing secrets cannot drain a real
//! client's bucket.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::errors::ApiError;
use crate::access::{AccessTokens, Principal, Role};
use crate::notices::{ApiKeys, AuthenticatedPlatform};

/// How many requests a key may make: `burst` at once, then one every `period`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub period: Duration,
    pub burst: NonZeroU32,
}

impl Default for RateLimit {
    /// 10 requests a second sustained, 50 at once: plenty for polling and for
    /// reporting a batch of dispositions, little for a runaway loop.
    fn default() -> RateLimit {
        RateLimit { period: Duration::from_millis(100), burst: NonZeroU32::new(50).unwrap_or(NonZeroU32::MIN) }
    }
}

/// The per-key buckets.
#[derive(Clone)]
pub struct Limiter {
    buckets: Arc<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        // A zero period would mean "no limit"; governor refuses it, so fall back to 1 ms.
        let quota = Quota::with_period(limit.period)
            .or_else(|| Quota::with_period(Duration::from_millis(1)))
            .map(|q| q.allow_burst(limit.burst))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX));
        Limiter { buckets: Arc::new(RateLimiter::keyed(quota)), clock: DefaultClock::default() }
    }

    /// Takes one token from `key_id`'s bucket or says how long to wait.
    fn check(&self, key_id: &str) -> Result<(), ApiError> {
        self.buckets.check_key(&key_id.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Retry-After is whole seconds; round up so a client that obeys it succeeds.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::RateLimited { retry_after_secs: secs.max(1) }
        })
    }
}

/// The bearer secret of a request, if it has a well-formed header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    let secret = secret.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !secret.is_empty()).then_some(secret)
}

/// Authenticates the request and spends one token of its key's bucket.
pub fn authenticate(keys: &ApiKeys, limiter: &Limiter, headers: &HeaderMap) -> Result<AuthenticatedPlatform, ApiError> {
    let secret = bearer(headers).ok_or(ApiError::MissingKey)?;
    let who = keys.authenticate(secret)?.ok_or(ApiError::InvalidKey)?;
    limiter.check(who.key_id())?;
    Ok(who)
}

/// Authenticates a person's token for a route of `role`, spending one token of its bucket.
pub fn principal(
    tokens: &AccessTokens,
    limiter: &Limiter,
    headers: &HeaderMap,
    role: Role,
) -> Result<Principal, ApiError> {
    let secret = bearer(headers).ok_or(ApiError::MissingKey)?;
    let who = tokens.authenticate(secret)?.ok_or(ApiError::InvalidKey)?;
    limiter.check(&who.token_id)?;
    if who.role != role {
        return Err(ApiError::Forbidden { role: who.role });
    }
    Ok(who)
}
