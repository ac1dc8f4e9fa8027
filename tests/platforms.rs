#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The real-platform adapters (`site-adapters/{jd,taobao,tmall,pinduoduo,
//! suning,douyin-shop,douyin-live}.toml`) on REAL captured documents from
//! `../shared/realpages` (read at test time, never copied into the repo):
//!
//! - `crmeb_copyapi_cn_platform_json/*.json`: item-detail responses (c. 2020)
//!   of the product-data "copy" API (api03.6bqb.com/<platform>/detail), one
//!   product per platform;
//! - `douyin_dy_data/json/*.json`: Douyin app responses (2020–21) relayed by a
//!   Douyin data service: product detail, showcase, video goods, mall feed,
//!   live-room cart, the product being presented, the live flash-sale board.
//!
//! Every expected value below was read from the document by hand; the comment
//! beside it names the JSON path it comes from. Then: a required key removed
//! (or changed) in memory must be "adapter drift" naming the path tried.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::Value;
use spotcheck::adapters::{Adapter, AdapterSet, ExtractError, Extracted};
use spotcheck::model::{Availability, Listing, PageKind};
use url::Url;

fn realpages() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/realpages"))
}

fn crmeb(file: &str) -> PathBuf {
    realpages().join("crmeb_copyapi_cn_platform_json").join(file)
}

fn douyin(file: &str) -> PathBuf {
    realpages().join("douyin_dy_data/json").join(file)
}

const DY_DETAIL: &str = "抖音电商Api_抖音商品详情接口_抖音API接口数据采集教程__0.json";
const DY_SHOWCASE: &str = "抖音用户Api_抖音Api_用户商品橱窗__0.json";
const DY_VIDEO_GOODS: &str = "抖音视频Api_抖音Api_视频带货商品列表__0.json";
const DY_MALL_FEED: &str = "抖音电商Api_抖音商城精选商品列表接口数据采集_抖音API接口数据采集教程__0.json";
const DY_CART: &str = "抖音直播Api_抖音直播Api__2.json";
const DY_INTRO: &str = "抖音直播Api_抖音直播间正在介绍的商品接口__0.json";
const DY_SECKILL_LIVE: &str = "抖音电商Api_抖音商城新品接口_抖音API接口数据采集教程__0.json";

/// The shipped adapters, loaded from `site-adapters/` (not the built-in set,
/// which lists its files in `src/adapters/builtin.rs`).
fn adapter(name: &str) -> Arc<Adapter> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("site-adapters");
    let (set, problems) = AdapterSet::load_dir(&dir);
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    set.get(name).unwrap_or_else(|| panic!("adapter `{name}` in site-adapters/"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("real document `{}`: {e}", path.display()))
}

fn extract(name: &str, url: &str, body: &[u8]) -> Result<Extracted, ExtractError> {
    adapter(name).extract(&Url::parse(url).unwrap(), body)
}

/// The one listing a document yields.
fn one(name: &str, url: &str, path: &Path) -> Listing {
    let out = extract(name, url, &read(path)).unwrap();
    assert_eq!(out.listings.len(), 1, "{out:#?}");
    out.listings.into_iter().next().unwrap()
}

fn yuan(s: &str) -> Option<Decimal> {
    Some(s.parse().unwrap())
}

fn spec<'l>(l: &'l Listing, key: &str) -> Option<&'l str> {
    l.specs.get(key).map(String::as_str)
}

// URLs: the data service's endpoint shapes (the API key is left out here).
const JD_URL: &str = "https://api03.6bqb.com/jd/detail?itemid=100000177760";
const PDD_URL: &str = "https://api03.6bqb.com/pdd/detail?itemid=5914165983";
const SUNING_URL: &str = "https://api03.6bqb.com/suning/detail?itemid=10750373914&shopid=0070088010";
const TAOBAO_URL: &str = "https://api03.6bqb.com/taobao/detail?itemid=16793826526";
const TMALL_URL: &str = "https://api03.6bqb.com/tmall/detail?itemid=576801983901";
const DY_HOST: &str = "http://dy-data.example.org";

#[test]
fn jd_item_detail() {
    let l = one("jd", JD_URL, &crmeb("jd.json"));
    assert_eq!(l.platform, "jd");
    assert_eq!(l.item_id, "100000177760"); // $.data.item.itemId
    assert_eq!(l.url, "https://item.jd.com/100000177760.html"); // JD's item page for that sku, not the API URL (it carries the key)
    assert_eq!(l.title.as_deref(), Some("Apple iPhone XR (A2108) 128GB 黑色 移动联通电信4G手机 双卡双待")); // $.data.item.name
    assert_eq!(l.price, yuan("4899.00")); // $.data.item.price "4899.00"
    assert_eq!(l.original_price, yuan("4899.00")); // $.data.item.originalPrice "4899.00"
    assert_eq!(l.currency.as_deref(), Some("CNY"));
    assert_eq!(l.brand.as_deref(), Some("Apple")); // $.data.item.brandName
    assert_eq!(l.model.as_deref(), Some("A2108")); // propGroups 主体 → 入网型号
    assert_eq!(l.sales, None, "the JD document has no sales figure");
    // $.data.item.attributes.propGroups[*].atts[*]: 12 groups, 55 attNames, 54 distinct.
    assert_eq!(l.specs.len(), 54, "{:#?}", l.specs);
    assert_eq!(spec(&l, "品牌"), Some("Apple")); // 主体
    assert_eq!(spec(&l, "机身存储"), Some("128GB")); // 参数
    assert_eq!(spec(&l, "4G网络"), Some("4G TD-LTE(移动), 4G FDD-LTE(联通、电信)"), "vals[] joined"); // 网络支持
    assert_eq!(
        spec(&l, "拍照特点"),
        Some("HDR, 光学防抖"),
        "the first group's value wins (后置摄像头 before 前置摄像头)"
    );
    // $.data.item.images[*]: 4 images, in order.
    assert_eq!(l.images.len(), 4);
    assert_eq!(
        l.images[0],
        "http://img30.360buyimg.com/popWaterMark/jfs/t1/111919/39/9332/101993/5ed8e09cE3957b283/cb6c00fbf8cf2909.jpg"
    );
    assert!(l.images[3].ends_with("/ef55ef9e2bf8cb84.jpg"), "{:?}", l.images);
    let shop = l.shop.as_ref().unwrap();
    assert_eq!(shop.shop_id, "1000000127"); // $.data.seller.sellerId (a number)
    assert_eq!(shop.name.as_deref(), Some("Apple产品京东自营旗舰店")); // $.data.seller.shopName
    assert_eq!(shop.url.as_deref(), Some("http://apple.jd.com/")); // $.data.seller.shopUrl
    assert_eq!(l.provenance["price"], "json:$.data.item.price");
    assert_eq!(l.provenance["specs"], "json:$.data.item.attributes.propGroups[*].atts[*]");
}

/// JD documents without the 规格与包装 groups still have the 商品介绍 list
/// (`pcAttributes`, "key：value" strings): the spec sheet falls back to it.
#[test]
fn jd_specs_fall_back_to_the_attribute_list() {
    let mut doc: Value = serde_json::from_slice(&read(&crmeb("jd.json"))).unwrap();
    doc["data"]["item"].as_object_mut().unwrap().remove("attributes");
    let out = extract("jd", JD_URL, &serde_json::to_vec(&doc).unwrap()).unwrap();
    let l = &out.listings[0];
    assert_eq!(l.provenance["specs"], "json:$.data.item.pcAttributes");
    assert_eq!(l.specs.len(), 20); // $.data.item.pcAttributes: 20 "key：value" strings
    assert_eq!(spec(l, "商品产地"), Some("中国")); // "商品产地：中国"
    assert_eq!(spec(l, "商品毛重"), Some("460.00g")); // "商品毛重：460.00g"
    assert_eq!(spec(l, "操作系统"), Some("iOS(Apple)")); // "操作系统：iOS(Apple)"
    assert_eq!(l.model, None, "the list has no 入网型号/型号");
    assert_eq!(l.brand.as_deref(), Some("Apple"));
}

#[test]
fn pinduoduo_goods_detail() {
    let l = one("pinduoduo", PDD_URL, &crmeb("pinduoduo.json"));
    assert_eq!(l.platform, "pinduoduo");
    assert_eq!(l.item_id, "5914165983"); // $.data.item.goodsId (a number)
    assert_eq!(l.url, "http://mobile.yangkeduo.com/goods.html?goods_id=5914165983"); // $.data.item.url
    assert_eq!(l.title.as_deref(), Some("【特惠省300】vivo X30 新品128g智能5g手机x23 x27 vivox30pro")); // goodsName
    assert_eq!(l.price, yuan("2998.00")); // $.data.item.minGroupPrice "2998" (拼单价; minNormalPrice is 2999)
    assert_eq!(l.original_price, yuan("4298.01")); // $.data.item.marketPrice "4298.01"
    assert_eq!(l.sales, Some(5895)); // $.data.item.salesTip "已拼5895件" (not the shop's "已拼: 10万+件")
    assert_eq!(l.brand.as_deref(), Some("vivo")); // goodsProperty 品牌 values ["vivo"]
    assert_eq!(l.model.as_deref(), Some("X30(5G)")); // goodsProperty 型号
    assert_eq!(l.specs.len(), 17); // $.data.item.goodsProperty: 17 entries
    assert_eq!(spec(&l, "机身内存"), Some("256GB, 128GB")); // values ["256GB", "128GB"]
    assert_eq!(spec(&l, "电池容量"), Some("4350mAh"));
    assert_eq!(l.images.len(), 9); // $.data.item.banner[*]
    assert_eq!(
        l.images[0],
        "https://t00img.yangkeduo.com/goods/images/2020-05-29/e2aa52d0-e0db-4e5f-836d-c561b7256529.jpg"
    );
    assert!(l.description.as_deref().unwrap().starts_with("【vivo旗舰店】【原装正品】")); // goodsDesc
    let shop = l.shop.as_ref().unwrap();
    assert_eq!(shop.shop_id, "354267"); // $.data.seller.shopId
    assert_eq!(shop.name.as_deref(), Some("vivo旗舰店")); // $.data.seller.shopName
    assert!(shop.url.as_deref().unwrap().starts_with("http://mobile.yangkeduo.com/mall_page.html?mall_id=354267"));
}

#[test]
fn suning_product_detail() {
    let l = one("suning", SUNING_URL, &crmeb("suning.json"));
    assert_eq!(l.platform, "suning");
    assert_eq!(l.item_id, "000000010750373914"); // $.data.partNumber
                                                 // Suning's item page: the URL's shopid, the part number without its leading zeros.
    assert_eq!(l.url, "https://product.suning.com/0070088010/10750373914.html");
    assert_eq!(l.title.as_deref(), Some("Semir森马牛仔外套男春秋季情侣装破洞牛仔衣休闲工装夹克男衣服")); // $.data.title
                                                                                                         // $.data.price is "" in this document: no price, and no currency invented.
    assert_eq!(l.price, None);
    assert_eq!(l.currency, None);
    // The document has no brand, specs or sales: none are made up.
    assert_eq!((l.brand.as_deref(), l.specs.len(), l.sales), (None, 0, None));
    assert_eq!(l.images.len(), 5); // $.data.images[*]
    assert_eq!(l.images[0], "http://imgservice.suning.cn/uimg1/b2c/image/mt6m7FZG46SZu6nyUg7n5Q.jpg");
    assert_eq!(l.shop.as_ref().unwrap().shop_id, "0070088010"); // $.data.shopId
}

#[test]
fn taobao_item_detail() {
    let l = one("taobao", TAOBAO_URL, &crmeb("taobao.json"));
    assert_eq!(l.platform, "taobao");
    assert_eq!(l.item_id, "16793826526"); // $.data.item.itemId (isTmall false)
    assert_eq!(l.url, "https://item.taobao.com/item.htm?id=16793826526"); // $.data.item.url
    assert_eq!(l.title.as_deref(), Some("MUMO木墨 多层架 实木置物架卧室书架落地客厅木头架子红橡木书架"));
    assert_eq!(l.price, yuan("1998.00")); // $.data.item.priceRange "1998-4390": the range's low end
    assert_eq!(l.original_price, yuan("2498.00")); // $.data.item.marketPriceRange "2498.00"
    assert_eq!(l.sales, Some(63)); // $.data.item.vagueSellCount "63" (no sellCount)
    assert_eq!(l.provenance["sales"], "json:$.data.item.vagueSellCount");
    assert_eq!(l.brand.as_deref(), Some("木墨")); // groupProps 基本信息 品牌
    assert_eq!(l.model.as_deref(), Some("SDC")); // groupProps 基本信息 型号
    assert_eq!(l.specs.len(), 15); // $.data.item.groupProps[0].基本信息: 15 entries
    assert_eq!(spec(&l, "材质"), Some("木"));
    assert_eq!(spec(&l, "安装说明详情"), Some("提供安装说明书,提供简单安装工具"));
    // $.data.item.images[*] are protocol-relative ("//img.alicdn.com/…"): resolved to https.
    assert_eq!(l.images.len(), 5);
    assert_eq!(l.images[0], "https://img.alicdn.com/imgextra/i3/23739472/TB2amDXaBAOyuJjy0FlXXcaxFXa_!!23739472.jpg");
    let shop = l.shop.as_ref().unwrap();
    assert_eq!(shop.shop_id, "34059034"); // $.data.seller.shopId
    assert_eq!(shop.name.as_deref(), Some("MUMO木墨")); // $.data.seller.shopName
    assert_eq!(shop.url.as_deref(), Some("https://shop34059034.taobao.com/")); // $.data.seller.taoShopUrl
}

#[test]
fn tmall_item_detail() {
    let l = one("tmall", TMALL_URL, &crmeb("tmall.json"));
    assert_eq!(l.platform, "tmall");
    assert_eq!(l.item_id, "576801983901"); // $.data.item.itemId (isTmall true)
    assert_eq!(l.url, "https://detail.tmall.com/item.htm?id=576801983901"); // Tmall's item page for that id
    assert_eq!(l.title.as_deref(), Some("花花公子男士长袖t恤圆领卫衣春秋季潮流打底衫2020新款T恤上衣服"));
    assert_eq!(l.price, yuan("139.00")); // $.data.item.priceRange "139"
    assert_eq!(l.original_price, yuan("218.00")); // $.data.item.marketPriceRange "218" (the struck-through 价格)
    assert_eq!(l.sales, Some(5)); // $.data.item.sellCount "5"
    assert_eq!(l.provenance["sales"], "json:$.data.item.sellCount");
    assert_eq!(l.brand.as_deref(), Some("PLAYBOY/花花公子")); // groupProps 基本信息 品牌
    assert_eq!(l.model.as_deref(), Some("BM-DYZ8736")); // no 型号: 货号
    assert_eq!(l.specs.len(), 23); // $.data.item.groupProps[0].基本信息: 23 entries
    assert_eq!(spec(&l, "材质成分"), Some("聚酯纤维95% 聚氨酯弹性纤维(氨纶)5%"));
    assert_eq!(l.images.len(), 5);
    assert!(l.images[4].starts_with("https://img.alicdn.com/") && l.images[4].ends_with(".png"), "{:?}", l.images);
    let shop = l.shop.as_ref().unwrap();
    assert_eq!(shop.shop_id, "112654234"); // $.data.seller.shopId
    assert_eq!(shop.name.as_deref(), Some("八牧男装专营店")); // $.data.seller.shopName
}

/// Taobao and Tmall documents share one shape; `item.isTmall` decides the
/// platform, so the wrong adapter is drift on `item_id`, not a mislabelled listing.
#[test]
fn taobao_and_tmall_refuse_each_others_documents() {
    let err = extract("tmall", TMALL_URL, &read(&crmeb("taobao.json"))).unwrap_err();
    assert!(matches!(err, ExtractError::Drift { ref field, .. } if field == "item_id"), "{err}");
    assert!(err.to_string().contains("json:$.data[?@.isTmall == true].itemId"), "{err}");
    let err = extract("taobao", TAOBAO_URL, &read(&crmeb("tmall.json"))).unwrap_err();
    assert!(err.to_string().contains("json:$.data[?@.isTmall == false].itemId"), "{err}");
}

#[test]
fn douyin_product_detail() {
    let url = format!("{DY_HOST}/douyin/promotion/detail?pid=61088777146700");
    let l = one("douyin-shop", &url, &douyin(DY_DETAIL));
    assert_eq!(l.platform, "douyin");
    assert_eq!(l.item_id, "61088777146700"); // $.data.promotions[0].base_info.promotion_id
                                             // $.data.promotions[0].base_info.links.h5_url: "商品来自淘宝", sold on Taobao.
    assert_eq!(l.url, "https://item.taobao.com/item.htm?id=610887771467");
    assert_eq!(l.title.as_deref(), Some("MIUCO设计感复古系带收腰中长款黑色休闲西装外套女2020春装新款k"));
    assert_eq!(l.price, yuan("305.20")); // base_info.price.min_price 30520 fen
    assert_eq!(l.original_price, yuan("328.00")); // base_info.price.market_price 32800 fen
    assert_eq!(l.sales, Some(291)); // base_info.sales
    assert_eq!(l.availability, Some(Availability::InStock)); // base_info.sold_out false
                                                             // base_info.images[*].url_list[0]: 5 images, the first mirror of each.
    assert_eq!(l.images.len(), 5);
    assert_eq!(l.images[0], "http://p9.pstatp.com/obj/cmp-ecom-alliance/FrchgUilgiPUABAlgrhBP7dHpbdM.jpg");
    assert_eq!(l.shop, None, "extra_info.shop_id \"0\" is no Douyin shop");
    assert_eq!(l.provenance["item"], "json:$['data']['promotions'][0]");
}

#[test]
fn douyin_showcase_and_video_goods() {
    let url = format!("{DY_HOST}/douyin/user/promotions?uid=71105932077");
    let l = one("douyin-shop", &url, &douyin(DY_SHOWCASE));
    assert_eq!(l.item_id, "3420911657696812285"); // $.data.promotions[0].promotion_id
    assert_eq!(l.title.as_deref(), Some("I1C096676 法式方领上衣")); // .title
    assert_eq!(l.price, yuan("999.00")); // .price 99900 fen
    assert_eq!(l.original_price, yuan("999.00")); // .market_price 99900 fen
    assert_eq!(l.sales, Some(225)); // .sales
    assert_eq!(l.url, "https://haohuo.jinritemai.com/views/product/item2?id=3420911657696812285"); // .detail_url without tracking
    assert_eq!(l.images.len(), 2); // .images[*].url_list[0]
    assert_eq!(l.images[0], "http://p1.pstatp.com/obj/temai/FtsKTipA-dJpYHBR7HYxqJZZ4fnEwww600-601");

    let url = format!("{DY_HOST}/douyin/video/promotions?aweme_id=6869729358253247752");
    let l = one("douyin-shop", &url, &douyin(DY_VIDEO_GOODS));
    assert_eq!(l.item_id, "3425376233108669537");
    assert_eq!(l.title.as_deref(), Some("时来运转简约轻奢金鹿床边客厅门厅地毯120*160"));
    assert_eq!(l.price, yuan("38.80")); // .price 3880 fen
    assert_eq!(l.original_price, yuan("120.00")); // .market_price 12000 fen
    assert_eq!(l.sales, Some(29071));
    assert_eq!(l.images.len(), 3);
}

#[test]
fn douyin_mall_feed_is_ten_listings() {
    let url = format!("{DY_HOST}/douyin/commerce/feed?tab_id=1");
    let out = extract("douyin-shop", &url, &read(&douyin(DY_MALL_FEED))).unwrap();
    assert_eq!(out.kind, PageKind::Item);
    // $.data.item_cards[*].product: 10 cards.
    assert_eq!(out.listings.len(), 10);
    let first = &out.listings[0];
    assert_eq!(first.item_id, "3448538852938149889"); // item_cards[0].product.promotion_id
    assert_eq!(first.title.as_deref(), Some("【宠粉专享】清宜 奇亚籽水果酸奶谷物坚果燕麦片即食早餐250g"));
    assert_eq!(first.price, yuan("9.90")); // price.min_price 990
    assert_eq!(first.original_price, yuan("49.90")); // price.market_price 4990
    assert_eq!(first.sales, Some(18405));
    assert_eq!(first.provenance["item"], "json:$['data']['item_cards'][0]['product']");
    let eighth = &out.listings[7];
    assert_eq!(eighth.title.as_deref(), Some("德国trolli口力橡皮糖恶搞怪爆浆眼珠糖眼睛眼球地球软糖糖果90g"));
    assert_eq!((eighth.price, eighth.original_price), (yuan("24.90"), yuan("221.20"))); // 2490 / 22120 fen
    let last = &out.listings[9];
    assert_eq!(last.title.as_deref(), Some("高山绿茶125g"));
    assert_eq!(last.sales, None, "item_cards[9].product has no sales key");
    let ids: std::collections::BTreeSet<&str> = out.listings.iter().map(|l| l.item_id.as_str()).collect();
    assert_eq!(ids.len(), 10, "one listing per card");
}

#[test]
fn douyin_live_room_cart_cards() {
    let url = format!("{DY_HOST}/douyin/liveroom/promotions?room_id=6843198199583378191");
    let out = extract("douyin-live", &url, &read(&douyin(DY_CART))).unwrap();
    assert_eq!(out.kind, PageKind::Live);
    // The document keeps 1 of the cart's 31 cards (README: elided items are lost).
    assert_eq!(out.listings.len(), 1);
    let l = &out.listings[0];
    assert_eq!(l.platform, "douyin");
    assert_eq!(l.item_id, "3436129527946972390"); // $.data.promotions[0].promotion_id
    assert_eq!(l.title.as_deref(), Some("k00006三色显瘦牛仔裤")); // .title
    assert_eq!(l.price, yuan("59.90")); // .min_price 5990 fen: the card's price
    assert_eq!(l.original_price, yuan("999.00")); // .price 99900 fen: the crossed-out price
    assert_eq!(l.sales, Some(0)); // .sale_num
    assert_eq!(l.stock, Some(0)); // .stock_num
    assert_eq!(l.availability, Some(Availability::InStock)); // .in_stock true
    assert_eq!(l.shop.as_ref().unwrap().shop_id, "3494225"); // .shop_id (a number)
    assert_eq!(
        l.images,
        ["https://sf6-ttcdn-tos.pstatp.com/img/temai/4d79a9bc80b64c9ffd9412fc45f59c9bwww850-850~tplv-resize:200:0.webp"]
    ); // .cover
    assert_eq!(l.url, "https://haohuo.jinritemai.com/views/product/detail?id=3436129527946972390");

    let url = format!("{DY_HOST}/douyin/liveroom/intro?room_id=6897142693735238407");
    let out = extract("douyin-live", &url, &read(&douyin(DY_INTRO))).unwrap();
    let l = &out.listings[0];
    assert_eq!(l.item_id, "3445251740050566772");
    assert_eq!(l.title.as_deref(), Some("【靖子力荐】绒绒针织打底衫"));
    assert_eq!((l.price, l.original_price), (yuan("19.90"), yuan("999.00"))); // min_price 1990, price 99900
    assert_eq!(l.shop.as_ref().unwrap().shop_id, "1752521");
}

/// A cart of several cards: the real cart document with the real card of the
/// "now presenting" document appended (both are the same card shape).
#[test]
fn douyin_live_room_cart_of_several_cards_is_one_listing_each() {
    let mut cart: Value = serde_json::from_slice(&read(&douyin(DY_CART))).unwrap();
    let intro: Value = serde_json::from_slice(&read(&douyin(DY_INTRO))).unwrap();
    let card = intro["data"]["promotions"][0].clone();
    cart["data"]["promotions"].as_array_mut().unwrap().push(card);
    let url = format!("{DY_HOST}/douyin/liveroom/promotions?room_id=6843198199583378191");
    let out = extract("douyin-live", &url, &serde_json::to_vec(&cart).unwrap()).unwrap();
    let titles: Vec<&str> = out.listings.iter().filter_map(|l| l.title.as_deref()).collect();
    assert_eq!(titles, ["k00006三色显瘦牛仔裤", "【靖子力荐】绒绒针织打底衫"]);
    assert_eq!(out.listings[1].provenance["item"], "json:$['data']['promotions'][1]");
    assert_eq!(out.listings[1].price, yuan("19.90"));
}

#[test]
fn douyin_live_flash_sale_board_lists_every_rooms_cards() {
    let url = format!("{DY_HOST}/douyin/commerce/seckill_live?cursor=0");
    let out = extract("douyin-live", &url, &read(&douyin(DY_SECKILL_LIVE))).unwrap();
    // $.data.good_product_seckill.lives: 5 rooms × 3 products.
    assert_eq!(out.listings.len(), 15);
    let first = &out.listings[0];
    assert_eq!(first.item_id, "3488622275891192038"); // lives[0].products[0].product_id
    assert_eq!(first.title.as_deref(), Some("网纱半身裙两件套")); // .product_title
    assert_eq!((first.price, first.original_price), (yuan("249.00"), yuan("999.00"))); // seckill_price "24900", market_price "99900"
    assert_eq!(first.provenance["item"], "json:$['data']['good_product_seckill']['lives'][0]['products'][0]");
    let fourth_room = &out.listings[9];
    assert_eq!(fourth_room.item_id, "3488834584706179196"); // lives[3].products[0]
    assert_eq!(fourth_room.title.as_deref(), Some("M-4XL连衣裙"));
    assert_eq!(fourth_room.price, yuan("168.00")); // seckill_price "16800"
                                                   // The same title twice in that room, two product ids: two listings.
    assert_eq!(out.listings[10].title.as_deref(), Some("M-4XL连衣裙"));
    assert_eq!(out.listings[10].item_id, "3488838918495936460");
    let cup = &out.listings[8];
    assert_eq!((cup.title.as_deref(), cup.price), (Some("儿童喝水早餐杯"), yuan("4.90")));
    // lives[2].products[2], "490"
}

/// (adapter, url, document, JSON pointer, new value or `None` to remove it,
/// the field that must drift, the path the error must name).
type DriftCase = (&'static str, String, PathBuf, &'static str, Option<Value>, &'static str, &'static str);

/// Remove (or change) one required key of a real document in memory: the
/// adapter must say "adapter drift", name the field and the JSON path it tried.
#[test]
fn a_missing_or_changed_required_key_is_drift_naming_the_path() {
    let dy = |p: &str| format!("{DY_HOST}{p}");
    let cases: Vec<DriftCase> = vec![
        ("jd", JD_URL.into(), crmeb("jd.json"), "/data/item/name", None, "title", "json:$.data.item.name"),
        (
            "jd",
            JD_URL.into(),
            crmeb("jd.json"),
            "/data/item/price",
            Some("待发布".into()),
            "price",
            "json:$.data.item.price",
        ),
        ("jd", JD_URL.into(), crmeb("jd.json"), "/data/seller", None, "shop_id", "json:$.data.seller.sellerId"),
        (
            "pinduoduo",
            PDD_URL.into(),
            crmeb("pinduoduo.json"),
            "/data/item/goodsName",
            None,
            "title",
            "json:$.data.item.goodsName",
        ),
        (
            "pinduoduo",
            PDD_URL.into(),
            crmeb("pinduoduo.json"),
            "/data/item/goodsId",
            None,
            "item_id",
            "json:$.data.item.goodsId",
        ),
        (
            "suning",
            SUNING_URL.into(),
            crmeb("suning.json"),
            "/data/partNumber",
            None,
            "item_id",
            "json:$.data.partNumber",
        ),
        ("suning", SUNING_URL.into(), crmeb("suning.json"), "/data/title", None, "title", "json:$.data.title"),
        (
            "taobao",
            TAOBAO_URL.into(),
            crmeb("taobao.json"),
            "/data/seller/shopName",
            None,
            "shop_name",
            "json:$.data.seller.shopName",
        ),
        ("tmall", TMALL_URL.into(), crmeb("tmall.json"), "/data/item/title", None, "title", "json:$.data.item.title"),
        (
            "douyin-shop",
            dy("/douyin/promotion/detail?pid=61088777146700"),
            douyin(DY_DETAIL),
            "/data/promotions/0/base_info/price/min_price",
            None,
            "price",
            "json:$.base_info.price.min_price in item `$['data']['promotions'][0]`",
        ),
        (
            "douyin-shop",
            dy("/douyin/commerce/feed?tab_id=1"),
            douyin(DY_MALL_FEED),
            "/data/item_cards/4/product/title",
            None,
            "title",
            "json:$.title in item `$['data']['item_cards'][4]['product']`",
        ),
        (
            "douyin-live",
            dy("/douyin/liveroom/promotions?room_id=6843198199583378191"),
            douyin(DY_CART),
            "/data/promotions/0/min_price",
            Some("¥59.90".into()),
            "price",
            "json:$.min_price in item `$['data']['promotions'][0]`",
        ),
        (
            "douyin-live",
            dy("/douyin/liveroom/promotions?room_id=6843198199583378191"),
            douyin(DY_CART),
            "/data/promotions",
            None,
            "items",
            "json:$.data.promotions",
        ),
    ];
    for (name, url, path, pointer, replacement, field, tried) in cases {
        let mut doc: Value = serde_json::from_slice(&read(&path)).unwrap();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let container = doc.pointer_mut(parent).unwrap_or_else(|| panic!("{name}: no `{parent}`"));
        match (container, replacement) {
            (Value::Object(o), None) => assert!(o.remove(key).is_some(), "{name}: `{pointer}` exists"),
            (Value::Object(o), Some(v)) => {
                assert!(o.insert(key.to_string(), v).is_some(), "{name}: `{pointer}` exists")
            }
            (other, _) => panic!("{name}: `{parent}` is not an object: {other}"),
        }
        let err = extract(name, &url, &serde_json::to_vec(&doc).unwrap()).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, ExtractError::Drift { field: ref f, .. } if f == field),
            "{name} without `{pointer}`: {message}"
        );
        assert!(message.starts_with("adapter drift: "), "{message}");
        assert!(message.contains(tried), "{name} without `{pointer}`: `{tried}` not named in: {message}");
    }
}

/// The documents are what the adapters' URL patterns say they are, and other
/// endpoints of the same service are not silently read as items.
#[test]
fn page_kinds_follow_the_service_endpoints() {
    let kind = |name: &str, url: &str| adapter(name).page_kind(&Url::parse(url).unwrap());
    assert_eq!(kind("jd", "https://api03.6bqb.com/jd/detail?apikey=K&itemid=100000177760"), Some(PageKind::Item));
    assert_eq!(kind("jd", "https://api01.6bqb.com/jd/detail?itemid=1"), Some(PageKind::Item));
    assert_eq!(kind("jd", "https://api03.6bqb.com/pdd/detail?itemid=1"), None, "another platform's endpoint");
    assert_eq!(kind("jd", "https://evil.example.com/jd/detail?itemid=1"), None, "not the service's host");
    assert_eq!(kind("tmall", "https://api03.6bqb.com/tmall/detail?itemid=1"), Some(PageKind::Item));
    assert_eq!(
        kind("suning", "https://api03.6bqb.com/suning/detail?apikey=K&itemid=1&shopid=0070088010"),
        Some(PageKind::Item)
    );
    assert_eq!(
        kind("douyin-live", "http://10.0.0.5:8080/douyin/liveroom/intro?token=t&room_id=1"),
        Some(PageKind::Live)
    );
    assert_eq!(
        kind("douyin-live", "http://10.0.0.5:8080/douyin/liveroom/chat?room_id=1"),
        None,
        "danmaku are not products"
    );
    assert_eq!(kind("douyin-shop", "http://10.0.0.5/douyin/user/promotions?uid=1"), Some(PageKind::Item));
}

/// A live room with an empty cart is no listings, not drift.
#[test]
fn an_empty_cart_is_no_listings() {
    let mut cart: Value = serde_json::from_slice(&read(&douyin(DY_CART))).unwrap();
    cart["data"]["promotions"] = Value::Array(Vec::new());
    let url = format!("{DY_HOST}/douyin/liveroom/promotions?room_id=1");
    let out = extract("douyin-live", &url, &serde_json::to_vec(&cart).unwrap()).unwrap();
    assert!(out.listings.is_empty());
}

/// The engine features these adapters brought (`items`, `template`, arrays in
/// `json_table`) are checked when an adapter loads.
#[test]
fn items_and_templates_are_checked_at_load() {
    let bad = r#"format = 1
name = "bad-items"
platform = "x"
version = "1"

[[pages]]
kind = "shop"
url = '^/s/(?P<shop_id>\d+)'
document = "json"
items = "$.list"
[pages.fields]
name = { json = "$.name" }

[[pages]]
kind = "live"
url = '^/live'
document = "json"
items = "$.cards"
[pages.fields]
title = { json = "$.title", template = "no placeholder" }

[[pages]]
kind = "live"
url = '^/html-live'
items = "$.cards"
[pages.fields]
item_id = { css = ".id" }

[[pages]]
kind = "item"
url = '^/item/(?P<item_id>\d+)'
document = "json"
[pages.fields]
specs = { json_table = { path = "$.attrs", key = "k", split = "：" } }
url = { json = "$.id", template = "https://x.example/{shop}/{}" }
"#;
    let problems = Adapter::from_toml(Path::new("bad-items.toml"), bad).unwrap_err();
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let has = |line: usize, needle: &str| problems.iter().any(|p| p.line == line && p.message.contains(needle));
    assert!(has(10, "belongs on item or live pages"), "{shown:#?}");
    assert!(has(18, "needs an `item_id` field"), "{shown:#?}");
    assert!(has(20, "template `no placeholder` has no `{}`"), "{shown:#?}");
    assert!(has(25, "a json path needs JSON"), "{shown:#?}");
    assert!(has(34, "`split` reads \"key：value\" strings"), "{shown:#?}");
    assert!(has(35, "the url regex has no named group `shop`"), "{shown:#?}");
    assert_eq!(problems.len(), 6, "{shown:#?}");
}

/// Truncated documents and documents whose lists and values have the wrong
/// JSON types give an error or fewer fields, never a panic.
#[test]
fn broken_real_documents_never_panic() {
    let dy = |p: &str| format!("{DY_HOST}{p}");
    let docs: Vec<(&str, String, PathBuf)> = vec![
        ("jd", JD_URL.into(), crmeb("jd.json")),
        ("pinduoduo", PDD_URL.into(), crmeb("pinduoduo.json")),
        ("suning", SUNING_URL.into(), crmeb("suning.json")),
        ("taobao", TAOBAO_URL.into(), crmeb("taobao.json")),
        ("tmall", TMALL_URL.into(), crmeb("tmall.json")),
        ("douyin-shop", dy("/douyin/promotion/detail?pid=1"), douyin(DY_DETAIL)),
        ("douyin-shop", dy("/douyin/commerce/feed?tab_id=1"), douyin(DY_MALL_FEED)),
        ("douyin-live", dy("/douyin/liveroom/promotions?room_id=1"), douyin(DY_CART)),
        ("douyin-live", dy("/douyin/commerce/seckill_live?cursor=0"), douyin(DY_SECKILL_LIVE)),
    ];
    for (name, url, path) in docs {
        let adapter = adapter(name);
        let url = Url::parse(&url).unwrap();
        let body = read(&path);
        for cut in [0, 1, body.len() / 3, body.len() / 2, body.len() - 1] {
            let err = adapter.extract(&url, &body[..cut]).unwrap_err();
            assert!(matches!(err, ExtractError::NotJson { .. }), "{name} cut at {cut}: {err}");
        }
        // Every object member and array element replaced, one at a time, by a value of another type.
        let doc: Value = serde_json::from_slice(&body).unwrap();
        let mut pointers = Vec::new();
        collect_pointers(&doc, String::new(), &mut pointers);
        // About 60 nodes spread over the whole document (debug builds are slow).
        for pointer in pointers.iter().step_by((pointers.len() / 60).max(1)) {
            for wrong in
                [Value::Null, Value::from("oops"), Value::from(-1), Value::Array(Vec::new()), serde_json::json!({})]
            {
                let mut broken = doc.clone();
                *broken.pointer_mut(pointer).unwrap() = wrong;
                // Ok or a clear error: both are fine, a panic is not.
                let _ = adapter.extract(&url, &serde_json::to_vec(&broken).unwrap());
            }
        }
    }
    // A list of the wrong type is drift on the items' fields, not a panic or a silent empty page.
    let mut cart: Value = serde_json::from_slice(&read(&douyin(DY_CART))).unwrap();
    cart["data"]["promotions"] = Value::from("oops");
    let err = extract("douyin-live", &dy("/douyin/liveroom/promotions?room_id=1"), &serde_json::to_vec(&cart).unwrap())
        .unwrap_err();
    assert!(matches!(err, ExtractError::Drift { ref field, .. } if field == "item_id"), "{err}");
}

/// JSON pointers of every node under `v` (depth first), for mutation tests.
fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                collect_pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                collect_pointers(child, p, out);
            }
        }
        _ => {}
    }
}
