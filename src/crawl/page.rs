//! One page through the pipeline: fetch → extract → what to commit.

use std::sync::Arc;

use url::Url;

use super::scope::{Admitted, Scope};
use super::CrawlError;
use crate::adapters::{Adapter, FetchMode};
use crate::browser::BrowserPool;
use crate::fetch::{FetchContext, FetchError, Fetcher};
use crate::store::{FrontierEntry, PageOutcome, PageResult};

/// What a worker needs to process pages of one job.
pub struct PageContext {
    pub adapter: Arc<Adapter>,
    pub fetcher: Fetcher,
    pub fetch: FetchContext,
    pub scope: Scope,
    /// The job's browser, when its adapter says `fetch = "browser"`.
    pub browser: Option<BrowserPool>,
}

/// Fetches and extracts one frontier entry. A page that cannot be fetched or
/// read becomes a `Failed` outcome with the reason, and the job goes on. Only
/// the station's own failures are errors — its storage (a full or read-only
/// disk), or in a cluster no politeness permit from the control plane: that
/// is not the page's fault, so it must not be recorded as failed (a resume
/// would never fetch it again); the job stops, or a worker hands the task back.
pub async fn process(ctx: Arc<PageContext>, seq: u64, entry: FrontierEntry) -> Result<PageResult, CrawlError> {
    let mut capture = None;
    let outcome = match fetch_and_extract(&ctx, &entry, &mut capture).await {
        Ok(outcome) => outcome,
        Err(PageError::Robots(e)) => PageOutcome::Failed { error: e, robots: true },
        Err(PageError::Other(e)) => PageOutcome::Failed { error: e, robots: false },
        Err(PageError::Station(e)) => return Err(e),
    };
    Ok(PageResult { seq, url: entry.url, outcome, capture })
}

enum PageError {
    Robots(String),
    Other(String),
    /// Our disk or our control plane, not the page.
    Station(CrawlError),
}

async fn fetch_and_extract(
    ctx: &Arc<PageContext>,
    entry: &FrontierEntry,
    capture: &mut Option<evidence::CaptureManifest>,
) -> Result<PageOutcome, PageError> {
    let url = Url::parse(&entry.url).map_err(|e| PageError::Other(format!("invalid url `{}`: {e}", entry.url)))?;
    let page = match (ctx.adapter.fetch, &ctx.browser) {
        (FetchMode::Browser, Some(pool)) => render(ctx, pool, &url, capture).await?,
        (FetchMode::Browser, None) => {
            return Err(PageError::Other(format!("`{}` needs a browser and the job has none", entry.url)))
        }
        (FetchMode::Http, _) => fetch(ctx, &url, capture).await?,
    };
    let Page { final_url, body, captured_at, capture_id } = page;
    let ctx2 = Arc::clone(ctx);
    let extracted = tokio::task::spawn_blocking(move || ctx2.adapter.extract(&final_url, &body))
        .await
        .map_err(|e| PageError::Other(format!("extraction of `{}` stopped: {e}", entry.url)))?
        .map_err(|e| PageError::Other(format!("cannot extract `{}`: {e}", entry.url)))?;

    let mut listings = extracted.listings;
    for listing in &mut listings {
        listing.captured_at = Some(captured_at);
        listing.capture_id = Some(capture_id.clone());
    }
    let mut shops = extracted.shops;
    for shop in &mut shops {
        shop.captured_at = Some(captured_at);
        shop.capture_id = Some(capture_id.clone());
    }
    let mut links = Vec::new();
    let mut candidates = Vec::new();
    for admitted in ctx.scope.admit(&ctx.adapter, extracted.kind, entry.depth, extracted.links) {
        match admitted {
            Admitted::Follow(e) => links.push(e),
            Admitted::Candidate(e) => candidates.push(e),
        }
    }
    Ok(PageOutcome::Fetched { listings, shops, links, candidates })
}

/// A page's bytes to extract from, and the capture they are sealed in.
struct Page {
    final_url: Url,
    body: bytes::Bytes,
    captured_at: chrono::DateTime<chrono::Utc>,
    capture_id: String,
}

/// Plain HTTP: the served body, captured by the fetcher.
async fn fetch(
    ctx: &PageContext,
    url: &Url,
    capture: &mut Option<evidence::CaptureManifest>,
) -> Result<Page, PageError> {
    let fetched = ctx.fetcher.fetch(url, &ctx.fetch).await.map_err(|e| match e {
        FetchError::RobotsDisallowed { .. } | FetchError::RobotsUnreachable { .. } => PageError::Robots(e.to_string()),
        e @ (FetchError::Store { .. } | FetchError::Coordinator { .. }) => PageError::Station(e.into()),
        e => PageError::Other(e.to_string()),
    })?;
    *capture = Some(evidence::CaptureManifest::of(fetched.capture_id, &fetched.capture));
    if !fetched.is_success() {
        return Err(PageError::Other(format!("`{url}` answered http status {}", fetched.status)));
    }
    Ok(Page {
        final_url: fetched.final_url,
        body: fetched.body,
        captured_at: fetched.capture.finished_at,
        capture_id: fetched.capture_id.to_hex(),
    })
}

/// Browser: the rendered DOM, sealed with its screenshot, MHTML and network
/// log into the same blob store (synced by the crawl's group commit).
async fn render(
    ctx: &PageContext,
    pool: &BrowserPool,
    url: &Url,
    capture: &mut Option<evidence::CaptureManifest>,
) -> Result<Page, PageError> {
    // robots.txt and the host's politeness apply to browser pages too.
    let _permit = ctx.fetcher.admit(url, &ctx.fetch).await.map_err(|e| match e {
        FetchError::RobotsDisallowed { .. } | FetchError::RobotsUnreachable { .. } => PageError::Robots(e.to_string()),
        e @ FetchError::Coordinator { .. } => PageError::Station(e.into()),
        e => PageError::Other(e.to_string()),
    })?;
    let rendered =
        pool.render(url, ctx.adapter.wait_for.as_deref()).await.map_err(|e| PageError::Other(e.to_string()))?;
    let (id, record) = crate::browser::seal(&rendered, ctx.fetcher.blobs(), ctx.fetcher.config(), &ctx.fetch)
        .await
        .map_err(|e| match e {
            crate::browser::BrowserError::Store { source, .. } => PageError::Station(source.into()),
            e => PageError::Other(e.to_string()),
        })?;
    *capture = Some(evidence::CaptureManifest::of(id, &record));
    if let Some(status) = rendered.status.filter(|s| !(200..300).contains(s)) {
        return Err(PageError::Other(format!("`{url}` answered http status {status} in the browser")));
    }
    Ok(Page {
        final_url: rendered.final_url,
        body: bytes::Bytes::from(rendered.dom.into_bytes()),
        captured_at: record.finished_at,
        capture_id: id.to_hex(),
    })
}
