//! Bounded lists: the page number from a query and the pager under a table.

use std::collections::BTreeMap;

use maud::{html, Markup};

use super::error::ConsoleError;

/// The page number in the query under `name` (a page with two lists pages
/// each under its own name); read as [`super::listing::page_number`].
pub fn page_of(q: &BTreeMap<String, String>, name: &str) -> Result<usize, ConsoleError> {
    super::listing::page_number(q.get(name).map(String::as_str))
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
