//! Bounded lists: the page number from a query and the pager under a table.

use std::collections::BTreeMap;

use maud::{html, Markup};

use super::error::ConsoleError;

/// A positive page number from the query (`name`, default 1); anything else is a 400.
pub fn page_of(q: &BTreeMap<String, String>, name: &str) -> Result<usize, ConsoleError> {
    match q.get(name).map(|p| p.parse::<usize>()) {
        None => Ok(1),
        Some(Ok(n)) if (1..=1_000_000).contains(&n) => Ok(n),
        Some(_) => Err(ConsoleError::BadRequest("页码应为正整数。".into())),
    }
}

/// "第 n / m 页" with links that keep the other query values.
pub fn pager(base: &str, name: &str, page: usize, pages: usize) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        @if pages > 1 {
            p.pager {
                "第 " (page) " / " (pages) " 页 "
                @if page > 1 { a href={ (base) (sep) (name) "=" (page - 1) } { "上一页" } " " }
                @if page < pages { a href={ (base) (sep) (name) "=" (page + 1) } { "下一页" } }
            }
        }
    }
}
