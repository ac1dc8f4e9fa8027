//! Politeness across all workers: the control plane owns each host's token
//! bucket and concurrency slots ([`HostGates`], the embedded fetcher's own),
//! and a worker asks it for a permit before every request.
//!
//! The bound: a permit is granted only when the host's bucket has a token
//! and a slot is free, so permits granted to all workers together follow the
//! host's politeness exactly as one embedded fetcher's requests do. A permit
//! is held until the worker releases it or its lease ends (a dead worker), so
//! a lost release can only lower the concurrency, never raise it; a permit
//! granted after the worker stopped waiting is dropped at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::StreamExt;

use super::bus::{permit_subject, release_subject};
use super::wire::{PermitReply, PermitRequest, Release};
use super::{lock, ClusterError};
use crate::fetch::{Gatekeeper, HostGates, HostPermit};

/// Permits granted and not yet released, with when their lease ends.
type Held = Arc<Mutex<HashMap<u64, (HostPermit, Instant)>>>;

/// The control plane's permit desk for one job; stops when dropped.
pub struct PermitService {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    held: Held,
}

impl Drop for PermitService {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl PermitService {
    pub async fn start(
        client: async_nats::Client,
        job: &str,
        gates: Arc<HostGates>,
        lease: Duration,
    ) -> Result<PermitService, ClusterError> {
        let requests = client
            .subscribe(permit_subject(job))
            .await
            .map_err(|e| ClusterError::nats("subscribe to permit requests", e))?;
        let releases = client
            .subscribe(release_subject(job))
            .await
            .map_err(|e| ClusterError::nats("subscribe to permit releases", e))?;
        let held: Held = Arc::default();
        let next_id = Arc::new(AtomicU64::new(1));
        let grant = {
            let (held, client) = (Arc::clone(&held), client.clone());
            tokio::spawn(requests.for_each_concurrent(None, move |msg| {
                let (held, client, gates, next_id) = (held.clone(), client.clone(), gates.clone(), next_id.clone());
                async move {
                    let Some(reply) = msg.reply else { return };
                    let answer = match serde_json::from_slice::<PermitRequest>(&msg.payload) {
                        Ok(request) => {
                            let asked = Instant::now();
                            let permit = gates.get(&request.host.to_ascii_lowercase()).enter().await;
                            if asked.elapsed() >= Duration::from_millis(request.wait_ms) {
                                return; // the worker stopped waiting: hold nothing for nobody
                            }
                            let id = next_id.fetch_add(1, Ordering::Relaxed);
                            lock(&held).insert(id, (permit, Instant::now() + lease));
                            PermitReply::Granted { id }
                        }
                        Err(e) => PermitReply::Refused { reason: format!("bad permit request: {e}") },
                    };
                    let payload = serde_json::to_vec(&answer).unwrap_or_default();
                    if let Err(e) = client.publish(reply, payload.into()).await {
                        tracing::debug!(error = %e, "cannot answer a permit request");
                    }
                }
            }))
        };
        let release = {
            let held = Arc::clone(&held);
            tokio::spawn(releases.for_each(move |msg| {
                if let Ok(Release { id }) = serde_json::from_slice(&msg.payload) {
                    lock(&held).remove(&id);
                }
                futures::future::ready(())
            }))
        };
        let expire = {
            let held = Arc::clone(&held);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                loop {
                    tick.tick().await;
                    let now = Instant::now();
                    lock(&held).retain(|_, (_, until)| *until > now);
                }
            })
        };
        Ok(PermitService { tasks: vec![grant, release, expire], held })
    }

    /// Permits granted and neither released nor expired.
    pub fn held(&self) -> usize {
        lock(&self.held).len()
    }
}

/// A worker's side: asks the job's control plane for each request's permit.
#[derive(Debug, Clone)]
pub struct PermitClient {
    client: async_nats::Client,
    job: String,
    /// How long one request for a permit waits for its answer.
    wait: Duration,
    /// How long to keep asking while the control plane does not answer
    /// (restarting) before handing the task back.
    give_up_after: Duration,
}

impl PermitClient {
    pub fn new(client: async_nats::Client, job: &str) -> PermitClient {
        PermitClient {
            client,
            job: job.to_string(),
            wait: Duration::from_secs(30),
            give_up_after: Duration::from_secs(600),
        }
    }

    async fn ask(&self, host: &str) -> Result<HostPermit, String> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        let request = PermitRequest { host: host.to_string(), wait_ms: self.wait.as_millis() as u64 };
        let payload = bytes::Bytes::from(serde_json::to_vec(&request).map_err(|e| e.to_string())?);
        loop {
            let asked = async_nats::Request::new().payload(payload.clone()).timeout(Some(self.wait));
            let failure = match self.client.send_request(permit_subject(&self.job), asked).await {
                Ok(msg) => match serde_json::from_slice::<PermitReply>(&msg.payload) {
                    Ok(PermitReply::Granted { id }) => {
                        let release = Releaser { client: self.client.clone(), subject: release_subject(&self.job), id };
                        return Ok(HostPermit::remote(Box::new(release)));
                    }
                    Ok(PermitReply::Refused { reason }) => return Err(reason),
                    Err(e) => format!("unreadable answer: {e}"),
                },
                Err(e) => e.to_string(),
            };
            if started.elapsed() >= self.give_up_after {
                return Err(format!(
                    "the control plane of job {} did not grant a permit for {host} in {}: {failure}",
                    self.job,
                    humantime::format_duration(self.give_up_after)
                ));
            }
            tracing::debug!(host, failure, "no permit yet; asking again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}

impl Gatekeeper for PermitClient {
    fn enter<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<HostPermit, String>> {
        Box::pin(self.ask(host))
    }
}

/// Tells the control plane the permit is free when dropped.
struct Releaser {
    client: async_nats::Client,
    subject: String,
    id: u64,
}

impl Drop for Releaser {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (client, subject) = (self.client.clone(), std::mem::take(&mut self.subject));
        let payload = serde_json::to_vec(&Release { id: self.id }).unwrap_or_default();
        runtime.spawn(async move {
            // At most once: a lost release only keeps the slot until the lease ends.
            let _ = client.publish(subject, payload.into()).await;
        });
    }
}
