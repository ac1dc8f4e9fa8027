//! The sample marketplace over real loopback HTTP: determinism, scale, pagination,
//! page ↔ truth agreement, planted-violation rates, reference data, robots.txt.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;
use scraper::{Html, Selector};
use spotcheck::market::catalogue::{Regime, CLASSES};
use spotcheck::market::ids::{ccc_is_well_formed, uscc_is_valid};
use spotcheck::market::{
    serve, Market, MarketConfig, Platform, TruthRecord, PLANTED_RULES, REFERENCE_DATE, ROBOTS_TXT,
};
use spotcheck::model::{Availability, Certificate, CertificateKind, Listing, ShopRef};
use url::Url;

async fn start(config: MarketConfig) -> (Arc<Market>, Url) {
    let market = Arc::new(Market::new(config));
    let (addr, _server) = serve(market.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    (market, Url::parse(&format!("http://{addr}/")).unwrap())
}

async fn get(client: &reqwest::Client, url: &Url) -> (u16, String) {
    let response = client.get(url.clone()).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap()
}

fn text(doc: &Html, css: &str) -> Option<String> {
    doc.select(&sel(css)).next().map(|e| e.text().collect::<String>())
}

/// Breadth-first crawl of one platform from its entry page, honouring robots.txt
/// (the carts); returns path+query → body of every page fetched.
async fn crawl(base: &Url, prefix: &str) -> BTreeMap<String, String> {
    let client = reqwest::Client::new();
    let mut pages = BTreeMap::new();
    let mut queue = VecDeque::from([format!("{prefix}/")]);
    let mut seen: HashSet<String> = queue.iter().cloned().collect();
    while let Some(path) = queue.pop_front() {
        let (status, body) = get(&client, &base.join(&path).unwrap()).await;
        assert_eq!(status, 200, "{path}");
        let doc = Html::parse_document(&body);
        for a in doc.select(&sel("a[href]")) {
            let url = base.join(&path).unwrap().join(a.value().attr("href").unwrap()).unwrap();
            let key = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            let disallowed = key.starts_with("/mall/cart") || key.starts_with("/duo/cart");
            if key.starts_with(prefix) && !disallowed && seen.insert(key.clone()) {
                queue.push_back(key);
            }
        }
        pages.insert(path, body);
    }
    pages
}

fn parse_sales(text: &str) -> u64 {
    let number =
        text.trim_start_matches("月销 ").trim_start_matches("已拼").trim_end_matches('件').trim_end_matches('+');
    match number.strip_suffix('万') {
        Some(wan) => (Decimal::from_str(wan).unwrap() * Decimal::from(10_000)).try_into().unwrap(),
        None => number.parse().unwrap(),
    }
}

fn certificates(specs: &BTreeMap<String, String>) -> Vec<Certificate> {
    let kinds = [
        ("3C证书编号", CertificateKind::Ccc),
        ("CCC证书编号", CertificateKind::Ccc),
        ("生产许可证编号", CertificateKind::Xk),
        ("食品生产许可证编号", CertificateKind::Sc),
        ("生产许可证", CertificateKind::Qs),
    ];
    kinds
        .iter()
        .filter_map(|(key, kind)| specs.get(*key).map(|n| Certificate { kind: *kind, number: n.clone() }))
        .collect()
}

/// An independent extractor for 样品商城 item pages (what the adapter must do).
fn extract_mall(body: &str, url: &Url) -> Listing {
    let doc = Html::parse_document(body);
    let specs: BTreeMap<String, String> = doc
        .select(&sel("table.spec-table tr"))
        .map(|tr| {
            let cell = |css| tr.select(&sel(css)).next().unwrap().text().collect::<String>();
            (cell("th"), cell("td"))
        })
        .collect();
    let shop_link = doc.select(&sel("aside.shop-card a.shop-link")).next().unwrap();
    let shop_url = url.join(shop_link.value().attr("href").unwrap()).unwrap();
    let money = |css| text(&doc, css).map(|t| Decimal::from_str(t.trim_start_matches('¥')).unwrap());
    Listing {
        platform: "sample-mall".into(),
        item_id: url.path().trim_start_matches("/mall/item/").trim_end_matches(".html").into(),
        url: url.to_string(),
        title: text(&doc, "h1.item-title"),
        price: money(".price-box span.price"),
        original_price: money("del.original-price"),
        price_history: doc
            .select(&sel("section.price-history tr"))
            .map(|tr| {
                let cell = |css| tr.select(&sel(css)).next().unwrap().text().collect::<String>();
                (cell("td.date"), Decimal::from_str(cell("td.hist-price").trim_start_matches('¥')).unwrap())
            })
            .collect(),
        currency: Some("CNY".into()),
        availability: Some(if text(&doc, ".availability").unwrap() == "有货" {
            Availability::InStock
        } else {
            Availability::OutOfStock
        }),
        brand: specs.get("品牌").cloned(),
        model: specs.get("型号").cloned(),
        category: text(&doc, ".breadcrumb .category"),
        certificates: certificates(&specs),
        manufacturer: specs.get("生产厂家").cloned(),
        manufacturer_address: specs.get("厂址").cloned(),
        sales: text(&doc, ".sales").map(|s| parse_sales(&s)),
        stock: text(&doc, ".stock-num").map(|s| s.parse().unwrap()),
        images: doc
            .select(&sel(".gallery img"))
            .map(|i| url.join(i.value().attr("src").unwrap()).unwrap().to_string())
            .collect(),
        description: text(&doc, ".desc-text"),
        shop: Some(ShopRef {
            shop_id: shop_url.path().trim_start_matches("/mall/shop/").into(),
            name: Some(shop_link.text().collect()),
            url: Some(shop_url.to_string()),
        }),
        specs,
        ..Listing::default()
    }
}

fn initial_state(body: &str) -> serde_json::Value {
    let start = body.find("window.__INITIAL_STATE__ = ").unwrap() + "window.__INITIAL_STATE__ = ".len();
    let end = start + body[start..].find(";</script>").unwrap();
    serde_json::from_str(&body[start..end]).unwrap()
}

/// An independent extractor for 样品多多 item pages: everything from the state JSON.
fn extract_duo(body: &str, url: &Url) -> Listing {
    let state = initial_state(body);
    let goods = &state["goods"];
    let s = |v: &serde_json::Value| v.as_str().map(String::from);
    let fen = |v: &serde_json::Value| v.as_u64().map(|f| Decimal::new(f as i64, 2));
    let specs: BTreeMap<String, String> = goods["specs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| (s(&kv["key"]).unwrap(), s(&kv["value"]).unwrap()))
        .collect();
    Listing {
        platform: "sample-duo".into(),
        item_id: s(&goods["goodsId"]).unwrap(),
        url: url.to_string(),
        title: s(&goods["goodsName"]),
        price: fen(&goods["minGroupPrice"]),
        original_price: fen(&goods["marketPrice"]),
        price_history: goods["priceTrend"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (s(&p["date"]).unwrap(), fen(&p["price"]).unwrap()))
            .collect(),
        currency: Some("CNY".into()),
        availability: Some(if goods["soldOut"].as_bool().unwrap() {
            Availability::OutOfStock
        } else {
            Availability::InStock
        }),
        brand: s(&goods["brandName"]),
        model: specs.get("型号").cloned(),
        category: s(&goods["catName"]),
        certificates: certificates(&specs),
        manufacturer: specs.get("生产厂家").cloned(),
        manufacturer_address: specs.get("厂址").cloned(),
        sales: s(&goods["sideSalesTip"]).map(|t| parse_sales(&t)),
        stock: goods["quantity"].as_u64(),
        images: goods["gallery"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| url.join(g["url"].as_str().unwrap()).unwrap().to_string())
            .collect(),
        description: s(&goods["goodsDesc"]),
        shop: Some(ShopRef {
            shop_id: s(&state["mall"]["mallId"]).unwrap(),
            name: s(&state["mall"]["mallName"]),
            url: Some(url.join(state["mall"]["mallUrl"].as_str().unwrap()).unwrap().to_string()),
        }),
        specs,
        ..Listing::default()
    }
}

#[tokio::test]
async fn a_full_crawl_finds_every_listing_once_and_each_page_matches_its_truth() {
    let (market, base) = start(MarketConfig { seed: 11, listings: 1500, count_hits: true }).await;
    let truth: HashMap<String, TruthRecord> = market.truth(&base).map(|t| (t.listing.url.clone(), t)).collect();
    let mut found = 0;
    for platform in Platform::ALL {
        let pages = crawl(&base, platform.prefix()).await;
        assert_eq!(
            pages.len() as u64,
            market.page_count(platform).total(),
            "{platform:?}: page_count is what a crawl visits"
        );
        for (path, body) in &pages {
            let url = base.join(path).unwrap();
            let is_item = path.starts_with("/mall/item/") || path.starts_with("/duo/goods.html");
            if !is_item {
                continue;
            }
            found += 1;
            let expected = &truth.get(url.as_str()).unwrap_or_else(|| panic!("no truth for {url}")).listing;
            let extracted = match platform {
                Platform::Mall => extract_mall(body, &url),
                Platform::Duo => extract_duo(body, &url),
            };
            assert_eq!(&extracted, expected, "{url}");
        }
    }
    assert_eq!(found, 1500, "every listing is reachable, on exactly one platform");
    let hits = market.hits();
    assert!(
        hits.iter().all(|(path, n)| *n == 1 || path == "/mall/" || path == "/duo/"),
        "a BFS fetches each page once"
    );
    assert!(!hits.keys().any(|p| p.contains("/cart")), "robots.txt disallows carts");
}

#[tokio::test]
async fn shop_pages_match_the_shop_truth() {
    let (market, base) = start(MarketConfig { seed: 4, listings: 800, count_hits: false }).await;
    let client = reqwest::Client::new();
    let mut checked = 0;
    for shop in market.shops_truth(&base) {
        let (status, body) = get(&client, &Url::parse(&shop.url).unwrap()).await;
        assert_eq!(status, 200);
        let (company, uscc, address, scope) = if shop.platform == "sample-mall" {
            let doc = Html::parse_document(&body);
            assert_eq!(text(&doc, "h1.shop-name"), shop.name);
            (
                text(&doc, ".licence dd.company"),
                text(&doc, ".licence dd.uscc"),
                text(&doc, ".licence dd.address"),
                text(&doc, ".licence dd.scope"),
            )
        } else {
            let state = initial_state(&body);
            let licence = &state["mall"]["licence"];
            assert_eq!(state["mall"]["mallName"].as_str(), shop.name.as_deref());
            let s = |k: &str| licence[k].as_str().map(String::from);
            (s("companyName"), s("creditCode"), s("address"), s("businessScope"))
        };
        assert_eq!(
            (company, uscc, address, scope),
            (shop.operator_name.clone(), shop.uscc.clone(), shop.address.clone(), shop.licence_text.clone())
        );
        checked += 1;
    }
    assert!(checked > 20);
}

#[tokio::test]
async fn same_seed_serves_the_same_bytes_and_another_seed_does_not() {
    let config = MarketConfig { seed: 77, listings: 3000, count_hits: false };
    let (market_a, base_a) = start(config.clone()).await;
    let (_market_b, base_b) = start(config).await;
    let (_market_c, base_c) = start(MarketConfig { seed: 78, listings: 3000, count_hits: false }).await;
    let client = reqwest::Client::new();
    let mut paths = vec![
        "/".to_string(),
        "/mall/".into(),
        "/duo/".into(),
        "/mall/search?cat=powerbank&page=2".into(),
        "/duo/catgoods.html?cat=charger&page=1".into(),
        "/mall/live/1".into(),
    ];
    for i in [0, 1, 2, 500, 2999] {
        let (platform, id) = market_a.listing_id(i).unwrap();
        let url = market_a.item_url(&base_a, platform, id).unwrap();
        paths.push(format!("{}?{}", url.path(), url.query().unwrap_or("")).trim_end_matches('?').to_string());
    }
    for shop in market_a.shops_truth(&base_a).take(4) {
        let url = Url::parse(&shop.url).unwrap();
        paths.push(format!("{}{}", url.path(), url.query().map(|q| format!("?{q}")).unwrap_or_default()));
    }
    let mut differs = false;
    for path in &paths {
        let (status_a, a) = get(&client, &base_a.join(path).unwrap()).await;
        let (_, b) = get(&client, &base_b.join(path).unwrap()).await;
        let (_, c) = get(&client, &base_c.join(path).unwrap()).await;
        assert_eq!(status_a, 200, "{path}");
        assert_eq!(a, b, "{path}");
        differs |= a != c;
    }
    assert!(differs, "another seed gives another site");
    let truth_a: Vec<String> = market_a.truth(&base_a).take(50).map(|t| serde_json::to_string(&t).unwrap()).collect();
    let again: Vec<String> = Market::new(MarketConfig { seed: 77, listings: 3000, count_hits: false })
        .truth(&base_a)
        .take(50)
        .map(|t| serde_json::to_string(&t).unwrap())
        .collect();
    assert_eq!(truth_a, again);
}

#[tokio::test]
async fn a_million_listings_serve_the_last_one_on_demand() {
    let (market, base) = start(MarketConfig { seed: 1, listings: 1_000_000, count_hits: false }).await;
    let (platform, id) = market.listing_id(999_999).unwrap();
    assert!(market.listing_id(1_000_000).is_none());
    let url = market.item_url(&base, platform, id).unwrap();
    let (status, body) = get(&reqwest::Client::new(), &url).await;
    assert_eq!(status, 200);
    let record = market.truth_record(&base, 999_999).unwrap();
    assert_eq!(record.listing.url, url.to_string());
    assert!(body.contains(&record.listing.title.unwrap().replace('&', "&amp;")));
    let counts = market.page_count(platform);
    assert!(counts.items > 400_000 && counts.lists > 10_000, "{counts:?}");
}

#[test]
fn planted_violation_rates_are_within_tolerance() {
    let market = Market::new(MarketConfig { seed: 5, listings: 60_000, count_hits: false });
    let base = Url::parse("http://127.0.0.1:1/").unwrap();
    let regimes: HashMap<&str, Regime> = CLASSES.iter().map(|c| (c.category, c.regime)).collect();
    let mut population: HashMap<&str, u64> = HashMap::new();
    let mut flagged: HashMap<String, u64> = HashMap::new();
    let mut phone_cases = 0;
    for record in market.truth(&base) {
        let l = &record.listing;
        let category = l.category.as_deref().unwrap();
        *population.entry("all").or_default() += 1;
        match regimes[category] {
            Regime::Ccc { mandatory_from, .. } => {
                *population.entry("ccc").or_default() += 1;
                if mandatory_from.is_some() {
                    *population.entry("new").or_default() += 1;
                }
            }
            Regime::Xk { .. } => *population.entry("xk").or_default() += 1,
            Regime::Sc { .. } => *population.entry("sc").or_default() += 1,
            Regime::Standard | Regime::Unregulated => {}
        }
        if l.original_price.is_some() {
            *population.entry("was").or_default() += 1;
        }
        if category.starts_with("3C数码") {
            phone_cases += 1;
            assert!(l.title.as_deref().unwrap().contains("3C数码"));
            assert!(!record.violations.iter().any(|v| v.starts_with("ccc.")), "3C数码 is a near-miss");
        }
        for v in &record.violations {
            *flagged.entry(v.clone()).or_default() += 1;
        }
        // Decidability from the page: the shown number explains the CCC verdict.
        let ccc: Vec<&Certificate> = l.certificates.iter().filter(|c| c.kind == CertificateKind::Ccc).collect();
        if record.violations.iter().any(|v| v == "ccc.malformed") {
            assert!(ccc.len() == 1 && !ccc_is_well_formed(&ccc[0].number));
        }
        if record.violations.iter().any(|v| v == "ccc.missing") {
            assert!(ccc.is_empty());
        }
        if record.violations.iter().any(|v| v == "label.sanwu") {
            assert!(l.manufacturer.is_none() || l.manufacturer_address.is_none());
        } else {
            assert!(l.manufacturer.is_some() && l.manufacturer_address.is_some());
        }
        if record.violations.iter().any(|v| v == "price.fake_was_price") {
            let low = *l.price_history.values().min().unwrap();
            assert!(l.original_price.unwrap() > low);
        } else if let Some(was) = l.original_price {
            assert!(l.price_history.values().all(|p| *p >= was));
        }
    }
    assert!(phone_cases > 100);
    // (rule, population, documented rate ‰) — see src/market/violations.rs.
    let table = [
        ("ccc.missing", "ccc", 80),
        ("ccc.mark_misleading", "ccc", 30),
        ("ccc.malformed", "ccc", 30),
        ("ccc.category_mismatch", "ccc", 30),
        ("ccc.invalid", "ccc", 40),
        ("ccc.new_category_deadline", "new", 80),
        ("xk.invalid", "xk", 100),
        ("sc.invalid", "sc", 120),
        ("label.sanwu", "all", 50),
        ("ad.absolute_terms", "all", 50),
        ("price.clearly_low", "all", 30),
        ("price.fake_was_price", "was", 80),
    ];
    for (rule, pop, per_mille) in table {
        let n = population[pop] as f64;
        let p = per_mille as f64 / 1000.0;
        let observed = flagged.get(rule).copied().unwrap_or(0) as f64 / n;
        // Tolerance: 4 binomial standard deviations plus 0.2 percentage points.
        let tolerance = 4.0 * (p * (1.0 - p) / n).sqrt() + 0.002;
        assert!(
            (observed - p).abs() <= tolerance,
            "{rule}: observed {observed:.4}, documented {p} ± {tolerance:.4} (n = {n})"
        );
    }
    for rule in PLANTED_RULES {
        assert!(flagged.get(*rule).copied().unwrap_or(0) > 0, "{rule} is planted");
    }
}

#[test]
fn shop_level_violations_follow_the_shop_truth_and_reference_data() {
    let market = Market::new(MarketConfig { seed: 8, listings: 50_000, count_hits: false });
    let base = Url::parse("http://127.0.0.1:1/").unwrap();
    let shops: HashMap<String, spotcheck::model::Shop> =
        market.shops_truth(&base).map(|s| (s.url.clone(), s)).collect();
    let history: Vec<_> = market.history().collect();
    let repeat_usccs: HashSet<String> = {
        let mut years: HashMap<&str, HashSet<&str>> = HashMap::new();
        for row in history
            .iter()
            .filter(|r| r.result == "不合格" && r.date.as_str() >= "2022-11-20" && r.date.as_str() <= REFERENCE_DATE)
        {
            years.entry(&row.uscc).or_default().insert(&row.date[..4]);
        }
        years.into_iter().filter(|(_, y)| y.len() >= 2).map(|(u, _)| u.to_string()).collect()
    };
    let (mut no_licence, mut bad_uscc, mut repeat) = (0, 0, 0);
    for shop in shops.values() {
        match &shop.uscc {
            None => no_licence += 1,
            Some(code) => {
                bad_uscc += u64::from(!uscc_is_valid(code));
                repeat += u64::from(repeat_usccs.contains(code));
            }
        }
    }
    let n = shops.len() as f64;
    assert!((no_licence as f64 / n - 0.04).abs() < 0.015, "{no_licence} of {n}");
    assert!((bad_uscc as f64 / n - 0.05).abs() < 0.02, "{bad_uscc} of {n}");
    assert!((repeat as f64 / n - 0.04).abs() < 0.02, "{repeat} of {n}");
    let registry: HashMap<String, _> = market.certificate_registry().map(|r| (r.number.clone(), r)).collect();
    for record in market.truth(&base).step_by(7) {
        let shop = &shops[record.listing.shop.as_ref().unwrap().url.as_ref().unwrap()];
        let has = |rule: &str| record.violations.iter().any(|v| v == rule);
        assert_eq!(has("licence.missing"), shop.uscc.is_none());
        assert_eq!(has("uscc.invalid"), shop.uscc.as_deref().is_some_and(|c| !uscc_is_valid(c)));
        assert_eq!(has("shop.repeat_offender"), shop.uscc.as_ref().is_some_and(|c| repeat_usccs.contains(c)));
        for cert in record
            .listing
            .certificates
            .iter()
            .filter(|c| c.kind == CertificateKind::Ccc && ccc_is_well_formed(&c.number))
        {
            let entry = registry.get(&cert.number);
            let valid = entry.is_some_and(|e| e.status == "有效" && e.expiry.as_str() > REFERENCE_DATE);
            assert_eq!(has("ccc.invalid"), !valid, "{} {:?}", cert.number, entry);
        }
    }
}

#[tokio::test]
async fn robots_txt_disallows_the_carts_that_item_pages_link_to() {
    let (market, base) = start(MarketConfig::default()).await;
    let client = reqwest::Client::new();
    let (status, robots) = get(&client, &base.join("/robots.txt").unwrap()).await;
    assert_eq!((status, robots.as_str()), (200, ROBOTS_TXT));
    assert!(robots.contains("Disallow: /mall/cart\n") && robots.contains("Disallow: /duo/cart\n"));
    for i in 0..20 {
        let (platform, id) = market.listing_id(i).unwrap();
        let (_, body) = get(&client, &market.item_url(&base, platform, id).unwrap()).await;
        assert!(body.contains(&format!("href=\"{}/cart/add?", platform.prefix())) && body.contains("加入购物车"));
    }
    assert_eq!(get(&client, &base.join("/mall/item/123.html").unwrap()).await.0, 404);
    assert_eq!(get(&client, &base.join("/mall/search?cat=powerbank&page=999").unwrap()).await.0, 404);
    assert_eq!(get(&client, &base.join("/duo/goods.html?goods_id=x").unwrap()).await.0, 404);
}

#[test]
fn uscc_examples_from_domain_facts_check() {
    for code in
        ["91330100716105852F", "9144030071526726XG", "914403001922038216", "91110000802100433B", "91350200MA2YJ1XR9G"]
    {
        assert!(uscc_is_valid(code), "{code}");
    }
    assert!(!uscc_is_valid("91330100716105852G"));
}
