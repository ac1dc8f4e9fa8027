//! From a confirmed case to a verified removal, in process against the
//! sample marketplace served on 127.0.0.1:0: the case's bundle and notices
//! (the notice carries the bundle's SHA-256), issuing again issues nothing
//! new, and verification rounds that re-crawl the listings — still on sale
//! after a reported delisting is "not effective" with a fresh capture in the
//! ledger, a passed deadline is flagged overdue once, a dispute is recorded.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::sync::Arc;

use chrono::{Duration, Utc};
use spotcheck::cases::notify::{NoticeTerms, Notifier};
use spotcheck::cases::{self, merge, CaseStore, RoutingTable, Triage};
use spotcheck::config::{DataDir, Identity};
use spotcheck::fetch::{FetchConfig, Fetcher, Politeness};
use spotcheck::findings::FindingStore;
use spotcheck::market::{Market, MarketConfig};
use spotcheck::notices::store::DispositionReport;
use spotcheck::notices::{ApiKeys, Disposition, Notice, NoticeStore, PlatformRegistry};
use spotcheck::sealing::Station;
use spotcheck::store::Store;
use spotcheck::verification::{FollowUps, ListingState, Reason, Verdict, Verifier};

/// A crawled, flagged market with a few confirmed cases, its market still served.
struct Loop {
    _tmp: tempfile::TempDir,
    data: DataDir,
    store: Store,
    identity: Identity,
    market: Arc<Market>,
    _server: tokio::task::JoinHandle<()>,
    cases: Vec<String>,
}

async fn confirmed_cases(n: usize) -> Loop {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("data"));
    let identity = Identity { station: "test-station".into(), operators: vec!["王伟".into(), "李娜".into()] };
    let market = Arc::new(Market::new(MarketConfig { seed: 7, listings: 400, count_hits: false }));
    let store = Store::open(&data.db()).unwrap();
    let blobs = evidence::BlobStore::open(data.blobs()).unwrap();
    let (base, server, _) =
        spotcheck::cli::demo::crawl_market(&market, &store, &blobs, 8, true, "test", &identity).await.unwrap();
    let listings: Vec<_> = store.latest_listings().collect::<Result<_, _>>().unwrap();
    let shops: Vec<_> = store.latest_shops().collect::<Result<_, _>>().unwrap();
    let rules = spotcheck::rules::RuleSet::builtin().unwrap();
    let scored = spotcheck::rules::score::score(&rules, &market, &base, &listings, &shops).unwrap();
    FindingStore::open(&store).unwrap().record(&scored.found).unwrap();
    let triage =
        Triage::open(&store, RoutingTable::builtin().unwrap(), merge::window_days(merge::DEFAULT_WINDOW_DAYS)).unwrap();
    let mut cases = Vec::new();
    let ids: Vec<String> = triage.findings.all().map(|f| f.unwrap().id).collect();
    for id in ids {
        let done = triage.confirm(&id, "王伟", "复核属实", Utc::now()).unwrap();
        if !cases.contains(&done.case.case) {
            cases.push(done.case.case);
        }
        if cases.len() == n {
            break;
        }
    }
    assert_eq!(cases.len(), n, "the market has fewer than {n} cases");
    Loop { _tmp: tmp, data, store, identity, market, _server: server, cases }
}

impl Loop {
    async fn issue(&self, case: &str, deadline: Duration) -> spotcheck::cases::notify::Issued {
        let station = Station::open(&self.data, &self.store, &self.identity).unwrap();
        let notifier = Notifier {
            store: &self.store,
            station: &station,
            cases: &CaseStore::open(&self.store).unwrap(),
            findings: &FindingStore::open(&self.store).unwrap(),
            notices: &NoticeStore::open(self.store.db()).unwrap(),
            actor: cases::actor(&self.identity),
        };
        let terms = NoticeTerms { deadline, ..NoticeTerms::default() };
        notifier.issue_notices(case, &terms, &self.data.bundles().join("cases"), None, Utc::now()).await.unwrap()
    }

    fn verifier(&self) -> Verifier {
        let fetch = FetchConfig {
            default_politeness: Politeness::unlimited(),
            network: spotcheck::fetch::NetworkPolicy::allowing(["127.0.0.1".parse().unwrap()]),
            ..FetchConfig::default()
        };
        Verifier {
            store: self.store.clone(),
            notices: NoticeStore::open(self.store.db()).unwrap(),
            cases: CaseStore::open(&self.store).unwrap(),
            followups: FollowUps::open(self.store.db()).unwrap(),
            fetcher: Fetcher::new(fetch, evidence::BlobStore::open(self.data.blobs()).unwrap()).unwrap(),
            adapters: spotcheck::adapters::AdapterSet::builtin(),
            relist_after: Duration::days(7),
            actor: "verifier".into(),
        }
    }

    /// Reports `disposition` for `notice` as its platform would, through a real key.
    fn report(&self, notice: &Notice, disposition: Disposition) {
        let registry = PlatformRegistry::from_toml(
            &format!("[[platform]]\nid = \"{}\"\nname = \"p\"\n", notice.draft.platform),
            "test",
        )
        .unwrap();
        let keys = ApiKeys::open(self.store.db(), registry).unwrap();
        let (_, secret) = keys.issue_key(&notice.draft.platform, Utc::now()).unwrap();
        let who = keys.authenticate(&secret).unwrap().unwrap();
        let report = DispositionReport { disposition, at: Utc::now() };
        NoticeStore::open(self.store.db()).unwrap().report(&who, &notice.id, &report, None, Utc::now()).unwrap();
    }

    fn case_actions(&self, case: &str) -> Vec<String> {
        CaseStore::open(&self.store).unwrap().get(case).unwrap().unwrap().audit.into_iter().map(|a| a.action).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_issues_one_notice_per_platform_and_shop_bound_to_its_sealed_bundle() {
    let l = confirmed_cases(2).await;
    let issued = l.issue(&l.cases[0], Duration::hours(72)).await;
    let bundle = issued.bundle.clone().expect("the first issuing seals a bundle");
    let bytes = std::fs::read(&bundle.path).unwrap();
    let report = evidence::bundle::verify_bundle(&bytes, &evidence::bundle::VerifyOptions::default());
    assert!(report.ok(), "{:?}", report.failures().collect::<Vec<_>>());
    let file_sha = evidence::Digest::of(&bytes).to_hex();
    let case = CaseStore::open(&l.store).unwrap().get(&l.cases[0]).unwrap().unwrap();
    assert!(!issued.notices.is_empty());
    let mut listed = 0;
    for n in &issued.notices {
        assert_eq!(n.draft.evidence_sha256, file_sha, "the notice names the bundle's SHA-256");
        assert_eq!(n.draft.case_id, case.id);
        assert_eq!(n.draft.authority, case.bureau.name);
        assert!(n.draft.legal_basis.starts_with("《中华人民共和国电子商务法》第二十九条"), "{}", n.draft.legal_basis);
        assert!(!n.draft.findings.is_empty() && !n.draft.listings.is_empty());
        for listing in &n.draft.listings {
            // The stored listing's own page: both sample platforms put the item id in it.
            assert!(
                listing.url.starts_with("http://127.0.0.1:") && listing.url.contains(&listing.item_id),
                "{listing:?}"
            );
        }
        listed += n.draft.listings.len();
    }
    let distinct: std::collections::BTreeSet<_> = case.findings.iter().map(|f| f.listing.clone()).collect();
    assert_eq!(listed, distinct.len(), "every listing of the case is in exactly one notice");
    let actions = l.case_actions(&case.id);
    assert!(actions.iter().any(|a| a == "evidence bundle sealed"), "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "notice issued").count(), issued.notices.len());

    // Issuing again: the same notices, no new bundle, nothing new on the case.
    let again = l.issue(&l.cases[0], Duration::hours(72)).await;
    assert!(again.bundle.is_none());
    assert_eq!(again.already, issued.notices.len());
    let ids = |i: &spotcheck::cases::notify::Issued| i.notices.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&issued));
    assert_eq!(l.case_actions(&case.id).len(), actions.len());
    let outbox = NoticeStore::open(l.store.db()).unwrap().outbox().pending().unwrap();
    assert_eq!(outbox.len(), issued.notices.len(), "one webhook event per notice, none twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_still_on_sale_is_not_effective_and_an_unanswered_notice_is_overdue_once() {
    let l = confirmed_cases(3).await;
    let reported = l.issue(&l.cases[0], Duration::hours(72)).await.notices[0].clone();
    let silent = l.issue(&l.cases[1], Duration::hours(72)).await.notices[0].clone();
    let disputed = l.issue(&l.cases[2], Duration::hours(72)).await.notices[0].clone();
    let verifier = l.verifier();

    // Nothing is due before anyone answers or any deadline passes.
    let round = verifier.round(Utc::now()).await.unwrap();
    assert!(round.checks.is_empty() && round.overdue.is_empty() && round.disputes.is_empty(), "{round:?}");

    // The platform says "delisted", but the marketplace still sells it.
    l.report(&reported, Disposition::Delisted);
    l.report(&disputed, Disposition::Disputed { reason: "商家已补充CCC证书".into() });
    let ledger_before = l.store.ledger().len().unwrap();
    let round = verifier.round(Utc::now()).await.unwrap();
    assert_eq!(round.checks.len(), 1, "{round:?}");
    let check = &round.checks[0];
    assert_eq!(
        (check.notice_id.as_str(), check.reason, check.verdict),
        (reported.id.as_str(), Reason::Reported, Verdict::NotEffective)
    );
    for listing in &check.listings {
        assert!(matches!(listing.state, ListingState::OnSale { .. }), "{listing:?}");
        let capture = evidence::Digest::from_hex(listing.capture.as_deref().unwrap()).unwrap();
        let entries = l.store.ledger().entries_about(&capture.to_hex()).unwrap();
        assert!(!entries.is_empty(), "the fresh capture is in the ledger");
    }
    assert!(l.store.ledger().len().unwrap() > ledger_before);
    assert_eq!(round.disputes, vec![(disputed.id.clone(), "商家已补充CCC证书".to_string())]);
    assert!(l.case_actions(&l.cases[0]).iter().any(|a| a == "delisting not effective — escalated"));
    assert!(l.case_actions(&l.cases[2]).iter().any(|a| a == "platform disputes notice"));

    // Checked and answered: a second round now does nothing.
    let round = verifier.round(Utc::now()).await.unwrap();
    assert!(round.checks.is_empty() && round.disputes.is_empty(), "{round:?}");

    // Past the deadline: the silent notice is flagged overdue once and re-crawled once.
    let later = Utc::now() + Duration::hours(73);
    let round = verifier.round(later).await.unwrap();
    assert_eq!(round.overdue, vec![silent.id.clone()]);
    assert_eq!(round.checks.len(), 1);
    assert_eq!((round.checks[0].reason, round.checks[0].verdict), (Reason::Deadline, Verdict::NotEffective));
    assert!(l.case_actions(&l.cases[1]).iter().any(|a| a == "notice overdue"));
    let round = verifier.round(later + Duration::hours(1)).await.unwrap();
    assert!(round.overdue.is_empty() && round.checks.is_empty(), "{round:?}");
    let follow = FollowUps::open(l.store.db()).unwrap().get(&silent).unwrap();
    assert_eq!((follow.checks, follow.verdict), (1, Some(Verdict::NotEffective)));
    assert!(follow.overdue_at.is_some() && follow.escalated_at.is_some());
    // The ledger still verifies with every re-crawl in it.
    let station = Station::open(&l.data, &l.store, &l.identity).unwrap();
    assert!(station.verify_ledger().unwrap().ok());
}

/// The marketplace's own platform for a listing key's platform name.
fn platform_of(name: &str) -> spotcheck::market::Platform {
    spotcheck::market::Platform::ALL.into_iter().find(|p| p.name() == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_is_verified_by_its_404_and_a_relisted_item_is_caught_by_the_relisting_check() {
    let l = confirmed_cases(1).await;
    let notice = l.issue(&l.cases[0], Duration::hours(72)).await.notices[0].clone();
    let platform = platform_of(&notice.draft.platform);
    for listing in &notice.draft.listings {
        assert!(l.market.delist(platform, listing.item_id.parse().unwrap()), "{listing:?}");
    }
    l.report(&notice, Disposition::Delisted);
    let mut verifier = l.verifier();
    let round = verifier.round(Utc::now()).await.unwrap();
    assert_eq!(round.checks.len(), 1);
    assert_eq!(round.checks[0].verdict, Verdict::Verified, "{:?}", round.checks[0]);
    for listing in &round.checks[0].listings {
        assert_eq!(listing.state, ListingState::Gone { how: "HTTP 404".into() });
        assert!(listing.capture.is_some(), "the 404 page is kept as evidence too");
    }
    assert!(l.case_actions(&l.cases[0]).iter().any(|a| a == "delisting verified"));

    // Within the relisting interval nothing is due; after it, the check runs
    // again and finds the one item the merchant put back.
    assert!(verifier.round(Utc::now() + Duration::days(6)).await.unwrap().checks.is_empty());
    let back = &notice.draft.listings[0];
    assert!(l.market.relist(platform, back.item_id.parse().unwrap()));
    verifier.relist_after = Duration::days(7);
    let round = verifier.round(Utc::now() + Duration::days(8)).await.unwrap();
    assert_eq!(round.checks.len(), 1);
    let check = &round.checks[0];
    assert_eq!((check.reason, check.verdict), (Reason::Relisting, Verdict::Relisted));
    let states: Vec<bool> = check.listings.iter().map(|x| x.state.is_on_sale()).collect();
    assert_eq!(states.iter().filter(|s| **s).count(), 1, "{check:?}");
    assert!(check.listings.iter().find(|x| x.item_id == back.item_id).unwrap().state.is_on_sale());
    assert!(l.case_actions(&l.cases[0]).iter().any(|a| a == "listing relisted — escalated"));
    let follow = FollowUps::open(l.store.db()).unwrap().get(&notice).unwrap();
    assert_eq!((follow.verdict, follow.checks), (Some(Verdict::Relisted), 2));
    assert_eq!(FollowUps::open(l.store.db()).unwrap().checks(&notice.id).unwrap().len(), 2);
}

#[path = "support/api_client.rs"]
#[allow(dead_code)] // shared with the API tests; this file uses the serve spawner and `answer`
mod api_client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spotcheck_serve_runs_verification_rounds_on_its_own() {
    let l = confirmed_cases(1).await;
    // A notice whose deadline has passed, for listings the platform did take down.
    let notice = l.issue(&l.cases[0], Duration::hours(-1)).await.notices[0].clone();
    let platform = platform_of(&notice.draft.platform);
    for listing in &notice.draft.listings {
        assert!(l.market.delist(platform, listing.item_id.parse().unwrap()));
    }
    let root = l.data.root().to_path_buf();
    let staff = spotcheck::access::AccessTokens::open(l.store.db())
        .unwrap()
        .issue(spotcheck::access::Role::Staff, "王芳", None, Utc::now())
        .unwrap()
        .1;
    l.store.flush().unwrap();
    let Loop { store, _server: market_server, _tmp: tmp, .. } = l;
    drop(store);

    let platforms = tmp.path().join("platforms.toml");
    std::fs::write(&platforms, "").unwrap();
    let (_serve, base) = api_client::spotcheck_serve(&root, &platforms, &["--verify-every", "1"]).await;
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let follow = loop {
        let (status, _, body) =
            api_client::answer(http.get(format!("{base}/api/staff/v1/notices/{}", notice.id)).bearer_auth(&staff))
                .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        if body["follow_up"]["verdict"] == "verified" {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "no verification round within 60 s: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(!follow["follow_up"]["overdue_at"].is_null(), "{follow}");
    let checks = follow["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "one conclusive check, not one per round: {follow}");
    assert_eq!(checks[0]["reason"], "deadline");
    drop(market_server);
}
