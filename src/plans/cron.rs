//! Five-field cron expressions (`minute hour day-of-month month day-of-week`),
//! evaluated on a wall clock: the caller supplies the local time.
//!
//! Each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a
//! comma-separated list of these. Day of week is 0–7 (0 and 7 are Sunday).
//! As in Vixie cron, when both day-of-month and day-of-week are restricted a
//! day matches if either does.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

/// How far ahead [`Cron::next_after`] looks: 8 years covers any `29 2`
/// (leap day) expression across a skipped leap year such as 2100.
const HORIZON_DAYS: i64 = 8 * 366;

impl Cron {
    /// Parses an expression; the error names the field and what is wrong.
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "cron `{expr}` has {} fields, expected 5: minute hour day-of-month month day-of-week",
                fields.len()
            ));
        }
        let minutes = field(fields[0], "minute", 0, 59)?;
        let hours = field(fields[1], "hour", 0, 23)?;
        let days = field(fields[2], "day-of-month", 1, 31)?;
        let months = field(fields[3], "month", 1, 12)?;
        let mut weekdays = field(fields[4], "day-of-week", 0, 7)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted: fields[2] != "*",
            weekdays_restricted: fields[4] != "*",
        })
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first matching minute strictly after `after` (wall-clock time),
    /// or `None` if nothing matches within eight years (e.g. `0 0 31 2 *`).
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut date = after.date();
        let (mut from_hour, mut from_minute) = (after.hour(), after.minute() + 1);
        for _ in 0..HORIZON_DAYS {
            if self.day_matches(date) {
                if let Some(time) = self.first_time_from(from_hour, from_minute) {
                    return Some(date.and_time(time));
                }
            }
            date = date.checked_add_signed(Duration::days(1))?;
            (from_hour, from_minute) = (0, 0);
        }
        None
    }

    /// The first matching time of day at or after `hour:minute` (minute may be 60).
    fn first_time_from(&self, hour: u32, minute: u32) -> Option<NaiveTime> {
        for h in hour..24 {
            if self.hours & (1 << h) == 0 {
                continue;
            }
            let start = if h == hour { minute } else { 0 };
            if let Some(m) = (start..60).find(|m| self.minutes & (1 << m) != 0) {
                return NaiveTime::from_hms_opt(h, m, 0);
            }
        }
        None
    }
}

/// One field as a bit set of the allowed values.
fn field(text: &str, name: &str, min: u32, max: u32) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| format!("{name} field `{text}`: step `{s}` is not a positive number"))?;
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (number(a, text, name, min, max)?, number(b, text, name, min, max)?)
        } else {
            let n = number(range, text, name, min, max)?;
            (n, if step > 1 { max } else { n })
        };
        if lo > hi {
            return Err(format!("{name} field `{text}`: range `{range}` runs backwards"));
        }
        bits |= (lo..=hi).step_by(step as usize).fold(0, |acc, v| acc | (1u64 << v));
    }
    Ok(bits)
}

fn number(s: &str, text: &str, name: &str, min: u32, max: u32) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{name} field `{text}`: `{s}` is not a number from {min} to {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn fields_steps_lists_and_ranges() {
        let c = Cron::parse("*/15 9-17 * * 1-5").unwrap();
        // 2026-11-21 is a Saturday.
        assert_eq!(c.next_after(at("2026-11-20 17:50")), Some(at("2026-11-23 09:00")));
        assert_eq!(c.next_after(at("2026-11-23 09:00")), Some(at("2026-11-23 09:15")));
        let c = Cron::parse("0 0 1,15 * *").unwrap();
        assert_eq!(c.next_after(at("2026-11-01 00:00")), Some(at("2026-11-15 00:00")));
    }

    #[test]
    fn sunday_is_0_or_7_and_dom_dow_are_ored() {
        let a = Cron::parse("0 8 * * 0").unwrap();
        let b = Cron::parse("0 8 * * 7").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.next_after(at("2026-11-20 00:00")), Some(at("2026-11-22 08:00")));
        let c = Cron::parse("0 0 13 * 5").unwrap();
        assert_eq!(c.next_after(at("2026-11-01 00:00")), Some(at("2026-11-06 00:00")), "Friday before the 13th");
    }

    #[test]
    fn impossible_dates_end_the_search_and_leap_days_are_found() {
        assert_eq!(Cron::parse("0 0 31 2 *").unwrap().next_after(at("2026-01-01 00:00")), None);
        let leap = Cron::parse("0 0 29 2 *").unwrap();
        assert_eq!(leap.next_after(at("2026-01-01 00:00")), Some(at("2028-02-29 00:00")));
    }

    #[test]
    fn bad_fields_are_named() {
        for (expr, needle) in [
            ("0 2 * *", "4 fields"),
            ("60 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day-of-month"),
            ("* * * 13 *", "month"),
            ("* * * * 8", "day-of-week"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
            ("x * * * *", "minute"),
        ] {
            let e = Cron::parse(expr).unwrap_err();
            assert!(e.contains(needle), "{expr}: {e}");
        }
    }
}
