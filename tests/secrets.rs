//! Secrets stay secret: a platform's API key, a staff token, a console
//! password and session, and a webhook signing secret are used for real
//! against `spotcheck serve` logging at `trace` (right and wrong credentials,
//! failed webhook deliveries), and then none of them appears in any log line
//! or error, and none of the credentials is anywhere in the data directory's
//! bytes (they are kept as SHA-256 digests or Argon2id hashes). The station's
//! private key is written 0600 and refused once others can read it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failure by design

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::Utc;
use spotcheck::notices::NoticeStore;
use spotcheck::store::Store;

#[path = "support/api_client.rs"]
#[allow(dead_code)] // shared with the API tests; this file uses the serve spawner
mod api_client;
#[path = "support/notice_draft.rs"]
mod notice_draft;

const BIN: &str = env!("CARGO_BIN_EXE_spotcheck");
const WEBHOOK_SECRET: &str = "whsec_c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ=";
const PASSWORD: &str = "correct horse battery staple 马";

/// Runs the real binary on `data`; stdout (where secrets are shown once, by design) and stderr.
fn cli(data: &Path, args: &[&str], stdin: Option<&str>) -> (String, String) {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("SPOTCHECK_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// The line of `stdout` that starts with `prefix`.
fn secret_line(stdout: &str, prefix: &str) -> String {
    stdout.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no `{prefix}` in {stdout}")).to_string()
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A webhook receiver that always answers 500 and counts the attempts.
async fn failing_receiver() -> (String, Arc<AtomicUsize>) {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { (StatusCode::INTERNAL_SERVER_ERROR, "receiver down") }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_or_the_data_directory() {
    let (hook, attempts) = failing_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let platforms = dir.path().join("platforms.toml");
    std::fs::write(
        &platforms,
        format!("[[platform]]\nid = \"mall\"\nname = \"Sample Mall\"\nwebhook_url = \"{hook}\"\nwebhook_secret = \"{WEBHOOK_SECRET}\"\n"),
    )
    .unwrap();
    {
        let store = Store::open(&data.join("db")).unwrap();
        NoticeStore::open(store.db()).unwrap().issue(notice_draft::draft("mall", 1), Utc::now()).unwrap();
        store.db().flush().unwrap();
    }
    let mut logs = String::new();
    let (out, err) = cli(&data, &["tokens", "issue", "--role", "staff", "--name", "王芳"], None);
    let token = secret_line(&out, "sct_");
    logs += &err;
    let (out, err) =
        cli(&data, &["tokens", "platform-key", "issue", "mall", "--platforms", platforms.to_str().unwrap()], None);
    let key = secret_line(&out, "sk_mall_");
    logs += &err;
    let (_, err) = cli(&data, &["users", "add", "fang", "--role", "staff", "--password-stdin"], Some(PASSWORD));
    logs += &err;

    let log_file = dir.path().join("serve.log");
    let mut command = Command::new(BIN);
    command.env("SPOTCHECK_LOG", "trace").stderr(std::fs::File::create(&log_file).unwrap());
    let fast = ["--webhook-backoff-ms", "10", "--outbox-poll-ms", "5"];
    let (server, base) = api_client::spotcheck_serve_as(command, &data, &platforms, &fast).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // Right and wrong credentials on each audience.
    let notices = format!("{base}/api/platform/v1/notices");
    assert_eq!(http.get(&notices).bearer_auth(&key).send().await.unwrap().status(), StatusCode::OK);
    let wrong_key = format!("{}X", &key[..key.len() - 1]);
    assert_eq!(http.get(&notices).bearer_auth(&wrong_key).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let findings = format!("{base}/api/staff/v1/findings");
    assert_eq!(http.get(&findings).bearer_auth(&token).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(http.get(&notices).bearer_auth(&token).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(http.get(&findings).bearer_auth(&key).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // The console: a wrong password, then the right one (a session cookie comes back).
    let session = {
        let sign_in = |password: &'static str| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let form = http.get(format!("{base}/console/login")).send().await.unwrap();
                let cookie = form.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
                let csrf = cookie.split_once('=').unwrap().1.to_string();
                http.post(format!("{base}/console/login"))
                    .header("cookie", &cookie)
                    .header("origin", &base)
                    .form(&[("name", "fang"), ("password", password), ("_csrf", csrf.as_str()), ("next", "")])
                    .send()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(sign_in("not the password").await.status(), StatusCode::UNAUTHORIZED);
        let signed = sign_in(PASSWORD).await;
        assert_eq!(signed.status(), StatusCode::SEE_OTHER);
        let cookie = signed
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| !c.starts_with("spotcheck_login"))
            .unwrap();
        cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string()
    };
    assert!(session.len() >= 16, "{session}");

    // Let the outbox fail a few deliveries (each failure is logged).
    let started = Instant::now();
    while attempts.load(Ordering::SeqCst) < 3 {
        assert!(started.elapsed() < Duration::from_secs(60), "the outbox never tried the webhook");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let mut server = server;
    let exit = tokio::task::spawn_blocking(move || server.0.wait().unwrap());
    assert!(tokio::time::timeout(Duration::from_secs(30), exit).await.unwrap().unwrap().success());

    logs += &std::fs::read_to_string(&log_file).unwrap();
    assert!(logs.contains("TRACE") || logs.contains("DEBUG"), "the server really logged at trace");
    assert!(logs.contains("outbox: `msg_"), "the failed deliveries were logged");
    let webhook_key = WEBHOOK_SECRET.trim_start_matches("whsec_");
    for (what, secret) in [
        ("the platform's api key", key.as_str()),
        ("the wrong api key", wrong_key.as_str()),
        ("the staff token", token.as_str()),
        ("the console password", PASSWORD),
        ("the console session", session.as_str()),
        ("the webhook secret", webhook_key),
    ] {
        assert!(!logs.contains(secret), "{what} is in the logs");
    }
    for (path, bytes) in files(&data) {
        for (what, secret) in [
            ("the platform's api key", key.as_str()),
            ("the staff token", token.as_str()),
            ("the console password", PASSWORD),
            ("the console session", session.as_str()),
        ] {
            assert!(!contains(&bytes, secret), "{what} is stored in `{}`", path.display());
        }
    }
}

#[test]
fn the_station_key_is_written_0600_and_refused_once_others_can_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (out, _) = cli(&data, &["evidence", "key"], None);
    assert!(!out.contains("PRIVATE KEY"), "the private key is never printed: {out}");
    let key = data.join("keys").join("station.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(BIN).arg("--data-dir").arg(&data).args(["evidence", "key"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("readable by others") && err.contains("station.key"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
}
