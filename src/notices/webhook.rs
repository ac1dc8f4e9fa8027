//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>), so
//! platforms can use the spec's ready-made verifiers.
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the
//! signature is HMAC-SHA256 with the decoded `whsec_` secret, sent as
//! `v1,<base64>` in `webhook-signature` (several, space-separated, while a
//! secret is rotated).

use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Deserializer};
use sha2::Sha256;

use super::{b64, NoticeError};

type HmacSha256 = Hmac<Sha256>;

/// A webhook signing secret, `whsec_<base64>`.
#[derive(Clone)]
pub struct WebhookSecret {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (the prefix is optional, as in the spec's libraries).
    pub fn parse(text: &str) -> Result<WebhookSecret, NoticeError> {
        let body = text.strip_prefix("whsec_").unwrap_or(text);
        let bytes = b64::decode(body).ok_or_else(|| NoticeError::BadSecret("not base64 after `whsec_`".into()))?;
        if bytes.len() < 16 {
            return Err(NoticeError::BadSecret(format!("{} bytes, at least 16 needed", bytes.len())));
        }
        Ok(WebhookSecret { bytes })
    }

    /// A new random 32-byte secret.
    pub fn generate() -> WebhookSecret {
        WebhookSecret { bytes: rand::random::<[u8; 32]>().to_vec() }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `whsec_<base64>` form to give the platform.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", b64::encode(&self.bytes))
    }
}

impl<'de> Deserialize<'de> for WebhookSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WebhookSecret, D::Error> {
        let text = String::deserialize(d)?;
        WebhookSecret::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn mac(secret: &WebhookSecret, msg_id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length: new_from_slice cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(&secret.bytes) {
        Ok(m) => m,
        Err(_) => unreachable!("hmac takes keys of any length"),
    };
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value: `v1,<base64>`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1,{}", b64::encode(&mac(secret, msg_id, &timestamp.to_string(), body).finalize().into_bytes()))
}

/// The three headers to send, as (name, value).
pub fn signed_headers(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    [
        ("webhook-id", msg_id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", sign(secret, msg_id, timestamp, body)),
    ]
}

/// Checks a delivery as a receiver would: the timestamp within `tolerance_secs`
/// of `now` (either side), and one of the `v1` signatures matching (compared in
/// constant time). Returns the webhook id, for deduplication.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: &WebhookSecret,
    tolerance_secs: i64,
    now: i64,
) -> Result<String, NoticeError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| NoticeError::Webhook(format!("missing or non-ASCII header `{name}`")))
    };
    let id = header("webhook-id")?;
    let ts_text = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    let ts: i64 = ts_text.parse().map_err(|_| NoticeError::Webhook(format!("bad `webhook-timestamp` `{ts_text}`")))?;
    // `abs_diff`, not `(now - ts).abs()`: a timestamp near `i64::MIN` or
    // `i64::MAX` must not overflow (a panic, or in release a wrapped
    // difference that lets a stale delivery through).
    if now.abs_diff(ts) > tolerance_secs.unsigned_abs() {
        return Err(NoticeError::Webhook(format!(
            "`webhook-timestamp` {ts} is more than {tolerance_secs} s from now ({now})"
        )));
    }
    for candidate in signatures.split(' ') {
        let Some(("v1", sig)) = candidate.split_once(',') else { continue };
        let Some(sig) = b64::decode(sig) else { continue };
        if mac(secret, id, ts_text, body).verify_slice(&sig).is_ok() {
            return Ok(id.to_string());
        }
    }
    Err(NoticeError::Webhook("no `v1` signature in `webhook-signature` matches".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_refused_not_overflowed() {
        let secret = WebhookSecret::generate();
        let now = 1_700_000_000;
        for ts in [i64::MIN, i64::MAX, now - 301] {
            let mut headers = HeaderMap::new();
            for (name, value) in signed_headers(&secret, "msg_1", ts, b"{}") {
                headers.insert(name, value.parse().unwrap());
            }
            assert!(verify(&headers, b"{}", &secret, 300, now).is_err(), "timestamp {ts} accepted");
        }
    }
}
