//! `/mall/js/item/<id>`: the sample mall's item page as a script-only shell,
//! the way many real platforms serve theirs. The HTML has an empty body; a
//! script builds the very markup of `/mall/item/<id>.html` from an inline
//! JSON blob after the page loads. So a plain HTTP fetch sees no listing at
//! all and only a browser (adapter `sample-mall-js`, `fetch = "browser"`)
//! does, which is what the browser capture tests need.
//!
//! Declared from `server.rs` (`#[path]`), next to the one route that serves it.

use crate::market::layout::Platform;
use crate::market::Market;

/// The shell page for mall item `id`, or `None` when there is no such item.
pub(crate) fn item_page(market: &Market, id: u64) -> Option<String> {
    let index = market.layout.item_index(Platform::Mall, id)?;
    let item = market.item(index);
    let full = crate::market::mall::item(&item, &market.shop(item.shop));
    let head = between(&full, "<head>", "</head>")?;
    let body = between(&full, "<body>", "</body>")?;
    // The head's own charset and viewport stay; title, canonical and the body
    // arrive by script.
    let blob = serde_json::json!({ "head": head, "body": body }).to_string().replace("</", "<\\/");
    Some(format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <script id=\"item-data\" type=\"application/json\">{blob}</script>\n</head>\n<body>\n\
         <script>\nwindow.addEventListener('load', function () {{\n  setTimeout(function () {{\n    \
         var data = JSON.parse(document.getElementById('item-data').textContent);\n    \
         document.head.insertAdjacentHTML('beforeend', data.head);\n    \
         document.body.innerHTML = data.body;\n  }}, 50);\n}});\n</script>\n</body>\n</html>\n"
    ))
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use crate::market::{Market, MarketConfig};

    #[test]
    fn the_shell_holds_the_item_only_inside_its_script() {
        let market = Market::new(MarketConfig { seed: 7, listings: 50, count_hits: false });
        let base = url::Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!());
        let truth = market.truth(&base).find(|t| t.listing.platform == "sample-mall");
        let Some(truth) = truth else { panic!("no mall listing in the market") };
        let id: u64 = truth.listing.item_id.parse().unwrap_or_else(|_| panic!("numeric mall item id"));
        let Some(page) = super::item_page(&market, id) else { panic!("no shell page for item {id}") };
        let html = scraper::Html::parse_document(&page);
        let title = scraper::Selector::parse("h1.item-title").unwrap_or_else(|_| unreachable!());
        assert_eq!(html.select(&title).count(), 0, "the served HTML must not show the item");
        assert!(page.contains("item-title"), "the script's data holds the item markup");
        assert!(!page.contains("</h1>"), "closing tags inside the JSON are escaped");
        assert!(super::item_page(&market, 1).is_none());
    }
}
