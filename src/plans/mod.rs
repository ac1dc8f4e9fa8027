//! Crawl plans, their scheduler, and running them.
//!
//! A plan (`plans/<id>.toml`, [`spec`] → [`compile`]) says what to check —
//! product classes, platforms, keywords or seed URLs, sample size and
//! weighting, campaign tag, politeness overrides — and when: a five-field cron
//! expression on the Asia/Shanghai clock ([`schedule`]) or `manual`. The
//! plans of a data directory are its [`PlanBook`] (`<data>/plans/<id>.toml`).
//!
//! The scheduler is a pure decision ([`due`]: given the instant through which
//! a plan's runs are accounted for and the present: run, run once for the
//! missed ones, skip them, or wait) plus durable state in the store's
//! database ([`Scheduler`]): every decision is recorded in `plan_runs`, and a
//! lease per plan in `plan_leases` (taken by compare-and-swap, with an expiry
//! so a crashed holder's lease can be taken over) keeps two runs of one plan
//! from overlapping. After a restart the recorded decisions say what is
//! accounted for, so each missed run is decided by the plan's policy once.
//!
//! A run ([`PlanRunner`], [`runner`]) crawls the plan's platforms, draws the
//! "双随机" sample from what they captured, flags the drawn listings and
//! records a [`RunSummary`] ([`runs`]); [`stages`] holds each stage as a
//! plain function.

pub mod book;
pub mod compile;
pub mod cron;
pub mod due;
pub mod live;
pub mod runner;
pub mod runs;
pub mod schedule;
pub mod scheduler;
pub mod spec;
pub mod stages;

pub use book::{safe_id, PlanBook, MAX_PLAN_BYTES};
pub use compile::{compile, MissedPolicy, Plan, PolitenessOverride};
pub use cron::Cron;
pub use due::{due, Decision, GRACE, MISSED_LISTED};
pub use live::{LiveRun, Stage};
pub use runner::{PlanRunner, RoundStart, RunnerError, RunnerOptions};
pub use runs::{RunSummaries, RunSummary, SummaryError, Trigger};
pub use schedule::{shanghai, Schedule};
pub use scheduler::{Begin, Lease, RunEvent, RunOutcome, RunRecord, RunTicket, Scheduler, SchedulerError};
