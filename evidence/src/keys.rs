//! The station's Ed25519 signing key, and public keys as a verifier sees them.
//!
//! The private key is generated on first use and kept as PKCS#8 PEM with mode
//! 0600 (a key readable by others is refused, as ssh does); the public key is
//! written beside it as SubjectPublicKeyInfo PEM so that `openssl pkeyutl
//! -verify -pubin -inkey station.pub.pem -rawin …` checks our signatures. The
//! fingerprint is `sha256:` + the hex SHA-256 of the public key's DER, i.e.
//! `openssl pkey -pubin -in station.pub.pem -outform DER | sha256sum`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

use crate::Digest;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot {action} `{path}`: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("private key `{path}` is readable by others (mode {mode:o}); run `chmod 600` on it")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("`{path}` is not an ed25519 private key in PKCS#8 PEM: {reason}")]
    BadPrivateKey { path: PathBuf, reason: String },
    #[error("not an ed25519 public key (SubjectPublicKeyInfo): {0}")]
    BadPublicKey(String),
    #[error("signature is not 64 bytes")]
    BadSignatureLength,
}

/// The station's key pair.
#[derive(Clone)]
pub struct StationKey {
    signing: SigningKey,
}

impl std::fmt::Debug for StationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationKey").field("fingerprint", &self.public().fingerprint()).finish_non_exhaustive()
    }
}

impl StationKey {
    pub const PRIVATE_FILE: &'static str = "station.key";
    pub const PUBLIC_FILE: &'static str = "station.pub.pem";

    /// Loads the key in `dir`, generating it first if there is none. Returns
    /// the key and whether it was just created.
    pub fn load_or_create(dir: &Path) -> Result<(StationKey, bool), KeyError> {
        let path = dir.join(Self::PRIVATE_FILE);
        if path.exists() {
            return Ok((Self::load(&path)?, false));
        }
        fs::create_dir_all(dir).map_err(|source| KeyError::Io { action: "create", path: dir.into(), source })?;
        let key = StationKey { signing: SigningKey::generate(&mut rand::rngs::OsRng) };
        let pem = key
            .signing
            .to_pkcs8_pem(Default::default())
            .map_err(|e| KeyError::BadPrivateKey { path: path.clone(), reason: e.to_string() })?;
        // Write a private temporary file, then link it into place: the link
        // fails if another process created the key meanwhile, so a key is never
        // replaced, and a crash never leaves a half-written key under its name.
        let tmp = dir.join(format!(".station.key.{}.tmp", std::process::id()));
        let io = |action, source| KeyError::Io { action, path: tmp.clone(), source };
        let mut f =
            fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(|e| io("create", e))?;
        f.write_all(pem.as_bytes()).map_err(|e| io("write", e))?;
        f.sync_all().map_err(|e| io("sync", e))?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok((Self::load(&path)?, false)),
            Err(source) => return Err(KeyError::Io { action: "create", path, source }),
        }
        let public = dir.join(Self::PUBLIC_FILE);
        fs::write(&public, key.public().to_pem()).map_err(|source| KeyError::Io {
            action: "write",
            path: public,
            source,
        })?;
        Ok((key, true))
    }

    /// Loads a private key file, refusing one that others can read.
    pub fn load(path: &Path) -> Result<StationKey, KeyError> {
        let meta = fs::metadata(path).map_err(|source| KeyError::Io { action: "read", path: path.into(), source })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions { path: path.into(), mode });
        }
        let pem =
            fs::read_to_string(path).map_err(|source| KeyError::Io { action: "read", path: path.into(), source })?;
        let signing = SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| KeyError::BadPrivateKey { path: path.into(), reason: e.to_string() })?;
        Ok(StationKey { signing })
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl PublicKey {
    /// SubjectPublicKeyInfo DER (44 bytes for Ed25519).
    pub fn to_der(&self) -> Vec<u8> {
        self.0.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    pub fn to_pem(&self) -> String {
        self.0.to_public_key_pem(Default::default()).unwrap_or_default()
    }

    pub fn from_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        VerifyingKey::from_public_key_der(der).map(PublicKey).map_err(|e| KeyError::BadPublicKey(e.to_string()))
    }

    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        VerifyingKey::from_public_key_pem(pem).map(PublicKey).map_err(|e| KeyError::BadPublicKey(e.to_string()))
    }

    /// `sha256:` + hex SHA-256 of the DER public key.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", Digest::of(&self.to_der()).to_hex())
    }

    /// True when `signature` is this key's signature of `message` (strict
    /// verification: no malleable or small-order forms).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<bool, KeyError> {
        let bytes: [u8; 64] = signature.try_into().map_err(|_| KeyError::BadSignatureLength)?;
        let sig = ed25519_dalek::Signature::from_bytes(&bytes);
        Ok(self.0.verify_strict(message, &sig).is_ok() && self.0.verify(message, &sig).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, created) = StationKey::load_or_create(dir.path()).unwrap();
        assert!(created);
        let mode = fs::metadata(dir.path().join(StationKey::PRIVATE_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (k2, created) = StationKey::load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(k1.public(), k2.public());
        let pem = fs::read_to_string(dir.path().join(StationKey::PUBLIC_FILE)).unwrap();
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), k1.public());
        let sig = k1.sign(b"checkpoint");
        assert!(k2.public().verify(b"checkpoint", &sig).unwrap());
        assert!(!k2.public().verify(b"checkpoinT", &sig).unwrap());
        assert!(k1.public().fingerprint().starts_with("sha256:"));
        assert_eq!(k1.public().to_der().len(), 44);
    }

    #[test]
    fn a_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        StationKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(StationKey::PRIVATE_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = StationKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, KeyError::Permissions { mode: 0o644, .. }), "{err}");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(StationKey::PRIVATE_FILE);
        fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).unwrap();
        fs::write(&path, "not a key").unwrap();
        assert!(matches!(StationKey::load(&path), Err(KeyError::BadPrivateKey { .. })));
        assert!(PublicKey::from_der(b"\x30\x00").is_err());
        assert!(matches!(
            PublicKey::from_pem(&StationKey::load_or_create(&dir.path().join("k")).unwrap().0.public().to_pem())
                .unwrap()
                .verify(b"x", b"short"),
            Err(KeyError::BadSignatureLength)
        ));
    }
}
