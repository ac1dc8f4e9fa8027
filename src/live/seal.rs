//! The end of a watch: the room's products read from their own pages, the
//! session stored and sealed, the products through the rules.
//!
//! Order matters for the evidence: the captures' blobs are synced, then their
//! manifests and the session's custody entry are appended to the ledger
//! (flushed), and only then are findings recorded (which cite captures that
//! must already be sealed).

use std::collections::HashMap;

use chrono::Utc;
use url::Url;

use crate::adapters::AdapterSet;
use crate::findings::FindingStore;
use crate::model::{Listing, PageKind, Shop};
use crate::rules::{RuleSet, Tables};
use crate::store::Store;

use super::{LiveError, LiveSession, Recorder, WatchOptions, WatchReport};

/// The first shipped adapter that reads `url` as a page of `kind` (the
/// generic adapter last, and for item pages only).
fn adapter_for(set: &AdapterSet, url: &Url, kind: PageKind) -> Option<std::sync::Arc<crate::adapters::Adapter>> {
    let specific = set.iter().filter(|a| a.name != "generic").find(|a| a.page_kind(url) == Some(kind)).cloned();
    specific.or_else(|| if kind == PageKind::Item { set.get("generic") } else { None })
}

/// Fetches and reads one product or shop page; problems go to the session.
async fn read_page(
    rec: &mut Recorder,
    set: &AdapterSet,
    url: &Url,
    kind: PageKind,
    problems: &mut Vec<String>,
) -> Option<crate::adapters::Extracted> {
    let adapter = adapter_for(set, url, kind)?;
    let fetched = match rec.fetch(url).await {
        Ok(f) if f.is_success() => f,
        Ok(f) => {
            problems.push(format!("`{url}` answered http {}", f.status));
            return None;
        }
        Err(e) => {
            problems.push(format!("`{url}`: {e}"));
            return None;
        }
    };
    let (final_url, body) = (fetched.final_url.clone(), fetched.body.clone());
    let extracted = match tokio::task::spawn_blocking(move || adapter.extract(&final_url, &body)).await {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => {
            problems.push(format!("cannot read `{url}`: {e}"));
            return None;
        }
        Err(e) => {
            problems.push(format!("reading `{url}` stopped: {e}"));
            return None;
        }
    };
    let mut extracted = extracted;
    let (at, id) = (fetched.capture.finished_at, fetched.capture_id.to_hex());
    for l in &mut extracted.listings {
        l.captured_at = Some(at);
        l.capture_id = Some(id.clone());
    }
    for s in &mut extracted.shops {
        s.captured_at = Some(at);
        s.capture_id = Some(id.clone());
    }
    Some(extracted)
}

/// The room's products as listings and its host as a shop. A listing is its
/// item page as captured (so every value cites the capture it came from);
/// the live prices are in the session's timeline.
async fn products(rec: &mut Recorder, session: &mut LiveSession) -> (Vec<Listing>, Vec<Shop>) {
    let set = AdapterSet::builtin();
    let mut problems = Vec::new();
    let mut listings = Vec::new();
    let mut shops = Vec::new();
    let Ok(base) = Url::parse(&session.room.state_url) else {
        return (listings, shops);
    };
    if let Ok(host) = Url::parse(&session.host.url) {
        if let Some(e) = read_page(rec, &set, &host, PageKind::Shop, &mut problems).await {
            shops.extend(e.shops);
        }
    }
    for card in &session.cards {
        let Ok(url) = base.join(&card.path) else { continue };
        if card.path.is_empty() {
            continue;
        }
        if let Some(e) = read_page(rec, &set, &url, PageKind::Item, &mut problems).await {
            listings.extend(e.listings.into_iter().filter(|l| l.item_id == card.item_id).take(1));
        }
    }
    session.problems.extend(problems);
    (listings, shops)
}

pub(super) async fn finish(
    store: &Store,
    blobs: &evidence::BlobStore,
    rec: &mut Recorder,
    mut session: LiveSession,
    options: &WatchOptions,
) -> Result<WatchReport, LiveError> {
    let url = session.room.url.clone();
    let (listings, shops) = products(rec, &mut session).await;
    session.finished_at = Utc::now();
    session.captures = rec.captures.clone();
    let json = serde_json::to_vec_pretty(&session).map_err(|source| LiveError::Json { url: url.clone(), source })?;

    // The captures' files and the session artifact are durable before the
    // ledger names them.
    let pending = blobs.clone();
    let stored = tokio::task::spawn_blocking(move || -> Result<evidence::Digest, evidence::BlobError> {
        let digest = pending.put(&json)?;
        pending.sync()?;
        Ok(digest)
    })
    .await
    .map_err(|e| LiveError::Blob {
        url: url.clone(),
        source: evidence::BlobError::Io {
            action: "write",
            path: blobs.root().to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        },
    })?
    .map_err(|source| LiveError::Blob { url: url.clone(), source })?;

    let mut entries: Vec<_> = rec.manifests.iter().map(evidence::CaptureManifest::to_entry).collect();
    let mut subjects = vec![stored.to_hex()];
    subjects.extend(session.captures.iter().cloned());
    let event = evidence::custody::CustodyEvent {
        at: session.finished_at,
        actor: options.actor.clone(),
        action: "live-watched".to_string(),
        subjects,
        detail: format!(
            "live room {} watched {} to {}{}: {} state readings, {} changes, {} segments, {} gaps",
            session.room.url,
            session.started_at.to_rfc3339(),
            session.finished_at.to_rfc3339(),
            if session.interrupted { " (stopped early)" } else { "" },
            session.polls,
            session.timeline.len(),
            session.segments.len(),
            session.gaps.len()
        ),
    };
    entries.push(event.to_entry());
    let ledger_entries = entries.len();
    let ledger = store.ledger();
    let sealed = ledger.append(entries).and_then(|_| ledger.flush());
    sealed.map_err(|source| LiveError::Ledger { url: url.clone(), source })?;

    let rules = RuleSet::builtin().map_err(|source| LiveError::Rules { url: url.clone(), source })?;
    let mut tables = Tables::default();
    let today = options.today.unwrap_or_else(|| Utc::now().date_naive());
    let findings = rules.evaluate_all(&listings, &shops, &HashMap::new(), &mut tables, today);
    let recorded = FindingStore::open(store)
        .and_then(|f| f.record(&findings))
        .map_err(|source| LiveError::Findings { url: url.clone(), source })?;
    Ok(WatchReport {
        session,
        session_sha256: stored.to_hex(),
        listings,
        findings,
        findings_new: recorded.new,
        ledger_entries,
    })
}

impl WatchReport {
    /// What sealing this session into a bundle takes: its findings, every
    /// capture it made (state, playlist, segments, pages, screenshots) and the
    /// session's timeline as an attachment named by its custody entry.
    pub fn bundle_work(&self, options: crate::sealing::BundleOptions) -> crate::sealing::BundleWork {
        crate::sealing::BundleWork {
            findings: self.findings.iter().map(crate::findings::to_record).collect(),
            captures: self.session.captures.iter().filter_map(|c| evidence::Digest::from_hex(c).ok()).collect(),
            attachments: evidence::Digest::from_hex(&self.session_sha256)
                .map(|d| vec![(d, "json".to_string())])
                .unwrap_or_default(),
            options,
        }
    }
}
