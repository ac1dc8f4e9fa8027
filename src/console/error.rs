//! What a console page can fail with, shown as a page (not JSON): the status
//! and a Chinese message a person can act on. Internal detail goes to the log.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout;

/// A failure the console shows as a page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not signed in: back to the log-in page, then to `next`.
    #[error("not signed in")]
    SignIn { next: String },
    #[error("forbidden")]
    Forbidden,
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request was wrong; the message says how (Chinese, shown as text).
    #[error("{0}")]
    BadRequest(String),
    /// A form's CSRF token or origin did not match.
    #[error("csrf check failed")]
    Csrf,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ConsoleError {
    pub fn internal(e: impl std::fmt::Display) -> ConsoleError {
        ConsoleError::Internal(e.to_string())
    }

    pub fn not_found(what: &'static str) -> ConsoleError {
        ConsoleError::NotFound { what }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            ConsoleError::SignIn { next } => {
                let target = format!(
                    "/console/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                return Redirect::to(&target).into_response();
            }
            ConsoleError::Forbidden => (StatusCode::FORBIDDEN, "无权访问", "您的账号角色不能访问此页面。".to_string()),
            ConsoleError::NotFound { what } => (StatusCode::NOT_FOUND, "未找到", format!("{what}不存在或您无权查看。")),
            ConsoleError::BadRequest(m) => (StatusCode::BAD_REQUEST, "请求有误", m.clone()),
            ConsoleError::Csrf => (
                StatusCode::FORBIDDEN,
                "请求已拒绝",
                "表单已过期或来源不符（CSRF 校验未通过）。请返回页面刷新后重试。".to_string(),
            ),
            ConsoleError::Internal(detail) => {
                tracing::error!("console: {detail}");
                (StatusCode::INTERNAL_SERVER_ERROR, "系统错误", "处理请求时出错，已记录日志。请稍后重试。".to_string())
            }
        };
        let body = layout::bare(
            title,
            html! {
                main.narrow {
                    h1 { (title) }
                    p.error { (message) }
                    p { a href="/console/" { "返回总览" } }
                }
            },
        );
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.into_string()).into_response()
    }
}

impl From<crate::store::StoreError> for ConsoleError {
    fn from(e: crate::store::StoreError) -> ConsoleError {
        ConsoleError::internal(e)
    }
}

impl From<super::users::UserError> for ConsoleError {
    fn from(e: super::users::UserError) -> ConsoleError {
        ConsoleError::internal(e)
    }
}

impl From<super::sessions::SessionError> for ConsoleError {
    fn from(e: super::sessions::SessionError) -> ConsoleError {
        ConsoleError::internal(e)
    }
}
