//! What the handlers of every audience read from a request: path ids, query
//! parameters, bounded JSON bodies and the `Idempotency-Key` header.
//!
//! Every extractor's rejection is taken as a `Result` and turned into an
//! [`ApiError`], so a bad path, query or body gets the one error shape and a
//! 4xx, never axum's plain-text rejections.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::errors::ApiError;
use super::BODY_LIMIT;

/// The page size when the client names none.
pub const DEFAULT_LIMIT: usize = 100;

/// The largest page a client may ask for.
pub const MAX_LIMIT: usize = crate::notices::store::MAX_PAGE;

/// The longest note or reason accepted, in characters.
pub const MAX_TEXT: usize = 4000;

/// The longest idempotency key we keep (it is stored with the answer).
const MAX_IDEMPOTENCY_KEY: usize = 255;

pub type PathParam = Result<Path<String>, PathRejection>;
pub type QueryParams = Result<Query<HashMap<String, String>>, QueryRejection>;
pub type Body = Result<Bytes, BytesRejection>;

pub fn path_id(path: PathParam) -> Result<String, ApiError> {
    path.map(|Path(id)| id).map_err(|e| ApiError::BadBody(format!("bad path: {}", e.body_text())))
}

pub fn query(params: QueryParams) -> Result<HashMap<String, String>, ApiError> {
    params.map(|Query(p)| p).map_err(|e| ApiError::BadQuery(e.body_text()))
}

/// `limit` from the query: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(params: &HashMap<String, String>) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::BadLimit(text.clone())),
        },
    }
}

/// A query parameter parsed with `FromStr`, if present (an empty value is refused like any other bad one).
pub fn parsed<T: std::str::FromStr>(params: &HashMap<String, String>, name: &str) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    match params.get(name) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|e| ApiError::BadQuery(format!("`{name}`: {e}"))),
    }
}

pub fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers.get("idempotency-key").ok_or(ApiError::MissingIdempotencyKey)?;
    let key = value.to_str().map_err(|_| ApiError::BadIdempotencyKey)?.trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadIdempotencyKey);
    }
    Ok(key.to_string())
}

pub fn body_bytes(body: Body) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge(BODY_LIMIT)
        } else {
            ApiError::BadBody(e.body_text())
        }
    })
}

/// A JSON body of type `T` (whose `deny_unknown_fields` refuses extra members).
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadBody(e.to_string()))
}

/// Checks a free-text member of a body: at most [`MAX_TEXT`] characters and,
/// when `required`, not blank (white space only counts as blank).
pub fn text(field: &str, value: &str, required: bool) -> Result<(), ApiError> {
    if value.chars().count() > MAX_TEXT {
        return Err(ApiError::BadBody(format!("`{field}` is longer than {MAX_TEXT} characters")));
    }
    if required && value.trim().is_empty() {
        return Err(ApiError::BadBody(format!("`{field}` must not be blank")));
    }
    Ok(())
}

/// One page of `items` (in id order) after `cursor` (an id, exclusive) that
/// pass `keep`, at most `limit`, and the cursor of the next page: the last id
/// when the page is full, `None` when the end was reached.
pub fn page<T, E>(
    items: impl Iterator<Item = Result<T, E>>,
    id: impl Fn(&T) -> &str,
    cursor: Option<&str>,
    limit: usize,
    mut keep: impl FnMut(&T) -> Result<bool, ApiError>,
) -> Result<(Vec<T>, Option<String>), ApiError>
where
    ApiError: From<E>,
{
    let mut out = Vec::new();
    for item in items {
        let item = item?;
        if cursor.is_some_and(|c| id(&item) <= c) || !keep(&item)? {
            continue;
        }
        if out.len() == limit {
            let next = out.last().map(|last: &T| id(last).to_string());
            return Ok((out, next));
        }
        out.push(item);
    }
    Ok((out, None))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ids(n: usize) -> impl Iterator<Item = Result<String, ApiError>> {
        (0..n).map(|i| Ok(format!("f{i:02}")))
    }

    #[test]
    fn pages_follow_the_cursor_keep_the_filter_and_end_with_no_cursor() {
        let even = |s: &String| Ok(s[1..].parse::<u32>().unwrap() % 2 == 0);
        let (first, next) = page(ids(10), |s| s, None, 2, even).unwrap();
        assert_eq!((first, next.as_deref()), (vec!["f00".to_string(), "f02".into()], Some("f02")));
        let (second, next) = page(ids(10), |s| s, Some("f02"), 2, even).unwrap();
        assert_eq!((second, next.as_deref()), (vec!["f04".to_string(), "f06".into()], Some("f06")));
        // The last page: full, but nothing kept after it, so no cursor.
        let (last, next) = page(ids(10), |s| s, Some("f06"), 1, even).unwrap();
        assert_eq!((last, next), (vec!["f08".to_string()], None));
        let (none, next) = page(ids(10), |s| s, Some("f99"), 5, even).unwrap();
        assert!(none.is_empty() && next.is_none());
        let failing = |_: &String| Err(ApiError::BadQuery("x".into()));
        assert!(page(ids(3), |s| s, None, 5, failing).is_err(), "a filter's error is not swallowed");
    }

    #[test]
    fn free_text_is_bounded_and_a_required_one_is_not_blank() {
        assert!(text("note", "", false).is_ok());
        assert!(matches!(text("reason", " \u{3000}\t", true), Err(ApiError::BadBody(m)) if m.contains("`reason`")));
        assert!(text("reason", &"长".repeat(MAX_TEXT), true).is_ok());
        assert!(text("reason", &"长".repeat(MAX_TEXT + 1), false).is_err());
    }

    #[test]
    fn limits_and_filters_refuse_what_they_cannot_read() {
        let params = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
        assert_eq!(limit(&HashMap::new()).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(&params("limit", "500")).unwrap(), 500);
        for bad in ["0", "501", "", "ten", "-1"] {
            assert!(matches!(limit(&params("limit", bad)), Err(ApiError::BadLimit(_))), "{bad:?}");
        }
        let status = |v: &str| parsed::<crate::findings::Status>(&params("status", v), "status");
        assert_eq!(status("open").unwrap(), Some(crate::findings::Status::Open));
        assert!(matches!(status(""), Err(ApiError::BadQuery(_))));
        assert!(parsed::<crate::findings::Status>(&HashMap::new(), "status").unwrap().is_none());
    }
}
