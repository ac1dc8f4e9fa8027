//! Crawl plans and their scheduler (issue 8): plan files with every problem
//! reported at its line, cron times on the Asia/Shanghai clock, missed runs
//! across a downtime under both policies, decisions recorded once across a
//! restart (a real store), and one lease per plan under concurrent acquirers.
//! Time is always an explicit `now`; nothing sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};
use spotcheck::plans::{
    compile, due, Begin, Decision, MissedPolicy, Plan, RunEvent, RunOutcome, Scheduler, SchedulerError,
};
use spotcheck::sampling::Weighting;
use spotcheck::store::Store;

const ADAPTERS: &[&str] = &["sample-market", "taobao"];

const GOOD: &str = r#"
id = "toys-ccc-double11"
title = "双11 儿童玩具 CCC 网络抽查"
classes = ["0901 电玩具", "塑胶玩具"]
platforms = ["sample-market"]
keywords = ["儿童玩具", "电动玩具车"]
seed_urls = ["https://market.example/list?c=toys"]
campaign = "双11"
schedule = "0 2 * * *"
missed = "run_once"

[sample]
size = 50
weighting = "risk"

[politeness]
rate = 0.5
concurrency = 2
"#;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn plan(src: &str) -> Plan {
    compile(Path::new("plans/p.toml"), src, ADAPTERS).unwrap_or_else(|p| panic!("{p:#?}"))
}

fn hourly(policy: &str) -> Plan {
    plan(&GOOD.replace("0 2 * * *", "0 * * * *").replace("\"run_once\"", &format!("\"{policy}\"")))
}

#[test]
fn a_good_plan_compiles_and_shows_its_next_runs() {
    let p = plan(GOOD);
    assert_eq!(p.id, "toys-ccc-double11");
    assert_eq!(p.platforms, ["sample-market"]);
    assert_eq!(p.sample_size, 50);
    assert_eq!(p.weighting, Weighting::Risk);
    assert_eq!(p.campaign.as_deref(), Some("双11"));
    assert_eq!(p.missed, MissedPolicy::RunOnce);
    assert_eq!(p.politeness.rate, Some(0.5));
    assert_eq!(p.politeness.concurrency, Some(2));
    assert_eq!(p.seed_urls[0].as_str(), "https://market.example/list?c=toys");
    // 02:00 in Shanghai is 18:00 UTC the day before.
    assert_eq!(
        p.schedule.next_n(utc("2026-11-10T12:00:00Z"), 3),
        [utc("2026-11-10T18:00:00Z"), utc("2026-11-11T18:00:00Z"), utc("2026-11-12T18:00:00Z")]
    );
}

#[test]
fn a_plan_with_many_mistakes_reports_all_of_them_with_lines() {
    let src = r#"id = "Toys!"
title = "t"
platforms = []
seed_urls = ["not a url", "ftp://x.example/"]
schedule = "0 25 * * *"
missed = "later"

[sample]
size = 0
weighting = "heavy"

[politeness]
rate = -1.0
concurrency = 0
"#;
    let problems = compile(Path::new("plans/bad.toml"), src, ADAPTERS).unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let expect = [
        ("plans/bad.toml:1:6:", "bad plan id"),
        ("plans/bad.toml:3:13:", "`platforms` is empty"),
        ("plans/bad.toml:4:14:", "bad seed URL `not a url`"),
        ("plans/bad.toml:4:27:", "not http or https"),
        ("plans/bad.toml:5:12:", "hour field"),
        ("plans/bad.toml:6:10:", "unknown missed-run policy `later`"),
        ("plans/bad.toml:9:8:", "sample size 0"),
        ("plans/bad.toml:10:13:", "unknown weighting `heavy`"),
        ("plans/bad.toml:13:8:", "politeness rate -1"),
        ("plans/bad.toml:14:15:", "politeness concurrency 0"),
    ];
    for (at, what) in expect {
        assert!(text.iter().any(|t| t.starts_with(at) && t.contains(what)), "missing {at} {what} in {text:#?}");
    }
    assert_eq!(text.len(), expect.len(), "{text:#?}");
}

#[test]
fn unknown_fields_and_platforms_are_reported_at_their_lines() {
    let src = GOOD
        .replace("campaign = \"双11\"", "campaign = \"双11\"\ncampain = \"3·15\"")
        .replace("platforms = [\"sample-market\"]", "platforms = [\"sample-market\", \"jd\"]");
    let problems = compile(Path::new("p.toml"), &src, ADAPTERS).unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|t| t.starts_with("p.toml:9:") && t.contains("campain")), "{text:#?}");
    // A shape error stops the header; the platform check runs on a file that deserializes.
    let src = GOOD.replace("platforms = [\"sample-market\"]", "platforms = [\"sample-market\", \"jd\"]");
    let problems = compile(Path::new("p.toml"), &src, ADAPTERS).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 5);
    assert!(problems[0].message.contains("unknown platform `jd`"), "{}", problems[0]);
}

#[test]
fn shape_errors_in_one_table_hide_no_other_problem() {
    let src = GOOD
        .replace("campaign = \"双11\"", "campain = \"双11\"")
        .replace("size = 50", "size = \"fifty\"")
        .replace("concurrency = 2", "concurrency = 0");
    let problems = compile(Path::new("p.toml"), &src, ADAPTERS).unwrap_err();
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines.len(), 3, "{problems:#?}");
    for (line, what) in [(8, "campain"), (13, "string"), (18, "concurrency 0")] {
        assert!(problems.iter().any(|p| p.line == line && p.message.contains(what)), "{line} {what}: {problems:#?}");
    }
}

#[test]
fn manual_plans_never_fall_due_and_impossible_crons_are_rejected() {
    let p = plan(&GOOD.replace("0 2 * * *", "manual"));
    assert_eq!(
        due(&p.schedule, p.missed, utc("2026-01-01T00:00:00Z"), utc("2026-11-11T00:00:00Z")),
        Decision::Wait { until: None }
    );
    let problems = compile(Path::new("p.toml"), &GOOD.replace("0 2 * * *", "0 0 30 2 *"), ADAPTERS).unwrap_err();
    assert!(problems[0].message.contains("never matches"), "{}", problems[0]);
}

#[test]
fn missed_runs_across_a_downtime_follow_the_policy() {
    // Hourly; last accounted 10:00 UTC; down until 13:20 → 11:00, 12:00, 13:00 missed.
    let last = utc("2026-11-10T10:00:00Z");
    let now = utc("2026-11-10T13:20:00Z");
    let missed = vec![utc("2026-11-10T11:00:00Z"), utc("2026-11-10T12:00:00Z"), utc("2026-11-10T13:00:00Z")];
    let skip = hourly("skip");
    assert_eq!(
        due(&skip.schedule, skip.missed, last, now),
        Decision::SkipMissed {
            missed: missed.clone(),
            more_missed: false,
            through: now,
            next: Some(utc("2026-11-10T14:00:00Z"))
        }
    );
    let once = hourly("run_once");
    assert_eq!(
        due(&once.schedule, once.missed, last, now),
        Decision::RunMissedOnce { missed: missed.clone(), more_missed: false, through: now }
    );
    // Back up at 13:05: 13:00 is on time; 11:00 and 12:00 were missed.
    let now = utc("2026-11-10T13:05:00Z");
    let early = missed[..2].to_vec();
    let d = due(&skip.schedule, skip.missed, last, now);
    assert_eq!(
        d,
        Decision::SkipMissed {
            missed: early.clone(),
            more_missed: false,
            through: utc("2026-11-10T12:59:59Z"),
            next: Some(utc("2026-11-10T13:00:00Z"))
        }
    );
    // Once the skip is recorded, the on-time run is due.
    assert_eq!(
        due(&skip.schedule, skip.missed, d.accounted_through().unwrap(), now),
        Decision::Run { scheduled_for: utc("2026-11-10T13:00:00Z") }
    );
    assert_eq!(
        due(&once.schedule, once.missed, last, now),
        Decision::RunMissedOnce { missed: early, more_missed: false, through: utc("2026-11-10T13:00:00Z") }
    );
}

#[test]
fn a_manual_plan_runs_by_hand_one_at_a_time_and_maps_to_a_sample_plan() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = Scheduler::open(store.db()).unwrap();
    let p = plan(&GOOD.replace("0 2 * * *", "manual"));
    let now = utc("2026-11-10T10:00:00Z");
    let ttl = Duration::hours(1);
    assert_eq!(s.begin(&p, "a", now, ttl).unwrap(), Begin::Waiting { until: None });
    let ticket = s.start_by_hand(&p, "staff-1", now, ttl).unwrap().unwrap();
    assert_eq!(ticket.decision, None);
    let held = s.start_by_hand(&p, "staff-2", now + Duration::minutes(1), ttl).unwrap().unwrap_err();
    assert_eq!(held.holder, "staff-1");
    s.finish(&ticket, RunOutcome::Succeeded { job: None }, now + Duration::minutes(9)).unwrap();
    assert!(s.start_by_hand(&p, "staff-2", now + Duration::minutes(10), ttl).unwrap().is_ok());
    let h = s.history(&p.id).unwrap();
    assert_eq!(count(&h, |e| matches!(e, RunEvent::StartedByHand { .. })), 2);

    let sample = p.sample_plan(spotcheck::sampling::Seed::from_u64(7));
    assert_eq!((sample.size, sample.weighting), (50, Weighting::Risk));
}

fn count(history: &[spotcheck::plans::RunRecord], f: impl Fn(&RunEvent) -> bool) -> usize {
    history.iter().filter(|r| f(&r.event)).count()
}

#[test]
fn a_skip_is_decided_and_recorded_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let p = hourly("skip");
    let ttl = Duration::hours(2);
    let t0 = utc("2026-11-10T10:30:00Z");
    {
        let store = Store::open(dir.path()).unwrap();
        let s = Scheduler::open(store.db()).unwrap();
        assert_eq!(s.begin(&p, "a", t0, ttl).unwrap(), Begin::Waiting { until: Some(utc("2026-11-10T11:00:00Z")) });
        let Begin::Started(ticket) = s.begin(&p, "a", utc("2026-11-10T11:01:00Z"), ttl).unwrap() else { panic!() };
        s.finish(&ticket, RunOutcome::Succeeded { job: Some("job-1".into()) }, utc("2026-11-10T11:20:00Z")).unwrap();
    }
    // Down from 11:20 until 14:30: 12:00, 13:00 and 14:00 missed.
    let after = utc("2026-11-10T14:30:00Z");
    {
        let store = Store::open(dir.path()).unwrap();
        let s = Scheduler::open(store.db()).unwrap();
        let Begin::Skipped(Decision::SkipMissed { missed, .. }) = s.begin(&p, "b", after, ttl).unwrap() else {
            panic!()
        };
        assert_eq!(missed.len(), 3);
    }
    let store = Store::open(dir.path()).unwrap();
    let s = Scheduler::open(store.db()).unwrap();
    assert_eq!(s.begin(&p, "c", after, ttl).unwrap(), Begin::Waiting { until: Some(utc("2026-11-10T15:00:00Z")) });
    let h = s.history(&p.id).unwrap();
    assert_eq!(count(&h, |e| matches!(e, RunEvent::Enrolled)), 1);
    assert_eq!(count(&h, |e| matches!(e, RunEvent::Skipped { .. })), 1);
    assert_eq!(count(&h, |e| matches!(e, RunEvent::Started { .. })), 1);
    assert_eq!(count(&h, |e| matches!(e, RunEvent::Finished { .. })), 1);
    assert!(h.windows(2).all(|w| w[0].seq < w[1].seq), "history is in order");
    assert_eq!(s.lease(&p.id).unwrap(), None, "every lease was released");
}

#[test]
fn run_once_runs_the_missed_ones_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let p = hourly("run_once");
    let ttl = Duration::hours(2);
    let after = utc("2026-11-10T14:30:00Z");
    {
        let store = Store::open(dir.path()).unwrap();
        let s = Scheduler::open(store.db()).unwrap();
        s.begin(&p, "a", utc("2026-11-10T10:30:00Z"), ttl).unwrap();
    }
    {
        let store = Store::open(dir.path()).unwrap();
        let s = Scheduler::open(store.db()).unwrap();
        let Begin::Started(ticket) = s.begin(&p, "b", after, ttl).unwrap() else { panic!() };
        assert!(matches!(&ticket.decision, Some(Decision::RunMissedOnce { missed, .. }) if missed.len() == 4));
        // While it runs, nobody else starts the plan.
        assert!(
            matches!(s.begin(&p, "c", after + Duration::minutes(1), ttl).unwrap(), Begin::Busy(l) if l.holder == "b")
        );
        s.finish(&ticket, RunOutcome::Failed { error: "platform down".into() }, after + Duration::minutes(5)).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let s = Scheduler::open(store.db()).unwrap();
    assert!(matches!(s.begin(&p, "c", after + Duration::minutes(6), ttl).unwrap(), Begin::Waiting { .. }));
    let h = s.history(&p.id).unwrap();
    assert_eq!(count(&h, |e| matches!(e, RunEvent::Started { .. })), 1);
    assert_eq!(count(&h, |e| matches!(e, RunEvent::Finished { outcome: RunOutcome::Failed { .. }, .. })), 1);
}

#[test]
fn of_concurrent_acquirers_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = Scheduler::open(store.db()).unwrap();
    let now = utc("2026-11-10T10:00:00Z");
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                s.acquire("plan-x", &format!("worker-{i}"), now, Duration::minutes(30)).unwrap()
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:#?}");
    for lost in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(&lost, &winners[0], "losers see the winner's lease");
    }
}

#[test]
fn an_expired_lease_is_taken_over_and_its_holder_learns_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = Scheduler::open(store.db()).unwrap();
    let p = hourly("skip");
    let ttl = Duration::minutes(30);
    s.begin(&p, "a", utc("2026-11-10T10:30:00Z"), ttl).unwrap();
    let Begin::Started(crashed) = s.begin(&p, "a", utc("2026-11-10T11:00:00Z"), ttl).unwrap() else { panic!() };
    // Before expiry the plan is busy; after, another holder takes it.
    assert!(matches!(s.begin(&p, "b", utc("2026-11-10T11:29:59Z"), ttl).unwrap(), Begin::Busy(_)));
    let taken = s.acquire(&p.id, "b", utc("2026-11-10T11:30:00Z"), ttl).unwrap().unwrap();
    assert_eq!(taken.holder, "b");
    let h = s.history(&p.id).unwrap();
    assert!(
        matches!(&h.last().unwrap().event, RunEvent::LeaseTakenOver { from, by } if from.holder == "a" && by == "b")
    );
    // The old holder's outcome is still recorded, but it is told it lost the lease.
    let err = s.finish(&crashed, RunOutcome::Succeeded { job: None }, utc("2026-11-10T11:40:00Z")).unwrap_err();
    assert!(matches!(err, SchedulerError::LeaseLost { .. }), "{err}");
    assert_eq!(s.lease(&p.id).unwrap(), Some(taken.clone()), "the new holder's lease stands");
    s.release(&p.id, &taken).unwrap();
    assert_eq!(s.lease(&p.id).unwrap(), None);
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use spotcheck::plans::Cron;

    fn cron_field() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_string()),
            (0u32..70).prop_map(|n| n.to_string()),
            (0u32..40, 0u32..40).prop_map(|(a, b)| format!("{a}-{b}")),
            (0u32..20).prop_map(|n| format!("*/{n}")),
            (0u32..40, 0u32..40).prop_map(|(a, b)| format!("{a},{b}")),
            "[-*/,0-9a-z]{0,6}",
        ]
    }

    proptest! {
        #[test]
        fn any_plan_text_gives_a_plan_or_problems_never_a_panic(src in "\\PC{0,300}") {
            let _ = compile(Path::new("p.toml"), &src, ADAPTERS);
        }

        #[test]
        fn cron_times_are_later_matching_minutes_on_the_shanghai_clock(
            fields in proptest::collection::vec(cron_field(), 5),
            secs in 0i64..4_000_000_000,
        ) {
            let expr = fields.join(" ");
            if let Ok(cron) = Cron::parse(&expr) {
                let schedule = spotcheck::plans::Schedule::Cron { expr, cron };
                let after = DateTime::from_timestamp(secs, 0).unwrap();
                let times = schedule.next_n(after, 3);
                prop_assert!(times.windows(2).all(|w| w[0] < w[1]));
                if let Some(first) = times.first() {
                    prop_assert!(*first > after);
                    prop_assert_eq!(first.timestamp() % 60, 0);
                    prop_assert!(*first - after <= Duration::days(8 * 366 + 1));
                }
            }
        }
    }
}
