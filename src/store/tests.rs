//! Store behaviour on a real database in a temporary directory.

use super::*;
use crate::model::Listing;
use crate::store::{FrontierEntry, JobSpec, PageOutcome, PageResult};

fn spec() -> JobSpec {
    JobSpec {
        adapter: "sample-mall".into(),
        seeds: vec!["http://127.0.0.1:1/mall/".into()],
        max_pages: None,
        max_depth: None,
        sample: None,
        sample_seed: None,
        robots_override: None,
        plan_id: None,
        ..JobSpec::default()
    }
}

fn listing(item: &str, price: &str) -> Listing {
    Listing {
        platform: "sample-mall".into(),
        item_id: item.into(),
        url: format!("http://x/item/{item}"),
        price: Some(price.parse().unwrap()),
        ..Listing::default()
    }
}

fn fetched(seq: u64, url: &str, listings: Vec<Listing>, links: &[&str]) -> PageResult {
    PageResult {
        seq,
        url: url.into(),
        outcome: PageOutcome::Fetched {
            listings,
            shops: vec![],
            links: links.iter().map(|u| FrontierEntry { url: u.to_string(), depth: 1, kind: None }).collect(),
            candidates: vec![],
        },
        capture: None,
    }
}

#[test]
fn versions_are_kept_only_when_content_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (mut job, resumed) = store.begin_job(&spec(), 7).unwrap();
    assert!(!resumed);
    let frontier = store.frontier(&job.id).unwrap();
    let seed = &job.spec.seeds[0].clone();
    let mut a = listing("1", "10.00");
    store.commit_page(&mut job, &frontier, &fetched(0, seed, vec![a.clone()], &["http://x/2", "http://x/3"])).unwrap();
    // Same content again (a different capture time does not count as a change).
    a.captured_at = Some(chrono::Utc::now());
    store.commit_page(&mut job, &frontier, &fetched(1, "http://x/2", vec![a.clone()], &[])).unwrap();
    let b = listing("1", "9.50");
    store.commit_page(&mut job, &frontier, &fetched(2, "http://x/3", vec![b], &[])).unwrap();

    let versions = store.listing_versions("sample-mall", "1").unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].price.unwrap().to_string(), "10.00");
    assert_eq!(versions[1].price.unwrap().to_string(), "9.50");
    let latest: Vec<_> = store.latest_listings().collect::<Result<_, _>>().unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].price.unwrap().to_string(), "9.50");
    assert_eq!((job.counters.listings_new, job.counters.listings_unchanged, job.counters.listings_changed), (1, 1, 1));
}

#[test]
fn links_are_queued_once_and_a_page_commits_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (mut job, _) = store.begin_job(&spec(), 7).unwrap();
    let frontier = store.frontier(&job.id).unwrap();
    let seed = job.spec.seeds[0].clone();
    let page = fetched(0, &seed, vec![], &["http://x/a", "http://x/a", "http://x/b", &seed]);
    store.commit_page(&mut job, &frontier, &page).unwrap();
    store.commit_page(&mut job, &frontier, &page).unwrap(); // duplicate result: ignored
    assert_eq!(job.counters.pages, 1);
    let pending: Vec<_> = frontier.pending_from(0).map(|r| r.unwrap().1.url).collect();
    assert_eq!(pending, vec!["http://x/a", "http://x/b"]);
    assert!(frontier.is_done(&seed).unwrap());
    // The seen-set holds every URL admitted once: the seed (done) and the two links.
    assert_eq!((frontier.pending_len(), frontier.seen_len()), (2, 3));
}

#[test]
fn an_unfinished_job_resumes_and_a_finished_one_starts_a_new_run() {
    let dir = tempfile::tempdir().unwrap();
    let (first_id, counters) = {
        let store = Store::open(dir.path()).unwrap();
        let (mut job, _) = store.begin_job(&spec(), 7).unwrap();
        let frontier = store.frontier(&job.id).unwrap();
        let seed = job.spec.seeds[0].clone();
        store.commit_page(&mut job, &frontier, &fetched(0, &seed, vec![], &["http://x/a"])).unwrap();
        store.flush().unwrap();
        (job.id.clone(), job.counters.clone())
    };
    let store = Store::open(dir.path()).unwrap();
    let (mut job, resumed) = store.begin_job(&spec(), 99).unwrap();
    assert!(resumed);
    assert_eq!(job.id, first_id);
    assert_eq!(job.counters, counters);
    assert_eq!(job.sample_seed, 7, "the recorded seed is kept on resume");
    let frontier = store.frontier(&job.id).unwrap();
    let pending: Vec<_> = frontier.pending_from(0).map(|r| r.unwrap()).collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].1.url, "http://x/a");
    store.finish_job(&mut job).unwrap();
    let (next, resumed) = store.begin_job(&spec(), 99).unwrap();
    assert!(!resumed);
    assert_ne!(next.id, first_id);
}

#[test]
fn the_sample_draw_is_reproducible_from_its_seed() {
    let draw = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut s = spec();
        s.sample = Some(3);
        s.sample_seed = Some(seed);
        let (mut job, _) = store.begin_job(&s, 0).unwrap();
        let frontier = store.frontier(&job.id).unwrap();
        let candidates =
            (0..20).map(|i| FrontierEntry { url: format!("http://x/item/{i}"), depth: 1, kind: None }).collect();
        let page = PageResult {
            seq: 0,
            url: s.seeds[0].clone(),
            outcome: PageOutcome::Fetched { listings: vec![], shops: vec![], links: vec![], candidates },
            capture: None,
        };
        store.commit_page(&mut job, &frontier, &page).unwrap();
        assert_eq!(store.draw_sample(&mut job, &frontier).unwrap(), 3);
        assert_eq!(store.draw_sample(&mut job, &frontier).unwrap(), 0, "the sample size is a total");
        let mut urls: Vec<_> = frontier.pending_from(0).map(|r| r.unwrap().1.url).collect();
        urls.sort();
        urls
    };
    assert_eq!(draw(42), draw(42));
    assert_ne!(draw(42), draw(43));
}
