//! Livestream rooms (`/mall/live/<room>`, `/duo/live/<room>`): a host shop and
//! product cards whose prices the page's script refreshes from
//! `<room>/cards.json?tick=N` (deterministic per tick: a flash discount of
//! 0–4 % cycling with the tick). The live issue extends this.

use std::fmt::Write as _;

use serde_json::json;

use super::gen::{Item, ShopInfo};
use super::html::{esc, page_end, page_start, yuan};
use super::layout::Platform;
use super::Market;

/// Cards in a room.
const CARDS: usize = 6;

/// The shop hosting `room` on `platform` and its product cards.
pub(crate) fn room(market: &Market, platform: Platform, room: u32) -> Option<(ShopInfo, Vec<Item>)> {
    if room == 0 || room > market.live_rooms(platform) {
        return None;
    }
    let shops = market.layout.shops;
    let start = (u64::from(room) * 7_919) % u64::from(shops);
    let host = (0..u64::from(shops))
        .map(|k| ((start + k) % u64::from(shops)) as u32)
        .find(|&j| market.layout.platform_of_shop(j) == platform && !market.index.shop_items(j).is_empty())?;
    let items = market.index.shop_items(host).iter().take(CARDS).map(|&i| market.item(i)).collect();
    Some((market.shop(host), items))
}

/// The price of a card at `tick`.
fn live_price(item: &Item, tick: u64) -> u64 {
    item.price_fen * (100 - tick % 5) / 100
}

/// The room page.
pub(crate) fn page(platform: Platform, room: u32, host: &ShopInfo, items: &[Item]) -> String {
    let mut out = String::with_capacity(8 * 1024);
    page_start(&mut out, platform, &format!("直播间 {room}"), None);
    let _ = write!(out, "<section class=\"live-room\" data-room=\"{room}\">\n<h1 class=\"room-title\">");
    esc(&mut out, &host.name);
    let _ = write!(out, "直播间</h1>\n<div class=\"host\">主播：<a class=\"shop-link\" href=\"{}\">", host.path());
    esc(&mut out, &host.name);
    out.push_str("</a></div>\n<div class=\"live-status\">直播中</div>\n<ul class=\"live-cards\">\n");
    for (k, item) in items.iter().enumerate() {
        let _ = write!(
            out,
            "<li class=\"live-card\" data-item-id=\"{}\"><span class=\"card-no\">{}号</span><a class=\"item-link\" href=\"{}\">",
            item.item_id,
            k + 1,
            item.path()
        );
        esc(&mut out, &item.title);
        let _ = writeln!(out, "</a><span class=\"live-price\">¥{}</span></li>", yuan(live_price(item, 0)));
    }
    let _ = write!(
        out,
        "</ul>\n</section>\n<script>(function(){{var tick=0;setInterval(function(){{tick++;\
         fetch('{prefix}/live/{room}/cards.json?tick='+tick).then(function(r){{return r.json();}}).then(function(s){{\
         s.cards.forEach(function(c){{var el=document.querySelector('[data-item-id=\"'+c.itemId+'\"] .live-price');\
         if(el){{el.textContent='¥'+c.price;}}}});}});}},3000);}})();</script>\n",
        prefix = platform.prefix()
    );
    page_end(&mut out);
    out
}

/// `cards.json?tick=N`: the cards' current prices.
pub(crate) fn cards_json(items: &[Item], tick: u64) -> String {
    let cards: Vec<_> = items
        .iter()
        .map(|item| json!({"itemId": item.item_id.to_string(), "title": item.title, "price": yuan(live_price(item, tick))}))
        .collect();
    json!({"tick": tick, "cards": cards}).to_string()
}
