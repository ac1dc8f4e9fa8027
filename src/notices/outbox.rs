//! The outbox: notice events persisted with the notice, delivered to the
//! platforms' webhooks at least once.
//!
//! Trees:
//! - `outbox_pending`   event id → [`OutboxEvent`] JSON (waiting or being retried)
//! - `outbox_delivered` event id → [`DeliveryRecord`] JSON
//! - `outbox_dead`      event id → [`OutboxEvent`] JSON (gave up after the last attempt; kept)
//!
//! The event is written in the same transaction as its notice
//! ([`NoticeStore::issue`](super::NoticeStore::issue)), so no notice is ever
//! stored without its event. The body bytes are fixed at enqueue time and the
//! event id is the `webhook-id`, so a retry (or a delivery repeated after a
//! crash) is byte-identical and receivers can drop duplicates. All state is in
//! the store: a new worker on the reopened database carries on where the last left.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kv::transaction::{TransactionalTree, UnabortableTransactionError};
use kv::Transactional;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::keys::PlatformRegistry;
use super::webhook;
use super::{corrupt, Notice, NoticeError};

/// One event to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// The `webhook-id`: `msg_` + the notice id for `notice.issued`.
    pub id: String,
    pub platform: String,
    pub event_type: String,
    /// The exact body POSTed on every attempt.
    pub payload: String,
    pub enqueued_at: DateTime<Utc>,
    pub attempts: u32,
    /// Unix milliseconds before which the next attempt is not made.
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
}

/// What is kept of a delivered event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: String,
    pub platform: String,
    pub attempts: u32,
    pub delivered_at: DateTime<Utc>,
    /// The HTTP status of the accepting response; `None` when skipped.
    pub status: Option<u16>,
    /// Why nothing was sent (the platform has no webhook: it polls).
    pub skipped: Option<String>,
}

/// The event that announces a new notice to its platform.
pub(crate) fn notice_issued_event(notice: &Notice, now: DateTime<Utc>) -> Result<OutboxEvent, NoticeError> {
    let body = serde_json::json!({
        "type": "notice.issued",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": notice,
    });
    let payload = serde_json::to_string(&body)
        .map_err(|e| NoticeError::Encode { what: format!("event of notice `{}`", notice.id), detail: e.to_string() })?;
    Ok(OutboxEvent {
        id: format!("msg_{}", notice.id),
        platform: notice.draft.platform.clone(),
        event_type: "notice.issued".into(),
        payload,
        enqueued_at: now,
        attempts: 0,
        next_attempt_at_ms: now.timestamp_millis(),
        last_error: None,
    })
}

/// The outbox trees.
#[derive(Clone)]
pub struct Outbox {
    pending: kv::Tree,
    delivered: kv::Tree,
    dead: kv::Tree,
}

fn decode_all<T: for<'de> Deserialize<'de>>(tree: &kv::Tree, name: &str) -> Result<Vec<T>, NoticeError> {
    let mut out = Vec::new();
    for item in tree.iter() {
        let (k, v) = item?;
        out.push(serde_json::from_slice(&v).map_err(|e| corrupt(name, &k, e))?);
    }
    Ok(out)
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, NoticeError> {
    serde_json::to_vec(value).map_err(|e| NoticeError::Encode { what: what.to_string(), detail: e.to_string() })
}

impl Outbox {
    pub fn open(db: &kv::Db) -> Result<Outbox, NoticeError> {
        Ok(Outbox {
            pending: db.open_tree("outbox_pending")?,
            delivered: db.open_tree("outbox_delivered")?,
            dead: db.open_tree("outbox_dead")?,
        })
    }

    pub(crate) fn pending_tree(&self) -> &kv::Tree {
        &self.pending
    }

    /// Enqueues inside the caller's transaction (on the `outbox_pending` tree).
    pub(crate) fn enqueue_in(
        pending: &TransactionalTree,
        id: &str,
        event_json: &[u8],
    ) -> Result<(), UnabortableTransactionError> {
        pending.insert(id.as_bytes(), event_json)?;
        Ok(())
    }

    /// Events not yet delivered nor given up on.
    pub fn pending(&self) -> Result<Vec<OutboxEvent>, NoticeError> {
        decode_all(&self.pending, "outbox_pending")
    }

    /// One pending event.
    pub fn get_pending(&self, id: &str) -> Result<Option<OutboxEvent>, NoticeError> {
        match self.pending.get(id.as_bytes())? {
            Some(raw) => {
                serde_json::from_slice(&raw).map(Some).map_err(|e| corrupt("outbox_pending", id.as_bytes(), e))
            }
            None => Ok(None),
        }
    }

    /// Events given up on after the last attempt.
    pub fn dead_letters(&self) -> Result<Vec<OutboxEvent>, NoticeError> {
        decode_all(&self.dead, "outbox_dead")
    }

    /// The delivery of an event, once delivered.
    pub fn delivered(&self, id: &str) -> Result<Option<DeliveryRecord>, NoticeError> {
        match self.delivered.get(id.as_bytes())? {
            Some(raw) => {
                serde_json::from_slice(&raw).map(Some).map_err(|e| corrupt("outbox_delivered", id.as_bytes(), e))
            }
            None => Ok(None),
        }
    }

    /// Moves an event from pending to delivered, in one transaction.
    fn mark_delivered(&self, record: &DeliveryRecord) -> Result<(), NoticeError> {
        let json = encode(&format!("delivery `{}`", record.id), record)?;
        (&self.pending, &self.delivered).transaction(|(pending, delivered)| {
            pending.remove(record.id.as_bytes())?;
            delivered.insert(record.id.as_bytes(), json.as_slice())?;
            Ok::<_, kv::transaction::ConflictableTransactionError<NoticeError>>(())
        })?;
        self.pending.flush()?;
        Ok(())
    }

    /// Records a failed attempt: back to pending with its next time, or to the
    /// dead letters after the last attempt.
    fn mark_failed(&self, event: &OutboxEvent, dead: bool) -> Result<(), NoticeError> {
        let json = encode(&format!("outbox event `{}`", event.id), event)?;
        (&self.pending, &self.dead).transaction(|(pending, dead_tree)| {
            if dead {
                pending.remove(event.id.as_bytes())?;
                dead_tree.insert(event.id.as_bytes(), json.as_slice())?;
            } else {
                pending.insert(event.id.as_bytes(), json.as_slice())?;
            }
            Ok::<_, kv::transaction::ConflictableTransactionError<NoticeError>>(())
        })?;
        Ok(())
    }
}

/// How the worker delivers.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    /// The back-off ceiling of the first retry; doubles each attempt.
    pub base_backoff: Duration,
    /// The back-off ceiling never exceeds this.
    pub max_backoff: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Whole-request timeout per delivery (connect included).
    pub timeout: Duration,
    /// How often the worker looks for due events.
    pub poll_interval: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            max_attempts: 12,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(3600),
            concurrency: 8,
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(500),
        }
    }
}

impl DeliveryConfig {
    /// Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"):
    /// a uniform delay in `[0, min(max, base · 2^(attempt-1))]`, so retries of
    /// many events spread out instead of arriving together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1).min(31)).unwrap_or(u32::MAX);
        let ceiling = self.base_backoff.saturating_mul(factor).min(self.max_backoff);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=ms))
    }
}

/// The delivery worker: a tokio task that POSTs due events.
pub struct OutboxWorker;

impl OutboxWorker {
    /// Starts the worker. Aborting the returned task stops it and every
    /// delivery in flight (they are retried by the next worker).
    pub fn spawn(
        outbox: Outbox,
        registry: Arc<PlatformRegistry>,
        config: DeliveryConfig,
    ) -> Result<tokio::task::JoinHandle<()>, NoticeError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(crate::TOOL)
            .build()
            .map_err(|e| NoticeError::Webhook(format!("cannot build the webhook client: {e}")))?;
        Ok(tokio::spawn(run(outbox, registry, config, client)))
    }
}

async fn run(outbox: Outbox, registry: Arc<PlatformRegistry>, config: DeliveryConfig, client: reqwest::Client) {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    // Owned here, so aborting this task drops (and aborts) every delivery.
    let mut deliveries = JoinSet::new();
    loop {
        while deliveries.try_join_next().is_some() {}
        let now_ms = Utc::now().timestamp_millis();
        match outbox.pending() {
            Ok(events) => {
                for event in events {
                    if event.next_attempt_at_ms > now_ms {
                        continue;
                    }
                    let fresh = in_flight.lock().map(|mut s| s.insert(event.id.clone())).unwrap_or(false);
                    if !fresh {
                        continue;
                    }
                    // Read again now that the id is claimed: the list may predate a
                    // delivery that finished meanwhile (which records its outcome
                    // before releasing the id), and sending it again would
                    // duplicate it, or put a delivered event back in pending.
                    let event = match outbox.get_pending(&event.id) {
                        Ok(Some(current)) if current.next_attempt_at_ms <= now_ms => current,
                        _ => {
                            if let Ok(mut s) = in_flight.lock() {
                                s.remove(&event.id);
                            }
                            continue;
                        }
                    };
                    let Ok(permit) = permits.clone().acquire_owned().await else { return };
                    let (outbox, registry, config, client, in_flight) =
                        (outbox.clone(), registry.clone(), config.clone(), client.clone(), in_flight.clone());
                    deliveries.spawn(async move {
                        let id = event.id.clone();
                        if let Err(e) = deliver(&outbox, &registry, &config, &client, event).await {
                            tracing::warn!("outbox: cannot record delivery of `{id}`: {e}");
                        }
                        if let Ok(mut s) = in_flight.lock() {
                            s.remove(&id);
                        }
                        drop(permit);
                    });
                }
            }
            Err(e) => tracing::warn!("outbox: cannot read pending events: {e}"),
        }
        tokio::time::sleep(config.poll_interval).await;
    }
}

/// One attempt, then its outcome recorded.
async fn deliver(
    outbox: &Outbox,
    registry: &PlatformRegistry,
    config: &DeliveryConfig,
    client: &reqwest::Client,
    mut event: OutboxEvent,
) -> Result<(), NoticeError> {
    let Some(platform) = registry.get(&event.platform) else {
        event.attempts += 1;
        let why = format!("platform `{}` is not in the registry", event.platform);
        return fail(outbox, config, event, why);
    };
    let (Some(url), Some(secret)) = (&platform.webhook_url, &platform.webhook_secret) else {
        let record = DeliveryRecord {
            id: event.id.clone(),
            platform: event.platform.clone(),
            attempts: event.attempts,
            delivered_at: Utc::now(),
            status: None,
            skipped: Some(format!("platform `{}` has no webhook (it polls the API)", event.platform)),
        };
        return outbox.mark_delivered(&record);
    };
    event.attempts += 1;
    let timestamp = Utc::now().timestamp();
    let mut request = client.post(url).header("content-type", "application/json");
    if let Some(secs) = platform.webhook_timeout_secs {
        request = request.timeout(Duration::from_secs(secs));
    }
    for (name, value) in webhook::signed_headers(secret, &event.id, timestamp, event.payload.as_bytes()) {
        request = request.header(name, value);
    }
    let outcome = request.body(event.payload.clone()).send().await;
    match outcome {
        Ok(response) if response.status().is_success() => {
            let record = DeliveryRecord {
                id: event.id.clone(),
                platform: event.platform.clone(),
                attempts: event.attempts,
                delivered_at: Utc::now(),
                status: Some(response.status().as_u16()),
                skipped: None,
            };
            // The body is never read: a hostile receiver cannot make us buffer it.
            drop(response);
            outbox.mark_delivered(&record)
        }
        Ok(response) => {
            let why = format!("`{url}` answered {}", response.status());
            fail(outbox, config, event, why)
        }
        Err(e) => {
            let why = format!("POST `{url}` failed: {e}");
            fail(outbox, config, event, why)
        }
    }
}

fn fail(outbox: &Outbox, config: &DeliveryConfig, mut event: OutboxEvent, why: String) -> Result<(), NoticeError> {
    tracing::debug!("outbox: `{}` attempt {}: {why}", event.id, event.attempts);
    event.last_error = Some(why);
    let dead = event.attempts >= config.max_attempts;
    if !dead {
        let delay = i64::try_from(config.backoff(event.attempts).as_millis()).unwrap_or(i64::MAX);
        event.next_attempt_at_ms = Utc::now().timestamp_millis().saturating_add(delay);
    }
    outbox.mark_failed(&event, dead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_doubling_ceiling_and_the_cap() {
        let config = DeliveryConfig {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..DeliveryConfig::default()
        };
        for attempt in [1u32, 2, 3, 4, 5, 40, u32::MAX] {
            let ceiling = (100u64 << attempt.saturating_sub(1).min(20)).min(1000);
            for _ in 0..200 {
                assert!(config.backoff(attempt) <= Duration::from_millis(ceiling), "attempt {attempt}");
            }
        }
        // Jitter really spreads the delays.
        let spread: HashSet<Duration> = (0..50).map(|_| config.backoff(4)).collect();
        assert!(spread.len() > 5);
    }
}
