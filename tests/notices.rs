//! Notices to platforms: paging under concurrent inserts, key scoping and
//! rotation, idempotent writes, Standard Webhooks signatures checked by an
//! independent implementation (OpenSSL), and the outbox against a real HTTP
//! receiver, across a restart and to the dead letters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failure by design

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{TimeZone, Utc};
use spotcheck::notices::store::DispositionReport;
use spotcheck::notices::webhook::{self, WebhookSecret};
use spotcheck::notices::{
    ApiKeys, AuthenticatedPlatform, DeliveryConfig, Disposition, NoticeError, NoticeStore, OutboxWorker,
    PlatformRegistry,
};
use spotcheck::store::Store;

#[path = "support/notice_draft.rs"]
mod notice_draft;
use notice_draft::draft;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn registry(webhook_url: &str) -> PlatformRegistry {
    let text = format!(
        r#"
[[platform]]
id = "mall"
name = "Sample Mall"
webhook_url = "{webhook_url}"
webhook_secret = "{SECRET}"

[[platform]]
id = "duo"
name = "Sample Duo"

[[platform]]
id = "broken"
name = "Bad URL"
webhook_url = "::not a url::"
webhook_secret = "{SECRET}"
"#
    );
    PlatformRegistry::from_toml(&text, "test").unwrap()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// The `mall` platform as a fresh key of it proves it.
fn mall(store: &Store) -> AuthenticatedPlatform {
    let keys = ApiKeys::open(store.db(), registry("http://127.0.0.1:9/")).unwrap();
    keys.authenticate(&keys.issue_key("mall", now()).unwrap().1).unwrap().unwrap()
}

fn open(dir: &Path) -> (Store, NoticeStore) {
    let store = Store::open(dir).unwrap();
    let notices = NoticeStore::open(store.db()).unwrap();
    (store, notices)
}

#[test]
fn cursor_paging_sees_every_notice_exactly_once_in_order_while_another_thread_issues() {
    let dir = tempfile::tempdir().unwrap();
    let (store, notices) = open(dir.path());
    let mall = mall(&store);

    let mut expected: Vec<String> = (0..20).map(|i| notices.issue(draft("mall", i), now()).unwrap().id).collect();
    let writer = {
        let notices = notices.clone();
        std::thread::spawn(move || {
            let mut ids = Vec::new();
            for i in 20..400 {
                ids.push(notices.issue(draft("mall", i), now()).unwrap().id);
                notices.issue(draft("duo", i), now()).unwrap();
            }
            ids
        })
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut writer_done = false;
    loop {
        // Read the flag before the page: an empty page after the writer ended is the end.
        let done_before = writer_done || writer.is_finished();
        let (page, next) = notices.list(&mall, cursor, 7).unwrap();
        assert!(page.len() <= 7);
        let empty = page.is_empty();
        seen.extend(page.into_iter().map(|n| {
            assert_eq!(n.draft.platform, "mall");
            n.id
        }));
        // The cursor is opaque text that round-trips.
        cursor = Some(spotcheck::notices::Cursor::parse(&next.to_string()).unwrap());
        if empty && done_before {
            break;
        }
        writer_done = done_before;
    }
    expected.extend(writer.join().unwrap());
    assert_eq!(seen.len(), expected.len());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len(), "a notice was seen twice");
    assert_eq!(seen, expected, "every notice once, in issue order");
    assert!(spotcheck::notices::Cursor::parse("not a cursor!").is_err());
}

#[test]
fn issuing_the_same_draft_again_is_the_same_notice() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, notices) = open(dir.path());
    let a = notices.issue(draft("mall", 1), now()).unwrap();
    let b = notices.issue(draft("mall", 1), now()).unwrap();
    assert_eq!(a, b);
    assert!(a.id.starts_with("N20261122") && a.id.len() == 21, "{}", a.id);
    assert_eq!(notices.outbox().pending().unwrap().len(), 1, "one event per notice");
}

#[test]
fn a_platform_key_sees_and_answers_only_its_own_notices() {
    let dir = tempfile::tempdir().unwrap();
    let (store, notices) = open(dir.path());
    let keys = ApiKeys::open(store.db(), registry("http://127.0.0.1:9/")).unwrap();
    let (_, mall_secret) = keys.issue_key("mall", now()).unwrap();
    let (_, duo_secret) = keys.issue_key("duo", now()).unwrap();
    assert!(mall_secret.starts_with("sk_mall_"));
    let mall = keys.authenticate(&mall_secret).unwrap().unwrap();
    let duo = keys.authenticate(&duo_secret).unwrap().unwrap();
    assert_eq!((mall.id(), duo.id()), ("mall", "duo"));

    let m = notices.issue(draft("mall", 1), now()).unwrap();
    let d = notices.issue(draft("duo", 2), now()).unwrap();
    let (page, _) = notices.list(&duo, None, 100).unwrap();
    assert_eq!(page.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), [d.id.as_str()]);
    assert!(matches!(notices.get(&duo, &m.id), Err(NoticeError::NotFound(_))));
    assert!(matches!(notices.get_wire(&duo, &m.id), Err(NoticeError::NotFound(_))));
    assert!(matches!(notices.status(&duo, &m.id), Err(NoticeError::NotFound(_))));
    assert_eq!(notices.get_wire(&mall, &m.id).unwrap().decode().unwrap(), m);
    assert!(matches!(notices.acknowledge(&duo, &m.id, None, now()), Err(NoticeError::NotFound(_))));
    let report = DispositionReport { disposition: Disposition::Rejected, at: now() };
    assert!(matches!(notices.report(&duo, &m.id, &report, Some("k1"), now()), Err(NoticeError::NotFound(_))));
    assert_eq!(notices.status(&mall, &m.id).unwrap().disposition, None, "the other platform changed nothing");
    // Unknown secrets and unknown platforms get nothing.
    assert!(keys.authenticate("sk_mall_AAAA").unwrap().is_none());
    assert!(keys.issue_key("nope", now()).is_err());
    // The store keeps digests, never the secret.
    for record in keys.keys("mall").unwrap() {
        assert_ne!(record.digest, mall_secret);
        assert!(!record.digest.contains(&mall_secret[8..]));
    }
}

#[test]
fn stored_notices_are_their_json_and_records_of_an_older_encoding_are_reencoded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (store, notices) = open(dir.path());
    let mall = mall(&store);
    let a = notices.issue(draft("mall", 1), now()).unwrap();
    let b = notices.issue(draft("mall", 2), now()).unwrap();
    let wire = |n: &NoticeStore| -> Vec<Vec<u8>> {
        n.list_wire(&mall, None, 10).unwrap().0.iter().map(|w| w.json().to_vec()).collect()
    };
    assert_eq!(wire(&notices), [serde_json::to_vec(&a).unwrap(), serde_json::to_vec(&b).unwrap()]);

    // A record as an older encoding wrote it: the same notice, other bytes.
    let tree = store.db().open_tree("notices").unwrap();
    let (seq, _) = tree.iter().next().unwrap().unwrap();
    let older = serde_json::to_vec_pretty(&a).unwrap();
    tree.insert(&seq, older.clone()).unwrap();
    // Served bytes must be a notice's compact JSON: this one is refused, not sent.
    assert!(matches!(notices.list_wire(&mall, None, 10), Err(NoticeError::Corrupt { .. })));
    // Opening again with the encoding unchanged reads nothing and rewrites nothing.
    NoticeStore::open(store.db()).unwrap();
    assert_eq!(tree.get(&seq).unwrap().unwrap(), older);
    // A store whose records predate the current encoding (no record of it) re-encodes them on open.
    store.db().open_tree("notice_meta").unwrap().remove("wire").unwrap();
    let reopened = NoticeStore::open(store.db()).unwrap();
    assert_eq!(wire(&reopened), [serde_json::to_vec(&a).unwrap(), serde_json::to_vec(&b).unwrap()]);
    assert_eq!(reopened.get(&mall, &a.id).unwrap(), a);
}

#[test]
fn two_keys_rotate_and_a_revoked_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _notices) = open(dir.path());
    let keys = ApiKeys::open(store.db(), registry("http://127.0.0.1:9/")).unwrap();
    let (old_id, old) = keys.issue_key("mall", now()).unwrap();
    let (new_id, new) = keys.issue_key("mall", now()).unwrap();
    assert_ne!(old, new);
    assert_ne!(old_id, new_id);
    assert_eq!(keys.authenticate(&old).unwrap().unwrap().key_id(), old_id);
    assert_eq!(keys.authenticate(&new).unwrap().unwrap().key_id(), new_id);
    keys.revoke(&old_id, now()).unwrap();
    assert!(keys.authenticate(&old).unwrap().is_none(), "revoked key still works");
    assert_eq!(keys.authenticate(&new).unwrap().unwrap().id(), "mall");
    assert!(matches!(keys.revoke("key_missing", now()), Err(NoticeError::KeyNotFound(_))));
    assert_eq!(keys.keys("mall").unwrap().iter().filter(|k| k.revoked_at.is_some()).count(), 1);
}

#[test]
fn idempotent_repeats_answer_the_first_answer_and_a_different_body_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (store, notices) = open(dir.path());
    let mall = mall(&store);
    let n = notices.issue(draft("mall", 1), now()).unwrap();

    let disputed =
        DispositionReport { disposition: Disposition::Disputed { reason: "证书有效".into() }, at: now() };
    let first = notices.report(&mall, &n.id, &disputed, Some("idem-1"), now()).unwrap();
    let later = now() + chrono::Duration::hours(1);
    let again = notices.report(&mall, &n.id, &disputed, Some("idem-1"), later).unwrap();
    assert_eq!(first, again, "a repeat answers the first answer unchanged");
    let delisted = DispositionReport { disposition: Disposition::Delisted, at: later };
    let err = notices.report(&mall, &n.id, &delisted, Some("idem-1"), later).unwrap_err();
    assert!(matches!(err, NoticeError::IdempotencyConflict { .. }), "{err}");
    assert_eq!(notices.status(&mall, &n.id).unwrap(), first, "the refused write changed nothing");
    // The same key on another operation is a different request, too.
    assert!(notices.acknowledge(&mall, &n.id, Some("idem-1"), later).is_err());
    // A new key applies; repeating it after yet another change still gives its own first answer.
    let second = notices.report(&mall, &n.id, &delisted, Some("idem-2"), later).unwrap();
    assert_eq!(second.disposition, Some(Disposition::Delisted));
    assert_eq!(notices.report(&mall, &n.id, &disputed, Some("idem-1"), later).unwrap(), first);
}

#[test]
fn overdue_lists_notices_past_their_deadline_without_a_disposition() {
    let dir = tempfile::tempdir().unwrap();
    let (store, notices) = open(dir.path());
    let mall = mall(&store);
    let a = notices.issue(draft("mall", 1), now()).unwrap();
    let b = notices.issue(draft("mall", 2), now()).unwrap();
    let c = notices.issue(draft("mall", 3), now()).unwrap();
    let before = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
    let after = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
    assert!(notices.overdue(before).unwrap().is_empty());
    notices.acknowledge(&mall, &a.id, None, now()).unwrap();
    let report = DispositionReport { disposition: Disposition::PartiallyDelisted, at: now() };
    notices.report(&mall, &b.id, &report, None, now()).unwrap();
    let overdue: Vec<String> = notices.overdue(after).unwrap().into_iter().map(|n| n.id).collect();
    assert_eq!(overdue, [a.id, c.id], "acknowledged is not acted on; reported is");
}

/// HMAC-SHA256 by the OpenSSL command line, base64 by OpenSSL too.
fn openssl_signature(key: &[u8], content: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("content");
    std::fs::write(&file, content).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl dgst -sha256 -mac HMAC -macopt hexkey:{} -binary '{}' | openssl base64 -A",
            hex::encode(key),
            file.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn header_map(headers: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, v.parse().unwrap());
    }
    map
}

#[test]
fn webhook_signatures_match_openssl_and_the_spec_vector_and_reject_tampering() {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    // The test vector of the Standard Webhooks reference libraries.
    let vector = webhook::sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
    assert_eq!(vector, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");

    let body = "{\"type\":\"notice.issued\",\"data\":{\"shop\":\"某某电器\"}}".as_bytes();
    let ts = 1_790_000_000;
    let headers = webhook::signed_headers(&secret, "msg_N20261122abc", ts, body);
    let expected = openssl_signature(
        secret.as_bytes(),
        format!("msg_N20261122abc.{ts}.").as_bytes().iter().chain(body).copied().collect::<Vec<_>>().as_slice(),
    );
    assert_eq!(headers[2].1, format!("v1,{expected}"));

    let map = header_map(&headers);
    assert_eq!(webhook::verify(&map, body, &secret, 300, ts + 10).unwrap(), "msg_N20261122abc");
    let mut tampered = body.to_vec();
    tampered[5] ^= 1;
    assert!(webhook::verify(&map, &tampered, &secret, 300, ts).is_err(), "a changed byte must fail");
    assert!(webhook::verify(&map, body, &secret, 300, ts + 301).is_err(), "too old");
    assert!(webhook::verify(&map, body, &secret, 300, ts - 301).is_err(), "too far in the future");
    assert!(webhook::verify(&map, body, &WebhookSecret::generate(), 300, ts).is_err(), "wrong secret");
    // Several signatures (rotation): one good one is enough.
    let mut rotated = headers.clone();
    rotated[2].1 = format!("v1,AAAA v1a,xyz {}", headers[2].1);
    assert!(webhook::verify(&header_map(&rotated), body, &secret, 300, ts).is_ok());
    let mut missing = map.clone();
    missing.remove("webhook-id");
    assert!(webhook::verify(&missing, body, &secret, 300, ts).is_err());
    assert!(WebhookSecret::parse("whsec_???").is_err());
}

/// A webhook receiver on 127.0.0.1:0 that answers 503 to the first `fail`
/// requests (all while `fail` is `usize::MAX`), then 204.
#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    fail: Arc<AtomicUsize>,
    status_on_fail: u16,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = {
        let mut requests = r.requests.lock().unwrap();
        requests.push((headers, body));
        requests.len()
    };
    if n <= r.fail.load(Ordering::SeqCst) {
        StatusCode::from_u16(r.status_on_fail).unwrap()
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn start_receiver(fail: usize, status_on_fail: u16) -> (Receiver, String) {
    let receiver = Receiver { fail: Arc::new(AtomicUsize::new(fail)), status_on_fail, ..Receiver::default() };
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, url)
}

fn fast() -> DeliveryConfig {
    DeliveryConfig {
        max_attempts: 10,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
        concurrency: 4,
        timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(5),
    }
}

/// Waits for a condition, failing the test at the deadline.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn check_requests(receiver: &Receiver, event_id: &str, payload: &str) -> usize {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let requests = receiver.requests.lock().unwrap();
    for (headers, body) in requests.iter() {
        assert_eq!(headers["webhook-id"], event_id);
        assert_eq!(body.as_ref(), payload.as_bytes(), "every attempt sends the stored bytes");
        webhook::verify(headers, body, &secret, 300, Utc::now().timestamp()).unwrap();
    }
    requests.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_retries_503s_with_backoff_and_delivers_once_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, notices) = open(dir.path());
    let (receiver, url) = start_receiver(3, 503).await;
    let notice = notices.issue(draft("mall", 1), now()).unwrap();
    let event = notices.outbox().pending().unwrap().remove(0);
    assert_eq!(event.id, format!("msg_{}", notice.id));
    let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(payload["type"], "notice.issued");
    assert_eq!(payload["data"]["id"], notice.id.as_str());

    let worker = OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry(&url)), fast()).unwrap();
    let outbox = notices.outbox().clone();
    wait_until("the delivery", || outbox.delivered(&event.id).unwrap().is_some()).await;
    worker.abort();
    let record = outbox.delivered(&event.id).unwrap().unwrap();
    assert_eq!((record.attempts, record.status), (4, Some(204)));
    assert_eq!(check_requests(&receiver, &event.id, &event.payload), 4, "3 refused + 1 accepted, no more");
    assert!(outbox.pending().unwrap().is_empty());
    assert!(outbox.dead_letters().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_on_the_reopened_store_delivers_with_the_same_id_and_body() {
    let dir = tempfile::tempdir().unwrap();
    let (receiver, url) = start_receiver(usize::MAX, 503).await;
    let event = {
        let (store, notices) = open(dir.path());
        notices.issue(draft("mall", 7), now()).unwrap();
        let event = notices.outbox().pending().unwrap().remove(0);
        let worker = OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry(&url)), fast()).unwrap();
        let r = receiver.clone();
        wait_until("two refused attempts", || r.requests.lock().unwrap().len() >= 2).await;
        worker.abort();
        assert!(worker.await.unwrap_err().is_cancelled());
        store.flush().unwrap();
        event
    };
    let tried = receiver.requests.lock().unwrap().len();
    receiver.fail.store(0, Ordering::SeqCst);
    // Aborted deliveries drop their database handles a moment after the abort
    // (a real crash frees them at once): reopen as soon as the store's lock is free.
    let deadline = Instant::now() + Duration::from_secs(20);
    let store = loop {
        match Store::open(dir.path()) {
            Ok(store) => break store,
            Err(e) => assert!(Instant::now() < deadline, "cannot reopen the store: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let notices = NoticeStore::open(store.db()).unwrap();
    let pending = notices.outbox().pending().unwrap();
    assert_eq!(pending.len(), 1, "the event survived the restart");
    assert!(pending[0].attempts >= 1);
    let worker = OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry(&url)), fast()).unwrap();
    let outbox = notices.outbox().clone();
    wait_until("the delivery after restart", || outbox.delivered(&event.id).unwrap().is_some()).await;
    worker.abort();
    let seen = check_requests(&receiver, &event.id, &event.payload);
    // A request aborted mid-flight may still reach the receiver after `tried` was read.
    assert!(seen > tried, "delivered after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_unreachable_webhooks_end_in_the_dead_letters_and_polling_platforms_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, notices) = open(dir.path());
    let (receiver, url) = start_receiver(usize::MAX, 500).await;
    let to_mall = notices.issue(draft("mall", 1), now()).unwrap();
    let to_broken = notices.issue(draft("broken", 2), now()).unwrap();
    let to_duo = notices.issue(draft("duo", 3), now()).unwrap();
    let config = DeliveryConfig { max_attempts: 3, ..fast() };
    let worker = OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry(&url)), config).unwrap();
    let outbox = notices.outbox().clone();
    wait_until("two dead letters", || outbox.dead_letters().unwrap().len() == 2).await;
    wait_until("the skip", || outbox.delivered(&format!("msg_{}", to_duo.id)).unwrap().is_some()).await;
    worker.abort();
    let dead = outbox.dead_letters().unwrap();
    let mall = dead.iter().find(|e| e.id == format!("msg_{}", to_mall.id)).unwrap();
    assert_eq!(mall.attempts, 3);
    assert!(mall.last_error.as_deref().unwrap().contains("500"), "{:?}", mall.last_error);
    let broken = dead.iter().find(|e| e.id == format!("msg_{}", to_broken.id)).unwrap();
    assert_eq!(broken.attempts, 3);
    assert_eq!(check_requests(&receiver, &mall.id, &mall.payload), 3, "no attempt after the last");
    assert!(outbox.pending().unwrap().is_empty());
    let skipped = outbox.delivered(&format!("msg_{}", to_duo.id)).unwrap().unwrap();
    assert!(skipped.skipped.is_some() && skipped.status.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_redirects_is_a_failed_attempt_and_the_redirect_is_never_followed() {
    // The platform's endpoint answers 307 towards another address (standing in
    // for a metadata or internal service): the outbox must not go there.
    let (elsewhere, elsewhere_url) = start_receiver(0, 204).await;
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let to = elsewhere_url.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, to)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let (_store, notices) = open(dir.path());
    let notice = notices.issue(draft("mall", 1), now()).unwrap();
    let config = DeliveryConfig { max_attempts: 2, ..fast() };
    let worker = OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry(&url)), config).unwrap();
    let outbox = notices.outbox().clone();
    wait_until("the dead letter", || outbox.dead_letters().unwrap().len() == 1).await;
    worker.abort();
    let dead = &outbox.dead_letters().unwrap()[0];
    assert_eq!((dead.id.clone(), dead.attempts), (format!("msg_{}", notice.id), 2));
    assert!(dead.last_error.as_deref().unwrap().contains("307"), "{:?}", dead.last_error);
    assert!(elsewhere.requests.lock().unwrap().is_empty(), "the redirect was followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_hits_the_platform_timeout_and_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, notices) = open(dir.path());
    // Accepts connections and holds them open without ever answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    {
        let held = held.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                held.lock().unwrap().push(socket);
            }
        });
    }
    let text = format!(
        "[[platform]]\nid = \"mall\"\nname = \"Slow\"\nwebhook_url = \"http://{addr}/hook\"\n\
         webhook_secret = \"{SECRET}\"\nwebhook_timeout_secs = 1\n"
    );
    let registry = PlatformRegistry::from_toml(&text, "test").unwrap();
    notices.issue(draft("mall", 1), now()).unwrap();
    // The worker's own timeout is long: only the platform's override can end the attempts.
    let config = DeliveryConfig { max_attempts: 2, timeout: Duration::from_secs(600), ..fast() };
    let started = Instant::now();
    let worker = OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry), config).unwrap();
    let outbox = notices.outbox().clone();
    wait_until("the dead letter", || outbox.dead_letters().unwrap().len() == 1).await;
    worker.abort();
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(outbox.dead_letters().unwrap()[0].attempts, 2);
    assert!(held.lock().unwrap().len() >= 2, "both attempts connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_are_failed_attempts_not_crashes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (_store, notices) = open(dir.path());
    // Answers every request with garbage, then a lying 200 on the third try
    // (a huge announced body that never comes): accepted on its status alone.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    {
        let served = served.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = served.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let _ = socket.read(&mut buf).await;
                    let answer: &[u8] = if n < 2 {
                        b"\x00\xffnot http at all\r\n\r\n"
                    } else {
                        b"HTTP/1.1 200 OK\r\ncontent-length: 9999999999\r\n\r\npartial"
                    };
                    let _ = socket.write_all(answer).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                });
            }
        });
    }
    let notice = notices.issue(draft("mall", 1), now()).unwrap();
    let worker =
        OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry(&format!("http://{addr}/hook"))), fast())
            .unwrap();
    let outbox = notices.outbox().clone();
    let id = format!("msg_{}", notice.id);
    wait_until("the delivery", || outbox.delivered(&id).unwrap().is_some()).await;
    assert!(!worker.is_finished(), "the worker survived");
    worker.abort();
    let record = outbox.delivered(&id).unwrap().unwrap();
    assert_eq!((record.attempts, record.status), (3, Some(200)));
}

#[derive(Clone, Default)]
struct Counting {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    ids: Arc<Mutex<Vec<String>>>,
}

async fn slow_receive(State(c): State<Counting>, headers: HeaderMap) -> StatusCode {
    let n = c.now.fetch_add(1, Ordering::SeqCst) + 1;
    c.max.fetch_max(n, Ordering::SeqCst);
    // A slow receiver (not synchronisation): deliveries overlap if the worker lets them.
    tokio::time::sleep(Duration::from_millis(30)).await;
    c.ids.lock().unwrap().push(headers["webhook-id"].to_str().unwrap().to_string());
    c.now.fetch_sub(1, Ordering::SeqCst);
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_are_bounded_in_concurrency_and_each_event_is_accepted_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, notices) = open(dir.path());
    let counting = Counting::default();
    let app = axum::Router::new().route("/hook", axum::routing::post(slow_receive)).with_state(counting.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let ids: Vec<String> =
        (0..12).map(|i| format!("msg_{}", notices.issue(draft("mall", i), now()).unwrap().id)).collect();
    let config = DeliveryConfig { concurrency: 3, poll_interval: Duration::from_millis(1), ..fast() };
    let worker = OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry(&url)), config).unwrap();
    let outbox = notices.outbox().clone();
    wait_until("every delivery", || ids.iter().all(|id| outbox.delivered(id).unwrap().is_some())).await;
    worker.abort();
    let max = counting.max.load(Ordering::SeqCst);
    assert!((2..=3).contains(&max), "{max} deliveries at once");
    let mut received = counting.ids.lock().unwrap().clone();
    received.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(received, expected, "each event accepted exactly once");
}
