//! The platform's calls to spotcheck's platform API: one POST, retried on
//! connection errors, 5xx and 429 with doubling back-off (at least what
//! `Retry-After` asks), under one idempotency key so a retry that did reach
//! the server is answered with the first answer.

use std::time::Duration;

use reqwest::{header, Response, StatusCode};

use super::{ApiCall, PlatformActor};

/// How much of an answer the log keeps.
const ANSWER_LIMIT: usize = 4 * 1024;

/// `POST {api}/api/platform/v1/notices/{notice_id}/{operation}` with `body`.
pub(super) async fn post(actor: &PlatformActor, notice_id: &str, operation: &'static str, body: String) -> ApiCall {
    let idempotency_key = format!("{operation}-{notice_id}");
    let mut call = ApiCall {
        operation,
        url: String::new(),
        idempotency_key,
        request: body,
        attempts: 0,
        status: None,
        answer: None,
        error: None,
    };
    let mut url = actor.api_base.clone();
    match url.path_segments_mut() {
        Ok(mut segments) => {
            segments.pop_if_empty().extend(["api", "platform", "v1", "notices", notice_id, operation]);
        }
        Err(()) => {
            call.error = Some(format!("`{}` cannot be a base URL", actor.api_base));
            return call;
        }
    }
    call.url = url.to_string();
    let retry = &actor.retry;
    loop {
        call.attempts += 1;
        let request = actor
            .client
            .post(url.clone())
            .timeout(retry.timeout)
            .bearer_auth(&actor.api_key)
            .header("idempotency-key", &call.idempotency_key)
            .header(header::CONTENT_TYPE, "application/json")
            .body(call.request.clone());
        let (why, asked) = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let asked = retry_after(&response);
                call.status = Some(status.as_u16());
                call.answer = Some(read_bounded(response).await);
                if status.is_success() {
                    call.error = None;
                    return call;
                }
                let why = format!("answered {status}");
                if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                    call.error = Some(why);
                    return call;
                }
                (why, asked)
            }
            Err(e) => (format!("POST failed: {e}"), None),
        };
        if call.attempts >= retry.attempts.max(1) {
            call.error = Some(format!("{why}; gave up after {} attempts", call.attempts));
            return call;
        }
        if let Some(asked) = asked.filter(|&asked| asked > retry.max_delay) {
            call.error = Some(format!("{why}; Retry-After {} s is beyond the bound", asked.as_secs()));
            return call;
        }
        let wait = retry.delay(call.attempts).max(asked.unwrap_or_default());
        tracing::debug!(url = %call.url, attempt = call.attempts, ?wait, "platform API call: {why}; retrying");
        call.error = Some(why);
        tokio::time::sleep(wait).await;
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by spotcheck and is ignored).
fn retry_after(response: &Response) -> Option<Duration> {
    let text = response.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse().ok().map(Duration::from_secs)
}

/// The body's first [`ANSWER_LIMIT`] bytes, as text; a body that breaks off keeps what came.
async fn read_bounded(mut response: Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ANSWER_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk[..chunk.len().min(ANSWER_LIMIT - bytes.len())]),
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
