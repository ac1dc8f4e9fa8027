//! Capture artifacts between a worker's scratch blob store and the control
//! plane's, through JetStream's object store. An object is named by the
//! SHA-256 of its bytes, so a task done twice stores nothing twice, and the
//! control plane checks every byte it takes against that name.

use async_nats::jetstream::object_store::{self, ObjectStore};
use evidence::{BlobStore, CaptureManifest, Digest};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::ClusterError;

/// Longest one object-store call may take. The client has no deadline of
/// its own on a transfer, and one cut by a server restart would otherwise
/// wait for ever (holding its page, or a worker's task kept alive).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// `call` within [`CALL_TIMEOUT`], or an error saying what timed out.
async fn bounded<T>(
    what: String,
    call: impl std::future::Future<Output = Result<T, ClusterError>>,
) -> Result<T, ClusterError> {
    tokio::time::timeout(CALL_TIMEOUT, call).await.unwrap_or_else(|_| {
        Err(ClusterError::nats(what, format!("no answer within {}", humantime::format_duration(CALL_TIMEOUT))))
    })
}

/// Largest artifact taken from the object store (a page body is capped at
/// the fetch limit, a browser screenshot or MHTML well below this).
const MAX_ARTIFACT_BYTES: usize = 512 << 20;

/// Every blob a capture consists of: its record, the raw body, and the
/// further artifacts (rendered DOM, screenshot, MHTML, network log …).
pub fn digests_of(capture: &CaptureManifest) -> Vec<Digest> {
    let mut all = vec![capture.capture, capture.body_sha256];
    all.extend(capture.artifacts.iter().map(|a| a.sha256));
    all.sort();
    all.dedup();
    all
}

fn name(digest: &Digest) -> String {
    digest.to_hex()
}

fn artifact_error(digest: &Digest, reason: impl std::fmt::Display) -> ClusterError {
    ClusterError::Artifact { digest: digest.to_hex(), reason: reason.to_string() }
}

pub struct Artifacts {
    store: ObjectStore,
}

impl Artifacts {
    pub fn new(store: ObjectStore) -> Artifacts {
        Artifacts { store }
    }

    /// Whether the object store holds `name` (a deleted object does not count).
    async fn holds(&self, name: &str) -> Result<bool, ClusterError> {
        bounded(format!("look up object {name}"), async {
            match self.store.info(name).await {
                Ok(info) => Ok(!info.deleted),
                Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => Ok(false),
                Err(e) => Err(ClusterError::nats(format!("look up object {name}"), e)),
            }
        })
        .await
    }

    async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), ClusterError> {
        bounded(format!("put object {name}"), async {
            let mut reader = bytes;
            self.store.put(name, &mut reader).await.map_err(|e| ClusterError::nats(format!("put object {name}"), e))?;
            Ok(())
        })
        .await
    }

    /// Puts each of `digests` from `blobs` into the object store unless it is
    /// there already. Returns how many were uploaded.
    pub async fn upload(&self, blobs: &BlobStore, digests: &[Digest]) -> Result<usize, ClusterError> {
        let mut uploaded = 0;
        for digest in digests {
            let name = name(digest);
            if self.holds(&name).await? {
                continue;
            }
            let bytes = match tokio::fs::read(blobs.path_of(digest)).await {
                Ok(bytes) => bytes,
                // Another task of this worker with the same bytes uploaded and removed it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.holds(&name).await? => continue,
                Err(e) => return Err(artifact_error(digest, format!("cannot read the local copy: {e}"))),
            };
            self.put(&name, &bytes).await?;
            uploaded += 1;
        }
        Ok(uploaded)
    }

    /// Copies each of `digests` missing from `blobs` out of the object store,
    /// refusing bytes whose SHA-256 is not their name. Returns how many were copied.
    pub async fn download(&self, blobs: &BlobStore, digests: &[Digest]) -> Result<usize, ClusterError> {
        let mut copied = 0;
        for digest in digests {
            if blobs.contains(digest) {
                continue;
            }
            let bytes = self.get(&name(digest)).await?;
            if Digest::of(&bytes) != *digest {
                return Err(artifact_error(digest, "the object store's bytes do not hash to their name"));
            }
            let blobs = blobs.clone();
            tokio::task::spawn_blocking(move || blobs.put(&bytes))
                .await
                .map_err(|e| artifact_error(digest, e))?
                .map_err(|e| artifact_error(digest, e))?;
            copied += 1;
        }
        Ok(copied)
    }

    /// The bytes of object `name`, at most [`MAX_ARTIFACT_BYTES`].
    pub async fn get(&self, name: &str) -> Result<Vec<u8>, ClusterError> {
        bounded(format!("get object {name}"), self.get_unbounded(name)).await
    }

    async fn get_unbounded(&self, name: &str) -> Result<Vec<u8>, ClusterError> {
        let object = self.store.get(name).await.map_err(|e| match e.kind() {
            object_store::GetErrorKind::NotFound => ClusterError::Missing { name: name.to_string() },
            _ => ClusterError::nats(format!("get object {name}"), e),
        })?;
        let size = object.info().size;
        if size > MAX_ARTIFACT_BYTES {
            return Err(ClusterError::nats(format!("get object {name}"), format!("{size} bytes is over the cap")));
        }
        let mut bytes = Vec::with_capacity(size);
        object
            .take(MAX_ARTIFACT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| ClusterError::nats(format!("read object {name}"), e))?;
        Ok(bytes)
    }

    /// Stores `bytes` under the hex SHA-256 of them; returns that name.
    pub async fn put_bytes(&self, bytes: &[u8]) -> Result<String, ClusterError> {
        let name = name(&Digest::of(bytes));
        if !self.holds(&name).await? {
            let mut reader = bytes;
            self.store
                .put(name.as_str(), &mut reader)
                .await
                .map_err(|e| ClusterError::nats(format!("put object {name}"), e))?;
        }
        Ok(name)
    }

    /// Removes objects the control plane has committed (best effort: the
    /// bucket's max age removes what is left).
    pub async fn delete(&self, names: impl IntoIterator<Item = String>) {
        for name in names {
            match tokio::time::timeout(CALL_TIMEOUT, self.store.delete(&name)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(object = %name, error = %e, "cannot delete a committed artifact"),
                Err(_) => tracing::debug!(object = %name, "deleting a committed artifact timed out"),
            }
        }
    }

    pub fn names(digests: &[Digest]) -> impl Iterator<Item = String> + '_ {
        digests.iter().map(name)
    }
}
