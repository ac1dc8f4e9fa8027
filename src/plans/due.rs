//! The pure scheduling decision: given a plan's schedule and policy, the
//! instant through which its runs are accounted for, and the present, what now?

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::compile::MissedPolicy;
use super::schedule::Schedule;

/// How late a run may start and still count as on time, not missed.
pub const GRACE: Duration = Duration::minutes(10);

/// At most this many missed times are listed in a decision (the rest are counted as `more_missed`).
pub const MISSED_LISTED: usize = 1000;

/// What the scheduler should do for one plan now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// The run scheduled for `scheduled_for` is due (on time, within [`GRACE`]).
    Run { scheduled_for: DateTime<Utc> },
    /// Runs were missed; policy `run_once`: one run now stands for all of them
    /// (and for the on-time run, if one is due too). `through` is that on-time
    /// run's time, or `now`.
    RunMissedOnce { missed: Vec<DateTime<Utc>>, more_missed: bool, through: DateTime<Utc> },
    /// Runs were missed; policy `skip`: they are recorded as skipped. `next` is
    /// the next run time after them — if it is not in the future, ask again: it is due.
    SkipMissed { missed: Vec<DateTime<Utc>>, more_missed: bool, through: DateTime<Utc>, next: Option<DateTime<Utc>> },
    /// Nothing is due; `until` is the next run time (`None`: manual, or the schedule ended).
    Wait { until: Option<DateTime<Utc>> },
}

impl Decision {
    /// The instant through which the plan's runs are accounted for once this
    /// decision is recorded (`None`: it changes nothing).
    pub fn accounted_through(&self) -> Option<DateTime<Utc>> {
        match self {
            Decision::Run { scheduled_for } => Some(*scheduled_for),
            Decision::RunMissedOnce { through, .. } | Decision::SkipMissed { through, .. } => Some(*through),
            Decision::Wait { .. } => None,
        }
    }
}

/// Decides for one plan. `accounted` is the instant through which every run
/// time has been run or skipped (every time `t` with `t > accounted` is open).
pub fn due(schedule: &Schedule, policy: MissedPolicy, accounted: DateTime<Utc>, now: DateTime<Utc>) -> Decision {
    let mut missed = Vec::new();
    let mut more_missed = false;
    // The latest run time not after `now`; every earlier one was missed
    // (a later one superseded it), and it too unless it is within GRACE.
    let mut latest = None;
    let mut t = accounted;
    while let Some(next) = schedule.next_after(t).filter(|&n| n <= now) {
        if let Some(prev) = latest.replace(next) {
            note_missed(prev, &mut missed, &mut more_missed);
        }
        t = next;
        if missed.len() >= MISSED_LISTED {
            // Unlisted anyway: jump to the times that could still be on time.
            let jump = now.checked_sub_signed(GRACE + Duration::seconds(1)).unwrap_or(t);
            if jump > t {
                more_missed = true;
                t = jump;
            }
        }
    }
    let on_time = latest.filter(|&l| now - l <= GRACE);
    if let (Some(l), None) = (latest, on_time) {
        note_missed(l, &mut missed, &mut more_missed);
    }
    if missed.is_empty() {
        return match on_time {
            Some(scheduled_for) => Decision::Run { scheduled_for },
            None => Decision::Wait { until: schedule.next_after(accounted.max(now)) },
        };
    }
    match policy {
        MissedPolicy::RunOnce => Decision::RunMissedOnce { missed, more_missed, through: on_time.unwrap_or(now) },
        MissedPolicy::Skip => {
            // Through just before the on-time run (so it stays open), or through now.
            let through = on_time.map_or(now, |t| t.checked_sub_signed(Duration::seconds(1)).unwrap_or(t));
            Decision::SkipMissed { missed, more_missed, through, next: on_time.or_else(|| schedule.next_after(now)) }
        }
    }
}

fn note_missed(t: DateTime<Utc>, missed: &mut Vec<DateTime<Utc>>, more_missed: &mut bool) {
    if missed.len() < MISSED_LISTED {
        missed.push(t);
    } else {
        *more_missed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::super::cron::Cron;
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hourly() -> Schedule {
        Schedule::Cron { expr: "0 * * * *".into(), cron: Cron::parse("0 * * * *").unwrap() }
    }

    #[test]
    fn on_time_run_and_wait() {
        let s = hourly();
        let last = utc("2026-11-10T10:00:00Z");
        assert_eq!(
            due(&s, MissedPolicy::Skip, last, utc("2026-11-10T10:30:00Z")),
            Decision::Wait { until: Some(utc("2026-11-10T11:00:00Z")) }
        );
        assert_eq!(
            due(&s, MissedPolicy::Skip, last, utc("2026-11-10T11:02:00Z")),
            Decision::Run { scheduled_for: utc("2026-11-10T11:00:00Z") }
        );
    }

    #[test]
    fn many_missed_are_capped_but_flagged() {
        let s = Schedule::Cron { expr: "* * * * *".into(), cron: Cron::parse("* * * * *").unwrap() };
        let d = due(&s, MissedPolicy::RunOnce, utc("2026-11-01T00:00:00Z"), utc("2026-11-10T00:00:00Z"));
        match d {
            Decision::RunMissedOnce { missed, more_missed, through } => {
                assert_eq!(missed.len(), MISSED_LISTED);
                assert!(more_missed);
                assert_eq!(through, utc("2026-11-10T00:00:00Z"), "the latest minute, on time");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_ends_of_time_do_not_panic() {
        let s = hourly();
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        for policy in [MissedPolicy::Skip, MissedPolicy::RunOnce] {
            let _ = due(&s, policy, max, max);
            let _ = due(&s, policy, min, min);
            let _ = due(&s, policy, max, min);
            let _ = due(&s, policy, max - Duration::days(1), max);
        }
        assert_eq!(s.next_after(max), None);
        assert!(s.next_after(min).is_some());
    }
}
