//! Watching a livestream room (直播带货) as evidence: `spotcheck live watch`.
//!
//! A room shows product cards (小黄车) whose prices and stock change while the
//! host talks, and a video stream. Neither can be crawled once and kept: what
//! the room showed at 20:01 is gone at 20:02. So a watch records, for a fixed
//! time ([`watch`]):
//! - the room's state document every `interval` ([`state`]): each change of
//!   price, stock or presented card becomes a [`Change`] naming the capture it
//!   was read from;
//! - the HLS media playlist at least every target duration, and every new
//!   segment ([`hls`]): its sequence number, size and SHA-256, and every gap
//!   (a number skipped, marked `#EXT-X-GAP`, or a segment that did not download);
//! - screenshots every `interval` through the browser pool, when given
//!   (rendered beside the watch, so a slow page never delays the stream).
//!
//! Every response goes through [`crate::fetch::Fetcher`], so each one is a
//! capture in the blob store. At the end ([`seal`]) the session is stored as a
//! JSON artifact, every capture and a custody entry for the session go into
//! the ledger, and the room's products go through the rule engine like
//! crawled listings. Ctrl-C (the `stop` signal) ends the watch early and still
//! seals what was recorded.

mod hls;
mod seal;
mod state;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::{sleep_until, Instant, MissedTickBehavior};
use url::Url;

use crate::fetch::{FetchConfig, FetchContext, FetchError, Fetched, Fetcher, Politeness};
use crate::model::Listing;
use crate::rules::Finding;
use crate::store::{Store, StoreError};

pub use hls::{parse as parse_playlist, Follower, GapReason, Playlist, Segment};
pub use state::{diff, CardState, Change, HostState, RoomState};

/// Errors that end a watch before it can seal anything.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot start the fetcher for the live room")]
    Fetcher(#[source] FetchError),
    #[error("cannot fetch the live room `{url}`")]
    Room { url: String, source: FetchError },
    #[error("the live room `{url}` answered http {status}")]
    RoomStatus { url: String, status: u16 },
    #[error("cannot store the live session of `{url}` in the blob store")]
    Blob { url: String, source: evidence::BlobError },
    #[error("cannot serialize the live session of `{url}`")]
    Json { url: String, source: serde_json::Error },
    #[error("cannot seal the live session of `{url}` in the ledger")]
    Ledger { url: String, source: evidence::ledger::LedgerError },
    #[error("cannot record the findings of the live room `{url}`")]
    Findings { url: String, source: StoreError },
    #[error("cannot load the rules for the live room `{url}`")]
    Rules { url: String, source: crate::rules::RulesError },
}

/// A screenshot in progress: the browser renders while the watch goes on.
type Shot = tokio::task::JoinHandle<Result<(evidence::Digest, evidence::CaptureRecord), crate::browser::BrowserError>>;

/// Called after every step of the watch with the counts so far.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// What the watcher reports while it runs.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub elapsed: Duration,
    pub polls: u64,
    pub changes: usize,
    pub segments: usize,
    pub gaps: usize,
}

/// How to watch.
#[derive(Clone)]
pub struct WatchOptions {
    pub duration: Duration,
    /// Between two readings of the room's state (and two screenshots).
    pub interval: Duration,
    pub fetch: FetchConfig,
    /// Politeness for the room's host; default [`LIVE_POLITENESS`].
    pub politeness: Option<Politeness>,
    /// Renders the room every `interval` and seals the screenshot (with DOM,
    /// MHTML and network log) as a capture; `None`: no screenshots.
    pub screenshots: Option<crate::browser::BrowserPool>,
    /// Set to `true` (Ctrl-C) to end the watch early; what was recorded is sealed.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    pub progress: Option<ProgressFn>,
    /// Who seals the session (the station id), recorded in its custody entry.
    pub actor: String,
    /// The rules' evaluation date (default: today).
    pub today: Option<chrono::NaiveDate>,
}

/// A live stream asks for a playlist every target duration and a segment per
/// segment duration, several per second when segments are short: the
/// one-request-per-second default of crawls would fall behind the stream.
pub const LIVE_POLITENESS: Politeness = Politeness { rate: 20.0, burst: 20, concurrency: 4 };

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            duration: Duration::from_secs(60),
            interval: Duration::from_secs(5),
            fetch: FetchConfig::default(),
            politeness: None,
            screenshots: None,
            stop: None,
            progress: None,
            actor: "station-1".to_string(),
            today: None,
        }
    }
}

/// The room as the watch saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub url: String,
    pub room_id: String,
    pub title: String,
    pub state_url: String,
    pub playlist_url: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub shop_id: String,
    pub name: String,
    pub url: String,
}

/// One stream segment recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRecord {
    pub seq: u64,
    pub sha256: String,
    pub bytes: u64,
    pub capture: String,
}

/// A sequence number without a recorded segment, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    pub seq: u64,
    #[serde(flatten)]
    pub reason: GapReason,
    /// The capture of the failed download, when there was a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
}

/// Everything a watch recorded: stored as a JSON artifact and sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSession {
    pub room: RoomInfo,
    pub host: HostInfo,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Ended by the stop signal (Ctrl-C) before its time.
    pub interrupted: bool,
    /// Readings of the room's state (successful or not).
    pub polls: u64,
    pub playlist_polls: u64,
    /// The cards at the last reading.
    pub cards: Vec<CardState>,
    pub timeline: Vec<Change>,
    pub segments: Vec<SegmentRecord>,
    pub gaps: Vec<Gap>,
    /// Every capture the watch made, in order (room page, state, playlists,
    /// segments, products' pages, screenshots).
    pub captures: Vec<String>,
    pub screenshots: Vec<String>,
    /// What went wrong without ending the watch (a failed reading …).
    pub problems: Vec<String>,
}

/// What [`watch`] returns.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    pub session: LiveSession,
    /// SHA-256 of the session's JSON artifact in the blob store.
    pub session_sha256: String,
    /// The room's products as listings (item page read with its adapter, live price).
    pub listings: Vec<Listing>,
    pub findings: Vec<Finding>,
    pub findings_new: u64,
    /// Ledger entries appended for the captures and the session.
    pub ledger_entries: usize,
}

/// Fetches through the job's fetcher and keeps every capture's manifest.
pub(crate) struct Recorder {
    fetcher: Fetcher,
    ctx: FetchContext,
    pub manifests: Vec<evidence::CaptureManifest>,
    pub captures: Vec<String>,
}

impl Recorder {
    pub async fn fetch(&mut self, url: &Url) -> Result<Fetched, FetchError> {
        let fetched = self.fetcher.fetch(url, &self.ctx).await?;
        self.keep(fetched.capture_id, &fetched.capture);
        Ok(fetched)
    }

    pub fn keep(&mut self, id: evidence::Digest, record: &evidence::CaptureRecord) {
        self.manifests.push(evidence::CaptureManifest::of(id, record));
        self.captures.push(id.to_hex());
    }
}

/// The state and playlist URLs the room page declares (`data-state`,
/// `data-hls`), else `<room>/state.json` and `<room>/live.m3u8`.
fn endpoints(room: &Url, page: &str) -> (Url, Url) {
    let html = scraper::Html::parse_document(page);
    let attr = |name: &str| {
        let selector = scraper::Selector::parse(&format!("[{name}]")).ok()?;
        let value = html.select(&selector).next()?.value().attr(name)?.to_string();
        room.join(&value).ok()
    };
    let base = Url::parse(&format!("{}/", room.as_str().trim_end_matches('/'))).unwrap_or_else(|_| room.clone());
    let fallback = |file: &str| base.join(file).unwrap_or_else(|_| room.clone());
    (
        attr("data-state").unwrap_or_else(|| fallback("state.json")),
        attr("data-hls").unwrap_or_else(|| fallback("live.m3u8")),
    )
}

/// Resolves when `stop` becomes true; never without one (or once its sender is gone).
async fn stopped(stop: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    if let Some(rx) = stop {
        if rx.wait_for(|v| *v).await.is_ok() {
            return;
        }
    }
    std::future::pending::<()>().await
}

/// Watches the room at `url` for `options.duration` (or until stopped), then
/// seals the session in `store`'s ledger and runs its products through the rules.
pub async fn watch(
    store: &Store,
    blobs: evidence::BlobStore,
    url: &Url,
    mut options: WatchOptions,
) -> Result<WatchReport, LiveError> {
    let fetcher = Fetcher::new(options.fetch.clone(), blobs.clone()).map_err(LiveError::Fetcher)?;
    if let Some(host) = url.host_str() {
        fetcher.set_politeness(host, options.politeness.unwrap_or(LIVE_POLITENESS));
    }
    let mut rec = Recorder { fetcher, ctx: FetchContext::default(), manifests: Vec::new(), captures: Vec::new() };
    let started = Instant::now();
    let started_at = Utc::now();
    let page = rec.fetch(url).await.map_err(|source| LiveError::Room { url: url.to_string(), source })?;
    if !page.is_success() {
        return Err(LiveError::RoomStatus { url: url.to_string(), status: page.status });
    }
    let (state_url, playlist_url) = endpoints(&page.final_url, &page.text());
    let mut w = Watch {
        session: LiveSession {
            room: RoomInfo {
                url: url.to_string(),
                state_url: state_url.to_string(),
                playlist_url: playlist_url.to_string(),
                ..RoomInfo::default()
            },
            host: HostInfo::default(),
            started_at,
            finished_at: started_at,
            interrupted: false,
            polls: 0,
            playlist_polls: 0,
            cards: Vec::new(),
            timeline: Vec::new(),
            segments: Vec::new(),
            gaps: Vec::new(),
            captures: Vec::new(),
            screenshots: Vec::new(),
            problems: Vec::new(),
        },
        last: None,
        follower: Follower::default(),
        playlist_every: Duration::from_secs(1),
        stream_ended: false,
    };

    let deadline = started + options.duration;
    let mut state_tick = tokio::time::interval(options.interval.max(Duration::from_millis(50)));
    state_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut playlist_due = Instant::now();
    let mut shot_tick = tokio::time::interval(options.interval.max(Duration::from_millis(50)));
    shot_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut shot: Option<Shot> = None;
    let mut stop = options.stop.take();
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => {
                w.session.interrupted = true;
                break;
            }
            _ = sleep_until(deadline) => break,
            _ = state_tick.tick() => w.poll_state(&mut rec, &state_url).await,
            _ = shot_tick.tick(), if options.screenshots.is_some() => {
                if shot.as_ref().is_some_and(|s| s.is_finished()) {
                    w.shot_done(&mut rec, shot.take(), url).await;
                }
                if let (None, Some(pool)) = (&shot, &options.screenshots) {
                    let (pool, blobs, fetch, url) = (pool.clone(), blobs.clone(), options.fetch.clone(), url.clone());
                    shot = Some(tokio::spawn(async move {
                        let rendered = pool.render(&url, None).await?;
                        crate::browser::seal(&rendered, &blobs, &fetch, &FetchContext::default()).await
                    }));
                }
            }
            _ = sleep_until(playlist_due), if !w.stream_ended => {
                w.poll_playlist(&mut rec, &playlist_url).await;
                playlist_due = Instant::now() + w.playlist_every;
            }
        }
        if let Some(progress) = &options.progress {
            progress(&Progress {
                elapsed: started.elapsed(),
                polls: w.session.polls,
                changes: w.session.timeline.len(),
                segments: w.session.segments.len(),
                gaps: w.session.gaps.len(),
            });
        }
    }
    w.shot_done(&mut rec, shot, url).await;
    seal::finish(store, &blobs, &mut rec, w.session, &options).await
}

/// The state of a watch in progress.
struct Watch {
    session: LiveSession,
    last: Option<RoomState>,
    follower: Follower,
    /// Half the playlist's target duration: a reading at least every target duration.
    playlist_every: Duration,
    stream_ended: bool,
}

impl Watch {
    /// Waits for the screenshot in progress, if any, and keeps its capture.
    async fn shot_done(&mut self, rec: &mut Recorder, shot: Option<Shot>, url: &Url) {
        let Some(shot) = shot else { return };
        match shot.await {
            Ok(Ok((id, record))) => {
                rec.keep(id, &record);
                self.session.screenshots.push(id.to_hex());
            }
            Ok(Err(e)) => self.session.problems.push(format!("screenshot of `{url}`: {e}")),
            Err(e) => self.session.problems.push(format!("screenshot of `{url}` stopped: {e}")),
        }
    }

    async fn poll_state(&mut self, rec: &mut Recorder, state_url: &Url) {
        self.session.polls += 1;
        let fetched = match rec.fetch(state_url).await {
            Ok(f) if f.is_success() => f,
            Ok(f) => return self.session.problems.push(format!("state `{state_url}` answered http {}", f.status)),
            Err(e) => return self.session.problems.push(format!("state `{state_url}`: {e}")),
        };
        let state: RoomState = match serde_json::from_slice(&fetched.body) {
            Ok(s) => s,
            Err(e) => return self.session.problems.push(format!("state `{state_url}` is not a room state: {e}")),
        };
        let changes = diff(self.last.as_ref(), &state, fetched.capture.finished_at, &fetched.capture_id.to_hex());
        self.session.timeline.extend(changes);
        let room = &mut self.session.room;
        room.room_id = match &state.room {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        room.title = state.title.clone();
        let host_url = fetched.final_url.join(&state.host.path).map(|u| u.to_string()).unwrap_or_default();
        self.session.host =
            HostInfo { shop_id: state.host.shop_id.clone(), name: state.host.name.clone(), url: host_url };
        self.session.cards = state.cards.clone();
        self.last = Some(state);
    }

    async fn poll_playlist(&mut self, rec: &mut Recorder, playlist_url: &Url) {
        self.session.playlist_polls += 1;
        let fetched = match rec.fetch(playlist_url).await {
            Ok(f) if f.is_success() => f,
            Ok(f) => {
                return self.session.problems.push(format!("playlist `{playlist_url}` answered http {}", f.status))
            }
            Err(e) => return self.session.problems.push(format!("playlist `{playlist_url}`: {e}")),
        };
        let Some(playlist) = parse_playlist(&fetched.text()) else {
            return self.session.problems.push(format!("`{playlist_url}` is not an HLS playlist"));
        };
        if let Some(target) = playlist.target_duration {
            self.playlist_every = Duration::from_millis(target.max(1) * 500);
        }
        self.stream_ended = playlist.ended;
        let update = self.follower.update(&playlist);
        for seq in update.skipped {
            self.session.gaps.push(Gap { seq, reason: GapReason::Skipped, capture: None });
        }
        for segment in update.new {
            let gap = |reason| Gap { seq: segment.seq, reason, capture: None };
            if segment.gap {
                self.session.gaps.push(gap(GapReason::MarkedGap));
                continue;
            }
            let Ok(url) = fetched.final_url.join(&segment.uri) else {
                self.session.gaps.push(gap(GapReason::Failed { error: format!("bad uri `{}`", segment.uri) }));
                continue;
            };
            match rec.fetch(&url).await {
                Ok(f) if f.is_success() => self.session.segments.push(SegmentRecord {
                    seq: segment.seq,
                    sha256: f.capture.response.body_sha256.to_hex(),
                    bytes: f.capture.response.body_len,
                    capture: f.capture_id.to_hex(),
                }),
                Ok(f) => self
                    .session
                    .gaps
                    .push(Gap { capture: Some(f.capture_id.to_hex()), ..gap(GapReason::Status { status: f.status }) }),
                Err(e) => self.session.gaps.push(gap(GapReason::Failed { error: e.to_string() })),
            }
        }
    }
}
