//! 样品商城 (`sample-mall`): the server-rendered, Tmall-like platform under `/mall/`.
//!
//! Item data is in the HTML itself: `h1.item-title`, `span.price` (`¥129.00`),
//! `del.original-price`, `table.spec-table` (`th` key / `td` value), `div.desc-text`,
//! `.gallery img`, `.sales` (`月销 1.2万+`), `.stock-num`, `.availability`
//! (`有货`/`缺货`), `.breadcrumb .category`, `a.shop-link`. The shop page has a
//! `.licence` block (`dl`: 企业名称 / 统一社会信用代码 / 住所 / 经营范围).

use std::fmt::Write as _;

use super::catalogue::CLASSES;
use super::gen::{shop_path, Item, ShopInfo};
use super::html::{esc, next_link, page_end, page_slice, page_start, yuan};
use super::layout::Platform;
use super::Market;

const P: Platform = Platform::Mall;

/// `/mall/`: links to every category list page and every live room.
pub(crate) fn entry(market: &Market) -> String {
    let mut out = String::with_capacity(4096);
    page_start(&mut out, P, "首页", None);
    out.push_str("<nav class=\"categories\"><h2>商品分类</h2><ul>\n");
    for class in CLASSES {
        let _ = writeln!(
            out,
            "<li><a class=\"cat-link\" href=\"/mall/search?cat={}&amp;page=1\">{}</a></li>",
            class.slug, class.name
        );
    }
    out.push_str("</ul></nav>\n<section class=\"live-rooms\"><h2>直播间</h2><ul>\n");
    for room in 1..=market.live_rooms(P) {
        let _ = writeln!(out, "<li><a class=\"live-link\" href=\"/mall/live/{room}\">直播间 {room}</a></li>");
    }
    out.push_str("</ul></section>\n");
    page_end(&mut out);
    out
}

/// One item card on a list or shop page.
fn card(out: &mut String, item: &Item, shop_link: bool) {
    let _ = write!(out, "<li class=\"item-card\"><a class=\"item-link\" href=\"{}\">", item.path());
    esc(out, &item.title);
    let _ = write!(out, "</a><span class=\"price\">¥{}</span>", yuan(item.price_fen));
    if shop_link {
        let _ = write!(out, "<a class=\"shop-link\" href=\"{}\">进店逛逛</a>", shop_path(P, item.shop_id));
    }
    out.push_str("</li>\n");
}

/// `/mall/search?cat=<slug>&page=N`: 40 listings a page and a 下一页 link.
pub(crate) fn list(market: &Market, class: usize, page: usize) -> Option<String> {
    let ids = market.index.category(P, class);
    let slice = page_slice(ids, page)?;
    let class = &CLASSES[class];
    let mut out = String::with_capacity(16 * 1024);
    page_start(&mut out, P, class.name, None);
    let _ = write!(
        out,
        "<h1 class=\"list-title\">{}</h1><p class=\"result-count\">共{}件商品</p>\n<ul class=\"item-list\">\n",
        class.name,
        market.delisted.listed_len(ids)
    );
    let shown = market.delisted.listed(slice);
    if shown.is_empty() {
        out.push_str("<li class=\"empty\">暂无商品</li>\n");
    }
    for i in shown {
        card(&mut out, &market.item(i), true);
    }
    out.push_str("</ul>\n");
    next_link(&mut out, page, ids.len(), &format!("/mall/search?cat={}&page={}", class.slug, page + 1));
    page_end(&mut out);
    Some(out)
}

/// `/mall/item/<id>.html`.
pub(crate) fn item(item: &Item, shop: &ShopInfo) -> String {
    let mut out = String::with_capacity(8 * 1024);
    page_start(&mut out, P, &item.title, Some(&item.path()));
    out.push_str("<nav class=\"breadcrumb\"><a href=\"/mall/\">首页</a> &gt; <span class=\"category\">");
    esc(&mut out, item.class.category);
    let _ =
        write!(out, "</span></nav>\n<div class=\"item\" data-item-id=\"{}\">\n<div class=\"gallery\">", item.item_id);
    for (k, src) in item.images.iter().enumerate() {
        let class = if k == 0 { "main-img" } else { "thumb" };
        let _ = write!(out, "<img class=\"{class}\" src=\"{src}\" alt=\"商品图片{}\">", k + 1);
    }
    out.push_str("</div>\n<div class=\"info\">\n<h1 class=\"item-title\">");
    esc(&mut out, &item.title);
    let _ = write!(out, "</h1>\n<div class=\"price-box\"><span class=\"price\">¥{}</span>", yuan(item.price_fen));
    if let Some(was) = item.original_fen {
        let _ = write!(out, " <del class=\"original-price\">¥{}</del>", yuan(was));
    }
    let _ = write!(
        out,
        "</div>\n<div class=\"sales\">{}</div>\n<div class=\"stock\">库存 <span class=\"stock-num\">{}</span> 件 \
         <span class=\"availability\">{}</span></div>\n\
         <a class=\"add-cart\" href=\"/mall/cart/add?item={}\">加入购物车</a>\n</div>\n</div>\n",
        item.sales_text,
        item.stock,
        if item.stock > 0 { "有货" } else { "缺货" },
        item.item_id
    );
    out.push_str("<section class=\"price-history\"><h2>近7天价格</h2><table>\n");
    for (date, fen) in &item.history {
        let _ = writeln!(out, "<tr><td class=\"date\">{date}</td><td class=\"hist-price\">¥{}</td></tr>", yuan(*fen));
    }
    out.push_str("</table></section>\n<section class=\"params\"><h2>参数信息</h2><table class=\"spec-table\">\n");
    for (key, value) in &item.specs {
        out.push_str("<tr><th>");
        esc(&mut out, key);
        out.push_str("</th><td>");
        esc(&mut out, value);
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table></section>\n<section class=\"desc\"><h2>商品详情</h2><div class=\"desc-text\">");
    esc(&mut out, &item.description);
    let _ =
        write!(out, "</div></section>\n<aside class=\"shop-card\"><a class=\"shop-link\" href=\"{}\">", shop.path());
    esc(&mut out, &shop.name);
    out.push_str("</a></aside>\n");
    page_end(&mut out);
    out
}

/// `/mall/shop/<id>` (page 1) and `?page=N`: the licence block and the shop's items.
pub(crate) fn shop(market: &Market, shop: &ShopInfo, page: usize) -> Option<String> {
    let ids = market.index.shop_items(shop.index);
    let slice = page_slice(ids, page)?;
    let mut out = String::with_capacity(16 * 1024);
    page_start(&mut out, P, &shop.name, Some(&shop.path()));
    out.push_str("<h1 class=\"shop-name\">");
    esc(&mut out, &shop.name);
    out.push_str("</h1>\n");
    if !shop.flaws.licence_missing {
        let op = &shop.operator;
        out.push_str("<section class=\"licence\"><h2>营业执照信息</h2><dl>\n<dt>企业名称</dt><dd class=\"company\">");
        esc(&mut out, &op.company);
        let _ =
            write!(out, "</dd>\n<dt>统一社会信用代码</dt><dd class=\"uscc\">{}</dd>\n<dt>法定代表人</dt><dd>", op.uscc);
        esc(&mut out, &op.legal_representative);
        out.push_str("</dd>\n<dt>住所</dt><dd class=\"address\">");
        esc(&mut out, &op.address);
        out.push_str("</dd>\n<dt>经营范围</dt><dd class=\"scope\">");
        esc(&mut out, &shop.scope);
        out.push_str("</dd>\n</dl></section>\n");
    }
    let _ = write!(out, "<h2>全部宝贝（{}）</h2>\n<ul class=\"item-list\">\n", market.delisted.listed_len(ids));
    for i in market.delisted.listed(slice) {
        card(&mut out, &market.item(i), false);
    }
    out.push_str("</ul>\n");
    next_link(&mut out, page, ids.len(), &format!("{}?page={}", shop.path(), page + 1));
    page_end(&mut out);
    Some(out)
}
