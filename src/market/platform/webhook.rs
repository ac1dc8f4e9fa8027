//! The webhook routes and what the desk does with a notice.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::json;

use super::desk::Admission;
use super::{api, signature, Decision, PlatformAction, PlatformActor, DISPUTE_REASON, WEBHOOK_BODY_LIMIT};
use crate::market::delisting::listing_of;
use crate::market::layout::Platform;
use crate::market::Market;

/// The longest notice id taken (it goes into URLs and idempotency keys).
const MAX_NOTICE_ID: usize = 128;

/// The path of `platform`'s webhook.
pub(super) fn path(platform: Platform) -> &'static str {
    match platform {
        Platform::Mall => "/mall/open-api/webhooks",
        Platform::Duo => "/duo/open-api/webhooks",
    }
}

/// Both platforms' webhook routes, bodies capped at [`WEBHOOK_BODY_LIMIT`].
pub(crate) fn routes() -> Router<Arc<Market>> {
    let mut router = Router::new();
    for platform in Platform::ALL {
        router = router.route(
            path(platform),
            post(move |market: State<Arc<Market>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>| {
                receive(market, platform, headers, body)
            }),
        );
    }
    router.layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
}

/// The events the desk reads; other types are accepted and ignored.
#[derive(Deserialize)]
#[serde(tag = "type")]
enum Event {
    #[serde(rename = "notice.issued")]
    NoticeIssued { data: NoticeData },
    #[serde(other)]
    Other,
}

/// The part of a notice the desk needs.
#[derive(Deserialize)]
struct NoticeData {
    id: String,
    #[serde(default)]
    case_id: String,
    #[serde(default)]
    listings: Vec<NoticeListing>,
}

#[derive(Deserialize)]
struct NoticeListing {
    #[serde(default)]
    url: String,
    #[serde(default)]
    item_id: String,
}

fn answer(status: StatusCode, what: &str) -> Response {
    (status, Json(json!({ "status": what }))).into_response()
}

async fn receive(
    State(market): State<Arc<Market>>,
    platform: Platform,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(actor) = market.desks.actor(platform) else {
        return answer(StatusCode::NOT_FOUND, "no webhook receiver on this platform");
    };
    let refuse = |status: StatusCode, why: String| {
        tracing::warn!(platform = platform.name(), "webhook refused ({status}): {why}");
        market.desks.reject();
        answer(status, &why)
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(e.status(), e.body_text()),
    };
    let webhook_id = match signature::verify(&headers, &body, &actor.secret, Utc::now().timestamp()) {
        Ok(id) => id,
        Err(e) => return refuse(StatusCode::UNAUTHORIZED, e.to_string()),
    };
    let notice = match serde_json::from_slice(&body) {
        Ok(Event::NoticeIssued { data }) => data,
        Ok(Event::Other) => return answer(StatusCode::NO_CONTENT, "ignored"),
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("not an event: {e}")),
    };
    let id_ok =
        !notice.id.is_empty() && notice.id.len() <= MAX_NOTICE_ID && notice.id.bytes().all(|b| b.is_ascii_graphic());
    if !id_ok {
        return refuse(StatusCode::BAD_REQUEST, "the notice id is empty, too long or not printable ASCII".into());
    }
    match market.desks.admit(platform, &webhook_id, &notice.id) {
        Admission::Duplicate => answer(StatusCode::OK, "duplicate"),
        Admission::New { ordinal } => {
            let received_at = Utc::now();
            tokio::spawn(act(market.clone(), actor, webhook_id, notice, ordinal, received_at));
            answer(StatusCode::ACCEPTED, "accepted")
        }
    }
}

/// Decides, takes down, answers the API, and logs.
async fn act(
    market: Arc<Market>,
    actor: Arc<PlatformActor>,
    webhook_id: String,
    notice: NoticeData,
    ordinal: u64,
    received_at: DateTime<Utc>,
) {
    let platform = actor.platform;
    let decision = actor.policy.decide(ordinal, &notice.case_id);
    let (mut delisted, mut skipped) = (Vec::new(), Vec::new());
    if decision == Decision::Delist {
        for listing in &notice.listings {
            match listing_of(&market.layout, platform, &listing.item_id, &listing.url) {
                Some(i) => {
                    market.delisted.insert(i);
                    let item_id = market.layout.item_id(platform, i);
                    if !delisted.contains(&item_id) {
                        delisted.push(item_id);
                    }
                }
                None => {
                    tracing::warn!(
                        platform = platform.name(),
                        notice = %notice.id,
                        "notice names `{}` (`{}`), which is no item here: skipped",
                        listing.item_id,
                        listing.url
                    );
                    skipped.push(format!("{} {}", listing.item_id, listing.url));
                }
            }
        }
    }
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let disposition = match decision {
        Decision::Delist if delisted.is_empty() => Some("rejected"),
        Decision::Delist if skipped.is_empty() => Some("delisted"),
        Decision::Delist => Some("partially_delisted"),
        Decision::Dispute => Some("disputed"),
        Decision::Ignore => None,
    };
    let mut calls = vec![api::post(&actor, &notice.id, "ack", String::new()).await];
    if let Some(kind) = disposition {
        let body = match decision {
            Decision::Dispute => json!({ "disposition": kind, "reason": DISPUTE_REASON, "at": at }),
            _ => json!({ "disposition": kind, "at": at }),
        };
        calls.push(api::post(&actor, &notice.id, "disposition", body.to_string()).await);
    }
    market.desks.record(PlatformAction {
        platform,
        webhook_id,
        notice_id: notice.id,
        ordinal,
        decision,
        delisted,
        skipped,
        disposition,
        calls,
        received_at,
        finished_at: Utc::now(),
    });
}
