//! When a plan runs: a cron expression read on the Asia/Shanghai wall clock,
//! or only by hand. Instants in and out are UTC.

use chrono::{DateTime, Duration, FixedOffset, Offset, Utc};

use super::cron::Cron;

/// Asia/Shanghai as a fixed UTC+08:00 offset. This is exact for every instant
/// since 1991: China last observed daylight saving time in the summer of 1991
/// and the IANA tz database has Asia/Shanghai at +08:00 with no transitions
/// after 1991-09-15. Plans are written for the present, so no time a plan can
/// be scheduled at falls before that.
pub fn shanghai() -> FixedOffset {
    // 8 × 3600 s is within ±86 400 s, so `east_opt` cannot fail; UTC is the
    // harmless fallback the type system asks for.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// A plan's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Runs at each minute the expression matches on the Shanghai clock.
    Cron { expr: String, cron: Cron },
    /// Runs only when staff start it.
    Manual,
}

impl Schedule {
    /// The first run time strictly after `after`; `None` for a manual plan or
    /// an expression that never matches.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Manual => None,
            Schedule::Cron { cron, .. } => {
                // Shifted by hand with checked arithmetic: chrono's
                // `naive_local` panics at the ends of its range.
                let offset = Duration::seconds(i64::from(shanghai().local_minus_utc()));
                let local = after.naive_utc().checked_add_signed(offset)?;
                let next = cron.next_after(local)?;
                Some(next.checked_sub_signed(offset)?.and_utc())
            }
        }
    }

    /// The next `n` run times after `after`, ascending (fewer if the schedule ends).
    pub fn next_n(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n.min(1024));
        let mut t = after;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    /// `manual` or the cron expression, as written in the plan.
    pub fn as_str(&self) -> &str {
        match self {
            Schedule::Manual => "manual",
            Schedule::Cron { expr, .. } => expr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cron(expr: &str) -> Schedule {
        Schedule::Cron { expr: expr.into(), cron: Cron::parse(expr).unwrap() }
    }

    #[test]
    fn two_in_the_morning_in_shanghai_is_18_utc_the_day_before() {
        let s = cron("0 2 * * *");
        assert_eq!(s.next_after(utc("2026-11-10T12:00:00Z")), Some(utc("2026-11-10T18:00:00Z")));
        assert_eq!(s.next_after(utc("2026-11-10T18:00:00Z")), Some(utc("2026-11-11T18:00:00Z")));
    }

    #[test]
    fn the_shanghai_date_decides_the_day_of_week() {
        // Monday 01:00 in Shanghai is Sunday 17:00 UTC.
        let s = cron("0 1 * * 1");
        assert_eq!(s.next_after(utc("2026-11-22T00:00:00Z")), Some(utc("2026-11-22T17:00:00Z")));
    }

    #[test]
    fn next_n_is_ascending_and_manual_has_none() {
        let s = cron("30 8,20 * * *");
        let times = s.next_n(utc("2026-11-10T00:00:00Z"), 4);
        assert_eq!(
            times,
            vec![
                utc("2026-11-10T00:30:00Z"),
                utc("2026-11-10T12:30:00Z"),
                utc("2026-11-11T00:30:00Z"),
                utc("2026-11-11T12:30:00Z"),
            ]
        );
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert!(Schedule::Manual.next_n(utc("2026-11-10T00:00:00Z"), 3).is_empty());
    }
}
