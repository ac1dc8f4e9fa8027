//! Durable scheduling state in the store's database.
//!
//! Trees:
//! - `plan_runs`   `plan_id \0 seq(u64 BE)` → [`RunRecord`] JSON: every decision
//!   (enrolled, started, skipped with the missed times, finished, lease taken over)
//! - `plan_leases` `plan_id` → [`Lease`] JSON: who runs the plan now, until when
//!
//! `seq` comes from `kv::Db::generate_id`, which only grows, across restarts too.

use chrono::{DateTime, Duration, Utc};
use kv::{IVec, Tree};
use serde::{Deserialize, Serialize};

use super::compile::Plan;
use super::due::{due, Decision};

/// How many times [`Scheduler::begin`] retries a lease compare-and-swap that lost a race.
const CAS_ATTEMPTS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("plan database error: {0}")]
    Db(#[from] kv::Error),
    #[error("corrupt record under key `{key}` in tree `{tree}`: {detail}")]
    Corrupt { tree: &'static str, key: String, detail: String },
    #[error("plan `{plan}`: the lease kept changing under {CAS_ATTEMPTS} attempts to take it")]
    Contended { plan: String },
    #[error("plan `{plan}`: run {run_id} no longer holds the lease (expired and taken over?)")]
    LeaseLost { plan: String, run_id: u64 },
}

/// Who holds a plan, until when. `run_id` is the run it was taken for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    pub run_id: u64,
    pub expires: DateTime<Utc>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RunOutcome {
    Succeeded { job: Option<String> },
    Failed { error: String },
}

/// One recorded event of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// The scheduler first saw the plan; run times before `at` are not owed.
    Enrolled,
    /// A run started on this decision (`Run` or `RunMissedOnce`).
    Started {
        run_id: u64,
        holder: String,
        decision: Decision,
    },
    /// Staff started a run by hand; the schedule's accounting is unchanged.
    StartedByHand {
        run_id: u64,
        holder: String,
    },
    /// Missed runs were skipped by the plan's policy.
    Skipped {
        decision: Decision,
    },
    Finished {
        run_id: u64,
        outcome: RunOutcome,
    },
    /// An expired lease was taken over (its holder crashed or hung).
    LeaseTakenOver {
        from: Lease,
        by: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// After this record, every run time up to here is run or skipped.
    pub accounted_through: Option<DateTime<Utc>>,
    pub event: RunEvent,
}

/// What [`Scheduler::begin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// A run started and holds the plan's lease; end it with [`Scheduler::finish`].
    Started(RunTicket),
    /// Missed runs were recorded as skipped; ask again at (or after) `next`.
    Skipped(Decision),
    /// Nothing due before `until` (`None`: manual plan or no more times).
    Waiting { until: Option<DateTime<Utc>> },
    /// Another run of the plan holds the lease.
    Busy(Lease),
}

/// A started run: hand it back to [`Scheduler::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTicket {
    pub plan: String,
    pub run_id: u64,
    /// The scheduling decision; `None` for a run started by hand.
    pub decision: Option<Decision>,
    pub lease: Lease,
}

/// The plans' durable scheduling state. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    db: kv::Db,
    runs: Tree,
    leases: Tree,
}

impl Scheduler {
    /// Opens the scheduler's trees in the store's database (`Store::db()`).
    pub fn open(db: &kv::Db) -> Result<Scheduler, SchedulerError> {
        Ok(Scheduler { db: db.clone(), runs: db.open_tree("plan_runs")?, leases: db.open_tree("plan_leases")? })
    }

    /// Takes the plan's lease, decides by the recorded state and the plan's
    /// policy, records the decision, and either keeps the lease for the
    /// started run or releases it. `ttl` bounds how long a crashed holder blocks the plan.
    pub fn begin(&self, plan: &Plan, holder: &str, now: DateTime<Utc>, ttl: Duration) -> Result<Begin, SchedulerError> {
        let lease = match self.acquire(&plan.id, holder, now, ttl)? {
            Ok(lease) => lease,
            Err(held) => return Ok(Begin::Busy(held)),
        };
        let Some(accounted) = self.accounted_through(&plan.id)? else {
            self.record(&plan.id, now, Some(now), RunEvent::Enrolled)?;
            self.release(&plan.id, &lease)?;
            return Ok(Begin::Waiting { until: plan.schedule.next_after(now) });
        };
        let decision = due(&plan.schedule, plan.missed, accounted, now);
        let through = decision.accounted_through();
        match decision {
            Decision::Run { .. } | Decision::RunMissedOnce { .. } => {
                let event =
                    RunEvent::Started { run_id: lease.run_id, holder: holder.into(), decision: decision.clone() };
                self.record(&plan.id, now, through, event)?;
                Ok(Begin::Started(RunTicket {
                    plan: plan.id.clone(),
                    run_id: lease.run_id,
                    decision: Some(decision),
                    lease,
                }))
            }
            Decision::SkipMissed { .. } => {
                self.record(&plan.id, now, through, RunEvent::Skipped { decision: decision.clone() })?;
                self.release(&plan.id, &lease)?;
                Ok(Begin::Skipped(decision))
            }
            Decision::Wait { until } => {
                self.release(&plan.id, &lease)?;
                Ok(Begin::Waiting { until })
            }
        }
    }

    /// Starts a run by hand (a `manual` plan, or an extra run of a scheduled
    /// one) unless a run of the plan holds the lease: then `Err(lease)`.
    pub fn start_by_hand(
        &self,
        plan: &Plan,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Result<RunTicket, Lease>, SchedulerError> {
        let lease = match self.acquire(&plan.id, holder, now, ttl)? {
            Ok(lease) => lease,
            Err(held) => return Ok(Err(held)),
        };
        self.record(&plan.id, now, None, RunEvent::StartedByHand { run_id: lease.run_id, holder: holder.into() })?;
        Ok(Ok(RunTicket { plan: plan.id.clone(), run_id: lease.run_id, decision: None, lease }))
    }

    /// Records how the run ended and releases its lease. The outcome is
    /// recorded even when the lease was lost; that is then reported as an error.
    pub fn finish(&self, ticket: &RunTicket, outcome: RunOutcome, now: DateTime<Utc>) -> Result<(), SchedulerError> {
        self.record(&ticket.plan, now, None, RunEvent::Finished { run_id: ticket.run_id, outcome })?;
        self.release(&ticket.plan, &ticket.lease)
    }

    /// Extends a running run's lease to `now + ttl` (for runs longer than the first ttl).
    pub fn renew(&self, ticket: &mut RunTicket, now: DateTime<Utc>, ttl: Duration) -> Result<(), SchedulerError> {
        let renewed = Lease { expires: expiry(now, ttl), ..ticket.lease.clone() };
        let swapped = self.leases.compare_and_swap(
            ticket.plan.as_bytes(),
            Some(lease_bytes(&ticket.lease)?),
            Some(lease_bytes(&renewed)?),
        )?;
        match swapped {
            Ok(()) => {
                ticket.lease = renewed;
                Ok(())
            }
            Err(_) => Err(SchedulerError::LeaseLost { plan: ticket.plan.clone(), run_id: ticket.run_id }),
        }
    }

    /// Takes the plan's lease if it is free or expired at `now`; `Err(lease)`: someone holds it.
    pub fn acquire(
        &self,
        plan: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Result<Lease, Lease>, SchedulerError> {
        for _ in 0..CAS_ATTEMPTS {
            let current = self.leases.get(plan.as_bytes())?;
            let previous = match &current {
                Some(bytes) => {
                    let held: Lease = parse("plan_leases", plan, bytes)?;
                    if held.expires > now {
                        return Ok(Err(held));
                    }
                    Some(held)
                }
                None => None,
            };
            let lease = Lease { holder: holder.into(), run_id: self.db.generate_id()?, expires: expiry(now, ttl) };
            if self.leases.compare_and_swap(plan.as_bytes(), current, Some(lease_bytes(&lease)?))?.is_ok() {
                if let Some(from) = previous {
                    self.record(plan, now, None, RunEvent::LeaseTakenOver { from, by: holder.into() })?;
                }
                return Ok(Ok(lease));
            }
        }
        Err(SchedulerError::Contended { plan: plan.into() })
    }

    /// Releases `lease` if it is still the plan's lease.
    pub fn release(&self, plan: &str, lease: &Lease) -> Result<(), SchedulerError> {
        match self.leases.compare_and_swap(plan.as_bytes(), Some(lease_bytes(lease)?), None::<IVec>)? {
            Ok(()) => Ok(()),
            Err(_) => Err(SchedulerError::LeaseLost { plan: plan.into(), run_id: lease.run_id }),
        }
    }

    /// The plan's current lease, if any (it may have expired).
    pub fn lease(&self, plan: &str) -> Result<Option<Lease>, SchedulerError> {
        self.leases.get(plan.as_bytes())?.map(|b| parse("plan_leases", plan, &b)).transpose()
    }

    /// Every recorded event of the plan, oldest first.
    pub fn history(&self, plan: &str) -> Result<Vec<RunRecord>, SchedulerError> {
        self.runs
            .scan_prefix(prefix(plan))
            .map(|kv| kv.map_err(SchedulerError::from).and_then(|(k, v)| parse_record(&k, &v)))
            .collect()
    }

    /// The instant through which the plan's run times are run or skipped
    /// (`None`: the scheduler has never seen the plan).
    pub fn accounted_through(&self, plan: &str) -> Result<Option<DateTime<Utc>>, SchedulerError> {
        for kv in self.runs.scan_prefix(prefix(plan)).rev() {
            let (k, v) = kv?;
            if let Some(t) = parse_record(&k, &v)?.accounted_through {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    /// The plan's next `n` run times after `now`, for display.
    pub fn next_runs(&self, plan: &Plan, now: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        plan.schedule.next_n(now, n)
    }

    fn record(
        &self,
        plan: &str,
        at: DateTime<Utc>,
        accounted_through: Option<DateTime<Utc>>,
        event: RunEvent,
    ) -> Result<(), SchedulerError> {
        let seq = self.db.generate_id()?;
        let record = RunRecord { seq, at, accounted_through, event };
        let mut key = prefix(plan);
        key.extend_from_slice(&seq.to_be_bytes());
        let json = serde_json::to_vec(&record).map_err(|e| SchedulerError::Corrupt {
            tree: "plan_runs",
            key: plan.into(),
            detail: e.to_string(),
        })?;
        self.runs.insert(key, json)?;
        self.runs.flush()?;
        Ok(())
    }
}

/// `now + ttl`, saturating at the end of time instead of overflowing.
fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    now.checked_add_signed(ttl).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn prefix(plan: &str) -> Vec<u8> {
    let mut key = plan.as_bytes().to_vec();
    key.push(0);
    key
}

fn lease_bytes(lease: &Lease) -> Result<Vec<u8>, SchedulerError> {
    serde_json::to_vec(lease).map_err(|e| SchedulerError::Corrupt {
        tree: "plan_leases",
        key: lease.holder.clone(),
        detail: e.to_string(),
    })
}

fn parse<T: serde::de::DeserializeOwned>(tree: &'static str, key: &str, bytes: &[u8]) -> Result<T, SchedulerError> {
    serde_json::from_slice(bytes).map_err(|e| SchedulerError::Corrupt { tree, key: key.into(), detail: e.to_string() })
}

fn parse_record(key: &[u8], value: &[u8]) -> Result<RunRecord, SchedulerError> {
    parse("plan_runs", &String::from_utf8_lossy(key), value)
}
