//! The RFC 3161 client: asks a time-stamping authority to vouch that a
//! checkpoint existed at a time, over HTTP (`application/timestamp-query`).
//! The token is checked before it is kept: it must be over the digest asked
//! for, carry our nonce, and verify with the TSA's certificate.

use std::time::Duration;

use evidence::timestamp::{self, TimestampToken, TokenInfo};
use evidence::Digest;

#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    #[error("time-stamping authority `{url}` cannot be reached: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("time-stamping authority `{url}` answered http status {status}")]
    Status { url: String, status: u16 },
    #[error("time-stamping authority `{url}` sent more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("time-stamping authority `{url}`: {source}")]
    Token { url: String, source: timestamp::TimestampError },
}

/// Largest response accepted (a token with a certificate chain is a few KB).
const MAX_RESPONSE: usize = 256 * 1024;

/// Gets a verified token for `digest` from the TSA at `url`.
pub async fn request_token(url: &str, digest: &Digest) -> Result<(TimestampToken, TokenInfo), TsaError> {
    let nonce: u64 = rand::random();
    let query = timestamp::query_der(digest, nonce);
    let http = |source| TsaError::Http { url: url.to_string(), source };
    // The TSA is the operator's choice; a redirect (to wherever) is an error, not followed.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(http)?;
    let mut response = client
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .body(query)
        .send()
        .await
        .map_err(http)?;
    if !response.status().is_success() {
        return Err(TsaError::Status { url: url.to_string(), status: response.status().as_u16() });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_RESPONSE {
            return Err(TsaError::TooLarge { url: url.to_string(), limit: MAX_RESPONSE });
        }
    }
    let token_err = |source| TsaError::Token { url: url.to_string(), source };
    let token = timestamp::token_from_response(&body).map_err(token_err)?;
    let info = token.verify(digest, Some(nonce)).map_err(token_err)?;
    Ok((token, info))
}
