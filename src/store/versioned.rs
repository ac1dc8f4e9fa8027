//! Versioned records: a new version is written only when the content changed.

use kv::transaction::{ConflictableTransactionError, TransactionalTree};
use kv::Tree;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::StoreError;

/// What storing a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// First time this identity was seen (version 1).
    New,
    /// The content differs from the latest version; this is version `n`.
    Changed(u32),
    /// Same content as the latest version; nothing written.
    Unchanged,
}

/// `a \0 b`: the identity key of a listing or shop.
pub fn identity(platform: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(platform.len() + id.len() + 1);
    k.extend_from_slice(platform.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn version_key(identity: &[u8], version: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(identity.len() + 5);
    k.extend_from_slice(identity);
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// Stores `record_json` as the next version of `identity` unless its content
/// (`content_json`, the record without capture-specific fields) is unchanged.
pub fn put(
    versions: &TransactionalTree,
    heads: &TransactionalTree,
    identity: &[u8],
    content_json: &[u8],
    record_json: &[u8],
) -> Result<Stored, ConflictableTransactionError<StoreError>> {
    let hash: [u8; 32] = Sha256::digest(content_json).into();
    let (version, stored) = match heads.get(identity)? {
        None => (1, Stored::New),
        Some(head) if head.len() == 36 => {
            if head[4..] == hash {
                return Ok(Stored::Unchanged);
            }
            let latest = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            (latest + 1, Stored::Changed(latest + 1))
        }
        Some(_) => {
            return Err(ConflictableTransactionError::Abort(StoreError::Corrupt {
                tree: "heads".into(),
                key: String::from_utf8_lossy(identity).into_owned(),
                detail: "head record is not 36 bytes".into(),
            }))
        }
    };
    let mut head = Vec::with_capacity(36);
    head.extend_from_slice(&version.to_be_bytes());
    head.extend_from_slice(&hash);
    heads.insert(identity, head)?;
    versions.insert(version_key(identity, version), record_json)?;
    Ok(stored)
}

fn decode<T: DeserializeOwned>(tree: &str, key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: tree.to_string(),
        key: String::from_utf8_lossy(key).into_owned(),
        detail: e.to_string(),
    })
}

/// The latest version of every identity in `heads`.
pub fn latest<'a, T: DeserializeOwned + 'a>(
    heads: &'a Tree,
    versions: &'a Tree,
    tree_name: &'static str,
) -> impl Iterator<Item = Result<T, StoreError>> + 'a {
    heads.iter().map(move |entry| {
        let (identity, head) = entry?;
        if head.len() != 36 {
            return Err(StoreError::Corrupt {
                tree: "heads".into(),
                key: String::from_utf8_lossy(&identity).into_owned(),
                detail: "head record is not 36 bytes".into(),
            });
        }
        let version = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let key = version_key(&identity, version);
        let bytes = versions.get(&key)?.ok_or_else(|| StoreError::Corrupt {
            tree: tree_name.into(),
            key: String::from_utf8_lossy(&key).into_owned(),
            detail: "latest version missing".into(),
        })?;
        decode(tree_name, &key, &bytes)
    })
}

/// Every version of one identity, oldest first.
pub fn versions<T: DeserializeOwned>(versions: &Tree, identity: &[u8], tree_name: &str) -> Result<Vec<T>, StoreError> {
    let mut prefix = identity.to_vec();
    prefix.push(0);
    versions
        .scan_prefix(&prefix)
        .map(|entry| {
            let (key, bytes) = entry?;
            decode(tree_name, &key, &bytes)
        })
        .collect()
}
