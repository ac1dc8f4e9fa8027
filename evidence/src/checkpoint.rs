//! Signed checkpoints: the station's signed statement "the ledger's first
//! `size` entries have Merkle root `root`".
//!
//! The signed bytes are a short UTF-8 text (in the spirit of the C2SP signed
//! note), one `name: value` per line, each ending in `\n`:
//!
//! ```text
//! spotcheck-checkpoint/1
//! station: sta-01
//! key: sha256:4f1c…
//! size: 1024
//! root: 9a0b…(64 hex)
//! time: 2026-11-22T20:15:03.123Z
//! ```
//!
//! The signature is Ed25519 over exactly those bytes, so
//! `openssl pkeyutl -verify -pubin -inkey station.pub.pem -rawin -in checkpoint.txt -sigfile checkpoint.sig`
//! checks it; an RFC 3161 token, when a TSA is configured, is over their SHA-256.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::{PublicKey, StationKey};
use crate::Digest;

const MAGIC: &str = "spotcheck-checkpoint/1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("checkpoint line {line}: {reason}")]
    Parse { line: usize, reason: String },
    #[error("station id `{0}` must be 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadStation(String),
}

/// What a checkpoint says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub station: String,
    /// Fingerprint of the key that signs it (see [`PublicKey::fingerprint`]).
    pub key: String,
    pub size: u64,
    pub root: Digest,
    pub time: DateTime<Utc>,
}

/// A checkpoint with its exact signed text and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    pub text: String,
    /// Base64 of the 64-byte Ed25519 signature over `text`.
    pub signature: String,
}

/// Station ids appear in signed text, so they are kept to a safe alphabet.
pub fn check_station_id(station: &str) -> Result<(), CheckpointError> {
    let ok = (1..=64).contains(&station.len())
        && station.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(CheckpointError::BadStation(station.to_string()))
    }
}

impl Checkpoint {
    pub fn to_text(&self) -> String {
        format!(
            "{MAGIC}\nstation: {}\nkey: {}\nsize: {}\nroot: {}\ntime: {}\n",
            self.station,
            self.key,
            self.size,
            self.root,
            self.time.to_rfc3339_opts(SecondsFormat::Millis, true)
        )
    }

    /// Parses the exact text form; anything else (extra lines, other order,
    /// missing final newline) is refused so that one checkpoint has one text.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let err = |line: usize, reason: &str| CheckpointError::Parse { line, reason: reason.to_string() };
        let Some(body) = text.strip_suffix('\n') else {
            return Err(err(0, "does not end with a newline"));
        };
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() != 6 {
            return Err(err(0, &format!("has {} lines, expected 6", lines.len())));
        }
        if lines[0] != MAGIC {
            return Err(err(1, &format!("expected `{MAGIC}`")));
        }
        let field = |i: usize, name: &str| -> Result<&str, CheckpointError> {
            lines[i]
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix(": "))
                .ok_or_else(|| err(i + 1, &format!("expected `{name}: …`")))
        };
        let station = field(1, "station")?.to_string();
        check_station_id(&station).map_err(|e| err(2, &e.to_string()))?;
        let key = field(2, "key")?.to_string();
        let size = field(3, "size")?.parse::<u64>().map_err(|e| err(4, &format!("size: {e}")))?;
        let root = Digest::from_hex(field(4, "root")?).map_err(|_| err(5, "root is not 64 hex digits"))?;
        let time = DateTime::parse_from_rfc3339(field(5, "time")?)
            .map_err(|e| err(6, &format!("time: {e}")))?
            .with_timezone(&Utc);
        let cp = Checkpoint { station, key, size, root, time };
        if cp.to_text() != text {
            return Err(err(0, "is not in canonical form"));
        }
        Ok(cp)
    }

    pub fn sign(&self, key: &StationKey) -> SignedCheckpoint {
        use base64::Engine as _;
        let text = self.to_text();
        let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(text.as_bytes()));
        SignedCheckpoint { text, signature }
    }
}

impl SignedCheckpoint {
    pub fn signature_bytes(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(&self.signature).ok()
    }

    /// Parses the text and checks the signature with `key`; `Ok(None)` when
    /// the signature does not verify.
    pub fn verify(&self, key: &PublicKey) -> Result<Option<Checkpoint>, CheckpointError> {
        let cp = Checkpoint::parse(&self.text)?;
        let good = self.signature_bytes().is_some_and(|sig| key.verify(self.text.as_bytes(), &sig).unwrap_or(false));
        Ok(good.then_some(cp))
    }

    /// SHA-256 of the signed text: what a timestamp token is asked for.
    pub fn digest(&self) -> Digest {
        Digest::of(self.text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp() -> Checkpoint {
        Checkpoint {
            station: "sta-01".into(),
            key: "sha256:00".into(),
            size: 7,
            root: Digest::of(b"r"),
            time: DateTime::parse_from_rfc3339("2026-11-22T20:15:03.123Z").unwrap().with_timezone(&Utc),
        }
    }

    #[test]
    fn text_round_trips_and_nothing_else_parses() {
        let t = cp().to_text();
        assert_eq!(Checkpoint::parse(&t).unwrap(), cp());
        assert!(Checkpoint::parse(&t[..t.len() - 1]).is_err());
        assert!(Checkpoint::parse(&format!("{t}extra\n")).is_err());
        assert!(Checkpoint::parse(&t.replace("size: 7", "size: 07")).is_err());
        assert!(Checkpoint::parse(&t.replace("sta-01", "sta 01")).is_err());
        assert!(Checkpoint::parse(&t.replace("Z\n", "+00:00\n")).is_err());
        assert!(Checkpoint::parse("").is_err());
    }

    #[test]
    fn signature_binds_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = StationKey::load_or_create(dir.path()).unwrap();
        let signed = cp().sign(&key);
        assert_eq!(signed.verify(&key.public()).unwrap(), Some(cp()));
        let tampered = SignedCheckpoint { text: signed.text.replace("size: 7", "size: 8"), ..signed.clone() };
        assert_eq!(tampered.verify(&key.public()).unwrap(), None);
        let (other, _) = StationKey::load_or_create(&dir.path().join("other")).unwrap();
        assert_eq!(signed.verify(&other.public()).unwrap(), None);
    }
}
