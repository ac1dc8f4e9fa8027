//! The reference verifier: re-checks a bundle offline and names every check
//! that fails, with the file it concerns. FORMAT.md describes the same checks
//! for anyone writing their own.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::Serialize;

use super::{capture_path, paths, token_path, EntryProof, Manifest, SignedData, FORMAT};
use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::entry::{Entry, EntryKind};
use crate::finding::FindingRecord;
use crate::keys::PublicKey;
use crate::wacz::{self, Package, PackageLimits};
use crate::{merkle, warc, CaptureManifest, CaptureRecord, Digest};

/// What the verifier is told besides the bundle.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The station key fingerprint the bundle must be signed with
    /// (`sha256:<hex>`); without it the key in the bundle is reported, not trusted.
    pub expect_key: Option<String>,
    /// Trusted TSA root certificates (DER); without them the token's own
    /// certificate is reported, not trusted.
    pub tsa_roots: Vec<Vec<u8>>,
    pub limits: PackageLimits,
}

/// One named check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub ok: bool,
    /// The file (or part) it concerns.
    pub file: String,
    pub detail: String,
}

/// Everything the verifier found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub checks: Vec<Check>,
    pub bundle_id: Option<String>,
    pub key_fingerprint: Option<String>,
    pub checkpoint: Option<Checkpoint>,
    /// `genTime` of each valid timestamp token.
    pub timestamps: Vec<String>,
    pub captures: usize,
    pub findings: usize,
    pub ledger_entries: usize,
    /// Whether timestamp tokens were checked against trusted TSA roots.
    pub tsa_pinned: bool,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }

    fn pass(&mut self, check: &'static str, file: &str, detail: impl Into<String>) {
        self.checks.push(Check { check, ok: true, file: file.to_string(), detail: detail.into() });
    }

    fn fail(&mut self, check: &'static str, file: &str, detail: impl Into<String>) {
        self.checks.push(Check { check, ok: false, file: file.to_string(), detail: detail.into() });
    }
}

/// Verifies the bundle in `bytes`.
pub fn verify_bundle(bytes: &[u8], options: &VerifyOptions) -> VerifyReport {
    let mut r = VerifyReport { tsa_pinned: !options.tsa_roots.is_empty(), ..VerifyReport::default() };
    let package = match wacz::read_package_bytes(bytes, &options.limits) {
        Ok(p) => p,
        Err(e) => {
            r.fail("package", "(zip)", e.to_string());
            return r;
        }
    };
    r.pass("package", "(zip)", format!("{} files, safe paths", package.files.len()));
    check_files(&package, &mut r);
    let key = check_signature(&package, options, &mut r);
    let Some(key) = key else { return r };
    let Some(cp) = check_checkpoint(&package, &key, &mut r) else { return r };
    let entries = check_ledger(&package, &cp, &mut r);
    let manifest = read_manifest(&package, &cp, &key, &mut r);
    check_captures(&package, manifest.as_ref(), &entries, &mut r);
    check_findings(&package, manifest.as_ref(), &entries, &mut r);
    check_attachments(&package, manifest.as_ref(), &entries, &mut r);
    check_tokens(&package, &cp, options, &mut r);
    r.checkpoint = Some(cp);
    r
}

/// Every file is listed in datapackage.json with the right SHA-256 and size,
/// and datapackage.json matches datapackage-digest.json.
fn check_files(package: &Package, r: &mut VerifyReport) {
    match package.audit() {
        Err(e) => r.fail("files", wacz::DATAPACKAGE_PATH, e.to_string()),
        Ok(audit) => {
            for m in &audit.mismatched {
                r.fail(
                    "files",
                    &m.path,
                    format!(
                        "sha256 {} ({} bytes) but datapackage.json says {} ({} bytes)",
                        m.actual_hash, m.actual_bytes, m.expected_hash, m.expected_bytes
                    ),
                );
            }
            for p in &audit.missing {
                r.fail("files", p, "listed in datapackage.json but not in the bundle");
            }
            for p in &audit.unlisted {
                r.fail("files", p, "in the bundle but not listed in datapackage.json");
            }
            for p in &audit.listed_twice {
                r.fail("files", p, "listed twice in datapackage.json");
            }
            if !audit.datapackage_digest_ok {
                r.fail("datapackage-digest", wacz::DIGEST_PATH, "hash does not match datapackage.json");
            } else {
                r.pass("datapackage-digest", wacz::DIGEST_PATH, "matches datapackage.json");
            }
            if audit.mismatched.is_empty()
                && audit.missing.is_empty()
                && audit.unlisted.is_empty()
                && audit.listed_twice.is_empty()
            {
                r.pass(
                    "files",
                    wacz::DATAPACKAGE_PATH,
                    format!("{} files re-hashed, all match", package.files.len().saturating_sub(2)),
                );
            }
        }
    }
}

/// The package signature, and that the signing key is the station key the
/// bundle names (and the one expected, when given).
fn check_signature(package: &Package, options: &VerifyOptions, r: &mut VerifyReport) -> Option<PublicKey> {
    let file = wacz::DIGEST_PATH;
    let digest = match package.datapackage_digest() {
        Ok(d) => d,
        Err(e) => {
            r.fail("signature", file, e.to_string());
            return None;
        }
    };
    let signed: SignedData = match digest.signed_data.map(serde_json::from_value) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            r.fail("signature", file, format!("signedData is not a spotcheck signature: {e}"));
            return None;
        }
        None => {
            r.fail("signature", file, "the package is not signed");
            return None;
        }
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = match b64.decode(&signed.public_key).ok().and_then(|der| PublicKey::from_der(&der).ok()) {
        Some(k) => k,
        None => {
            r.fail("signature", file, "signedData.publicKey is not an ed25519 public key");
            return None;
        }
    };
    let in_pem = package
        .get(paths::PUBLIC_KEY)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| PublicKey::from_pem(s).ok());
    let mut key_ok = true;
    if in_pem != Some(key) {
        r.fail("key", paths::PUBLIC_KEY, "is not the key that signed the package");
        key_ok = false;
    }
    if signed.key_fingerprint != key.fingerprint() {
        r.fail("key", file, "signedData.keyFingerprint does not match signedData.publicKey");
        key_ok = false;
    }
    // Only `hash` is signed; every other field must agree with what it covers.
    if digest.path != wacz::DATAPACKAGE_PATH {
        r.fail("signature", file, format!("names `{}` instead of datapackage.json", digest.path));
    }
    match package.datapackage() {
        Ok(dp)
            if dp.created.as_deref() == Some(signed.created.as_str())
                && dp.software.as_deref() == Some(signed.software.as_str()) => {}
        Ok(_) => r.fail("signature", file, "signedData.created or .software differs from datapackage.json"),
        Err(e) => r.fail("signature", wacz::DATAPACKAGE_PATH, e.to_string()),
    }
    if signed.signature_algorithm != "ed25519" {
        r.fail("signature", file, format!("unknown signature algorithm `{}`", signed.signature_algorithm));
    }
    let good = signed.hash == digest.hash
        && b64
            .decode(&signed.signature)
            .ok()
            .is_some_and(|sig| key.verify(signed.hash.as_bytes(), &sig).unwrap_or(false));
    if good {
        r.pass("signature", file, format!("ed25519 signature by {}", key.fingerprint()));
    } else {
        r.fail("signature", file, "signature over datapackage.json's hash does not verify");
    }
    match &options.expect_key {
        Some(expected) if *expected != key.fingerprint() => {
            r.fail("key", file, format!("signed by {} but {expected} was expected", key.fingerprint()))
        }
        Some(_) if key_ok => r.pass("key", file, "the expected station key"),
        None if key_ok => r.pass("key", file, format!("{} (not pinned: pass --key to require it)", key.fingerprint())),
        _ => {}
    }
    r.key_fingerprint = Some(key.fingerprint());
    Some(key)
}

fn check_checkpoint(package: &Package, key: &PublicKey, r: &mut VerifyReport) -> Option<Checkpoint> {
    let file = paths::CHECKPOINT;
    let (Some(text), Some(sig)) = (package.get(paths::CHECKPOINT), package.get(paths::CHECKPOINT_SIG)) else {
        r.fail("checkpoint", file, "checkpoint.txt or checkpoint.sig is missing");
        return None;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        r.fail("checkpoint", file, "not UTF-8");
        return None;
    };
    let signed =
        SignedCheckpoint { text: text.to_string(), signature: base64::engine::general_purpose::STANDARD.encode(sig) };
    match signed.verify(key) {
        Ok(Some(cp)) if cp.key == key.fingerprint() => {
            r.pass("checkpoint", file, format!("{} entries, root {}, signed {}", cp.size, cp.root, cp.time));
            Some(cp)
        }
        Ok(Some(cp)) => {
            r.fail(
                "checkpoint",
                file,
                format!("names key {} but the bundle is signed by {}", cp.key, key.fingerprint()),
            );
            None
        }
        Ok(None) => {
            r.fail("checkpoint", paths::CHECKPOINT_SIG, "checkpoint signature does not verify with the station key");
            None
        }
        Err(e) => {
            r.fail("checkpoint", file, e.to_string());
            None
        }
    }
}

/// Each ledger entry is proven to be in the signed checkpoint at its position.
fn check_ledger(package: &Package, cp: &Checkpoint, r: &mut VerifyReport) -> BTreeMap<u64, Entry> {
    let mut out = BTreeMap::new();
    let (Some(lines), Some(proofs)) = (package.get(paths::ENTRIES), package.get(paths::PROOFS)) else {
        r.fail("inclusion", paths::ENTRIES, "ledger entries or proofs are missing");
        return out;
    };
    let proofs: Vec<EntryProof> = match serde_json::from_slice(proofs) {
        Ok(p) => p,
        Err(e) => {
            r.fail("inclusion", paths::PROOFS, format!("unreadable: {e}"));
            return out;
        }
    };
    let lines: Vec<&[u8]> = lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    if lines.len() != proofs.len() {
        r.fail("inclusion", paths::PROOFS, format!("{} entries but {} proofs", lines.len(), proofs.len()));
    }
    let mut last: Option<u64> = None;
    let mut bad = 0;
    for (n, (line, proof)) in lines.iter().zip(&proofs).enumerate() {
        let at = format!("{} line {}", paths::ENTRIES, n + 1);
        let entry: Entry = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(e) => {
                r.fail("inclusion", &at, format!("not a ledger entry: {e}"));
                bad += 1;
                continue;
            }
        };
        if entry.seq != proof.seq {
            r.fail(
                "ledger-order",
                &at,
                format!("entry {} is paired with the proof for entry {}", entry.seq, proof.seq),
            );
            bad += 1;
            continue;
        }
        if last.is_some_and(|l| entry.seq <= l) {
            r.fail("ledger-order", &at, format!("entry {} comes after entry {}", entry.seq, last.unwrap_or(0)));
            bad += 1;
        }
        last = Some(entry.seq);
        let path: Option<Vec<Digest>> = proof.path.iter().map(|h| Digest::from_hex(h).ok()).collect();
        let included =
            path.is_some_and(|p| merkle::verify_inclusion(entry.seq, cp.size, &merkle::leaf_hash(line), &p, &cp.root));
        if !included {
            r.fail("inclusion", &at, format!("entry {} is not proven to be in checkpoint {}", entry.seq, cp.size));
            bad += 1;
            continue;
        }
        out.insert(entry.seq, entry);
    }
    if bad == 0 && !out.is_empty() {
        r.pass("inclusion", paths::ENTRIES, format!("{} entries proven in checkpoint {}", out.len(), cp.size));
    }
    let listed: Option<Vec<u64>> =
        package.get(paths::MANIFEST).and_then(|b| serde_json::from_slice::<Manifest>(b).ok()).map(|m| m.ledger_entries);
    if listed.is_some_and(|l| !l.iter().eq(out.keys())) {
        r.fail(
            "ledger-order",
            paths::MANIFEST,
            "ledger_entries differs from the entries proven in ledger-entries.jsonl",
        );
    }
    r.ledger_entries = out.len();
    out
}

fn read_manifest(package: &Package, cp: &Checkpoint, key: &PublicKey, r: &mut VerifyReport) -> Option<Manifest> {
    let file = paths::MANIFEST;
    let m: Manifest = match package.get(file).map(serde_json::from_slice) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            r.fail("manifest", file, format!("unreadable: {e}"));
            return None;
        }
        None => {
            r.fail("manifest", file, "missing");
            return None;
        }
    };
    if m.format != FORMAT {
        r.fail("manifest", file, format!("format `{}`, expected `{FORMAT}`", m.format));
    }
    let mut ok = m.format == FORMAT;
    if m.checkpoint_size != cp.size || m.key != key.fingerprint() || m.station != cp.station {
        r.fail("manifest", file, "names another checkpoint, key or station than the bundle carries");
        ok = false;
    }
    let findings: Option<Vec<FindingRecord>> =
        package.get(paths::FINDINGS).and_then(|b| serde_json::from_slice(b).ok());
    if findings.is_some_and(|f| f.iter().map(|f| &f.id).ne(m.findings.iter())) {
        r.fail("manifest", file, "lists other findings than spotcheck/findings.json holds");
        ok = false;
    }
    if ok {
        r.pass("manifest", file, format!("bundle {} of station {}", m.id, m.station));
    }
    r.bundle_id = Some(m.id.clone());
    Some(m)
}

/// Each capture record hashes to its id, is sealed in the ledger with the same
/// body digest, and its response is in the WARC with that payload digest.
fn check_captures(
    package: &Package,
    manifest: Option<&Manifest>,
    entries: &BTreeMap<u64, Entry>,
    r: &mut VerifyReport,
) {
    let Some(manifest) = manifest else { return };
    let warc_bytes = package.get(paths::WARC).unwrap_or_default();
    let records = match warc::read_records(warc_bytes) {
        Ok(recs) => recs,
        Err(e) => {
            r.fail("warc", paths::WARC, e.to_string());
            Vec::new()
        }
    };
    if records.is_empty() && !manifest.captures.is_empty() {
        r.fail("warc", paths::WARC, "missing or holds no records");
    }
    let mut warc_ok = !records.is_empty();
    for rec in &records {
        if let Err(e) = warc::check_digests(rec) {
            r.fail("warc", paths::WARC, format!("record {}: {e}", rec.record_id()));
            warc_ok = false;
        }
    }
    if warc_ok {
        r.pass("warc", paths::WARC, format!("{} records, block and payload digests match", records.len()));
    }
    let sealed: BTreeMap<String, CaptureManifest> = entries
        .values()
        .filter(|e| e.kind == EntryKind::Capture)
        .filter_map(|e| serde_json::from_value(e.body.clone()).ok().map(|m| (e.subject.clone(), m)))
        .collect();
    let mut good = 0;
    for c in &manifest.captures {
        let file = capture_path(&c.id);
        let Some(bytes) = package.get(&file) else {
            r.fail("capture", &file, "capture record missing");
            continue;
        };
        if Digest::of(bytes).to_hex() != c.id {
            r.fail("capture", &file, "does not hash to its capture id");
            continue;
        }
        let record: CaptureRecord = match serde_json::from_slice(bytes) {
            Ok(rec) => rec,
            Err(e) => {
                r.fail("capture", &file, format!("unreadable: {e}"));
                continue;
            }
        };
        if c.url != record.url || c.final_url != record.final_url {
            r.fail("capture", paths::MANIFEST, format!("capture {} is listed with other urls than its record", c.id));
        }
        match sealed.get(&c.id) {
            Some(m)
                if m.body_sha256 == record.response.body_sha256
                    && m.capture.to_hex() == c.id
                    && m.artifacts == record.artifacts => {}
            Some(_) => {
                r.fail("capture", &file, "differs from its ledger entry");
                continue;
            }
            None => {
                r.fail("capture", &file, "has no proven ledger entry");
                continue;
            }
        }
        let bare = |id: &str| id.trim_matches(|ch| ch == '<' || ch == '>').to_string();
        let payload = format!("sha256:{}", record.response.body_sha256);
        let in_warc = records.iter().any(|rec| {
            bare(rec.record_id()) == bare(&c.response_record)
                && rec.record_type() == "response"
                && rec.header("WARC-Payload-Digest").is_some_and(|d| d.eq_ignore_ascii_case(&payload))
                && rec.payload().ok().is_some_and(|p| Digest::of(p) == record.response.body_sha256)
        });
        if !in_warc {
            r.fail(
                "capture",
                paths::WARC,
                format!("no response record {} with the body of capture {}", c.response_record, c.id),
            );
            continue;
        }
        // The metadata record concurrent to it holds the capture record itself.
        let described = records.iter().any(|rec| {
            rec.record_type() == "metadata"
                && rec.header("WARC-Concurrent-To").is_some_and(|to| bare(to) == bare(&c.response_record))
                && Digest::of(rec.block).to_hex() == c.id
        });
        if !described {
            r.fail("capture", paths::WARC, format!("no metadata record holding capture record {}", c.id));
            continue;
        }
        // Every artifact (DOM, screenshot, MHTML, network log) is a resource
        // concurrent to the response, with the bytes the record names.
        let missing: Vec<&str> = record
            .artifacts
            .iter()
            .filter(|a| {
                !records.iter().any(|rec| {
                    rec.record_type() == "resource"
                        && rec.header("WARC-Concurrent-To").is_some_and(|to| bare(to) == bare(&c.response_record))
                        && Digest::of(rec.block) == a.sha256
                        && rec.block.len() as u64 == a.bytes
                })
            })
            .map(|a| a.role.as_str())
            .collect();
        if !missing.is_empty() {
            r.fail(
                "capture",
                paths::WARC,
                format!("capture {}: no intact resource record for {}", c.id, missing.join(", ")),
            );
            continue;
        }
        good += 1;
    }
    if good == manifest.captures.len() && good > 0 {
        r.pass(
            "capture",
            paths::CAPTURE_PREFIX,
            format!("{good} captures bound to their ledger entries and WARC records"),
        );
    }
    r.captures = manifest.captures.len();
}

/// Each finding is exactly what the ledger sealed, and points at a capture
/// in the bundle.
fn check_findings(
    package: &Package,
    manifest: Option<&Manifest>,
    entries: &BTreeMap<u64, Entry>,
    r: &mut VerifyReport,
) {
    let file = paths::FINDINGS;
    let findings: Vec<FindingRecord> = match package.get(file).map(serde_json::from_slice) {
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            r.fail("findings", file, format!("unreadable: {e}"));
            return;
        }
        None => {
            r.fail("findings", file, "missing");
            return;
        }
    };
    let captures: BTreeSet<&str> =
        manifest.map(|m| m.captures.iter().map(|c| c.id.as_str()).collect()).unwrap_or_default();
    let mut good = 0;
    for f in &findings {
        let sealed = entries.values().find(|e| e.kind == EntryKind::Finding && e.subject == f.id);
        match sealed.map(|e| serde_json::from_value::<FindingRecord>(e.body.clone())) {
            Some(Ok(s)) if s == *f => {}
            Some(_) => {
                r.fail("findings", file, format!("finding {} differs from its ledger entry", f.id));
                continue;
            }
            None => {
                r.fail("findings", file, format!("finding {} has no proven ledger entry", f.id));
                continue;
            }
        }
        if f.capture.as_deref().is_some_and(|c| !captures.contains(c)) {
            r.fail("findings", file, format!("finding {} points at a capture the bundle does not hold", f.id));
            continue;
        }
        good += 1;
    }
    if good == findings.len() {
        r.pass("findings", file, format!("{good} findings match their ledger entries"));
    }
    r.findings = findings.len();
}

/// Each attachment hashes to its name and is the first subject of a proven
/// custody entry; every `attachment-*` file is listed in the manifest.
fn check_attachments(
    package: &Package,
    manifest: Option<&Manifest>,
    entries: &BTreeMap<u64, Entry>,
    r: &mut VerifyReport,
) {
    let listed: BTreeSet<&str> =
        manifest.map(|m| m.attachments.iter().map(String::as_str).collect()).unwrap_or_default();
    let present: Vec<&str> = package.paths().filter(|p| p.starts_with(paths::ATTACHMENT_PREFIX)).collect();
    if present.is_empty() && listed.is_empty() {
        return;
    }
    let mut good = 0;
    for path in present.iter().copied().chain(listed.iter().copied().filter(|p| !present.contains(p))) {
        let named = path.strip_prefix(paths::ATTACHMENT_PREFIX).and_then(|rest| rest.split('.').next()).unwrap_or("");
        let Some(bytes) = package.get(path) else {
            r.fail("attachment", path, "listed in bundle.json but missing");
            continue;
        };
        if !listed.contains(path) {
            r.fail("attachment", path, "not listed in bundle.json");
            continue;
        }
        if Digest::of(bytes).to_hex() != named {
            r.fail("attachment", path, "does not hash to its name");
            continue;
        }
        if !entries.values().any(|e| e.kind == EntryKind::Custody && e.subject == named) {
            r.fail("attachment", path, "is not named by a proven custody entry");
            continue;
        }
        good += 1;
    }
    if good == present.len() && good == listed.len() {
        r.pass(
            "attachment",
            paths::ATTACHMENT_PREFIX,
            format!("{good} attachments match their sealed custody entries"),
        );
    }
}

/// Each RFC 3161 token is over the checkpoint text and signed by a TSA
/// (chained to a trusted root when roots are given).
fn check_tokens(package: &Package, cp: &Checkpoint, options: &VerifyOptions, r: &mut VerifyReport) {
    let digest = Digest::of(cp.to_text().as_bytes());
    let tokens =
        package.paths().filter(|p| p.starts_with(paths::TOKEN_PREFIX) && p.ends_with(paths::TOKEN_SUFFIX)).count();
    if tokens == 0 {
        r.pass("timestamp", paths::CHECKPOINT, "no timestamp token: the checkpoint's time rests on the station clock");
    }
    for n in 1..=tokens {
        let path = token_path(n);
        let Some(der) = package.get(&path) else {
            r.fail("timestamp", &path, "timestamp tokens are not numbered 1..n");
            continue;
        };
        let token = crate::timestamp::TimestampToken::from_der(der.to_vec());
        match token.verify(&digest, None) {
            Ok(info) => {
                let chained = if options.tsa_roots.is_empty() {
                    Ok(format!("TSA `{}` (not pinned: pass --tsa-ca to require a trusted TSA)", info.signer_subject))
                } else {
                    crate::timestamp::verify_chain(&info, &options.tsa_roots)
                        .map(|()| format!("TSA `{}`, chained to a trusted root", info.signer_subject))
                };
                match chained {
                    Ok(who) => {
                        r.timestamps.push(info.gen_time.to_rfc3339());
                        r.pass("timestamp", &path, format!("checkpoint existed at {} by {who}", info.gen_time));
                    }
                    Err(e) => r.fail("timestamp", &path, e.to_string()),
                }
            }
            Err(e) => r.fail("timestamp", &path, e.to_string()),
        }
    }
}

/// The verdict as text: one line per check, failures first, then the verdict.
pub fn render_text(name: &str, r: &VerifyReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "bundle {name}");
    if let Some(id) = &r.bundle_id {
        let _ = writeln!(
            out,
            "  id {id}: {} captures, {} findings, {} ledger entries",
            r.captures, r.findings, r.ledger_entries
        );
    }
    for c in r.checks.iter().filter(|c| !c.ok).chain(r.checks.iter().filter(|c| c.ok)) {
        let mark = if c.ok { "ok    " } else { "FAILED" };
        let _ = writeln!(out, "  {mark} {:<18} {}: {}", c.check, c.file, c.detail);
    }
    let verdict = if r.ok() && !r.timestamps.is_empty() && r.tsa_pinned {
        "VERIFIED: every file, the signature, the ledger proofs and the timestamps (from a trusted TSA) check out"
    } else if r.ok() && !r.timestamps.is_empty() {
        "VERIFIED: every file, the signature, the ledger proofs and the timestamps check out (TSA not pinned: pass --tsa-ca)"
    } else if r.ok() {
        "VERIFIED: every file, the signature and the ledger proofs check out (no trusted timestamp)"
    } else {
        "NOT VERIFIED: the bundle has been altered or is incomplete (see FAILED above)"
    };
    let _ = writeln!(out, "{verdict}");
    out
}
