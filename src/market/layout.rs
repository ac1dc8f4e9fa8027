//! The marketplace's shape: which shop sells listing `i`, which platform a
//! shop is on, which class a listing is in, the public ids of both, and the
//! two small indexes (per category, per shop) that list pages need.
//!
//! Everything here is a pure function of `(seed, index)` except [`Index`],
//! which holds one `u32` per listing per index (8 bytes a listing) so that
//! pagination can enumerate a category or a shop without generating listings.

use super::catalogue::{class_for_draw, total_weight, CLASSES};
use super::rng::{Permutation, Rng, Stream};

/// The two platform styles the marketplace serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// 样品商城: server-rendered HTML (Tmall-like), under `/mall/`.
    Mall,
    /// 样品多多: data in `window.__INITIAL_STATE__` (PDD/JD-like), under `/duo/`.
    Duo,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Mall, Platform::Duo];

    /// The adapter / platform name used in listings (`sample-mall`, `sample-duo`).
    pub fn name(self) -> &'static str {
        match self {
            Platform::Mall => "sample-mall",
            Platform::Duo => "sample-duo",
        }
    }

    /// The path prefix (`/mall`, `/duo`).
    pub fn prefix(self) -> &'static str {
        match self {
            Platform::Mall => "/mall",
            Platform::Duo => "/duo",
        }
    }

    /// The site's Chinese name.
    pub fn title(self) -> &'static str {
        match self {
            Platform::Mall => "样品商城",
            Platform::Duo => "样品多多",
        }
    }

    pub(crate) fn slot(self) -> usize {
        match self {
            Platform::Mall => 0,
            Platform::Duo => 1,
        }
    }
}

/// Listings per shop on average.
const LISTINGS_PER_SHOP: u32 = 25;
/// Share (‰) of listings that go to the "big" shops (the first 5 % of shops),
/// so that some shops have several pages of items.
const BIG_SHOP_SHARE: u64 = 200;
/// Share (‰) of shops whose operator also runs the previous (even-numbered) shop,
/// on the other platform.
const SHARED_OPERATOR: u64 = 150;
/// Share (‰) of a shop's listings in its main class.
const MAIN_CLASS_SHARE: u64 = 700;

/// Pure functions of the seed: assignment of listings to shops, platforms, classes and ids.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub seed: u64,
    pub listings: u32,
    pub shops: u32,
    big_shops: u32,
    item_ids: [Permutation; 2],
    shop_ids: [Permutation; 2],
}

/// Id ranges: ids look like the platforms' own (12-digit items, 10/11-digit shops).
const ITEM_ID_BASE: [u64; 2] = [520_000_000_000, 300_000_000_000];
const SHOP_ID_BASE: [u64; 2] = [1_000_000_000, 10_000_000_000];

impl Layout {
    pub(crate) fn new(seed: u64, listings: u32) -> Layout {
        let shops = listings.div_ceil(LISTINGS_PER_SHOP).max(1);
        Layout {
            seed,
            listings,
            shops,
            big_shops: (shops / 20).max(1),
            item_ids: [Permutation::new(seed, 1), Permutation::new(seed, 2)],
            shop_ids: [Permutation::new(seed, 3), Permutation::new(seed, 4)],
        }
    }

    /// The shop selling listing `i`.
    pub(crate) fn shop_of(&self, i: u32) -> u32 {
        let mut rng = Rng::new(self.seed, Stream::Assign, u64::from(i));
        if rng.per_mille(BIG_SHOP_SHARE) {
            rng.below(u64::from(self.big_shops)) as u32
        } else {
            rng.below(u64::from(self.shops)) as u32
        }
    }

    /// The first draws of a shop's stream: (shares the previous shop's operator, platform draw, main class).
    fn shop_draws(&self, j: u32) -> (bool, bool, usize) {
        let mut rng = Rng::new(self.seed, Stream::Shop, u64::from(j));
        let shared = rng.per_mille(SHARED_OPERATOR);
        let mall = rng.per_mille(500);
        let class = class_for_draw(rng.below(total_weight()));
        (j % 2 == 1 && shared, mall, class)
    }

    /// The operator (company) running shop `j`: usually its own, sometimes shop `j - 1`'s.
    pub(crate) fn operator_of(&self, j: u32) -> u32 {
        if self.shop_draws(j).0 {
            j - 1
        } else {
            j
        }
    }

    pub(crate) fn platform_of_shop(&self, j: u32) -> Platform {
        let (shared, mall, _) = self.shop_draws(j);
        let own = if mall { Platform::Mall } else { Platform::Duo };
        if shared {
            // The same company on the other platform.
            match self.platform_of_shop(j - 1) {
                Platform::Mall => Platform::Duo,
                Platform::Duo => Platform::Mall,
            }
        } else {
            own
        }
    }

    /// The class index of listing `i` sold by shop `shop`, and the item stream
    /// positioned after the class draws.
    pub(crate) fn class_of(&self, i: u32, shop: u32) -> (usize, Rng) {
        let mut rng = Rng::new(self.seed, Stream::Item, u64::from(i));
        let main = rng.per_mille(MAIN_CLASS_SHARE);
        let draw = rng.below(total_weight());
        let class = if main { self.shop_draws(shop).2 } else { class_for_draw(draw) };
        (class, rng)
    }

    pub(crate) fn item_id(&self, platform: Platform, i: u32) -> u64 {
        ITEM_ID_BASE[platform.slot()] + u64::from(self.item_ids[platform.slot()].forward(i))
    }

    /// The listing index behind a public item id, if it is one of this platform's.
    pub(crate) fn item_index(&self, platform: Platform, id: u64) -> Option<u32> {
        let offset = u32::try_from(id.checked_sub(ITEM_ID_BASE[platform.slot()])?).ok()?;
        let i = self.item_ids[platform.slot()].backward(offset);
        (i < self.listings && self.platform_of_shop(self.shop_of(i)) == platform).then_some(i)
    }

    pub(crate) fn shop_id(&self, platform: Platform, j: u32) -> u64 {
        SHOP_ID_BASE[platform.slot()] + u64::from(self.shop_ids[platform.slot()].forward(j))
    }

    /// The shop index behind a public shop id, if it is one of this platform's.
    pub(crate) fn shop_index(&self, platform: Platform, id: u64) -> Option<u32> {
        let offset = u32::try_from(id.checked_sub(SHOP_ID_BASE[platform.slot()])?).ok()?;
        let j = self.shop_ids[platform.slot()].backward(offset);
        (j < self.shops && self.platform_of_shop(j) == platform).then_some(j)
    }
}

/// Listing ids grouped for pagination: per (platform, class) and per shop.
#[derive(Debug)]
pub(crate) struct Index {
    /// `[platform][class]` → listing indexes, ascending.
    categories: [Vec<Vec<u32>>; 2],
    /// Shop `j`'s listings are `shop_items[shop_offsets[j]..shop_offsets[j + 1]]`, ascending.
    shop_offsets: Vec<u32>,
    shop_items: Vec<u32>,
}

impl Index {
    pub(crate) fn build(layout: &Layout) -> Index {
        let mut categories: [Vec<Vec<u32>>; 2] = [vec![Vec::new(); CLASSES.len()], vec![Vec::new(); CLASSES.len()]];
        let mut platforms: Vec<u8> = (0..layout.shops).map(|j| layout.platform_of_shop(j).slot() as u8).collect();
        let mut shop_of: Vec<u32> = Vec::with_capacity(layout.listings as usize);
        let mut counts = vec![0u32; layout.shops as usize + 1];
        for i in 0..layout.listings {
            let shop = layout.shop_of(i);
            let (class, _) = layout.class_of(i, shop);
            categories[platforms[shop as usize] as usize][class].push(i);
            counts[shop as usize + 1] += 1;
            shop_of.push(shop);
        }
        platforms.clear();
        for j in 1..counts.len() {
            counts[j] += counts[j - 1];
        }
        let mut next = counts.clone();
        let mut shop_items = vec![0u32; layout.listings as usize];
        for (i, shop) in shop_of.iter().enumerate() {
            let slot = &mut next[*shop as usize];
            shop_items[*slot as usize] = i as u32;
            *slot += 1;
        }
        Index { categories, shop_offsets: counts, shop_items }
    }

    pub(crate) fn category(&self, platform: Platform, class: usize) -> &[u32] {
        &self.categories[platform.slot()][class]
    }

    pub(crate) fn shop_items(&self, j: u32) -> &[u32] {
        let (start, end) = (self.shop_offsets[j as usize], self.shop_offsets[j as usize + 1]);
        &self.shop_items[start as usize..end as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_back_to_their_listing_on_the_right_platform_only() {
        let layout = Layout::new(9, 5000);
        for i in (0..5000).step_by(37) {
            let platform = layout.platform_of_shop(layout.shop_of(i));
            let other = if platform == Platform::Mall { Platform::Duo } else { Platform::Mall };
            assert_eq!(layout.item_index(platform, layout.item_id(platform, i)), Some(i));
            assert_eq!(layout.item_index(other, layout.item_id(other, i)), None);
        }
        assert_eq!(layout.item_index(Platform::Mall, 12), None);
    }

    #[test]
    fn shared_operators_run_shops_on_both_platforms() {
        let layout = Layout::new(1, 20_000);
        let shared: Vec<u32> = (0..layout.shops).filter(|&j| layout.operator_of(j) != j).collect();
        assert!(shared.len() > 10, "{}", shared.len());
        for j in shared {
            assert_ne!(layout.platform_of_shop(j), layout.platform_of_shop(j - 1));
            assert_eq!(layout.operator_of(j - 1), j - 1);
        }
    }

    #[test]
    fn index_holds_every_listing_once() {
        let layout = Layout::new(3, 3000);
        let index = Index::build(&layout);
        let mut seen = vec![0u8; 3000];
        for platform in Platform::ALL {
            for class in 0..CLASSES.len() {
                for &i in index.category(platform, class) {
                    seen[i as usize] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        let by_shop: usize = (0..layout.shops).map(|j| index.shop_items(j).len()).sum();
        assert_eq!(by_shop, 3000);
    }
}
