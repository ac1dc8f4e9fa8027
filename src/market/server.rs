//! The axum router: one route per page kind per platform, plus `/`,
//! `/robots.txt`, images, carts (disallowed by robots.txt), the platforms'
//! notice webhooks ([`super::platform`]) and a counter of requests served.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::catalogue::CLASSES;
use super::delisting::delisted_page;
use super::html::{not_found_page, PIXEL_GIF};
use super::layout::Platform;
use super::{duo, hls, live, mall, Market};

/// The robots.txt the marketplace serves: carts are off limits.
pub const ROBOTS_TXT: &str = "User-agent: *\nDisallow: /mall/cart\nDisallow: /duo/cart\nAllow: /\n";

#[path = "jsonly.rs"]
mod jsonly;

type Shared = State<Arc<Market>>;

pub(crate) fn router(market: Arc<Market>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/robots.txt", get(|| async { ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], ROBOTS_TXT) }))
        .route("/mall", get(mall_entry))
        .route("/mall/", get(mall_entry))
        .route("/mall/search", get(mall_list))
        .route("/mall/item/{file}", get(mall_item))
        .route("/mall/js/item/{id}", get(mall_js_item))
        .route("/mall/shop/{id}", get(mall_shop))
        .nest("/mall/live", live_routes(Platform::Mall))
        .route("/mall/cart", get(cart))
        .route("/mall/cart/{*rest}", get(cart))
        .route("/duo", get(duo_entry))
        .route("/duo/", get(duo_entry))
        .route("/duo/catgoods.html", get(duo_list))
        .route("/duo/goods.html", get(duo_item))
        .route("/duo/mall_page.html", get(duo_shop))
        .nest("/duo/live", live_routes(Platform::Duo))
        .route("/duo/cart", get(cart))
        .route("/duo/cart/{*rest}", get(cart))
        .route("/img/{platform}/{file}", get(image))
        .merge(super::platform::routes())
        .fallback(|| async { not_found() })
        .layer(middleware::from_fn_with_state(market.clone(), count))
        .with_state(market)
}

/// A platform's live rooms: the page, its cards and state, and the HLS stream.
fn live_routes(platform: Platform) -> Router<Arc<Market>> {
    Router::new()
        .route("/{room}", get(move |s: Shared, p: Path<String>| live_page(s, platform, p)))
        .route("/{room}/cards.json", get(move |s: Shared, p: Path<String>, q: RawQuery| live_cards(s, platform, p, q)))
        .route("/{room}/state.json", get(move |s: Shared, p: Path<String>| live_state(s, platform, p)))
        .route("/{room}/live.m3u8", get(move |s: Shared, p: Path<String>| live_playlist(s, platform, p)))
        .route("/{room}/seg/{file}", get(move |s: Shared, p: Path<(String, String)>| live_segment(s, platform, p)))
}

async fn count(State(market): Shared, request: Request, next: Next) -> Response {
    let key =
        request.uri().path_and_query().map_or_else(|| request.uri().path().to_string(), |pq| pq.as_str().to_string());
    market.record_hit(key);
    next.run(request).await
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn not_found() -> Response {
    html_404(not_found_page())
}

fn html_404(body: String) -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn page_or_404(page: Option<String>) -> Response {
    page.map_or_else(not_found, html)
}

/// The value of `name` in a raw query string.
fn param(query: &Option<String>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_deref()?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The 1-based page number (absent → 1; anything unparsable → `None`, a 404).
fn page_number(query: &Option<String>) -> Option<usize> {
    match param(query, "page") {
        None => Some(1),
        Some(text) => text.parse().ok(),
    }
}

/// The class a list page shows: `cat=<slug>`, or a keyword search `q=<words>`
/// (the first class whose name, category or product nouns match the keyword,
/// as a platform's search maps 充电宝 to its 移动电源 category).
fn class_index(query: &Option<String>) -> Option<usize> {
    if let Some(slug) = param(query, "cat") {
        return CLASSES.iter().position(|c| c.slug == slug);
    }
    let keyword = param(query, "q")?;
    let keyword = keyword.trim();
    if keyword.is_empty() {
        return None;
    }
    let matches = |text: &str| text.contains(keyword) || keyword.contains(text);
    CLASSES.iter().position(|c| matches(c.name) || c.category.contains(keyword) || c.nouns.iter().any(|n| matches(n)))
}

async fn index() -> Response {
    html(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>样品市场</title></head><body>\n\
          <h1>样品市场</h1>\n<ul><li><a href=\"/mall/\">样品商城</a></li><li><a href=\"/duo/\">样品多多</a></li></ul>\n\
          <p>演示用的样品电商网站：商品、店铺和违规情况均为生成数据。</p>\n</body></html>\n"
            .to_string(),
    )
}

async fn mall_entry(State(market): Shared) -> Response {
    html(mall::entry(&market))
}

async fn duo_entry(State(market): Shared) -> Response {
    html(duo::entry(&market))
}

async fn mall_list(State(market): Shared, RawQuery(query): RawQuery) -> Response {
    page_or_404(class_index(&query).zip(page_number(&query)).and_then(|(class, page)| mall::list(&market, class, page)))
}

async fn duo_list(State(market): Shared, RawQuery(query): RawQuery) -> Response {
    page_or_404(class_index(&query).zip(page_number(&query)).and_then(|(class, page)| duo::list(&market, class, page)))
}

async fn mall_item(State(market): Shared, Path(file): Path<String>) -> Response {
    let id = file.strip_suffix(".html").and_then(|id| id.parse().ok());
    item_response(&market, Platform::Mall, id, |i| {
        let item = market.item(i);
        Some(mall::item(&item, &market.shop(item.shop)))
    })
}

/// `/mall/js/item/<id>`: the item built by script only ([`jsonly`]).
async fn mall_js_item(State(market): Shared, Path(id): Path<String>) -> Response {
    let id = id.parse().ok();
    item_response(&market, Platform::Mall, id, |_| id.and_then(|id| jsonly::item_page(&market, id)))
}

async fn duo_item(State(market): Shared, RawQuery(query): RawQuery) -> Response {
    let id = param(&query, "goods_id").and_then(|id| id.parse().ok());
    item_response(&market, Platform::Duo, id, |i| {
        let item = market.item(i);
        Some(duo::item(&item, &market.shop(item.shop)))
    })
}

/// An item page: `render(listing)` for a listed item, 404 with the 该商品已下架
/// page for a delisted one, the plain 404 for an id that is no item.
fn item_response(
    market: &Market,
    platform: Platform,
    id: Option<u64>,
    render: impl FnOnce(u32) -> Option<String>,
) -> Response {
    match id.and_then(|id| market.layout.item_index(platform, id)) {
        Some(i) if market.delisted.contains(i) => html_404(delisted_page(platform)),
        Some(i) => page_or_404(render(i)),
        None => not_found(),
    }
}

async fn mall_shop(State(market): Shared, Path(id): Path<String>, RawQuery(query): RawQuery) -> Response {
    let shop = id.parse().ok().and_then(|id| market.layout.shop_index(Platform::Mall, id)).map(|j| market.shop(j));
    page_or_404(shop.zip(page_number(&query)).and_then(|(shop, page)| mall::shop(&market, &shop, page)))
}

async fn duo_shop(State(market): Shared, RawQuery(query): RawQuery) -> Response {
    let shop = param(&query, "mall_id")
        .and_then(|id| id.parse().ok())
        .and_then(|id| market.layout.shop_index(Platform::Duo, id))
        .map(|j| market.shop(j));
    page_or_404(shop.zip(page_number(&query)).and_then(|(shop, page)| duo::shop(&market, &shop, page)))
}

async fn live_page(State(market): Shared, platform: Platform, Path(room): Path<String>) -> Response {
    let room = room.parse().ok();
    page_or_404(room.and_then(|room| {
        live::room(&market, platform, room).map(|(host, items)| live::page(platform, room, &host, &items))
    }))
}

async fn live_cards(
    State(market): Shared,
    platform: Platform,
    Path(room): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let tick = param(&query, "tick").and_then(|t| t.parse().ok()).unwrap_or(0);
    match room.parse().ok().and_then(|room| live::room(&market, platform, room)) {
        Some((_, items)) => {
            ([(header::CONTENT_TYPE, "application/json")], live::cards_json(&items, tick)).into_response()
        }
        None => not_found(),
    }
}

/// `state.json`: the room at the current session second (see [`live`]).
async fn live_state(State(market): Shared, platform: Platform, Path(room): Path<String>) -> Response {
    let secs = market.live_session_ms() / 1000;
    match room.parse().ok().and_then(|room| market.live_state(platform, room, secs)) {
        Some(state) => match serde_json::to_string(&state) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], json)
                .into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        None => not_found(),
    }
}

/// `live.m3u8`: the live media playlist at the current session time (see [`hls`]).
async fn live_playlist(State(market): Shared, platform: Platform, Path(room): Path<String>) -> Response {
    match room.parse().ok().and_then(|room| live::room(&market, platform, room)) {
        Some(_) => (
            [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl"), (header::CACHE_CONTROL, "no-store")],
            hls::playlist(market.live_config(), market.live_session_ms()),
        )
            .into_response(),
        None => not_found(),
    }
}

/// `seg/<n>.ts`: a completed segment, unless a planted fault loses it.
async fn live_segment(
    State(market): Shared,
    platform: Platform,
    Path((room, file)): Path<(String, String)>,
) -> Response {
    let room: Option<u32> = room.parse().ok().filter(|&room| live::room(&market, platform, room).is_some());
    let n: Option<u64> = file.strip_suffix(".ts").and_then(|n| n.parse().ok());
    match room.zip(n) {
        Some((room, n)) if hls::served(market.live_config(), market.live_session_ms(), n) => {
            ([(header::CONTENT_TYPE, "video/mp2t")], hls::segment(platform, room, n)).into_response()
        }
        _ => not_found(),
    }
}

async fn cart() -> Response {
    html(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>购物车</title></head>\
          <body><h1>购物车</h1><p>您的购物车还是空的。</p></body></html>\n"
            .to_string(),
    )
}

async fn image(Path((platform, file)): Path<(String, String)>) -> Response {
    if matches!(platform.as_str(), "mall" | "duo") && file.ends_with(".gif") {
        ([(header::CONTENT_TYPE, "image/gif")], PIXEL_GIF).into_response()
    } else {
        not_found()
    }
}
