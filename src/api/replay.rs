//! Idempotent writes of staff, enforcement and admin (the platform's are
//! kept by [`crate::notices::NoticeStore`] with its notices).
//!
//! Tree `api_idempotency`: token id `\0` Idempotency-Key → the first
//! request's digest (method, path, body) and its answer. A repeat of the same
//! request returns the first answer without doing anything; the same key with
//! another request is 409 `idempotency_conflict`. Keys are scoped per token.
//! Writes are serialised by one lock, so two concurrent requests with the same
//! key cannot both act; these writes are rare (people triaging), so the lock
//! costs nothing that matters. Sealing a bundle holds it for the seconds the
//! seal takes, which also keeps seals to one at a time.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::auth::principal;
use super::errors::ApiError;
use super::request::{body_bytes, idempotency_key, path_id, Body, PathParam};
use super::ApiState;
use crate::access::{Principal, Role};

/// The stored answers and the write lock.
#[derive(Clone)]
pub struct Replays {
    tree: kv::Tree,
    lock: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Serialize, Deserialize)]
struct Record {
    request: String,
    status: u16,
    body: Value,
}

/// What a write answered: its status, the body sent, and the body kept for a
/// repeat (the same, except a secret that must be shown only once).
pub struct Written {
    pub status: StatusCode,
    pub body: Value,
    pub replay: Value,
}

impl Written {
    pub fn ok(body: impl Serialize) -> Result<Written, ApiError> {
        let body = serde_json::to_value(body).map_err(ApiError::internal)?;
        Ok(Written { status: StatusCode::OK, replay: body.clone(), body })
    }

    pub fn created(body: impl Serialize) -> Result<Written, ApiError> {
        Ok(Written { status: StatusCode::CREATED, ..Written::ok(body)? })
    }
}

/// Everything a write handler reads from its request, taken whole so that
/// [`run`] can check it in a fixed order (who, path, Idempotency-Key, body)
/// and answer every failure in the one error shape.
pub struct WriteInput {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    path: PathParam,
    body: Body,
}

impl FromRequest<ApiState> for WriteInput {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &ApiState) -> Result<WriteInput, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let path = Path::<String>::from_request_parts(&mut parts, state).await;
        let (method, uri, headers) = (parts.method.clone(), parts.uri.clone(), parts.headers.clone());
        let body = Bytes::from_request(Request::from_parts(parts, body), state).await;
        Ok(WriteInput { method, uri, headers, path, body })
    }
}

/// The Idempotency-Key, the (bounded) body and the digest of the request.
struct WriteRequest {
    key: String,
    body: Bytes,
    digest: String,
}

impl WriteRequest {
    fn read(method: &Method, uri: &Uri, headers: &HeaderMap, body: Body) -> Result<WriteRequest, ApiError> {
        let key = idempotency_key(headers)?;
        let body = body_bytes(body)?;
        let mut h = Sha256::new();
        for part in [method.as_str().as_bytes(), uri.path().as_bytes(), &body] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        Ok(WriteRequest { key, body, digest: hex::encode(h.finalize()) })
    }
}

impl Replays {
    pub fn open(db: &kv::Db) -> Result<Replays, kv::Error> {
        Ok(Replays { tree: db.open_tree("api_idempotency")?, lock: Arc::default() })
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// A write of a `role` token: authenticates, reads the path's id, the
/// Idempotency-Key and the body, and runs `write(who, id, body)` once per
/// (token, Idempotency-Key).
pub async fn run(
    state: &ApiState,
    input: WriteInput,
    role: Role,
    write: impl FnOnce(&Principal, &str, &[u8]) -> Result<Written, ApiError>,
) -> Result<Response, ApiError> {
    let (who, id, request) = read(state, input, role)?;
    once(state, &who, &request, async { write(&who, &id, &request.body) }).await
}

/// [`run`] for a write that awaits (sealing a bundle): `write` gets its own
/// copies of who, the id and the body. It runs as a task of its own, so a
/// client that hangs up does not cut a seal short: the write completes and
/// its answer is kept for the retry with the same Idempotency-Key.
pub async fn run_async<F, Fut>(state: &ApiState, input: WriteInput, role: Role, write: F) -> Result<Response, ApiError>
where
    F: FnOnce(Principal, String, Bytes) -> Fut,
    Fut: Future<Output = Result<Written, ApiError>> + Send + 'static,
{
    let (who, id, request) = read(state, input, role)?;
    let acting = write(who.clone(), id, request.body.clone());
    let state = state.clone();
    let task = tokio::spawn(async move { once(&state, &who, &request, acting).await });
    task.await.map_err(|e| ApiError::internal(format!("the write task ended badly: {e}")))?
}

fn read(state: &ApiState, input: WriteInput, role: Role) -> Result<(Principal, String, WriteRequest), ApiError> {
    let WriteInput { method, uri, headers, path, body } = input;
    let who = principal(&state.tokens, &state.limiter, &headers, role)?;
    let id = path_id(path)?;
    let request = WriteRequest::read(&method, &uri, &headers, body)?;
    Ok((who, id, request))
}

/// The first time it acts and its answer is kept (then the database is
/// flushed, so an answered write is durable); a repeat gets the kept answer.
/// Failed writes are not kept.
async fn once(
    state: &ApiState,
    who: &Principal,
    request: &WriteRequest,
    write: impl Future<Output = Result<Written, ApiError>>,
) -> Result<Response, ApiError> {
    let replays = &state.replays;
    let _guard = replays.lock.lock().await;
    let mut key = who.token_id.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(request.key.as_bytes());
    if let Some(raw) = replays.tree.get(&key).map_err(ApiError::internal)? {
        let record: Record = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
        if record.request != request.digest {
            return Err(ApiError::IdempotencyConflict(request.key.clone()));
        }
        let status = StatusCode::from_u16(record.status).map_err(ApiError::internal)?;
        return Ok(reply(status, record.body));
    }
    let written = write.await?;
    let record = Record { request: request.digest.clone(), status: written.status.as_u16(), body: written.replay };
    let json = serde_json::to_vec(&record).map_err(ApiError::internal)?;
    replays.tree.insert(key, json).map_err(ApiError::internal)?;
    state.flush().await?;
    Ok(reply(written.status, written.body))
}
