//! Headless Chromium fetching, sealed as evidence (issue 6).
//!
//! Some platforms only show a listing after their scripts run: the served
//! HTML is an empty shell. For those the crawl (adapter `fetch = "browser"`),
//! the ad-hoc `spotcheck capture --browser` and the live-room watcher render
//! the page in the OS Chromium, driven over the DevTools protocol by
//! `headless_chrome` (which never downloads a browser of its own).
//!
//! - [`BrowserPool`] (`pool.rs`): one Chromium per pool, N reusable tabs, a
//!   per-page deadline, and recovery: a page that fails because the browser
//!   crashed or hung relaunches the browser and is tried once more, so a job
//!   goes on. `headless_chrome` is blocking: every call runs on tokio's
//!   blocking pool, never on an async worker.
//! - `render.rs`: one page in one tab → [`Rendered`]: the main document as
//!   received (CDP `Network.getResponseBody`), the rendered DOM, a full-page
//!   PNG, an MHTML snapshot and the network log.
//! - [`seal`] (`seal.rs`): the files go into the [`evidence::BlobStore`] and
//!   an [`evidence::CaptureRecord`] names each one as an artifact, exactly as
//!   HTTP captures do, so the ledger, bundles and verifiers need nothing new.
//! - `proxy.rs`: the browser's only way out, a forward proxy on loopback
//!   that applies the job's [`crate::fetch::NetworkPolicy`] to every
//!   connection (403 for a blocked target, none made); non-http(s) pages are
//!   refused before navigation, and WebRTC may not bypass the proxy.
//! - `procs.rs`: the browser's process tree from `/proc` (memory per tab in
//!   `spotcheck bench browser`, the crash test).

mod pool;
mod procs;
mod proxy;
mod render;
mod seal;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use url::Url;

pub use pool::BrowserPool;
pub use procs::{process_tree, pss_bytes, rss_bytes};
pub use seal::seal;

/// The flags Chromium is started with, and no others of our choosing
/// (`headless_chrome` adds its debugging port, `--user-data-dir` and logging
/// flags): the same set the evidence report is printed with. Background
/// networking, updates, sync and QUIC are off so the browser makes no request
/// the page did not ask for.
pub use evidence::report::CHROMIUM_FLAGS;

/// How a [`BrowserPool`] runs.
#[derive(Debug, Clone)]
pub struct BrowserConfig {
    /// The Chromium binary; `None` asks [`evidence::report::find_chromium`]
    /// (`$SPOTCHECK_CHROMIUM`, then `/usr/bin/chromium`, then `$PATH`).
    pub chromium: Option<PathBuf>,
    /// Tabs rendering at once (each a renderer process: ~memory per tab).
    pub tabs: usize,
    /// Longest a page may take, navigation to snapshot. Past it the browser
    /// is taken as hung, relaunched, and the page tried once more.
    pub page_timeout: Duration,
    /// Viewport width and height in CSS pixels (the screenshot is full page,
    /// at least this wide).
    pub viewport: (u32, u32),
    /// What the browser may connect to (through the pool's proxy): public
    /// addresses and the hosts the operator allowed.
    pub network: crate::fetch::NetworkPolicy,
}

impl Default for BrowserConfig {
    fn default() -> BrowserConfig {
        BrowserConfig {
            chromium: None,
            tabs: 2,
            page_timeout: Duration::from_secs(30),
            viewport: (1366, 900),
            network: crate::fetch::NetworkPolicy::default(),
        }
    }
}

/// Why a browser capture failed.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("no chromium found (set $SPOTCHECK_CHROMIUM or install /usr/bin/chromium)")]
    NoChromium,
    #[error("cannot launch chromium `{path}`: {reason}")]
    Launch { path: PathBuf, reason: String },
    #[error("refusing to open `{url}` in the browser: {reason} (only public http(s) addresses are opened unless an operator allows the host with --allow-host)")]
    Blocked { url: String, reason: String },
    #[error("cannot start the browser's network proxy: {0}")]
    Proxy(#[source] std::io::Error),
    #[error("browser rendering of `{url}` failed: {reason}")]
    Render { url: String, reason: String },
    #[error("browser rendering of `{url}` took longer than {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("`{url}` never showed `{selector}` within {secs} s")]
    WaitFor { url: String, selector: String, secs: u64 },
    #[error("chromium crashed or hung twice while rendering `{url}`: {reason}")]
    Crashed { url: String, reason: String },
    #[error("cannot store the browser capture of `{url}`: {source}")]
    Store {
        url: String,
        #[source]
        source: evidence::BlobError,
    },
    #[error("the browser task for `{url}` stopped: {reason}")]
    Task { url: String, reason: String },
    #[error("the browser pool is closed")]
    Closed,
}

/// One request the page made, as the network log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkEntry {
    pub url: String,
    pub status: u16,
    pub mime: String,
    /// Body length when the body could be read, else the bytes on the wire.
    pub bytes: u64,
    /// SHA-256 of the body as Chromium handed it over, when it could be read.
    pub sha256: Option<evidence::Digest>,
}

/// One page as the browser saw it.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub requested_url: Url,
    /// Where the tab ended up (after redirects and script navigation).
    pub final_url: Url,
    /// Status of the main document's response, when it was seen.
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    /// The main document's body as received (`Network.getResponseBody`), when available.
    pub document: Option<Vec<u8>>,
    /// `document.documentElement.outerHTML` after scripts ran (and `wait_for` matched).
    pub dom: String,
    /// Full-page PNG.
    pub screenshot_png: Vec<u8>,
    /// `Page.captureSnapshot` as MHTML (`multipart/related`).
    pub mhtml: Vec<u8>,
    /// Every response the page received, in order.
    pub network: Vec<NetworkEntry>,
    /// Peer address of the main document, e.g. `127.0.0.1:8080`.
    pub remote_addr: Option<String>,
    /// The browser's user agent (recorded as the request's `User-Agent`).
    pub user_agent: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `HeadlessChrome/156.0…`.
    pub browser_version: String,
}
