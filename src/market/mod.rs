//! The sample marketplace (`spotcheck market serve`): a deterministic Chinese
//! e-commerce site on loopback that the demo crawls, the integration tests
//! compare against and the benchmarks load. It knows its own ground truth.
//!
//! Two platform styles share one server:
//! - `sample-mall` (样品商城, [`mall`]): server-rendered HTML under `/mall/`;
//! - `sample-duo` (样品多多, [`duo`]): data in `window.__INITIAL_STATE__` under `/duo/`.
//!
//! Each has an entry page linking every category list page and live room, list
//! pages of 40 with a 下一页 link, item pages, shop pages with the 营业执照 block
//! (paginated item lists) and live rooms. `/robots.txt` disallows the carts.
//!
//! Nothing is stored per listing: listing `i` is generated from `(seed, i)` on
//! demand ([`gen`]); only two `u32` indexes (per category, per shop) are kept,
//! so 1,000,000 listings cost about 8 MB. Violations are planted at the rates
//! documented in [`violations`]; [`Market::truth`] says which listing breaks
//! which rule, [`Market::certificate_registry`] and [`Market::history`] are the
//! reference data that make every violation decidable from the pages.
//!
//! Map of the files: [`rng`] (deterministic randomness), [`catalogue`] (what is
//! sold), [`ids`] (USCC, CCC, XK, SC formats), [`layout`] (who sells what,
//! where, ids), [`violations`] (what is planted), [`gen`] (building one
//! listing/shop), [`html`], [`mall`], [`duo`], [`live`] (pages), [`truth`]
//! (exports), [`server`] (routes), [`delisting`] (items taken down: their
//! pages answer 404 该商品已下架), [`platform`] (the market as its platforms'
//! trust-and-safety desk: signed notice webhooks in, delistings, and
//! acknowledgements and dispositions out to spotcheck's platform API).

pub mod catalogue;
mod delisting;
mod duo;
mod gen;
pub mod hls;
mod html;
pub mod ids;
mod layout;
mod live;
mod mall;
pub mod platform;
mod rng;
mod server;
pub mod truth;
pub mod violations;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use url::Url;

pub use html::PAGE_SIZE;
pub use layout::Platform;
pub use live::{LiveCard, LiveConfig, LiveHost, LiveState, PriceChange};
pub use platform::{
    ApiCall, Decision, PlatformAction, PlatformActor, PlatformActorError, Policy, Retry, WebhookCounts,
};
pub use server::ROBOTS_TXT;
pub use truth::{HistoryEntry, RegistryEntry, TruthRecord};
pub use violations::{PLANTED_RULES, REFERENCE_DATE};

use gen::{Item, ShopInfo};
use layout::{Index, Layout};

/// Errors of the marketplace: serving and writing exports.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error("cannot bind the sample marketplace to `{addr}`")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot read the address the sample marketplace is bound to")]
    LocalAddr(#[source] std::io::Error),
    #[error("cannot write the export")]
    Write(#[from] std::io::Error),
    #[error("cannot write a csv row")]
    Csv(#[from] csv::Error),
    #[error("cannot serialize a truth record")]
    Json(#[from] serde_json::Error),
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketConfig {
    /// Same seed → same site, byte for byte.
    pub seed: u64,
    /// Number of listings over both platforms (at most `u32::MAX`).
    pub listings: u64,
    /// Count requests per path and query (see [`Market::hits`]).
    pub count_hits: bool,
}

impl Default for MarketConfig {
    fn default() -> MarketConfig {
        MarketConfig { seed: 1, listings: 2000, count_hits: false }
    }
}

/// How many pages a full crawl of one platform visits, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCount {
    /// The entry page (`/mall/`, `/duo/`).
    pub entry: u64,
    /// Category list pages (an empty category still has one page).
    pub lists: u64,
    pub items: u64,
    /// Shop pages, including each shop's further pages (`?page=2` …).
    pub shops: u64,
    pub live: u64,
}

impl PageCount {
    pub fn total(&self) -> u64 {
        self.entry + self.lists + self.items + self.shops + self.live
    }
}

/// A generated marketplace. Share it as `Arc<Market>`; every method takes `&self`.
#[derive(Debug)]
pub struct Market {
    config: MarketConfig,
    pub(crate) layout: Layout,
    pub(crate) index: Index,
    live_rooms: [u32; 2],
    hits: Mutex<HashMap<String, u64>>,
    total_hits: AtomicU64,
    /// Live rooms' clock speed and planted stream faults ([`Market::with_live`]).
    live: LiveConfig,
    /// When every live room went live (the session clock's zero).
    live_epoch: std::time::Instant,
    /// Items taken down ([`Market::delist`]).
    pub(crate) delisted: delisting::Delisted,
    /// The platforms' trust-and-safety desks ([`Market::act_as_platform`]).
    desks: platform::Desks,
    /// The listing whose seller typed markup into its title ([`Market::with_hostile_listing`]).
    hostile: Option<u32>,
}

/// What the hostile seller appends to a title: markup that would run if a
/// page pasted it unescaped, quotes that would end an attribute, a
/// right-to-left override, control characters, and 20,000 more characters.
pub fn hostile_title_suffix() -> String {
    let mut s = String::from(
        " <script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\"> \"' onmouseover=\"window.__xss=3\" \u{202E}gnp.exe\u{202C} \u{0007}\u{001B}[31m\u{0000} ",
    );
    s.push_str(&"长".repeat(20_000));
    s
}

/// Live rooms per platform: one per 2,500 of its listings, 1 to 20.
fn live_rooms_for(listings_on_platform: usize) -> u32 {
    if listings_on_platform == 0 {
        0
    } else {
        (listings_on_platform / 2_500).clamp(1, 20) as u32
    }
}

impl Market {
    /// Builds the indexes (about 50 ms and 8 MB per million listings).
    pub fn new(config: MarketConfig) -> Market {
        let listings = u32::try_from(config.listings).unwrap_or(u32::MAX);
        let layout = Layout::new(config.seed, listings);
        let index = Index::build(&layout);
        let on = |p: Platform| (0..catalogue::CLASSES.len()).map(|c| index.category(p, c).len()).sum::<usize>();
        let live_rooms = [live_rooms_for(on(Platform::Mall)), live_rooms_for(on(Platform::Duo))];
        Market {
            config,
            layout,
            index,
            live_rooms,
            hits: Mutex::new(HashMap::new()),
            total_hits: AtomicU64::new(0),
            live: LiveConfig::default(),
            live_epoch: std::time::Instant::now(),
            delisted: delisting::Delisted::default(),
            desks: platform::Desks::default(),
            hostile: None,
        }
    }

    /// The same market, but the first listing that breaks a rule has a
    /// hostile title ([`hostile_title_suffix`]) on its page and in the truth:
    /// for tests that what a seller types is shown as text everywhere.
    pub fn with_hostile_listing(mut self) -> Market {
        let base = Url::parse("http://market.invalid/").ok();
        let n = u32::try_from(self.config.listings).unwrap_or(u32::MAX);
        self.hostile =
            base.and_then(|b| (0..n).find(|&i| self.truth_record(&b, i).is_some_and(|t| !t.violations.is_empty())));
        self
    }

    /// The hostile listing's index, if [`Market::with_hostile_listing`] planted one.
    pub fn hostile_listing(&self) -> Option<(Platform, u64)> {
        self.hostile.and_then(|i| self.listing_id(i))
    }

    /// The same market with live rooms running at `live.speed` and its stream
    /// faults; their session clock restarts now. (A builder, not a
    /// [`MarketConfig`] field, so existing configs stay as they are.)
    pub fn with_live(mut self, live: LiveConfig) -> Market {
        self.live = live;
        self.live_epoch = std::time::Instant::now();
        self
    }

    pub fn live_config(&self) -> &LiveConfig {
        &self.live
    }

    /// Milliseconds of session time since the live rooms went live.
    pub fn live_session_ms(&self) -> u64 {
        let real = u64::try_from(self.live_epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        real.saturating_mul(u64::from(self.live.speed.max(1)))
    }

    /// The state of live room `room` at session second `secs` (what `state.json`
    /// served then): the ground truth a watch is checked against.
    pub fn live_state(&self, platform: Platform, room: u32, secs: u64) -> Option<LiveState> {
        live::room(self, platform, room).map(|(host, items)| live::state(platform, room, &host, &items, secs))
    }

    /// Every price each card of `room` takes in session seconds `0..=until`.
    pub fn live_price_timeline(&self, platform: Platform, room: u32, until: u64) -> Option<Vec<PriceChange>> {
        live::room(self, platform, room).map(|(_, items)| live::price_timeline(&items, until))
    }

    /// Live rooms on `platform` (numbered from 1).
    pub fn live_room_count(&self, platform: Platform) -> u32 {
        self.live_rooms(platform)
    }

    pub fn config(&self) -> &MarketConfig {
        &self.config
    }

    /// The axum router serving both platforms.
    pub fn router(self: Arc<Self>) -> axum::Router {
        server::router(self)
    }

    /// Adapter name → entry URL: `("sample-mall", base/mall/)`, `("sample-duo", base/duo/)`.
    pub fn entry_urls(&self, base: &Url) -> Vec<(String, Url)> {
        Platform::ALL
            .iter()
            .filter_map(|p| base.join(&format!("{}/", p.prefix())).ok().map(|url| (p.name().to_string(), url)))
            .collect()
    }

    /// The ground truth of every listing, in listing order, generated lazily.
    pub fn truth<'a>(&'a self, base: &'a Url) -> impl Iterator<Item = TruthRecord> + 'a {
        (0..self.layout.listings).map(move |i| {
            let item = self.item(i);
            truth::record(&item, &self.shop(item.shop), base)
        })
    }

    /// The ground truth of listing number `i` alone (O(1), no iteration).
    pub fn truth_record(&self, base: &Url, i: u32) -> Option<TruthRecord> {
        (i < self.layout.listings).then(|| {
            let item = self.item(i);
            truth::record(&item, &self.shop(item.shop), base)
        })
    }

    /// The expected [`crate::model::Shop`] of every shop that sells something
    /// (shops without listings are not linked from anywhere), in shop order.
    pub fn shops_truth<'a>(&'a self, base: &'a Url) -> impl Iterator<Item = crate::model::Shop> + 'a {
        (0..self.layout.shops)
            .filter(|&j| !self.index.shop_items(j).is_empty())
            .map(move |j| truth::shop(&self.shop(j), base))
    }

    /// The CCC certificate registry: every registered certificate a listing shows
    /// (valid ones, and suspended/revoked/cancelled/expired ones); unknown numbers are absent.
    pub fn certificate_registry(&self) -> impl Iterator<Item = RegistryEntry> + '_ {
        (0..self.layout.listings).filter_map(|i| truth::registry_entry(&self.item(i), self.config.seed))
    }

    /// Past spot-check results by operator USCC (source of `shop.repeat_offender`).
    pub fn history(&self) -> impl Iterator<Item = HistoryEntry> + '_ {
        (0..self.layout.shops)
            .filter(|&j| self.layout.operator_of(j) == j)
            .flat_map(|j| truth::history_entries(&self.shop(j), &self.layout))
    }

    /// Writes [`Market::truth`] as JSON Lines; returns the number of records.
    pub fn write_truth(&self, base: &Url, mut out: impl Write) -> Result<u64, MarketError> {
        let mut n = 0;
        for record in self.truth(base) {
            serde_json::to_writer(&mut out, &record)?;
            out.write_all(b"\n")?;
            n += 1;
        }
        out.flush()?;
        Ok(n)
    }

    /// Writes [`Market::certificate_registry`] as CSV with a header row.
    pub fn write_registry(&self, out: impl Write) -> Result<u64, MarketError> {
        write_csv(out, self.certificate_registry())
    }

    /// Writes [`Market::history`] as CSV with a header row.
    pub fn write_history(&self, out: impl Write) -> Result<u64, MarketError> {
        write_csv(out, self.history())
    }

    /// Requests served per path and query (e.g. `/mall/search?cat=charger&page=2`);
    /// empty unless `count_hits`.
    pub fn hits(&self) -> HashMap<String, u64> {
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Requests served in all (counted whether or not `count_hits`).
    pub fn total_hits(&self) -> u64 {
        self.total_hits.load(Ordering::Relaxed)
    }

    pub(crate) fn record_hit(&self, key: String) {
        self.total_hits.fetch_add(1, Ordering::Relaxed);
        if self.config.count_hits {
            *self.hits.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(0) += 1;
        }
    }

    /// Pages a full crawl of `platform` from its entry URL visits (robots.txt
    /// and carts excluded; `cards.json` is fetched by page script only).
    pub fn page_count(&self, platform: Platform) -> PageCount {
        let mut count = PageCount { entry: 1, live: u64::from(self.live_rooms(platform)), ..PageCount::default() };
        for class in 0..catalogue::CLASSES.len() {
            let n = self.index.category(platform, class).len();
            count.lists += html::page_count(n) as u64;
            count.items += n as u64;
        }
        for j in (0..self.layout.shops).filter(|&j| self.layout.platform_of_shop(j) == platform) {
            let n = self.index.shop_items(j).len();
            if n > 0 {
                count.shops += html::page_count(n) as u64;
            }
        }
        count
    }

    /// The absolute URL of the listing with this platform item id, if it exists.
    pub fn item_url(&self, base: &Url, platform: Platform, item_id: u64) -> Option<Url> {
        let i = self.layout.item_index(platform, item_id)?;
        base.join(&self.item(i).path()).ok()
    }

    /// The platform and public item id of listing number `i` (`0..listings`).
    pub fn listing_id(&self, i: u32) -> Option<(Platform, u64)> {
        (i < self.layout.listings).then(|| {
            let platform = self.layout.platform_of_shop(self.layout.shop_of(i));
            (platform, self.layout.item_id(platform, i))
        })
    }

    /// Takes the item with this platform item id down: its page answers 404
    /// (该商品已下架) and list and shop pages stop linking it. `false` when there
    /// is no such item or it was already delisted.
    pub fn delist(&self, platform: Platform, item_id: u64) -> bool {
        self.layout.item_index(platform, item_id).is_some_and(|i| self.delisted.insert(i))
    }

    /// Puts a delisted item back; `false` when it was not delisted.
    pub fn relist(&self, platform: Platform, item_id: u64) -> bool {
        self.layout.item_index(platform, item_id).is_some_and(|i| self.delisted.remove(i))
    }

    pub fn is_delisted(&self, platform: Platform, item_id: u64) -> bool {
        self.layout.item_index(platform, item_id).is_some_and(|i| self.delisted.contains(i))
    }

    /// Every delisted item as `(platform, item id)`, in listing order.
    pub fn delisted_items(&self) -> Vec<(Platform, u64)> {
        self.delisted.all().into_iter().filter_map(|i| self.listing_id(i)).collect()
    }

    pub(crate) fn item(&self, i: u32) -> Item {
        let mut item = Item::generate(&self.layout, i);
        if self.hostile == Some(i) {
            item.title.push_str(&hostile_title_suffix());
        }
        item
    }

    pub(crate) fn shop(&self, j: u32) -> ShopInfo {
        ShopInfo::generate(&self.layout, j)
    }

    pub(crate) fn live_rooms(&self, platform: Platform) -> u32 {
        self.live_rooms[platform.slot()]
    }
}

fn write_csv<T: serde::Serialize>(out: impl Write, rows: impl Iterator<Item = T>) -> Result<u64, MarketError> {
    let mut writer = csv::Writer::from_writer(out);
    let mut n = 0;
    for row in rows {
        writer.serialize(row)?;
        n += 1;
    }
    writer.flush()?;
    Ok(n)
}

/// Binds `addr` (`127.0.0.1:0` picks a free port), spawns the server and returns
/// the bound address and the server task.
pub async fn serve(
    market: Arc<Market>,
    addr: SocketAddr,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), MarketError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| MarketError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(MarketError::LocalAddr)?;
    let app = market.router();
    let handle = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the sample marketplace stopped");
        }
    });
    Ok((bound, handle))
}
