//! The demo's browser stage: a short watch of a sample live room (state,
//! HLS stream, screenshots) and pictures of flagged listings, so the
//! bundles it seals show what the rules saw. Runs only when Chromium is
//! installed; the rest of the demo does not need it.

use std::time::Duration;

use serde::Serialize;

use crate::browser::{BrowserConfig, BrowserPool};
use crate::config::Identity;
use crate::fetch::Politeness;
use crate::live::{watch, WatchOptions, WatchReport};
use crate::sealing::Station;
use crate::store::Store;

/// Session seconds per real second in the demo's live rooms: a 3-second
/// watch sees three presented cards, so prices change while it watches.
pub const DEMO_LIVE_SPEED: u32 = 20;

/// What the browser stage did.
#[derive(Debug, Default, Serialize)]
pub struct BrowserStage {
    /// Chromium was found and used.
    pub chromium: bool,
    pub pictures_taken: usize,
    pub picture_failures: Vec<String>,
    pub live: Option<LiveSummary>,
}

#[derive(Debug, Serialize)]
pub struct LiveSummary {
    pub room: String,
    pub polls: u64,
    pub price_changes: usize,
    pub segments: usize,
    pub gaps: usize,
    pub screenshots: usize,
    pub findings: usize,
    pub session_sha256: String,
}

impl BrowserStage {
    /// A stage that ran is good when every picture was taken and the watch
    /// saw a price change, recorded segments and no gap.
    pub fn ok(&self) -> bool {
        !self.chromium
            || (self.picture_failures.is_empty()
                && self.live.as_ref().is_some_and(|l| l.price_changes > 0 && l.segments > 0 && l.gaps == 0))
    }
}

/// Watches live room 1 of the mall for `seconds` with screenshots, then takes
/// pictures of the first `pictures` flagged listings. Returns the stage and
/// the watch (to be sealed into a bundle with the others).
pub async fn run(
    base: &url::Url,
    store: &Store,
    station: &Station,
    identity: &Identity,
    pictures: usize,
    seconds: f64,
) -> anyhow::Result<(BrowserStage, Option<WatchReport>)> {
    let Some(chromium) = evidence::report::find_chromium() else {
        return Ok((BrowserStage::default(), None));
    };
    // The demo's own marketplace is allowed explicitly, nothing else that is not public.
    let network = super::network::NetworkArgs::only(base);
    let pool =
        BrowserPool::launch(BrowserConfig { chromium: Some(chromium), tabs: 2, ..network.browser_config() }).await?;
    let fetch = network.fetch_config(identity);
    let mut stage = BrowserStage { chromium: true, ..BrowserStage::default() };

    let room = base.join("/mall/live/1")?;
    let options = WatchOptions {
        duration: Duration::from_secs_f64(seconds),
        interval: Duration::from_millis(500),
        fetch: fetch.clone(),
        politeness: Some(Politeness::unlimited()),
        screenshots: Some(pool.clone()),
        actor: identity.station.clone(),
        today: Some(crate::rules::score::market_today(&crate::rules::RuleSet::builtin()?)),
        ..WatchOptions::default()
    };
    let report = watch(store, station.blobs.clone(), &room, options).await?;
    let s = &report.session;
    stage.live = Some(LiveSummary {
        room: room.to_string(),
        polls: s.polls,
        price_changes: s.timeline.iter().filter(|c| c.field == "price" && c.old.is_some()).count(),
        segments: s.segments.len(),
        gaps: s.gaps.len(),
        screenshots: s.screenshots.len(),
        findings: report.findings.len(),
        session_sha256: report.session_sha256.clone(),
    });

    let findings = crate::findings::FindingStore::open(store)?;
    let mut chosen = Vec::new();
    let mut listings = std::collections::HashSet::new();
    for f in findings.all() {
        let f = f?;
        if chosen.len() >= pictures {
            break;
        }
        if listings.insert(f.listing.clone()) {
            chosen.push(f);
        }
    }
    let taken = station.picture_findings(&pool, &chosen, &fetch).await?;
    stage.pictures_taken = taken.captured;
    stage.picture_failures = taken.failed;
    Ok((stage, Some(report)))
}
