//! Signing in and out.
//!
//! The log-in form is protected against cross-site posting (login CSRF) by a
//! double-submit token: the page sets a short-lived `SameSite=Strict` cookie
//! and puts the same random value in the form; the post must carry both, and
//! must come from our origin. After [`MAX_FAILURES`] wrong passwords in a row
//! a name is locked for [`LOCKOUT`]; the lock is per name, in memory (a
//! restart lifts it, which is acceptable for a small staff's console).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::{cookie, same_origin, Posted, COOKIE};
use super::error::ConsoleError;
use super::layout;
use super::ConsoleState;

/// Wrong passwords in a row before a name is locked.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked name stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// The log-in form's double-submit cookie.
const LOGIN_COOKIE: &str = "spotcheck_login";
/// Names remembered by the throttle before the unlocked ones are forgotten.
const THROTTLE_CAP: usize = 10_000;

pub fn routes() -> Router<ConsoleState> {
    Router::new().route("/console/login", get(form).post(sign_in)).route("/console/logout", post(sign_out))
}

/// Wrong passwords in a row, and until when the name is locked.
type Failures = (u32, Option<Instant>);

/// Failures per name (lower-cased).
#[derive(Clone, Default)]
pub struct Throttle {
    failures: Arc<Mutex<HashMap<String, Failures>>>,
}

impl Throttle {
    fn locked(&self, name: &str) -> bool {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name).and_then(|(_, until)| *until).is_some_and(|until| Instant::now() < until)
    }

    fn failed(&self, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= THROTTLE_CAP {
            map.retain(|_, (_, until)| until.is_some_and(|u| Instant::now() < u));
        }
        let entry = map.entry(name.to_string()).or_insert((0, None));
        entry.0 += 1;
        if entry.0 >= MAX_FAILURES {
            *entry = (0, Some(Instant::now() + LOCKOUT));
        }
    }

    fn succeeded(&self, name: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
    }
}

#[derive(Debug, Deserialize)]
struct Next {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Credentials {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    _csrf: String,
}

#[derive(Debug, Deserialize)]
struct Empty {}

/// Only our own pages are places to go back to (no `//evil.example`).
fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with("/console/") && !next.starts_with("//") && !next.contains('\\')).then_some(next)
}

fn login_page(next: &str, token: &str, name: &str, error: Option<&str>) -> Markup {
    layout::bare(
        "登录",
        html! {
            main.narrow {
                h1 { "spotcheck 网络抽查系统" }
                p.muted { "监管人员、执法人员与管理员登录" }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                form method="post" action="/console/login" {
                    input type="hidden" name="_csrf" value=(token);
                    input type="hidden" name="next" value=(next);
                    label for="name" { "账号" }
                    input #name type="text" name="name" value=(name) autocomplete="username" required autofocus;
                    label for="password" { "密码" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    div.actions { button type="submit" { "登录" } }
                }
            }
        },
    )
}

fn html_with_token(status: StatusCode, page: Markup, token: &str) -> Response {
    let cookie = format!("{LOGIN_COOKIE}={token}; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=1800");
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()), (header::SET_COOKIE, cookie)],
        page.into_string(),
    )
        .into_response()
}

async fn form(Query(q): Query<Next>) -> Response {
    let token = crate::notices::b64::encode_url(&rand::random::<[u8; 24]>());
    let next = q.next.as_deref().and_then(safe_next).unwrap_or("");
    html_with_token(StatusCode::OK, login_page(next, &token, "", None), &token)
}

async fn sign_in(State(state): State<ConsoleState>, headers: HeaderMap, Form(c): Form<Credentials>) -> Response {
    if same_origin(&headers).is_err() || c._csrf.is_empty() || cookie(&headers, LOGIN_COOKIE) != Some(c._csrf.as_str())
    {
        return ConsoleError::Csrf.into_response();
    }
    let fresh = crate::notices::b64::encode_url(&rand::random::<[u8; 24]>());
    let name = c.name.trim().to_lowercase();
    let next = safe_next(&c.next).unwrap_or("").to_string();
    let retry = |status, msg: &str| html_with_token(status, login_page(&next, &fresh, &name, Some(msg)), &fresh);
    if state.throttle.locked(&name) {
        let msg = format!("尝试次数过多，账号已暂时锁定，请 {} 秒后再试。", LOCKOUT.as_secs());
        return retry(StatusCode::TOO_MANY_REQUESTS, &msg);
    }
    let users = state.users.clone();
    let (check_name, password) = (name.clone(), c.password);
    let verified = tokio::task::spawn_blocking(move || users.verify(&check_name, &password)).await;
    let user = match verified {
        Ok(Ok(Some(user))) => user,
        Ok(Ok(None)) => {
            state.throttle.failed(&name);
            return retry(StatusCode::UNAUTHORIZED, "账号或密码错误。");
        }
        Ok(Err(e)) => return ConsoleError::internal(e).into_response(),
        Err(e) => return ConsoleError::internal(e).into_response(),
    };
    state.throttle.succeeded(&name);
    let (secret, _) = match state.sessions.start(&user.name, Utc::now()) {
        Ok(started) => started,
        Err(e) => return ConsoleError::internal(e).into_response(),
    };
    let target = if next.is_empty() { layout::home(user.role).to_string() } else { next };
    let session = format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        super::sessions::ABSOLUTE.num_seconds()
    );
    let clear = format!("{LOGIN_COOKIE}=; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut response = Redirect::to(&target).into_response();
    for value in [session, clear] {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

async fn sign_out(State(state): State<ConsoleState>, headers: HeaderMap, posted: Posted<Empty>) -> Response {
    let _ = posted.form;
    if let Some(secret) = cookie(&headers, COOKIE) {
        if let Err(e) = state.sessions.end(secret) {
            return ConsoleError::internal(e).into_response();
        }
    }
    let clear = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, clear)], Redirect::to("/console/login")).into_response()
}
