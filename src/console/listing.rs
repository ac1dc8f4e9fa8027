//! What every list page shares: the query string read strictly (a bad value
//! is a 400 page, never a 500), pages of [`PAGE_SIZE`] rows counted while the
//! store is walked once, the pager, and API failures shown as console pages.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use axum::http::StatusCode;
use maud::{html, Markup};

use crate::api::ApiError;
use crate::console::error::ConsoleError;

/// Rows on one page of a list.
pub const PAGE_SIZE: usize = 50;
/// The highest page number accepted.
const MAX_PAGE: usize = 100_000;
/// The longest query value accepted.
const MAX_VALUE: usize = 200;

/// The query string of a list page (non-empty values only).
#[derive(Debug, Clone, Default)]
pub struct Params(pub BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params, ConsoleError> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state).await.unwrap_or(RawQuery(None));
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if v.chars().count() > MAX_VALUE {
                return Err(ConsoleError::BadRequest(format!("查询参数 {k} 过长。")));
            }
            if !v.is_empty() {
                map.insert(k.into_owned(), v.into_owned());
            }
        }
        Ok(Params(map))
    }
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `key` parsed, `None` when absent; an unreadable value is a 400.
    pub fn parsed<T: std::str::FromStr>(&self, key: &str, label: &str) -> Result<Option<T>, ConsoleError> {
        self.get(key)
            .map(|v| v.parse::<T>().map_err(|_| ConsoleError::BadRequest(format!("筛选条件「{label}」的取值无效。"))))
            .transpose()
    }

    /// A checkbox-style flag (`1`).
    pub fn flag(&self, key: &str) -> Result<bool, ConsoleError> {
        match self.get(key) {
            None => Ok(false),
            Some("1") => Ok(true),
            Some(_) => Err(ConsoleError::BadRequest(format!("查询参数 {key} 只能为 1。"))),
        }
    }

    /// The page asked for, from 1.
    pub fn page(&self) -> Result<usize, ConsoleError> {
        page_number(self.get("page"))
    }

    /// This query with `page` set to `n`, as a link's query string.
    fn with_page(&self, n: usize) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.0.iter().filter(|(k, _)| *k != "page") {
            q.append_pair(k, v);
        }
        q.append_pair("page", &n.to_string());
        q.finish()
    }
}

/// A page number from a query value: absent is 1; anything but 1 to
/// [`MAX_PAGE`] is a 400 (every list of the console reads pages this way).
pub fn page_number(value: Option<&str>) -> Result<usize, ConsoleError> {
    match value.map(str::parse::<usize>) {
        None => Ok(1),
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ConsoleError::BadRequest(format!("页码应为 1 到 {MAX_PAGE} 的整数。"))),
    }
}

/// One page of a filtered walk, and how many rows passed the filter in all.
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: usize,
    pub number: usize,
}

/// Walks `items` once, keeps those passing `keep`, returns page `number`.
pub fn page_of<T, E>(
    items: impl Iterator<Item = Result<T, E>>,
    number: usize,
    mut keep: impl FnMut(&T) -> Result<bool, ConsoleError>,
) -> Result<Page<T>, ConsoleError>
where
    ConsoleError: From<E>,
{
    let skip = (number - 1) * PAGE_SIZE;
    let mut rows = Vec::new();
    let mut total = 0usize;
    for item in items {
        let item = item?;
        if !keep(&item)? {
            continue;
        }
        if total >= skip && rows.len() < PAGE_SIZE {
            rows.push(item);
        }
        total += 1;
    }
    Ok(Page { rows, total, number })
}

impl<T> Page<T> {
    /// 「共 N 条，第 x / y 页」 and links to the neighbouring pages.
    pub fn pager(&self, base: &str, params: &Params) -> Markup {
        let pages = self.total.div_ceil(PAGE_SIZE).max(1);
        html! {
            nav.pager {
                "共 " (self.total) " 条，第 " (self.number) " / " (pages) " 页 "
                @if self.number > 1 {
                    a href={ (base) "?" (params.with_page(self.number - 1)) } { "上一页" } " "
                }
                @if self.number < pages {
                    a href={ (base) "?" (params.with_page(self.number + 1)) } { "下一页" }
                }
            }
        }
    }
}

/// An id from a path: bounded and printable, or the page does not exist.
pub fn path_id(id: &str, what: &'static str) -> Result<(), ConsoleError> {
    let ok = !id.is_empty() && id.len() <= 200 && id.chars().all(|c| !c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ConsoleError::not_found(what))
    }
}

/// The API's failures as console pages: what the client got wrong as a 400
/// (with the reason), "not found" as 404, ours as 500 (logged, not shown).
impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> ConsoleError {
        match e.status() {
            StatusCode::NOT_FOUND => ConsoleError::not_found("记录"),
            StatusCode::SERVICE_UNAVAILABLE => {
                ConsoleError::BadRequest("本服务器未配置签章密钥，无法封存证据或发出通知。".into())
            }
            StatusCode::INTERNAL_SERVER_ERROR => ConsoleError::internal(e),
            _ => ConsoleError::BadRequest(format!("操作未完成：{e}")),
        }
    }
}

macro_rules! through_api {
    ($($t:ty),*) => {$(
        impl From<$t> for ConsoleError {
            fn from(e: $t) -> ConsoleError {
                ApiError::from(e).into()
            }
        }
    )*};
}

through_api!(
    crate::cases::CaseError,
    crate::findings::TriageError,
    crate::notices::NoticeError,
    crate::verification::VerifyError,
    crate::cases::notify::NotifyError,
    evidence::ledger::LedgerError
);
