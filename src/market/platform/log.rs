//! What the desks did: one [`PlatformAction`] per handled notice, with the
//! [`ApiCall`]s it made, and the counts of webhook deliveries.

use std::fmt;

use chrono::{DateTime, Utc};

use super::Decision;
use crate::market::layout::Platform;

/// One call to spotcheck's platform API, as it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    /// `ack` or `disposition`.
    pub operation: &'static str,
    pub url: String,
    pub idempotency_key: String,
    /// The request body sent (empty for `ack`).
    pub request: String,
    pub attempts: u32,
    /// The status of the last answer, if any came.
    pub status: Option<u16>,
    /// The last answer's body (its first 4 KiB).
    pub answer: Option<String>,
    /// Why the call failed in the end; `None` when it was answered 2xx.
    pub error: Option<String>,
}

impl ApiCall {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// What the platform did about one notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformAction {
    pub platform: Platform,
    pub webhook_id: String,
    pub notice_id: String,
    /// 1-based, per platform, in order of arrival.
    pub ordinal: u64,
    pub decision: Decision,
    /// Item ids taken down (for [`Decision::Delist`]).
    pub delisted: Vec<u64>,
    /// The notice's listings that are no item of this platform (`item_id url`).
    pub skipped: Vec<String>,
    /// The disposition reported, as the wire names it (`None`: acknowledged only).
    pub disposition: Option<&'static str>,
    /// `ack`, then `disposition` unless ignored.
    pub calls: Vec<ApiCall>,
    pub received_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl PlatformAction {
    /// Every API call was answered 2xx.
    pub fn succeeded(&self) -> bool {
        self.calls.iter().all(ApiCall::succeeded)
    }
}

impl fmt::Display for PlatformAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} notice #{} {}: {}", self.platform.name(), self.ordinal, self.notice_id, self.decision)?;
        if !self.delisted.is_empty() {
            write!(f, ", delisted {}", self.delisted.len())?;
        }
        if !self.skipped.is_empty() {
            write!(f, ", skipped {}", self.skipped.len())?;
        }
        for call in &self.calls {
            match (&call.error, call.status) {
                (None, Some(status)) => write!(f, "; {} {status}", call.operation)?,
                (None, None) => write!(f, "; {} ok", call.operation)?,
                (Some(error), _) => write!(f, "; {} failed after {}: {error}", call.operation, call.attempts)?,
            }
        }
        Ok(())
    }
}

/// Webhook deliveries seen, over both platforms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookCounts {
    /// Verified, new, and handed to the desk.
    pub accepted: u64,
    /// Verified repeats of a `webhook-id` or notice already accepted.
    pub duplicates: u64,
    /// Refused: bad or stale signature, missing headers, unreadable event.
    pub rejected: u64,
}
