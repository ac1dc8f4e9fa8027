//! Who is asking, and whether a form really came from our own page.
//!
//! [`Viewer`] is an extractor: the session cookie → the live session → the
//! account, re-read on every request (a disabled account is out at once).
//! Without one, a page answers with a redirect to the log-in page.
//!
//! [`Posted`] is the extractor for every state-changing form: the viewer,
//! the `Origin` / `Sec-Fetch-Site` headers (a cross-site post is refused),
//! and the `_csrf` field, which must equal the session's token (synchronizer
//! token pattern; compared in constant time). Only then is the form parsed.

use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::Form;
use chrono::Utc;
use maud::{html, Markup};
use serde::de::DeserializeOwned;

use super::error::ConsoleError;
use super::sessions::Session;
use super::users::User;
use super::ConsoleState;
use crate::access::Role;

/// The session cookie's name.
pub const COOKIE: &str = "spotcheck_console";
/// Largest form body the console accepts (a plan file is capped at 64 KiB).
pub const FORM_LIMIT: usize = 96 * 1024;

/// The signed-in person of a request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub session: Session,
}

impl Viewer {
    /// Passes when the viewer has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ConsoleError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }

    /// Staff and admin: the supervision pages.
    pub fn require_staff(&self) -> Result<(), ConsoleError> {
        self.require(&[Role::Staff, Role::Admin])
    }

    /// The hidden field every form of this session carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="_csrf" value=(self.session.csrf); }
    }
}

/// A cookie's value from the request headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl<S> FromRequestParts<S> for Viewer
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Viewer, ConsoleError> {
        let state = ConsoleState::from_ref(state);
        let next = parts.uri.path_and_query().map_or("/console/", |p| p.as_str()).to_string();
        let sign_in = || ConsoleError::SignIn { next: next.clone() };
        let secret = cookie(&parts.headers, COOKIE).ok_or_else(sign_in)?;
        let session = state.sessions.get(secret, Utc::now())?.ok_or_else(sign_in)?;
        let user = state.users.active(&session.user)?.ok_or_else(sign_in)?;
        Ok(Viewer { user, session })
    }
}

/// Refuses a request another site made the browser send: `Sec-Fetch-Site`
/// other than same-origin/none, or an `Origin` whose host is not ours.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ConsoleError> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(ConsoleError::Csrf);
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).ok_or(ConsoleError::Csrf)?;
        let origin_host = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()).and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        });
        if origin_host.as_deref() != Some(host) {
            return Err(ConsoleError::Csrf);
        }
    }
    Ok(())
}

/// The `_csrf` field of an urlencoded body.
pub fn csrf_of(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body).find(|(k, _)| k == "_csrf").map(|(_, v)| v.into_owned())
}

/// A state-changing form from one of our own pages: the viewer and the parsed
/// form `T` (which need not declare `_csrf`).
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<S, T> FromRequest<S> for Posted<T>
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &S) -> Result<Posted<T>, ConsoleError> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        same_origin(&parts.headers)?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| ConsoleError::BadRequest(format!("表单过大（上限 {} KiB）。", FORM_LIMIT / 1024)))?;
        let token = csrf_of(&bytes).ok_or(ConsoleError::Csrf)?;
        if !viewer.session.csrf_matches(&token) {
            return Err(ConsoleError::Csrf);
        }
        let form = parse_form::<T>(parts, bytes).await?;
        Ok(Posted { viewer, form })
    }
}

async fn parse_form<T: DeserializeOwned>(parts: Parts, bytes: Bytes) -> Result<T, ConsoleError> {
    let req = Request::from_parts(parts, Body::from(bytes));
    let Form(form) =
        Form::<T>::from_request(req, &()).await.map_err(|e| ConsoleError::BadRequest(format!("表单内容有误：{e}")))?;
    Ok(form)
}
