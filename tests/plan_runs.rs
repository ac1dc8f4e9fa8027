//! Plan runs end to end against the real sample marketplace on loopback: a
//! plan over both platforms crawls, draws a verifiable stratified sample,
//! flags only what it drew, holds its lease while it runs, records its
//! summary durably, and its report counts the drawn listings; the schedule
//! runs a due plan (decided at an explicit `now`, nothing sleeps); `plans
//! check` points at a broken file's line and column.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use chrono::{Duration, Utc};
use spotcheck::adapters::AdapterSet;
use spotcheck::config::{DataDir, Identity};
use spotcheck::findings::FindingStore;
use spotcheck::market::{self, Market, MarketConfig};
use spotcheck::plans::{Begin, Decision, Plan, PlanBook, PlanRunner, RunSummaries, RunnerOptions, Stage, Trigger};
use spotcheck::reports::{self, Scope};
use spotcheck::rules::RuleSet;
use spotcheck::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_spotcheck");

/// The marketplace on a free loopback port; its base URL.
async fn start_market(listings: u64) -> url::Url {
    let market = Arc::new(Market::new(MarketConfig { seed: 3, listings, count_hits: false }));
    let (addr, _server) = market::serve(market, ([127, 0, 0, 1], 0).into()).await.unwrap();
    url::Url::parse(&format!("http://{addr}/")).unwrap()
}

fn plan_text(id: &str, base: &url::Url, size: usize, schedule: &str) -> String {
    format!(
        r#"id = "{id}"
title = "双11 样品市场网络抽查"
platforms = ["sample-mall", "sample-duo"]
seed_urls = ["{base}mall/", "{base}duo/"]
campaign = "双11"
schedule = "{schedule}"
missed = "run_once"

[sample]
size = {size}
weighting = "risk"
"#
    )
}

fn adapter_names() -> Vec<String> {
    AdapterSet::builtin().names()
}

fn save(data: &DataDir, id: &str, text: &str) -> Plan {
    let names = adapter_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    PlanBook::open(data).save(id, text, &names).unwrap_or_else(|p| panic!("{p:#?}"))
}

fn runner(store: &Store, data: &DataDir) -> PlanRunner {
    let network = spotcheck::fetch::NetworkPolicy::allowing(["127.0.0.1".parse().unwrap()]);
    let options = RunnerOptions { concurrency: 8, politeness_off: true, network, ..RunnerOptions::default() };
    PlanRunner::new(store.clone(), data.clone(), Identity::default(), AdapterSet::builtin(), options).unwrap()
}

/// A data directory with one plan over a served marketplace, its store and a runner.
struct Station {
    dir: tempfile::TempDir,
    data: DataDir,
    plan: Plan,
    store: Store,
    runner: PlanRunner,
}

async fn station(listings: u64, id: &str, size: usize, schedule: &str) -> Station {
    let base = start_market(listings).await;
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let plan = save(&data, id, &plan_text(id, &base, size, schedule));
    let store = Store::open(&data.db()).unwrap();
    let runner = runner(&store, &data);
    Station { dir, data, plan, store, runner }
}

fn cli(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
        .args(["--data-dir", data.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_run_by_hand_draws_a_verifiable_sample_and_flags_only_what_it_drew() {
    let Station { dir, data, plan, store, runner } = station(240, "double11", 20, "manual").await;

    let ticket = runner.start_by_hand(&plan, "王伟").unwrap().unwrap();
    let held = runner.run_now(&plan, "李娜").unwrap().expect_err("the first run holds the lease");
    assert_eq!((held.run_id, held.holder.as_str()), (ticket.run_id, "王伟"));
    let run_id = ticket.run_id;
    let summary = runner.run_ticket(plan.clone(), ticket).await.unwrap();

    assert!(summary.succeeded(), "{summary:#?}");
    assert_eq!(summary.trigger, Trigger::Hand);
    assert_eq!(summary.started_by, "王伟");
    assert_eq!(summary.jobs.len(), 2, "one job per platform");
    for job in &summary.jobs {
        let job = store.job(job).unwrap();
        assert_eq!(job.spec.plan_id.as_deref(), Some("double11"));
        assert!(job.counters.listings() > 0, "{job:?}");
    }
    assert_eq!(summary.drawn, 20);
    assert!(!summary.census);
    assert!(summary.candidates > 100, "{}", summary.candidates);

    // The draw files verify, and the draw is spread over strata of both platforms.
    let draw_dir = summary.draw_dir.clone().unwrap();
    assert_eq!(draw_dir, dir.path().join("plans/runs/double11").join(run_id.to_string()));
    let drawn = spotcheck::sampling::verify_draw_files(&draw_dir).unwrap();
    assert_eq!(drawn.total, 20);
    assert_eq!(drawn.seed_hex(), summary.seed.clone().unwrap());
    let strata: BTreeSet<_> = drawn.items().map(|(s, _)| (s.class.clone(), s.platform.clone())).collect();
    let platforms: BTreeSet<_> = strata.iter().map(|(_, p)| p.as_str()).collect();
    assert!(strata.len() >= 4, "{strata:?}");
    assert_eq!(platforms, BTreeSet::from(["sample-duo", "sample-mall"]));
    let keys: BTreeSet<String> = summary.drawn_keys.iter().cloned().collect();
    assert_eq!(keys.len(), 20);
    assert_eq!(keys, drawn.items().map(|(_, i)| i.key.clone()).collect());

    // Findings: recorded for drawn listings only.
    let findings = FindingStore::open(&store).unwrap();
    let recorded: Vec<_> = findings.all().map(Result::unwrap).collect();
    assert_eq!(recorded.len() as u64, summary.findings_new);
    assert!(!recorded.is_empty(), "240 listings with planted violations: a sample of 20 finds some");
    for f in &recorded {
        assert!(keys.contains(&f.listing), "finding on undrawn listing {}", f.listing);
    }

    // The run's report samples the drawn listings, not everything crawled.
    let rules = RuleSet::builtin().unwrap();
    let report = reports::build(&store, &findings, &Scope::Run(run_id), &rules.reference.catalogue).unwrap();
    assert_eq!(report.sampled, 20);
    let all = reports::build(&store, &findings, &Scope::All, &rules.reference.catalogue).unwrap();
    assert!(all.sampled > 100);
    let campaign = reports::build(&store, &findings, &Scope::Campaign("双11".into()), &rules.reference.catalogue);
    assert_eq!(campaign.unwrap().sampled, 20);

    assert_eq!(runner.summary(run_id).unwrap().as_ref(), Some(&summary));
    assert!(runner.live().is_empty());
    assert!(runner.scheduler().lease("double11").unwrap().is_none(), "the lease is released");
    drop(runner);
    drop(findings);
    drop(store);

    // The binary reads what the run left: its draw, its report, its history.
    let out = cli(dir.path(), &["sample", "verify", draw_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = cli(dir.path(), &["report", "--run", &run_id.to_string(), "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["sampled"], 20);
    assert_eq!(json["scope"]["kind"], "run");
    let out = cli(dir.path(), &["plans", "history", "double11"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(&format!("run {run_id}  succeeded")), "{text}");
    let out = cli(dir.path(), &["plans", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("double11") && text.contains("manual") && text.contains("succeeded"), "{text}");

    // The summary is durable.
    let store = Store::open(&data.db()).unwrap();
    let reread = RunSummaries::open(store.db()).unwrap().get(run_id).unwrap();
    assert_eq!(reread.as_ref(), Some(&summary));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_answers_at_once_shows_the_run_live_and_holds_the_lease() {
    let Station { dir: _dir, plan, runner, .. } = station(120, "quick", 6, "manual").await;

    let run_id = runner.run_now(&plan, "王伟").unwrap().unwrap();
    let live = runner.live();
    assert_eq!(live.len(), 1);
    assert_eq!((live[0].plan.as_str(), live[0].run_id), ("quick", run_id));
    assert!(matches!(live[0].stage, Stage::Gathering | Stage::Drawing | Stage::Flagging));
    let held = runner.run_now(&plan, "李娜").unwrap().expect_err("one run of a plan at a time");
    assert_eq!(held.run_id, run_id);

    let summary = runner.wait(run_id).await.unwrap().unwrap();
    assert!(summary.succeeded(), "{summary:#?}");
    assert_eq!(summary.drawn, 6);
    assert!(runner.live().is_empty());
    assert!(runner.wait(424_242).await.unwrap().is_none(), "an unknown run is not waited for");
    // The next run by hand gets the lease again.
    let next = runner.run_now(&plan, "李娜").unwrap().unwrap();
    assert!(next > run_id);
    let again = runner.wait(next).await.unwrap().unwrap();
    assert!(again.succeeded(), "{again:#?}");
    assert_eq!(again.drawn, 6);
    assert_eq!(again.candidates, summary.candidates, "a re-crawl of an unchanged site draws from all of it again");
    assert_ne!(again.jobs, summary.jobs, "each run crawls in a job run of its own");
    assert_eq!(runner.summaries("quick").unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_runs_a_due_plan_once_for_its_missed_minutes_as_a_census() {
    let Station { dir, runner, .. } = station(80, "every-minute", 100_000, "* * * * *").await;
    std::fs::write(dir.path().join("plans/broken.toml"), "id = \n").unwrap();
    let book = runner.book();

    let t0 = Utc::now();
    let first = runner.round(&book, t0);
    assert_eq!(first.len(), 1, "the broken plan is skipped, not fatal");
    assert!(matches!(first[0].begin, Begin::Waiting { .. }), "first seen: enrolled");
    assert!(first.into_iter().all(|s| s.run.is_none()));

    let later = t0 + Duration::minutes(3);
    let mut second = runner.round(&book, later);
    assert_eq!(second.len(), 1);
    let start = second.remove(0);
    assert!(matches!(&start.begin, Begin::Started(t) if matches!(t.decision, Some(Decision::RunMissedOnce { .. }))));
    let summary = start.run.unwrap().await.unwrap().unwrap();
    assert!(summary.succeeded(), "{summary:#?}");
    assert!(matches!(summary.trigger, Trigger::Schedule { decision: Decision::RunMissedOnce { .. } }));
    assert!(summary.started_by.contains("pid"), "{}", summary.started_by);
    assert!(summary.census, "size 100000 of {} candidates", summary.candidates);
    assert_eq!(summary.drawn, summary.candidates);
    spotcheck::sampling::verify_draw_files(summary.draw_dir.as_deref().unwrap()).unwrap();

    // Accounted for: the same instant decides nothing new.
    let third = runner.round(&book, later);
    assert!(matches!(third[0].begin, Begin::Waiting { .. }));
    assert!(third[0].run.is_none());
}

#[test]
fn plans_check_points_at_a_broken_file_and_save_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let good = plan_text("good", &url::Url::parse("http://127.0.0.1:1/").unwrap(), 5, "0 2 * * *");
    save(&data, "good", &good);
    let broken = good.replace("id = \"good\"", "id = \"broken\"").replace("\"0 2 * * *\"", "\"0 25 * * *\"");
    std::fs::write(dir.path().join("plans/broken.toml"), broken).unwrap();

    let out = cli(dir.path(), &["plans", "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("broken.toml:6:12:"), "{text}");
    assert!(text.contains("ok good"), "{text}");
    let out = cli(dir.path(), &["plans", "run", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no plan `nope`"));
    let out = cli(dir.path(), &["plans", "run", "broken"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.toml:6:12"));

    let names = adapter_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let book = PlanBook::open(&data);
    let refused = |id: &str, text: &str| book.save(id, text, &names).unwrap_err();
    assert!(refused("../etc", &good)[0].message.contains("bad plan id"));
    assert!(refused("other", &good)[0].message.contains("does not match"));
    assert!(refused("good", &"#".repeat(70_000))[0].message.contains("limit"));
    assert!(!refused("good", "id = [").is_empty());
    assert_eq!(book.source("good").as_deref(), Some(good.as_str()), "a refused save leaves the file alone");
    assert!(book.get("missing", &names).is_none());
    let listed: Vec<_> = book.list(&names).into_iter().map(|(f, r)| (f, r.is_ok())).collect();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].0.ends_with("broken.toml") && !listed[0].1 && listed[1].1);
}

/// A live run lists its crawl jobs by the id `Store::job_id_for` predicts
/// before the crawl begins them: it must be the id `begin_job` then gives.
#[test]
fn the_predicted_job_id_is_the_one_the_crawl_begins() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let spec = spotcheck::store::JobSpec {
        adapter: "sample-mall".into(),
        seeds: vec!["http://127.0.0.1:1/mall/".into()],
        plan_id: Some("p".into()),
        ..Default::default()
    };
    let predicted = store.job_id_for(&spec).unwrap();
    let (mut job, resumed) = store.begin_job(&spec, 1).unwrap();
    assert_eq!((predicted.as_str(), resumed), (job.id.as_str(), false));
    assert_eq!(store.job_id_for(&spec).unwrap(), job.id, "an unfinished run is resumed");
    store.finish_job(&mut job).unwrap();
    let next = store.job_id_for(&spec).unwrap();
    assert_ne!(next, job.id);
    assert_eq!(store.begin_job(&spec, 1).unwrap().0.id, next);
}
