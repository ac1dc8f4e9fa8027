//! The platform's own Standard Webhooks check (<https://www.standardwebhooks.com/>),
//! written from the spec and sharing no code with `crate::notices::webhook`,
//! so the demo shows a receiver that was not built by the sender agreeing with
//! it.
//!
//! Signed content: `{webhook-id}.{webhook-timestamp}.{body}`; signature:
//! HMAC-SHA256 keyed with the base64-decoded `whsec_` secret, base64-encoded,
//! sent as `v1,<base64>`; `webhook-signature` may hold several space-separated
//! signatures (during a secret rotation) and one match is enough. The
//! timestamp must be within [`TOLERANCE_SECS`] of now, either side.

use axum::http::HeaderMap;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a `webhook-timestamp` may be from now, either side (the spec's 5 minutes).
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Why a delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the webhook secret is not `whsec_<base64>` of at least 16 bytes")]
    BadSecret,
    #[error("missing, empty or non-ASCII header `{0}`")]
    MissingHeader(&'static str),
    #[error("`webhook-timestamp` `{0}` is not a number of seconds")]
    BadTimestamp(String),
    #[error("`webhook-timestamp` {timestamp} is more than {TOLERANCE_SECS} s from now ({now})")]
    OutsideTolerance { timestamp: i64, now: i64 },
    #[error("no `v1` signature in `webhook-signature` matches the body")]
    NoMatch,
}

/// The decoded signing secret.
#[derive(Clone)]
pub(crate) struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// `whsec_<base64>` (the prefix optional, padding optional).
    pub(crate) fn parse(text: &str) -> Result<Secret, SignatureError> {
        let encoded = text.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        let bytes = STANDARD
            .decode(encoded)
            .or_else(|_| STANDARD_NO_PAD.decode(encoded))
            .map_err(|_| SignatureError::BadSecret)?;
        if bytes.len() < 16 {
            return Err(SignatureError::BadSecret);
        }
        Ok(Secret(bytes))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
            mac.update(part);
        }
        mac
    }
}

/// Checks a delivery at Unix time `now`; returns its `webhook-id`.
pub(crate) fn verify(headers: &HeaderMap, body: &[u8], secret: &Secret, now: i64) -> Result<String, SignatureError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or(SignatureError::MissingHeader(name))
    };
    let id = header("webhook-id")?;
    let timestamp_text = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    let timestamp: i64 =
        timestamp_text.parse().map_err(|_| SignatureError::BadTimestamp(timestamp_text.to_string()))?;
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::OutsideTolerance { timestamp, now });
    }
    let matches = signatures
        .split(' ')
        .filter_map(|candidate| candidate.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|signature| secret.mac(id, timestamp_text, body).verify_slice(&signature).is_ok());
    if matches {
        Ok(id.to_string())
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in [("webhook-id", id), ("webhook-timestamp", timestamp), ("webhook-signature", signature)] {
            if let Ok(value) = value.parse() {
                map.insert(name, value);
            }
        }
        map
    }

    fn secret() -> Secret {
        Secret::parse(SECRET).unwrap_or_else(|e| panic!("the vector's secret: {e}"))
    }

    fn vector() -> HeaderMap {
        headers(ID, &TIMESTAMP.to_string(), SIGNATURE)
    }

    #[test]
    fn the_spec_vector_verifies() {
        assert_eq!(verify(&vector(), BODY, &secret(), TIMESTAMP), Ok(ID.to_string()));
        assert_eq!(verify(&vector(), BODY, &secret(), TIMESTAMP + TOLERANCE_SECS), Ok(ID.to_string()));
    }

    #[test]
    fn a_changed_body_id_or_timestamp_fails() {
        assert_eq!(verify(&vector(), br#"{"test": 2432232315}"#, &secret(), TIMESTAMP), Err(SignatureError::NoMatch));
        let other_id = headers("msg_other", &TIMESTAMP.to_string(), SIGNATURE);
        assert_eq!(verify(&other_id, BODY, &secret(), TIMESTAMP), Err(SignatureError::NoMatch));
        let other_time = headers(ID, &(TIMESTAMP + 1).to_string(), SIGNATURE);
        assert_eq!(verify(&other_time, BODY, &secret(), TIMESTAMP), Err(SignatureError::NoMatch));
    }

    #[test]
    fn another_secret_fails() {
        let other = Secret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verify(&vector(), BODY, &other, TIMESTAMP), Err(SignatureError::NoMatch));
    }

    #[test]
    fn timestamps_outside_five_minutes_either_side_fail() {
        for now in [TIMESTAMP + TOLERANCE_SECS + 1, TIMESTAMP - TOLERANCE_SECS - 1] {
            assert!(matches!(verify(&vector(), BODY, &secret(), now), Err(SignatureError::OutsideTolerance { .. })));
        }
        let bad = headers(ID, "soon", SIGNATURE);
        assert!(matches!(verify(&bad, BODY, &secret(), TIMESTAMP), Err(SignatureError::BadTimestamp(_))));
    }

    #[test]
    fn one_good_signature_among_several_is_enough() {
        let rotated = headers(ID, &TIMESTAMP.to_string(), &format!("v1,AAAA v1a,xyz garbage {SIGNATURE}"));
        assert_eq!(verify(&rotated, BODY, &secret(), TIMESTAMP), Ok(ID.to_string()));
        let only_bad = headers(ID, &TIMESTAMP.to_string(), "v1,AAAA v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(verify(&only_bad, BODY, &secret(), TIMESTAMP), Err(SignatureError::NoMatch));
    }

    #[test]
    fn missing_headers_and_bad_secrets_are_refused() {
        let mut missing = vector();
        missing.remove("webhook-signature");
        assert_eq!(
            verify(&missing, BODY, &secret(), TIMESTAMP),
            Err(SignatureError::MissingHeader("webhook-signature"))
        );
        assert!(Secret::parse("whsec_???").is_err());
        assert!(Secret::parse("whsec_c2hvcnQ=").is_err(), "5 bytes is too short");
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok(), "the prefix is optional");
    }
}
