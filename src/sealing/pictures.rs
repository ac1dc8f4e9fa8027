//! Every finding gets a picture: a listing flagged from a plain HTTP capture
//! is captured again in the browser (rendered DOM, full-page screenshot,
//! MHTML, network log), and the ledger records which finding it pictures, so
//! the bundle of that finding carries a screenshot of what the rule saw.

use std::collections::BTreeMap;

use evidence::custody::CustodyEvent;
use evidence::finding::FindingRecord;
use evidence::ledger::{EntryKind, NewEntry};
use evidence::{CaptureManifest, CaptureRecord, Digest};

use super::{SealError, Station};
use crate::browser::BrowserPool;
use crate::fetch::{FetchConfig, FetchContext};

/// The custody action linking a finding to its picture.
pub const PICTURED: &str = "pictured";

/// What [`picture_findings`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pictures {
    /// Pages rendered and sealed.
    pub captured: usize,
    /// Findings whose capture already had a screenshot, or that already had a picture.
    pub already: usize,
    /// `url: error` for pages the browser could not capture (the job goes on).
    pub failed: Vec<String>,
}

impl Station {
    /// Browser-captures the page of each finding that has no picture yet
    /// (one capture per distinct URL) and records the link in the ledger.
    pub async fn picture_findings(
        &self,
        pool: &BrowserPool,
        findings: &[FindingRecord],
        fetch: &FetchConfig,
    ) -> Result<Pictures, SealError> {
        let mut result = Pictures::default();
        let mut by_url: BTreeMap<String, Vec<&FindingRecord>> = BTreeMap::new();
        for f in findings {
            if !self.pictures_of(&f.id)?.is_empty() {
                result.already += 1;
                continue;
            }
            let Some(record) = f.capture.as_deref().map(|c| self.record(c)).transpose()? else { continue };
            if record.artifacts.iter().any(|a| a.role == "screenshot") {
                result.already += 1;
                continue;
            }
            by_url.entry(record.final_url.clone()).or_default().push(f);
        }
        let ctx = FetchContext { job_id: None, plan_id: Some("pictures".into()), robots_override: None };
        for (url, fs) in by_url {
            let Ok(parsed) = url::Url::parse(&url) else {
                result.failed.push(format!("{url}: not a url"));
                continue;
            };
            let rendered = match pool.render(&parsed, None).await {
                Ok(r) => r,
                Err(e) => {
                    result.failed.push(format!("{url}: {e}"));
                    continue;
                }
            };
            let (id, record) = crate::browser::seal(&rendered, &self.blobs, fetch, &ctx).await.map_err(|e| {
                SealError::Io { path: url.clone().into(), source: std::io::Error::other(e.to_string()) }
            })?;
            self.blobs.sync()?;
            let mut entries: Vec<NewEntry> = vec![CaptureManifest::of(id, &record).to_entry()];
            for f in fs {
                entries.push(
                    CustodyEvent {
                        at: chrono::Utc::now(),
                        actor: self.identity.station.clone(),
                        action: PICTURED.into(),
                        subjects: vec![f.id.clone(), id.to_hex()],
                        detail: url.clone(),
                    }
                    .to_entry(),
                );
            }
            self.ledger.append(entries)?;
            result.captured += 1;
        }
        self.ledger.flush()?;
        Ok(result)
    }

    /// The browser captures recorded as pictures of finding `id`.
    pub fn pictures_of(&self, id: &str) -> Result<Vec<Digest>, SealError> {
        let mut out = Vec::new();
        for seq in self.ledger.entries_about(id)? {
            let entry = self.ledger.entry(seq)?;
            if entry.kind != EntryKind::Custody {
                continue;
            }
            let Ok(event) = serde_json::from_value::<CustodyEvent>(entry.body) else { continue };
            if event.action == PICTURED && event.subjects.first().map(String::as_str) == Some(id) {
                if let Some(capture) = event.subjects.get(1).and_then(|c| Digest::from_hex(c).ok()) {
                    out.push(capture);
                }
            }
        }
        Ok(out)
    }

    fn record(&self, capture: &str) -> Result<CaptureRecord, SealError> {
        let id = Digest::from_hex(capture).map_err(|_| SealError::BadCaptureId(capture.to_string()))?;
        let bytes = self.blobs.get(&id)?;
        serde_json::from_slice(&bytes).map_err(|e| SealError::Io {
            path: capture.into(),
            source: std::io::Error::other(format!("capture record unreadable: {e}")),
        })
    }
}
