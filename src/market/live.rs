//! Livestream rooms (`/mall/live/<room>`, `/duo/live/<room>`): a host shop and
//! product cards (小黄车). The page is static (the same bytes for the same
//! seed); its script polls `<room>/state.json`, whose content depends on the
//! room's session clock, and plays `<room>/live.m3u8` ([`super::hls`]).
//!
//! The session clock is the time since the market was built, multiplied by
//! [`LiveConfig::speed`], so a watch of a few real seconds can see minutes of a
//! session (tests speed it up; a query override would let the watcher pick the
//! time, which a real room never does). What happens in a session is a pure
//! function of `(seed, room, session seconds)`, which is the ground truth
//! ([`state`], [`price_timeline`]):
//! - one card at a time is presented (讲解中), each for [`PHASE_SECS`];
//! - the presented card sells at a live price 10 % under its list price, so
//!   every card's price drops when its turn starts and comes back after it;
//! - every card's stock goes down steadily, the presented one faster.
//!
//! `cards.json?tick=N` (the older per-tick price feed) is kept for pages that
//! still call it.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;

use super::gen::{Item, ShopInfo};
use super::html::{esc, page_end, page_start, yuan};
use super::layout::Platform;
use super::Market;

/// Cards in a room.
const CARDS: usize = 6;

/// Session seconds each card is presented for.
pub const PHASE_SECS: u64 = 20;

/// Stock a card starts the session with (plus `13 * card number`).
const START_STOCK: u64 = 500;

/// How the live rooms behave: clock speed and planted stream faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// Session seconds per real second (1 = real time).
    pub speed: u32,
    /// Every segment whose number `n` has `n % k == k - 1` is left out of the
    /// playlist (the media sequence skips it), as a flaky packager would.
    pub skip_every: Option<u64>,
    /// Every segment whose number `n` has `n % k == k - 1` is listed but
    /// answers 404, as a CDN that lost it would.
    pub lose_every: Option<u64>,
}

impl Default for LiveConfig {
    fn default() -> LiveConfig {
        LiveConfig { speed: 1, skip_every: None, lose_every: None }
    }
}

impl LiveConfig {
    fn hits(every: Option<u64>, n: u64) -> bool {
        every.is_some_and(|k| k > 0 && n % k == k - 1)
    }

    /// Segment `n` is missing from the playlist.
    pub fn skips(&self, n: u64) -> bool {
        Self::hits(self.skip_every, n)
    }

    /// Segment `n` is listed but answers 404.
    pub fn loses(&self, n: u64) -> bool {
        Self::hits(self.lose_every, n)
    }
}

/// A room's state at one session second: what `state.json` serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveState {
    pub room: u32,
    pub platform: String,
    pub title: String,
    pub host: LiveHost,
    /// Whole session seconds since the room went live.
    pub session_secs: u64,
    /// The item id of the card being presented.
    pub presenting: String,
    pub cards: Vec<LiveCard>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveHost {
    pub shop_id: String,
    pub name: String,
    /// Path of the host's shop page.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveCard {
    pub item_id: String,
    pub title: String,
    /// Path of the item page.
    pub path: String,
    /// Yuan, two decimals (`"129.00"`).
    pub price: String,
    pub stock: u64,
}

/// One price a card takes from a session second on (the ground truth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceChange {
    pub at_secs: u64,
    pub item_id: String,
    pub price: String,
}

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

/// The price of a card at `tick` (the `cards.json` feed).
fn tick_price(item: &Item, tick: u64) -> u64 {
    item.price_fen * (100 - tick % 5) / 100
}

/// The card presented at session second `t`.
fn presenting(cards: usize, t: u64) -> usize {
    if cards == 0 {
        0
    } else {
        ((t / PHASE_SECS) % cards as u64) as usize
    }
}

/// Card `k`'s price in fen at `t`: 10 % off while it is presented.
fn session_price(item: &Item, k: usize, cards: usize, t: u64) -> u64 {
    if presenting(cards, t) == k {
        item.price_fen * 90 / 100
    } else {
        item.price_fen
    }
}

/// Card `k`'s stock at `t`: one sold every `7 + k` seconds, and one more every
/// 2 seconds of each presentation it has had (finished or under way).
fn session_stock(k: usize, cards: usize, t: u64) -> u64 {
    let steady = t / (7 + k as u64);
    let cycle = PHASE_SECS * cards as u64;
    let (full, rest) = (t / cycle.max(1), t % cycle.max(1));
    let start = PHASE_SECS * k as u64;
    let presented = full * PHASE_SECS + rest.saturating_sub(start).min(PHASE_SECS);
    (START_STOCK + 13 * k as u64).saturating_sub(steady + presented / 2)
}

/// The room's state at session second `t` (the ground truth the watcher is compared with).
pub(crate) fn state(platform: Platform, room: u32, host: &ShopInfo, items: &[Item], t: u64) -> LiveState {
    let cards = items
        .iter()
        .enumerate()
        .map(|(k, item)| LiveCard {
            item_id: item.item_id.to_string(),
            title: item.title.clone(),
            path: item.path(),
            price: yuan(session_price(item, k, items.len(), t)),
            stock: session_stock(k, items.len(), t),
        })
        .collect();
    LiveState {
        room,
        platform: platform.name().to_string(),
        title: format!("{}直播间", host.name),
        host: LiveHost { shop_id: host.shop_id.to_string(), name: host.name.clone(), path: host.path() },
        session_secs: t,
        presenting: items.get(presenting(items.len(), t)).map(|i| i.item_id.to_string()).unwrap_or_default(),
        cards,
    }
}

/// Every price each card takes during session seconds `0..=until`, in time order.
pub(crate) fn price_timeline(items: &[Item], until: u64) -> Vec<PriceChange> {
    let mut out = Vec::new();
    let mut t = 0;
    loop {
        for (k, item) in items.iter().enumerate() {
            let now = session_price(item, k, items.len(), t);
            if t == 0 || now != session_price(item, k, items.len(), t - 1) {
                out.push(PriceChange { at_secs: t, item_id: item.item_id.to_string(), price: yuan(now) });
            }
        }
        // Prices change only where a presentation starts.
        t += PHASE_SECS;
        if t > until {
            return out;
        }
    }
}

/// The room page: static, so the same seed serves the same bytes.
pub(crate) fn page(platform: Platform, room: u32, host: &ShopInfo, items: &[Item]) -> String {
    let mut out = String::with_capacity(8 * 1024);
    page_start(&mut out, platform, &format!("直播间 {room}"), None);
    let base = format!("{}/live/{room}", platform.prefix());
    let _ = write!(
        out,
        "<section class=\"live-room\" data-room=\"{room}\" data-state=\"{base}/state.json\" \
         data-hls=\"{base}/live.m3u8\">\n<h1 class=\"room-title\">"
    );
    esc(&mut out, &host.name);
    let _ = write!(out, "直播间</h1>\n<div class=\"host\">主播：<a class=\"shop-link\" href=\"{}\">", host.path());
    esc(&mut out, &host.name);
    let _ = write!(
        out,
        "</a></div>\n<div class=\"live-status\">直播中</div>\n<video class=\"live-video\" data-src=\"{base}/live.m3u8\" \
         muted autoplay></video>\n<ul class=\"live-cards\">\n"
    );
    for (k, item) in items.iter().enumerate() {
        let _ = write!(
            out,
            "<li class=\"live-card\" data-item-id=\"{}\"><span class=\"card-no\">{}号</span><a class=\"item-link\" href=\"{}\">",
            item.item_id,
            k + 1,
            item.path()
        );
        esc(&mut out, &item.title);
        let _ = writeln!(
            out,
            "</a><span class=\"live-price\">¥{}</span><span class=\"live-stock\"></span></li>",
            yuan(item.price_fen)
        );
    }
    let _ = write!(
        out,
        "</ul>\n</section>\n<script>(function(){{function poll(){{fetch('{base}/state.json').then(function(r){{return r.json();}})\
         .then(function(s){{s.cards.forEach(function(c){{var li=document.querySelector('[data-item-id=\"'+c.itemId+'\"]');\
         if(!li){{return;}}li.querySelector('.live-price').textContent='¥'+c.price;\
         li.querySelector('.live-stock').textContent='库存'+c.stock;\
         li.classList.toggle('presenting',c.itemId===s.presenting);}});}});}}poll();setInterval(poll,1000);}})();</script>\n"
    );
    page_end(&mut out);
    out
}

/// `cards.json?tick=N`: the cards' prices at a tick (the older feed).
pub(crate) fn cards_json(items: &[Item], tick: u64) -> String {
    let cards: Vec<_> = items
        .iter()
        .map(|item| json!({"itemId": item.item_id.to_string(), "title": item.title, "price": yuan(tick_price(item, tick))}))
        .collect();
    json!({"tick": tick, "cards": cards}).to_string()
}
