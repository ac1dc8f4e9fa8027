//! HTML building blocks shared by both platform renderers: escaping, money,
//! page chrome, pagination. Pages are written with `write!` into one `String`
//! (no template engine) so a page costs a few microseconds.

use std::fmt::Write as _;

use super::layout::Platform;

/// Listings per list / shop page.
pub const PAGE_SIZE: usize = 40;

/// Appends `text` HTML-escaped (safe in element content and quoted attributes).
pub(crate) fn esc(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Fen as a yuan amount with two decimals: `12900` → `129.00`.
pub(crate) fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Serializes `value` for embedding inside a `<script>` element (`<` escaped so
/// no text can close the element).
pub(crate) fn script_json(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c")
}

/// `<!DOCTYPE html>` … `<body>` plus the site header. `canonical` is the
/// page's canonical path (as real platforms declare it): the one URL of an item
/// or shop whatever page or query string it was reached by.
pub(crate) fn page_start(out: &mut String, platform: Platform, title: &str, canonical: Option<&str>) {
    let prefix = platform.prefix();
    out.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    esc(out, title);
    let _ = write!(
        out,
        " - {site}</title>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        site = platform.title(),
    );
    if let Some(path) = canonical {
        out.push_str("<link rel=\"canonical\" href=\"");
        esc(out, path);
        out.push_str("\">\n");
    }
    let _ = write!(
        out,
        "</head>\n<body>\n\
         <header class=\"site-header\"><a class=\"logo\" href=\"{prefix}/\">{site}</a>\
         <a class=\"cart-link\" href=\"{prefix}/cart\">购物车</a></header>\n",
        site = platform.title(),
    );
}

pub(crate) fn page_end(out: &mut String) {
    out.push_str(
        "<footer class=\"site-footer\">本站为演示用样品网站，商品与店铺均为虚构。</footer>\n</body>\n</html>\n",
    );
}

/// Number of pages for `n` entries (at least one: an empty list still has a page).
pub(crate) fn page_count(n: usize) -> usize {
    n.div_ceil(PAGE_SIZE).max(1)
}

/// The slice of `ids` on 1-based page `page`, or `None` past the last page.
pub(crate) fn page_slice(ids: &[u32], page: usize) -> Option<&[u32]> {
    if page == 0 || page > page_count(ids.len()) {
        return None;
    }
    let start = (page - 1) * PAGE_SIZE;
    Some(&ids[start..(start + PAGE_SIZE).min(ids.len())])
}

/// A "下一页" link to `href` when there is a next page.
pub(crate) fn next_link(out: &mut String, page: usize, total_entries: usize, href: &str) {
    let _ = write!(
        out,
        "<div class=\"pager\"><span class=\"page-info\">第{page}页，共{}页</span>",
        page_count(total_entries)
    );
    if page < page_count(total_entries) {
        out.push_str("<a class=\"next-page\" href=\"");
        esc(out, href);
        out.push_str("\">下一页</a>");
    }
    out.push_str("</div>\n");
}

/// A small 404 page.
pub(crate) fn not_found_page() -> String {
    "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>页面不存在</title></head>\
     <body><h1>404 页面不存在</h1></body></html>\n"
        .to_string()
}

/// A 1×1 transparent GIF: every product image.
pub(crate) const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        let mut out = String::new();
        esc(&mut out, "<a href=\"x\">&'");
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn pages_cover_every_entry_once() {
        let ids: Vec<u32> = (0..81).collect();
        let pages: Vec<&[u32]> = (1..=page_count(ids.len())).filter_map(|p| page_slice(&ids, p)).collect();
        assert_eq!(pages.len(), 3);
        assert_eq!(pages.concat(), ids);
        assert!(page_slice(&ids, 4).is_none() && page_slice(&ids, 0).is_none());
        assert_eq!(page_slice(&[], 1), Some(&[][..]));
    }

    #[test]
    fn yuan_keeps_two_decimals() {
        assert_eq!(yuan(12_900), "129.00");
        assert_eq!(yuan(8_890), "88.90");
        assert_eq!(yuan(5), "0.05");
    }
}
