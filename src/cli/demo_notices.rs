//! The demo's last stage: from findings to verified removals.
//!
//! Staff confirm the planted findings of three shops per platform (and
//! dismiss a couple of false positives with a reason); each confirmed finding
//! is routed and opens or joins a case. Every case seals its bundle and
//! issues its notices. The platform API is served on 127.0.0.1:0 and the
//! outbox worker delivers signed webhooks to the sample marketplace, which
//! plays both platforms: 样品多多 delists everything, 样品商城 delists most,
//! disputes the notice of its 2nd case and ignores that of its 3rd (chosen by
//! case, not by arrival, so the run does not depend on delivery order). Then
//! verification:
//!
//! 1. right away: the reported delistings are re-crawled (gone → verified)
//!    and the dispute is recorded on its case;
//! 2. after the deadline (a few seconds in the demo; 72 hours by default), a
//!    merchant has put one removed item back: the ignored notice is flagged
//!    overdue and found still on sale (not effective, escalated with a fresh
//!    capture), and the relisting check finds the item that came back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{Duration, Utc};
use serde::Serialize;
use url::Url;

use crate::api::{self, ApiState, RateLimit};
use crate::cases::notify::{NoticeTerms, Notifier};
use crate::cases::{self, merge, CaseStore, Triage};
use crate::config::{DataDir, Identity};
use crate::fetch::{FetchConfig, Politeness};
use crate::findings::FindingStore;
use crate::market::{Decision, Market, Platform, PlatformActor, Policy};
use crate::notices::webhook::WebhookSecret;
use crate::notices::{DeliveryConfig, OutboxWorker, PlatformRegistry};
use crate::sealing::Station;
use crate::store::Store;
use crate::verification::{Round, Verdict};

/// How long the demo's platforms have to act (real notices: `NoticeTerms::default`, 72 h).
pub const DEMO_DEADLINE_SECS: i64 = 4;
/// Shops per platform whose findings staff confirm.
const SHOPS_PER_PLATFORM: usize = 3;

/// What the enforcement stage did.
#[derive(Debug, Default, Serialize)]
pub struct EnforcementStage {
    pub confirmed: u64,
    pub dismissed: u64,
    pub cases: u64,
    pub bureaus: u64,
    pub case_bundles: u64,
    pub notices: u64,
    pub webhooks_delivered: u64,
    pub webhooks_dead: u64,
    /// What the platforms decided: delist / dispute / ignore → notices.
    pub platform_decisions: BTreeMap<String, u64>,
    pub verified: u64,
    pub disputes_recorded: u64,
    pub overdue: u64,
    pub not_effective: u64,
    pub relisted: u64,
    pub ledger_ok: bool,
    pub ok: bool,
}

/// The platforms the demo registers: the sample marketplace's two, with their
/// webhook URLs and fresh secrets, as the registry TOML a bureau would write.
fn registry(market: &Market, base: &Url) -> anyhow::Result<(PlatformRegistry, BTreeMap<Platform, String>)> {
    let mut toml = String::new();
    let mut secrets = BTreeMap::new();
    for p in Platform::ALL {
        let url = market.webhook_url(base, p).context("the market serves no webhook for a platform")?;
        let secret = WebhookSecret::generate().to_whsec();
        toml.push_str(&format!(
            "[[platform]]\nid = \"{}\"\nname = \"{}\"\nwebhook_url = \"{url}\"\nwebhook_secret = \"{secret}\"\n\n",
            p.name(),
            p.title()
        ));
        secrets.insert(p, secret);
    }
    Ok((PlatformRegistry::from_toml(&toml, "demo platforms")?, secrets))
}

/// Confirms the planted findings of the first shops of each platform and
/// dismisses up to two findings nothing was planted for. Returns (confirmed, dismissed).
fn triage(triage: &Triage, market: &Market, base: &Url, by: &str) -> anyhow::Result<(u64, u64)> {
    let planted: BTreeMap<String, BTreeSet<String>> =
        market.truth(base).map(|t| (t.listing.key(), t.violations.into_iter().collect())).collect();
    let mut by_shop: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for record in triage.findings.all() {
        let record = record?;
        let real = planted.get(&record.listing).is_some_and(|v| v.contains(&record.rule));
        let shop = triage.subject(&record.id, Utc::now())?.shop_key.unwrap_or_default();
        by_shop.entry(shop).or_default().push((record.id, real));
    }
    let (mut confirmed, mut dismissed) = (0, 0);
    let mut shops_taken: BTreeMap<String, usize> = BTreeMap::new();
    for (shop, findings) in &by_shop {
        let platform = shop.split('/').next().unwrap_or_default().to_string();
        let taken = shops_taken.entry(platform).or_default();
        let real: Vec<&String> = findings.iter().filter(|(_, r)| *r).map(|(id, _)| id).collect();
        if *taken < SHOPS_PER_PLATFORM && !shop.is_empty() && !real.is_empty() {
            *taken += 1;
            for id in real {
                triage.confirm(id, by, "人工复核：页面与证据一致，违法事实成立", Utc::now())?;
                confirmed += 1;
            }
        }
        for (id, _) in findings.iter().filter(|(_, r)| !*r) {
            if dismissed < 2 && triage.cases.case_of(id)?.is_none() {
                triage.dismiss(id, by, "人工复核：误报，页面已标注有效证书", Utc::now())?;
                dismissed += 1;
            }
        }
    }
    Ok((confirmed, dismissed))
}

pub async fn run(
    market: &Arc<Market>,
    base: &Url,
    store: &Store,
    dir: &DataDir,
    station: &Station,
    identity: &Identity,
    say: &dyn Fn(String),
) -> anyhow::Result<EnforcementStage> {
    let mut stage = EnforcementStage::default();
    let by = cases::actor(identity);
    let t = Triage::configured(store, None, merge::DEFAULT_WINDOW_DAYS)?;
    (stage.confirmed, stage.dismissed) = triage(&t, market, base, &by)?;
    let case_ids: Vec<String> = {
        let cases = CaseStore::open(store)?;
        let all: Vec<_> = cases.all().collect::<Result<_, _>>()?;
        stage.bureaus = all.iter().map(|c| c.bureau.code.clone()).collect::<BTreeSet<_>>().len() as u64;
        all.into_iter().map(|c| c.id).collect()
    };
    stage.cases = case_ids.len() as u64;
    say(format!(
        "  triage   {} findings confirmed into {} cases for {} bureaus (routed by operating address); {}",
        stage.confirmed,
        stage.cases,
        stage.bureaus,
        match stage.dismissed {
            0 => "no false positives to dismiss".to_string(),
            n => format!("{n} dismissed as false positives"),
        }
    ));

    // The platform API and the webhook outbox, as `spotcheck serve` runs them.
    let (registry, secrets) = registry(market, base)?;
    let triage_api = Triage::configured(store, None, merge::DEFAULT_WINDOW_DAYS)?;
    let state = ApiState::open(store, registry.clone(), triage_api, RateLimit::default())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot bind the api")?;
    let api_base = format!("http://{}", listener.local_addr()?);
    let mut keys = BTreeMap::new();
    for p in Platform::ALL {
        keys.insert(p, state.keys.issue_key(p.name(), Utc::now())?.1);
    }
    let notices = state.notices.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, api::app(state)).await;
    });
    let delivery = DeliveryConfig {
        poll_interval: StdDuration::from_millis(50),
        base_backoff: StdDuration::from_millis(200),
        ..DeliveryConfig::default()
    };
    let worker = OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry), delivery)?;
    // 样品商城's 2nd case is disputed and its 3rd ignored; everything else is delisted.
    let mall_cases: Vec<&String> = {
        let cases = CaseStore::open(store)?;
        let mut on_mall = Vec::new();
        for id in &case_ids {
            let case = cases.get(id)?.context("a case vanished")?;
            if case.findings.iter().any(|f| f.listing.starts_with(&format!("{}/", Platform::Mall.name()))) {
                on_mall.push(id);
            }
        }
        on_mall
    };
    let mut mall_policy = Policy::always(Decision::Delist);
    if let [_, disputed, ignored, ..] = mall_cases.as_slice() {
        mall_policy =
            mall_policy.with_case(disputed.as_str(), Decision::Dispute).with_case(ignored.as_str(), Decision::Ignore);
    }
    for p in Platform::ALL {
        let policy = match p {
            Platform::Mall => mall_policy.clone(),
            Platform::Duo => Policy::always(Decision::Delist),
        };
        let actor = PlatformActor::new(p, &api_base, keys[&p].clone(), &secrets[&p])?.with_policy(policy);
        market.act_as_platform(actor);
    }

    // Each case: its bundle, then its notices.
    let notifier = Notifier {
        store,
        station,
        cases: &CaseStore::open(store)?,
        findings: &FindingStore::open(store)?,
        notices: &notices,
        actor: by.clone(),
    };
    let terms = NoticeTerms { deadline: Duration::seconds(DEMO_DEADLINE_SECS), ..NoticeTerms::default() };
    let mut deadline = Utc::now();
    for id in &case_ids {
        let issued =
            notifier.issue_notices(id, &terms, &super::notices::case_bundle_dir(dir), None, Utc::now()).await?;
        stage.case_bundles += u64::from(issued.bundle.is_some());
        stage.notices += issued.notices.len() as u64;
        deadline = issued.notices.iter().map(|n| n.draft.deadline).fold(deadline, std::cmp::max);
    }
    say(format!(
        "  notices  {} issued from {} sealed case bundles (each notice carries its bundle's SHA-256); api on {api_base}",
        stage.notices, stage.case_bundles
    ));
    let handled = market.wait_handled(stage.notices as usize, StdDuration::from_secs(60)).await;
    let log = market.platform_log();
    for action in &log {
        *stage.platform_decisions.entry(action.decision.to_string()).or_default() += 1;
    }
    let webhooks = market.webhook_counts();
    // The worker records a delivery when the platform's 2xx arrives, which can trail the
    // platform's own handling by a moment: wait (bounded) for the outbox to drain.
    let drained_by = std::time::Instant::now() + StdDuration::from_secs(10);
    while !notices.outbox().pending()?.is_empty() && std::time::Instant::now() < drained_by {
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    stage.webhooks_dead = notices.outbox().dead_letters()?.len() as u64;
    stage.webhooks_delivered =
        stage.notices.saturating_sub(notices.outbox().pending()?.len() as u64).saturating_sub(stage.webhooks_dead);
    say(format!(
        "  platform {} signed webhooks delivered and verified by the platforms ({} rejected, {} repeats); decisions: {}",
        stage.webhooks_delivered,
        webhooks.rejected,
        webhooks.duplicates,
        stage.platform_decisions.iter().map(|(d, n)| format!("{d} {n}")).collect::<Vec<_>>().join(", ")
    ));
    for action in &log {
        say(format!("           {action}"));
    }
    if !handled {
        say(format!(
            "           only {} of {} notices were handled by the platforms in time",
            log.len(),
            stage.notices
        ));
    }

    // Verification, first right away, then after the deadline.
    let fetch = FetchConfig {
        default_politeness: Politeness::unlimited(),
        ..super::network::NetworkArgs::only(base).fetch_config(identity)
    };
    let mut verifier = super::notices::verifier(store, dir, identity, fetch, Duration::days(7))?;
    let first = verifier.round(Utc::now()).await?;
    say(format!(
        "  verify   re-crawl now: {} removals verified gone, {} not effective; {} dispute recorded for review",
        first.count(Verdict::Verified),
        first.count(Verdict::NotEffective),
        first.disputes.len()
    ));
    // A merchant puts one removed listing back up.
    let relisted = first
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Verified)
        .find_map(|c| c.listings.first().map(|l| (c.platform.clone(), l.item_id.clone())));
    if let Some((platform, item)) = &relisted {
        let p = Platform::ALL.into_iter().find(|p| p.name() == platform);
        if let (Some(p), Ok(id)) = (p, item.parse::<u64>()) {
            market.relist(p, id);
        }
    }
    let wait = (deadline - Utc::now()).to_std().unwrap_or_default() + StdDuration::from_millis(200);
    say(format!("           waiting {:.1}s for the demo deadline to pass …", wait.as_secs_f64()));
    tokio::time::sleep(wait).await; // a real deadline, not synchronisation
    verifier.relist_after = Duration::zero(); // the demo looks again at once (default: after 7 days)
    let second = verifier.round(Utc::now()).await?;
    say(format!(
        "           after the deadline: {} overdue; {} not effective, {} relisted — escalated with fresh captures; {} still gone",
        second.overdue.len(),
        second.count(Verdict::NotEffective),
        second.count(Verdict::Relisted),
        second.count(Verdict::Verified)
    ));
    worker.abort();
    server.abort();

    let rounds: [&Round; 2] = [&first, &second];
    stage.verified = first.count(Verdict::Verified) as u64;
    stage.disputes_recorded = rounds.iter().map(|r| r.disputes.len() as u64).sum();
    stage.overdue = rounds.iter().map(|r| r.overdue.len() as u64).sum();
    stage.not_effective = rounds.iter().map(|r| r.count(Verdict::NotEffective) as u64).sum();
    stage.relisted = second.count(Verdict::Relisted) as u64;
    stage.ledger_ok = station.verify_ledger()?.ok();
    let decided = |d: Decision| log.iter().filter(|a| a.decision == d).count() as u64;
    stage.ok = handled
        && mall_cases.len() >= 3
        && stage.webhooks_dead == 0
        && stage.webhooks_delivered == stage.notices
        && stage.verified == decided(Decision::Delist)
        && stage.disputes_recorded == decided(Decision::Dispute)
        && stage.disputes_recorded >= 1
        && stage.overdue == decided(Decision::Ignore)
        && stage.overdue >= 1
        && stage.not_effective == stage.overdue
        && stage.relisted == u64::from(relisted.is_some())
        && stage.ledger_ok;
    Ok(stage)
}
