//! The evidence beside a finding: the capture it was drawn from (record,
//! screenshot), the page's text as extracted with what the rule matched
//! marked, and where the capture and the finding stand in the ledger (entry,
//! inclusion in the latest signed checkpoint or the current tree).

use evidence::finding::FindingRecord;
use evidence::ledger::EntryKind;
use evidence::{merkle, BlobStore, CaptureRecord, Digest};
use maud::{html, Markup};

use super::text::{clip, highlighted, LONG, SHORT};
use crate::console::error::ConsoleError;
use crate::console::layout::time_exact;
use crate::console::ConsoleState;
use crate::model::Listing;

/// The capture record `id` (hex) from the blob store; `None` when the id is
/// malformed or the record is not on this server.
pub fn capture_record(state: &ConsoleState, id: &str) -> Result<Option<CaptureRecord>, ConsoleError> {
    let Ok(digest) = Digest::from_hex(id) else { return Ok(None) };
    let blobs = BlobStore::open(state.data.blobs()).map_err(ConsoleError::internal)?;
    match blobs.get(&digest) {
        // Any blob can be named by its digest; one that is not a capture record is simply not a capture.
        Ok(bytes) => Ok(serde_json::from_slice::<CaptureRecord>(&bytes).ok()),
        Err(evidence::BlobError::NotFound { .. }) => Ok(None),
        Err(e) => Err(ConsoleError::internal(e)),
    }
}

/// Where a ledger entry stands.
pub struct Inclusion {
    pub seq: u64,
    /// The entry's leaf hash (RFC 9162).
    pub leaf: Digest,
    /// The tree size the proof was checked against, and whether that tree is a signed checkpoint.
    pub size: u64,
    pub signed: bool,
    pub root: Digest,
    pub verified: bool,
}

/// The first ledger entry of `kind` about `subject`, proved against the latest
/// checkpoint whose signature verifies with the station's key when it covers
/// the entry, else against the current tree.
pub fn inclusion(state: &ConsoleState, subject: &str, kind: EntryKind) -> Result<Option<Inclusion>, ConsoleError> {
    let ledger = state.api.store.ledger();
    let mut found = None;
    for seq in ledger.entries_about(subject)? {
        if ledger.entry(seq)?.kind == kind {
            found = Some(seq);
            break;
        }
    }
    let Some(seq) = found else { return Ok(None) };
    let leaf = merkle::leaf_hash(&ledger.entry_bytes(seq)?);
    let signed = match (&state.api.sealing, ledger.latest_checkpoint()?) {
        (Some(sealing), Some(cp)) => cp.verify(&sealing.station.key.public()).ok().flatten().filter(|c| c.size > seq),
        _ => None,
    };
    let (size, root, is_signed) = match signed {
        Some(cp) => (cp.size, cp.root, true),
        None => {
            let size = ledger.len()?;
            (size, ledger.root(size)?, false)
        }
    };
    let proof = ledger.inclusion_proof(seq, size)?;
    let verified = merkle::verify_inclusion(seq, size, &leaf, &proof, &root);
    Ok(Some(Inclusion { seq, leaf, size, signed: is_signed, root, verified }))
}

/// The ledger facts of one entry as rows of a `.facts` list.
pub fn inclusion_rows(label: &str, inclusion: &Option<Inclusion>) -> Markup {
    html! {
        @match inclusion {
            None => { dt { (label) } dd { (crate::console::layout::badge("bad", "账本中未找到")) } }
            Some(i) => {
                dt { (label) } dd { "第 " (i.seq) " 条，叶哈希 " code { (i.leaf.to_hex()) } }
                dt { "包含证明" }
                dd {
                    @if i.verified { (crate::console::layout::badge("ok", "校验通过")) } @else { (crate::console::layout::badge("bad", "校验失败")) }
                    " 对照" @if i.signed { "最新签名检查点" } @else { "当前账本（尚无覆盖此条的签名检查点）" }
                    "（" (i.size) " 条，根 " code { (i.root.to_hex()) } "）"
                }
            }
        }
    }
}

/// The screenshot artifact of a capture, if it has one that is an image.
pub fn screenshot_of(record: &CaptureRecord) -> Option<&evidence::Artifact> {
    record.artifacts.iter().find(|a| a.role == "screenshot" && image_type(&a.media_type).is_some())
}

/// The content type an image artifact is served with; anything else is not served.
pub fn image_type(media_type: &str) -> Option<&'static str> {
    match media_type {
        "image/png" => Some("image/png"),
        "image/jpeg" => Some("image/jpeg"),
        "image/webp" => Some("image/webp"),
        _ => None,
    }
}

/// The text fields of a listing as (field path, label, value, characters shown).
fn fields(listing: &Listing) -> Vec<(String, String, String, usize)> {
    let shop = listing.shop.as_ref().and_then(|s| s.name.clone());
    let plain = [
        ("title", "标题", &listing.title),
        ("brand", "品牌", &listing.brand),
        ("model", "型号", &listing.model),
        ("manufacturer", "生产者", &listing.manufacturer),
        ("manufacturer_address", "厂址", &listing.manufacturer_address),
        ("shop.name", "店铺", &shop),
    ];
    let mut out: Vec<(String, String, String, usize)> = plain
        .into_iter()
        .filter_map(|(path, label, v)| v.as_ref().map(|v| (path.to_string(), label.to_string(), v.clone(), SHORT * 4)))
        .collect();
    for (k, v) in listing.specs.iter().take(40) {
        out.push((format!("specs.{k}"), format!("参数·{}", clip(k, 40)), v.clone(), SHORT * 2));
    }
    for c in listing.certificates.iter().take(20) {
        out.push((format!("certificates.{:?}", c.kind).to_lowercase(), "证书编号".into(), c.number.clone(), SHORT));
    }
    if let Some(d) = &listing.description {
        out.push(("description".into(), "描述".into(), d.clone(), LONG));
    }
    out
}

/// Spans of what the finding matched in field `path` with value `value`: the
/// recorded span when there is one, else the matched text's first occurrence.
fn spans_in(finding: &FindingRecord, path: &str, value: &str) -> Vec<[usize; 2]> {
    finding
        .matched
        .iter()
        .filter(|m| m.field == path && !m.text.is_empty())
        .filter_map(|m| match m.span {
            Some([a, b]) if value.get(a..b) == Some(m.text.as_str()) => Some([a, b]),
            _ => value.find(&m.text).map(|a| [a, a + m.text.len()]),
        })
        .collect()
}

/// The page's text as extracted from the capture, matched parts marked.
pub fn page_text(finding: &FindingRecord, listing: Option<&Listing>) -> Markup {
    html! {
        @match listing {
            None => p.muted { "未找到该商品的存储版本。" }
            Some(listing) => {
                div.pagetext {
                    @for (path, label, value, max) in fields(listing) {
                        p { b { (label) "：" } (highlighted(&value, &spans_in(finding, &path, &value), max)) }
                    }
                }
            }
        }
        h3 { "规则命中" }
        ul {
            @for m in finding.matched.iter().take(50) {
                li {
                    code { (clip(&m.field, 80)) } "："
                    @if m.text.is_empty() { "（缺失）" } @else { mark { (clip(&m.text, LONG)) } }
                    @if let Some(note) = &m.note { " — " (clip(note, LONG)) }
                }
            }
        }
    }
}

/// The capture's facts: hashes, time, URL as text, status.
pub fn capture_facts(id: &str, record: Option<&CaptureRecord>) -> Markup {
    html! {
        dt { "采集 SHA-256" } dd { code { (clip(id, 80)) } }
        @if let Some(r) = record {
            dt { "采集时间" } dd { (time_exact(&r.finished_at)) " （时间来源 " (clip(&r.time_source, 40)) "）" }
            dt { "网址" } dd { code.url { (clip(&r.final_url, LONG)) } }
            @if r.final_url != r.url { dt { "请求网址" } dd { code.url { (clip(&r.url, LONG)) } } }
            dt { "响应" } dd { "HTTP " (r.response.status) "，正文 " (r.response.body_len) " 字节，正文 SHA-256 " code { (r.response.body_sha256.to_hex()) } }
        } @else {
            dt { "采集记录" } dd { (crate::console::layout::badge("warn", "本服务器未存有该采集记录")) }
        }
    }
}
