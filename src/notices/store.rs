//! Notices and the platforms' answers, in trees of the store's database.
//!
//! Trees:
//! - `notices`              seq (u64 BE) → [`Notice`] JSON, exactly the bytes the
//!   platform API sends for it (see [`NoticeStore::list_wire`])
//! - `notice_ids`           notice id → seq
//! - `notices_by_platform`  platform `\0` seq → notice id (the paging index)
//! - `notice_meta`          `seq` → the last sequence number given out; `wire` →
//!   the encoding of a sample notice when the stored notices were last
//!   re-encoded (see [`NoticeStore::open`])
//! - `notice_status`        notice id → [`NoticeStatus`] JSON
//! - `notice_idempotency`   platform `\0` idempotency key → the first request's digest and answer
//!
//! The sequence number is read and bumped inside the transaction that writes
//! the notice, so notices become visible in sequence order: a reader paging
//! with "everything after seq N" never skips a notice that commits later with
//! a smaller number. That is what makes cursor paging gap-free while notices
//! are being issued.

use chrono::{DateTime, Utc};
use kv::transaction::{ConflictableTransactionError, TransactionalTree};
use kv::Transactional;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::AuthenticatedPlatform;
use super::outbox::{self, Outbox};
use super::{b64, corrupt, Disposition, Notice, NoticeDraft, NoticeError};

const SEQ_KEY: &[u8] = b"seq";
const WIRE_KEY: &[u8] = b"wire";
/// The most notices one page returns.
pub const MAX_PAGE: usize = 500;

/// Where a platform's paging stands: opaque to the platform (base64url of the
/// last sequence number it has seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor(u64);

impl Cursor {
    /// Before the first notice.
    pub fn start() -> Cursor {
        Cursor(0)
    }

    pub fn parse(text: &str) -> Result<Cursor, NoticeError> {
        let bytes = b64::decode_url(text).ok_or_else(|| NoticeError::BadCursor(text.to_string()))?;
        let arr: [u8; 8] = bytes.try_into().map_err(|_| NoticeError::BadCursor(text.to_string()))?;
        Ok(Cursor(u64::from_be_bytes(arr)))
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&b64::encode_url(&self.0.to_be_bytes()))
    }
}

/// Where a notice stands with its platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeStatus {
    pub notice_id: String,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub disposition: Option<Disposition>,
    /// When the platform says it acted.
    pub disposition_at: Option<DateTime<Utc>>,
    /// When we recorded the report.
    pub reported_at: Option<DateTime<Utc>>,
}

impl NoticeStatus {
    fn new(notice_id: &str) -> NoticeStatus {
        NoticeStatus {
            notice_id: notice_id.to_string(),
            acknowledged_at: None,
            disposition: None,
            disposition_at: None,
            reported_at: None,
        }
    }
}

/// A platform's report on a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispositionReport {
    #[serde(flatten)]
    pub disposition: Disposition,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct IdempotencyRecord {
    /// SHA-256 (hex) of the operation, notice id and body.
    request: String,
    response: NoticeStatus,
}

/// The platform-facing write operations, for idempotency digests.
#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Write<'a> {
    Acknowledge { notice_id: &'a str },
    Report { notice_id: &'a str, report: &'a DispositionReport },
}

/// A stored notice's JSON, served as it is.
#[derive(Debug, Clone)]
pub struct WireNotice {
    seq: u64,
    json: kv::IVec,
}

impl WireNotice {
    /// Refuses bytes that cannot be a notice's JSON object (truncated or
    /// overwritten), so a damaged record is an error, as when decoding.
    fn checked(seq: u64, json: kv::IVec) -> Result<WireNotice, NoticeError> {
        if json.starts_with(b"{\"id\":\"") && json.ends_with(b"}") {
            Ok(WireNotice { seq, json })
        } else {
            Err(corrupt("notices", &seq.to_be_bytes(), "not a notice's JSON object"))
        }
    }

    /// The notice's JSON object.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    pub fn decode(&self) -> Result<Notice, NoticeError> {
        serde_json::from_slice(&self.json).map_err(|e| corrupt("notices", &self.seq.to_be_bytes(), e))
    }
}

/// A fixed notice whose encoding stands for the encoding of every notice:
/// when it changes, the stored notices are re-encoded (see [`NoticeStore::open`]).
/// Every field is set, and its text has what JSON escapes.
fn sample_notice() -> Notice {
    let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 123_456_789).unwrap_or_default();
    let text = "样品 \"q\" \\ \n\u{1}/<>&'".to_string();
    Notice {
        id: "N20231114000000000000".into(),
        draft: NoticeDraft {
            case_id: text.clone(),
            platform: "p".into(),
            listings: vec![super::NoticeListing { url: text.clone(), item_id: text.clone() }],
            shop: super::NoticeShop { name: text.clone(), uscc: Some(text.clone()) },
            findings: vec![super::NoticeFinding { rule_id: text.clone(), message: text.clone() }],
            legal_basis: text.clone(),
            authority: text.clone(),
            deadline: at,
            contest: text.clone(),
            evidence_sha256: text,
        },
        created_at: at,
    }
}

/// Notices, their status and the idempotency records.
#[derive(Clone)]
pub struct NoticeStore {
    notices: kv::Tree,
    ids: kv::Tree,
    by_platform: kv::Tree,
    meta: kv::Tree,
    status: kv::Tree,
    idempotency: kv::Tree,
    outbox: Outbox,
}

type TxResult<T> = Result<T, ConflictableTransactionError<NoticeError>>;

fn abort<T>(e: NoticeError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn platform_key(platform: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(platform.len() + 9);
    k.extend_from_slice(platform.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn seq_of(tree: &str, key: &[u8], raw: &[u8]) -> Result<u64, NoticeError> {
    let arr: [u8; 8] = raw.try_into().map_err(|_| corrupt(tree, key, "sequence number is not 8 bytes"))?;
    Ok(u64::from_be_bytes(arr))
}

fn to_json<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, NoticeError> {
    serde_json::to_vec(value).map_err(|e| NoticeError::Encode { what: what.to_string(), detail: e.to_string() })
}

impl NoticeStore {
    /// Opens the notice trees in `db` (the store's database: see
    /// [`crate::store::Store::db`]).
    ///
    /// A stored notice is served to platforms as it is stored (no decoding),
    /// so it must be exactly what encoding a [`Notice`] gives today. If that
    /// encoding changed since the records were written (a field added,
    /// renamed or moved, another date format — seen as a different encoding
    /// of a fixed sample notice), every record is decoded and re-encoded once,
    /// here, before anything is served.
    pub fn open(db: &kv::Db) -> Result<NoticeStore, NoticeError> {
        let store = NoticeStore {
            notices: db.open_tree("notices")?,
            ids: db.open_tree("notice_ids")?,
            by_platform: db.open_tree("notices_by_platform")?,
            meta: db.open_tree("notice_meta")?,
            status: db.open_tree("notice_status")?,
            idempotency: db.open_tree("notice_idempotency")?,
            outbox: Outbox::open(db)?,
        };
        let sample = to_json("sample notice", &sample_notice())?;
        if store.meta.get(WIRE_KEY)?.as_deref() != Some(sample.as_slice()) {
            store.reencode()?;
            store.meta.insert(WIRE_KEY, sample)?;
            store.meta.flush()?;
        }
        Ok(store)
    }

    /// Rewrites every stored notice whose bytes are not today's encoding of
    /// what they decode to. A notice never changes once issued, so a record
    /// that changed meanwhile (it cannot) is left to the writer.
    fn reencode(&self) -> Result<(), NoticeError> {
        for item in self.notices.iter() {
            let (k, v) = item?;
            // A record that does not decode is left as it is: every reader
            // that decodes reports it, and the served path checks its framing.
            let Ok(notice) = serde_json::from_slice::<Notice>(&v) else { continue };
            let json = to_json("notice", &notice)?;
            if json != *v {
                let _ = self.notices.compare_and_swap(&k, Some(&v), Some(json))?;
            }
        }
        Ok(())
    }

    /// The outbox the notices' events go to.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Issues a notice: stores it under the next sequence number and enqueues
    /// its `notice.issued` event in the same transaction. Issuing the same
    /// draft again the same day returns the notice already issued.
    pub fn issue(&self, draft: NoticeDraft, now: DateTime<Utc>) -> Result<Notice, NoticeError> {
        if draft.platform.is_empty() || draft.platform.contains('\0') {
            return Err(NoticeError::UnknownPlatform(draft.platform));
        }
        let hash = Sha256::digest(to_json("notice draft", &draft)?);
        let id = format!("N{}{}", now.format("%Y%m%d"), &hex::encode(hash)[..12]);
        let notice = Notice { id: id.clone(), draft, created_at: now };
        let json = to_json(&format!("notice `{id}`"), &notice)?;
        let event = outbox::notice_issued_event(&notice, now)?;
        let event_json = to_json(&format!("outbox event `{}`", event.id), &event)?;

        let trees = (&self.notices, &self.ids, &self.by_platform, &self.meta, self.outbox.pending_tree());
        let stored = trees.transaction(|(notices, ids, by_platform, meta, pending)| -> TxResult<Option<Vec<u8>>> {
            if let Some(seq) = ids.get(id.as_bytes())? {
                return Ok(notices.get(&seq)?.map(|v| v.to_vec()));
            }
            let last = match meta.get(SEQ_KEY)? {
                Some(raw) => match seq_of("notice_meta", SEQ_KEY, &raw) {
                    Ok(s) => s,
                    Err(e) => return abort(e),
                },
                None => 0,
            };
            let seq = last + 1;
            meta.insert(SEQ_KEY, seq.to_be_bytes())?;
            notices.insert(seq.to_be_bytes(), json.as_slice())?;
            ids.insert(id.as_bytes(), seq.to_be_bytes())?;
            by_platform.insert(platform_key(&notice.draft.platform, seq), id.as_bytes())?;
            Outbox::enqueue_in(pending, &event.id, &event_json)?;
            Ok(None)
        })?;
        match stored {
            Some(raw) => serde_json::from_slice(&raw).map_err(|e| corrupt("notices", id.as_bytes(), e)),
            None => Ok(notice),
        }
    }

    /// A notice by id, for the bureau's own use (not platform-facing).
    pub fn get_any(&self, id: &str) -> Result<Option<Notice>, NoticeError> {
        let Some(seq) = self.ids.get(id.as_bytes())? else { return Ok(None) };
        let Some(raw) = self.notices.get(&seq)? else { return Ok(None) };
        serde_json::from_slice(&raw).map(Some).map_err(|e| corrupt("notices", id.as_bytes(), e))
    }

    /// A notice of the authenticated platform; another platform's notice is
    /// "not found", so ids do not leak across platforms.
    pub fn get(&self, who: &AuthenticatedPlatform, id: &str) -> Result<Notice, NoticeError> {
        let notice = self.get_wire(who, id)?.decode()?;
        // The index said so; the notice itself must agree.
        if notice.draft.platform != who.id() {
            return Err(NoticeError::NotFound(id.to_string()));
        }
        Ok(notice)
    }

    /// [`NoticeStore::get`] as the stored bytes. The notice is the platform's
    /// when the platform's paging index (written in the notice's own
    /// transaction, under the notice's platform) holds its sequence number.
    pub fn get_wire(&self, who: &AuthenticatedPlatform, id: &str) -> Result<WireNotice, NoticeError> {
        let not_found = || NoticeError::NotFound(id.to_string());
        let raw_seq = self.ids.get(id.as_bytes())?.ok_or_else(not_found)?;
        let seq = seq_of("notice_ids", id.as_bytes(), &raw_seq)?;
        if !self.by_platform.contains_key(platform_key(who.id(), seq))? {
            return Err(not_found());
        }
        let raw = self.notices.get(raw_seq)?.ok_or_else(not_found)?;
        WireNotice::checked(seq, raw)
    }

    /// The authenticated platform's notices after `cursor`, oldest first, at
    /// most `limit` (capped at [`MAX_PAGE`]), and the cursor to continue from.
    /// An empty page returns the cursor it was given, so a poller can keep it.
    pub fn list(
        &self,
        who: &AuthenticatedPlatform,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<Notice>, Cursor), NoticeError> {
        let (raw, next) = self.list_wire(who, cursor, limit)?;
        let notices = raw.iter().map(WireNotice::decode).collect::<Result<_, _>>()?;
        Ok((notices, next))
    }

    /// [`NoticeStore::list`] as the stored bytes: each one is the notice's
    /// JSON exactly as `serde_json` encodes a [`Notice`] (see
    /// [`NoticeStore::open`]), so a page can be written without decoding.
    pub fn list_wire(
        &self,
        who: &AuthenticatedPlatform,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<WireNotice>, Cursor), NoticeError> {
        let after = cursor.unwrap_or_default();
        let limit = limit.clamp(1, MAX_PAGE);
        let start = platform_key(who.id(), after.0.saturating_add(1));
        let end = platform_key(who.id(), u64::MAX);
        let mut out = Vec::with_capacity(limit);
        let mut next = after;
        for item in self.by_platform.range(start..=end).take(limit) {
            let (k, _) = item?;
            let seq = seq_of("notices_by_platform", &k, &k[k.len().saturating_sub(8)..])?;
            let raw = self
                .notices
                .get(seq.to_be_bytes())?
                .ok_or_else(|| corrupt("notices_by_platform", &k, "indexed notice is missing"))?;
            out.push(WireNotice::checked(seq, raw)?);
            next = Cursor(seq);
        }
        Ok((out, next))
    }

    /// Every platform's notices after `cursor`, oldest first, at most `limit`
    /// (capped at [`MAX_PAGE`]): the bureau's view, not platform-facing.
    pub fn list_any(&self, cursor: Option<Cursor>, limit: usize) -> Result<(Vec<Notice>, Cursor), NoticeError> {
        let after = cursor.unwrap_or_default();
        let mut out = Vec::new();
        let mut next = after;
        for item in self.notices.range(after.0.saturating_add(1).to_be_bytes()..).take(limit.clamp(1, MAX_PAGE)) {
            let (k, v) = item?;
            out.push(serde_json::from_slice(&v).map_err(|e| corrupt("notices", &k, e))?);
            next = Cursor(seq_of("notices", &k, &k)?);
        }
        Ok((out, next))
    }

    /// The notices issued for case `case_id`, oldest first (a scan of every notice).
    pub fn of_case(&self, case_id: &str) -> Result<Vec<Notice>, NoticeError> {
        self.all().filter(|n| n.as_ref().map_or(true, |n| n.draft.case_id == case_id)).collect()
    }

    /// The status of a notice (of the authenticated platform).
    pub fn status(&self, who: &AuthenticatedPlatform, id: &str) -> Result<NoticeStatus, NoticeError> {
        self.get_wire(who, id)?;
        self.status_any(id)
    }

    /// Every notice in issue order, for the bureau's own use (not platform-facing).
    pub fn all(&self) -> impl Iterator<Item = Result<Notice, NoticeError>> + '_ {
        self.notices.iter().map(|item| {
            let (k, v) = item?;
            serde_json::from_slice(&v).map_err(|e| corrupt("notices", &k, e))
        })
    }

    /// The status of any notice, for the bureau's own use (not platform-facing).
    pub fn status_any(&self, id: &str) -> Result<NoticeStatus, NoticeError> {
        match self.status.get(id.as_bytes())? {
            Some(raw) => serde_json::from_slice(&raw).map_err(|e| corrupt("notice_status", id.as_bytes(), e)),
            None => Ok(NoticeStatus::new(id)),
        }
    }

    /// The platform has received the notice.
    pub fn acknowledge(
        &self,
        who: &AuthenticatedPlatform,
        notice_id: &str,
        idempotency_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<NoticeStatus, NoticeError> {
        self.write(who, notice_id, idempotency_key, &Write::Acknowledge { notice_id }, |s| {
            s.acknowledged_at.get_or_insert(now);
        })
    }

    /// The platform reports what it did. A later report replaces an earlier
    /// one (a dispute can end in a delisting); reporting implies receipt.
    pub fn report(
        &self,
        who: &AuthenticatedPlatform,
        notice_id: &str,
        report: &DispositionReport,
        idempotency_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<NoticeStatus, NoticeError> {
        self.write(who, notice_id, idempotency_key, &Write::Report { notice_id, report }, |s| {
            s.acknowledged_at.get_or_insert(now);
            s.disposition = Some(report.disposition.clone());
            s.disposition_at = Some(report.at);
            s.reported_at = Some(now);
        })
    }

    /// One platform write, in one transaction with its idempotency record: a
    /// key seen before answers with the first answer (same request) or an
    /// error (different request), and changes nothing.
    fn write(
        &self,
        who: &AuthenticatedPlatform,
        notice_id: &str,
        idempotency_key: Option<&str>,
        request: &Write<'_>,
        apply: impl Fn(&mut NoticeStatus),
    ) -> Result<NoticeStatus, NoticeError> {
        self.get(who, notice_id)?;
        let request_digest = hex::encode(Sha256::digest(to_json("request", request)?));
        let idem_key = idempotency_key.map(|k| {
            let mut v = who.id().as_bytes().to_vec();
            v.push(0);
            v.extend_from_slice(k.as_bytes());
            v
        });
        let trees = (&self.status, &self.idempotency);
        let answer = trees.transaction(|(status, idem): &(TransactionalTree, TransactionalTree)| {
            if let Some(key) = &idem_key {
                if let Some(raw) = idem.get(key)? {
                    let record: IdempotencyRecord = match serde_json::from_slice(&raw) {
                        Ok(r) => r,
                        Err(e) => return abort(corrupt("notice_idempotency", key, e)),
                    };
                    if record.request != request_digest {
                        return abort(NoticeError::IdempotencyConflict {
                            platform: who.id().to_string(),
                            key: idempotency_key.unwrap_or_default().to_string(),
                        });
                    }
                    return Ok(record.response);
                }
            }
            let mut current = match status.get(notice_id.as_bytes())? {
                Some(raw) => match serde_json::from_slice(&raw) {
                    Ok(s) => s,
                    Err(e) => return abort(corrupt("notice_status", notice_id.as_bytes(), e)),
                },
                None => NoticeStatus::new(notice_id),
            };
            apply(&mut current);
            let json = match to_json("notice status", &current) {
                Ok(j) => j,
                Err(e) => return abort(e),
            };
            status.insert(notice_id.as_bytes(), json)?;
            if let Some(key) = &idem_key {
                let record = IdempotencyRecord { request: request_digest.clone(), response: current.clone() };
                match to_json("idempotency record", &record) {
                    Ok(j) => idem.insert(key.as_slice(), j)?,
                    Err(e) => return abort(e),
                };
            }
            Ok(current)
        })?;
        Ok(answer)
    }

    /// Notices past their deadline at `now` that no platform has reported a
    /// disposition for (acknowledging is not acting), oldest first.
    pub fn overdue(&self, now: DateTime<Utc>) -> Result<Vec<Notice>, NoticeError> {
        let mut out = Vec::new();
        for item in self.notices.iter() {
            let (k, v) = item?;
            let notice: Notice = serde_json::from_slice(&v).map_err(|e| corrupt("notices", &k, e))?;
            if notice.draft.deadline < now && self.status_any(&notice.id)?.disposition.is_none() {
                out.push(notice);
            }
        }
        Ok(out)
    }
}
