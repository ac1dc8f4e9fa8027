//! Talking to the API in tests: reading its answers, running `spotcheck serve`
//! (shared by tests/api.rs and tests/api_staff.rs).

use reqwest::StatusCode;
use serde_json::Value;

/// The platform registry of the API tests: two platforms, no webhooks (they poll).
pub const REGISTRY: &str = r#"
[[platform]]
id = "mall"
name = "Sample Mall"

[[platform]]
id = "duo"
name = "Sample Duo"
"#;

/// Status, headers and JSON body of a response; a body that is not JSON fails the test.
pub async fn answer(r: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = r.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, headers, body)
}

/// Asserts the one error shape and returns its code.
pub fn error_code(body: &Value) -> &str {
    let error = body["error"].as_object().unwrap_or_else(|| panic!("not the error shape: {body}"));
    assert_eq!(error.len(), 2, "{body}");
    assert!(!error["message"].as_str().unwrap().is_empty(), "{body}");
    error["code"].as_str().unwrap()
}

/// A `spotcheck serve` process, killed however the test ends (so a failed
/// assertion leaves no process behind).
pub struct Served(pub std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `spotcheck serve --addr 127.0.0.1:0 --platforms PLATFORMS EXTRA…` on
/// `data` and returns it with its base URL, read from the first stdout line.
pub async fn spotcheck_serve(data: &std::path::Path, platforms: &std::path::Path, extra: &[&str]) -> (Served, String) {
    spotcheck_serve_with_env(data, platforms, extra, &[]).await
}

/// [`spotcheck_serve`] with these environment variables set for the process
/// (e.g. `SPOTCHECK_ALLOW_HOSTS` for a loopback webhook receiver). Not every
/// test file that shares this uses it.
#[allow(dead_code)]
pub async fn spotcheck_serve_with_env(
    data: &std::path::Path,
    platforms: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Served, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_spotcheck"));
    // Its loopback test servers are allowed explicitly (the network guard refuses them otherwise).
    command.env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1").envs(env.iter().copied()).stderr(std::process::Stdio::null());
    spotcheck_serve_as(command, data, platforms, extra).await
}

/// [`spotcheck_serve`] with the caller's `command` (its environment, where stderr goes).
pub async fn spotcheck_serve_as(
    mut command: std::process::Command,
    data: &std::path::Path,
    platforms: &std::path::Path,
    extra: &[&str],
) -> (Served, String) {
    use std::io::BufRead as _;
    let mut child = Served(
        command
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0", "--platforms"])
            .arg(platforms)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    });
    let line =
        tokio::time::timeout(std::time::Duration::from_secs(60), line).await.expect("no address within 60 s").unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_string();
    (child, base)
}
