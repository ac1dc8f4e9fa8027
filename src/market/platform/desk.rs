//! The desks' shared state: which platforms are armed, what each has received
//! (for de-duplication and ordinals), the log of handled notices and the
//! counter callers wait on.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::{PlatformAction, PlatformActor, WebhookCounts};
use crate::market::layout::Platform;

/// What a platform has received (kept when its actor is replaced).
#[derive(Debug, Default)]
struct Received {
    webhook_ids: HashSet<String>,
    notice_ids: HashSet<String>,
}

#[derive(Debug, Default)]
struct Inner {
    actors: HashMap<Platform, Arc<PlatformActor>>,
    received: HashMap<Platform, Received>,
    counts: WebhookCounts,
}

/// Whether a verified delivery is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The `ordinal`-th distinct notice of its platform.
    New { ordinal: u64 },
    /// Its `webhook-id` or its notice was received before.
    Duplicate,
}

/// The platform desks of one market.
#[derive(Debug)]
pub(crate) struct Desks {
    inner: Mutex<Inner>,
    log: Mutex<Vec<PlatformAction>>,
    /// The length of `log`, for [`Desks::wait_handled`].
    handled: watch::Sender<usize>,
}

impl Default for Desks {
    fn default() -> Desks {
        Desks { inner: Mutex::default(), log: Mutex::default(), handled: watch::Sender::new(0) }
    }
}

impl Desks {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn arm(&self, actor: PlatformActor) {
        self.inner().actors.insert(actor.platform(), Arc::new(actor));
    }

    pub(crate) fn actor(&self, platform: Platform) -> Option<Arc<PlatformActor>> {
        self.inner().actors.get(&platform).cloned()
    }

    /// Records a verified delivery of `notice_id` under `webhook_id`.
    pub(crate) fn admit(&self, platform: Platform, webhook_id: &str, notice_id: &str) -> Admission {
        let mut inner = self.inner();
        let received = inner.received.entry(platform).or_default();
        let new_webhook = received.webhook_ids.insert(webhook_id.to_string());
        let new_notice = new_webhook && received.notice_ids.insert(notice_id.to_string());
        let ordinal = received.notice_ids.len() as u64;
        if new_notice {
            inner.counts.accepted += 1;
            Admission::New { ordinal }
        } else {
            inner.counts.duplicates += 1;
            Admission::Duplicate
        }
    }

    pub(crate) fn reject(&self) {
        self.inner().counts.rejected += 1;
    }

    pub(crate) fn counts(&self) -> WebhookCounts {
        self.inner().counts
    }

    /// Appends a handled notice and wakes the waiters.
    pub(crate) fn record(&self, action: PlatformAction) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.push(action);
        self.handled.send_replace(log.len());
    }

    pub(crate) fn log(&self) -> Vec<PlatformAction> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) async fn wait_handled(&self, n: usize, timeout: Duration) -> bool {
        let mut handled = self.handled.subscribe();
        let reached = tokio::time::timeout(timeout, handled.wait_for(|&len| len >= n)).await;
        matches!(reached, Ok(Ok(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_of_a_webhook_or_a_notice_are_duplicates_and_ordinals_count_notices() {
        let desks = Desks::default();
        assert_eq!(desks.admit(Platform::Mall, "msg_a", "a"), Admission::New { ordinal: 1 });
        assert_eq!(desks.admit(Platform::Mall, "msg_a", "a"), Admission::Duplicate);
        assert_eq!(desks.admit(Platform::Mall, "msg_a2", "a"), Admission::Duplicate, "same notice, new id");
        assert_eq!(desks.admit(Platform::Duo, "msg_a", "a"), Admission::New { ordinal: 1 }, "per platform");
        assert_eq!(desks.admit(Platform::Mall, "msg_b", "b"), Admission::New { ordinal: 2 });
        desks.reject();
        assert_eq!(desks.counts(), WebhookCounts { accepted: 3, duplicates: 2, rejected: 1 });
    }

    #[tokio::test]
    async fn waiting_ends_when_enough_are_handled_or_at_the_timeout() {
        let desks = Desks::default();
        assert!(desks.wait_handled(0, Duration::ZERO).await);
        assert!(!desks.wait_handled(1, Duration::from_millis(10)).await);
    }
}
