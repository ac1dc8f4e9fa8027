//! 样品多多 (`sample-duo`): the PDD/JD-like platform under `/duo/`, where pages
//! are a thin HTML shell and the data sits in
//! `<script>window.__INITIAL_STATE__ = {...};</script>`.
//!
//! Item state: `$.goods` with `goodsId`, `goodsName`, `minGroupPrice` and
//! `marketPrice` (fen, integers; `marketPrice` absent when no original price),
//! `sideSalesTip` (`已拼10万+件`), `quantity`, `soldOut`, `brandName`, `catName`,
//! `specs` (`[{key, value}]`), `gallery` (`[{url}]`), `goodsDesc`, `priceTrend`;
//! `$.mall` with `mallId`, `mallName`, `mallUrl`. Shop state: `$.mall` plus
//! `$.mall.licence` (`companyName`, `creditCode`, `legalPerson`, `address`,
//! `businessScope`; absent when the shop shows no licence) and `$.goodsList`.
//! Links (items, shop, next page, cart) are also plain `<a>` elements so a
//! crawler can discover them without running the page's script.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use super::catalogue::CLASSES;
use super::gen::{Item, ShopInfo};
use super::html::{esc, next_link, page_count, page_end, page_slice, page_start, script_json, yuan};
use super::layout::Platform;
use super::Market;

const P: Platform = Platform::Duo;

/// The script that renders the state into `#app` (the page works without it for crawlers reading the state).
const RENDER_SCRIPT: &str = "<script>(function(){var s=window.__INITIAL_STATE__||{};var g=s.goods;var app=document.getElementById('app');\
if(g&&app){var h=document.createElement('h1');h.className='goods-name';h.textContent=g.goodsName;app.appendChild(h);\
var p=document.createElement('div');p.className='goods-price';p.textContent='¥'+(g.minGroupPrice/100).toFixed(2);app.appendChild(p);}})();</script>\n";

fn state_script(out: &mut String, state: &Value) {
    let _ = writeln!(out, "<script>window.__INITIAL_STATE__ = {};</script>", script_json(state));
}

/// `/duo/`: links to every category list page and every live room.
pub(crate) fn entry(market: &Market) -> String {
    let mut out = String::with_capacity(4096);
    page_start(&mut out, P, "首页", None);
    out.push_str("<nav class=\"cat-nav\"><ul>\n");
    for class in CLASSES {
        let _ = writeln!(
            out,
            "<li><a class=\"cat-link\" href=\"/duo/catgoods.html?cat={}&amp;page=1\">{}</a></li>",
            class.slug, class.name
        );
    }
    out.push_str("</ul></nav>\n<section class=\"live-rooms\"><ul>\n");
    for room in 1..=market.live_rooms(P) {
        let _ = writeln!(out, "<li><a class=\"live-link\" href=\"/duo/live/{room}\">多多直播 {room}</a></li>");
    }
    out.push_str("</ul></section>\n");
    page_end(&mut out);
    out
}

fn goods_brief(item: &Item) -> Value {
    json!({"goodsId": item.item_id.to_string(), "goodsName": item.title, "minGroupPrice": item.price_fen, "link": item.path()})
}

fn goods_links(out: &mut String, items: &[Item]) {
    out.push_str("<ul class=\"goods-list\">\n");
    for item in items {
        let _ = write!(out, "<li><a class=\"goods-item\" href=\"{}\">", item.path());
        esc(out, &item.title);
        out.push_str("</a></li>\n");
    }
    out.push_str("</ul>\n");
}

/// `/duo/catgoods.html?cat=<slug>&page=N`.
pub(crate) fn list(market: &Market, class: usize, page: usize) -> Option<String> {
    let ids = market.index.category(P, class);
    let slice = page_slice(ids, page)?;
    let class = &CLASSES[class];
    let items: Vec<Item> = market.delisted.listed(slice).into_iter().map(|i| market.item(i)).collect();
    let mut out = String::with_capacity(24 * 1024);
    page_start(&mut out, P, class.name, None);
    out.push_str("<div id=\"app\"></div>\n");
    goods_links(&mut out, &items);
    next_link(&mut out, page, ids.len(), &format!("/duo/catgoods.html?cat={}&page={}", class.slug, page + 1));
    let state = json!({
        "catName": class.category,
        "page": page,
        "totalPages": page_count(ids.len()),
        "total": market.delisted.listed_len(ids),
        "list": items.iter().map(goods_brief).collect::<Vec<_>>(),
    });
    state_script(&mut out, &state);
    page_end(&mut out);
    Some(out)
}

/// `/duo/goods.html?goods_id=<id>`.
pub(crate) fn item(item: &Item, shop: &ShopInfo) -> String {
    let mut goods = Map::new();
    goods.insert("goodsId".into(), item.item_id.to_string().into());
    goods.insert("goodsName".into(), item.title.clone().into());
    goods.insert("minGroupPrice".into(), item.price_fen.into());
    if let Some(was) = item.original_fen {
        goods.insert("marketPrice".into(), was.into());
    }
    goods.insert("sideSalesTip".into(), item.sales_text.clone().into());
    goods.insert("quantity".into(), item.stock.into());
    goods.insert("soldOut".into(), (item.stock == 0).into());
    goods.insert("brandName".into(), item.brand.clone().into());
    goods.insert("catName".into(), item.class.category.into());
    goods.insert(
        "specs".into(),
        item.specs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>().into(),
    );
    goods.insert("gallery".into(), item.images.iter().map(|url| json!({"url": url})).collect::<Vec<_>>().into());
    goods.insert("goodsDesc".into(), item.description.clone().into());
    goods.insert(
        "priceTrend".into(),
        item.history
            .iter()
            .map(|(date, fen)| json!({"date": date, "price": fen, "priceText": format!("¥{}", yuan(*fen))}))
            .collect::<Vec<_>>()
            .into(),
    );
    let state = json!({
        "goods": goods,
        "mall": {"mallId": shop.shop_id.to_string(), "mallName": shop.name, "mallUrl": shop.path()},
    });
    let mut out = String::with_capacity(8 * 1024);
    page_start(&mut out, P, &item.title, Some(&item.path()));
    out.push_str("<div id=\"app\" class=\"goods-page\"><noscript>请开启JavaScript后浏览</noscript></div>\n");
    let _ = writeln!(
        out,
        "<div class=\"goods-actions\"><a class=\"mall-link\" href=\"{}\">进店逛逛</a> \
         <a class=\"add-cart\" href=\"/duo/cart/add?goods_id={}\">加入购物车</a></div>",
        shop.path(),
        item.item_id
    );
    state_script(&mut out, &state);
    out.push_str(RENDER_SCRIPT);
    page_end(&mut out);
    out
}

/// `/duo/mall_page.html?mall_id=<id>[&page=N]`.
pub(crate) fn shop(market: &Market, shop: &ShopInfo, page: usize) -> Option<String> {
    let ids = market.index.shop_items(shop.index);
    let slice = page_slice(ids, page)?;
    let items: Vec<Item> = market.delisted.listed(slice).into_iter().map(|i| market.item(i)).collect();
    let mut mall = Map::new();
    mall.insert("mallId".into(), shop.shop_id.to_string().into());
    mall.insert("mallName".into(), shop.name.clone().into());
    mall.insert("goodsNum".into(), market.delisted.listed_len(ids).into());
    if !shop.flaws.licence_missing {
        let op = &shop.operator;
        mall.insert(
            "licence".into(),
            json!({
                "companyName": op.company,
                "creditCode": op.uscc,
                "legalPerson": op.legal_representative,
                "address": op.address,
                "businessScope": shop.scope,
            }),
        );
    }
    let state = json!({
        "mall": mall,
        "page": page,
        "totalPages": page_count(ids.len()),
        "goodsList": items.iter().map(goods_brief).collect::<Vec<_>>(),
    });
    let mut out = String::with_capacity(16 * 1024);
    page_start(&mut out, P, &shop.name, Some(&shop.path()));
    out.push_str("<div id=\"app\" class=\"mall-page\"></div>\n");
    goods_links(&mut out, &items);
    next_link(&mut out, page, ids.len(), &format!("{}&page={}", shop.path(), page + 1));
    state_script(&mut out, &state);
    page_end(&mut out);
    Some(out)
}
