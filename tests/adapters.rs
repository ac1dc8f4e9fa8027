#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Site adapters, data-driven: bad adapter files with the problems they must
//! report, fixture pages with the JSON they must extract, garbage input that
//! must not panic, and the value parsers under proptest.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rust_decimal::Decimal;
use spotcheck::adapters::{parsers, Adapter, AdapterSet, ExtractError};
use spotcheck::model::{Availability, PageKind};
use url::Url;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("site-adapters/fixtures")
}

fn fixture_adapter() -> std::sync::Arc<Adapter> {
    let (set, problems) = AdapterSet::load_dir(&fixtures().join("good"));
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    set.get("fixture-shop").expect("fixture adapter loads")
}

/// `# expect LINE: SUBSTRING` comments in every bad file, against what `load_dir` reports.
#[test]
fn bad_adapter_files_report_every_problem_with_its_line() {
    let dir = fixtures().join("bad");
    let (set, problems) = AdapterSet::load_dir(&dir);
    let mut expected = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("# expect ") {
                let (line_no, needle) = rest.split_once(':').unwrap();
                expected.push((path.clone(), line_no.trim().parse::<usize>().unwrap(), needle.trim().to_string()));
            }
        }
    }
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    for (file, line, needle) in &expected {
        assert!(
            problems.iter().any(|p| &p.file == file && p.line == *line && p.message.contains(needle.as_str())),
            "expected {}:{line}: …{needle}… in\n{}",
            file.display(),
            shown.join("\n")
        );
    }
    assert_eq!(problems.len(), expected.len(), "unexpected extra problems:\n{}", shown.join("\n"));
    // Every problem renders as file:line:col: message.
    assert!(shown.iter().all(|s| s.starts_with(&dir.display().to_string()) && s.split(':').count() >= 4));
    // The one good file in there (the first `dup`) still loads.
    assert_eq!(set.names(), ["dup"]);
}

#[test]
fn a_bad_file_does_not_take_the_good_ones_down() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures().join("good/fixture-shop.toml"), dir.path().join("a.toml")).unwrap();
    std::fs::copy(fixtures().join("bad/bad-regex.toml"), dir.path().join("b.toml")).unwrap();
    std::fs::write(dir.path().join("c.toml"), [0xff, 0xfe, 0x00]).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not an adapter").unwrap();
    let (set, problems) = AdapterSet::load_dir(dir.path());
    assert_eq!(set.names(), ["fixture-shop"]);
    let files: Vec<String> =
        problems.iter().map(|p| p.file.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(files, ["b.toml", "b.toml", "c.toml"], "sorted by file: {problems:#?}");
}

#[test]
fn merge_overrides_by_name() {
    let mut set = AdapterSet::builtin();
    let before = set.get("sample-mall").unwrap().version.clone();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("site-adapters/sample-mall.toml"))
        .unwrap()
        .replacen(&format!("version = \"{before}\""), "version = \"9.9.9\"", 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mall.toml"), text).unwrap();
    let (local, problems) = AdapterSet::load_dir(dir.path());
    assert!(problems.is_empty(), "{problems:?}");
    set.merge(local);
    assert_eq!(set.get("sample-mall").unwrap().version, "9.9.9");
    assert!(set.get("sample-duo").is_some());
}

/// Each fixture page, extracted, must match its snapshot (listings, shops, links, provenance).
#[test]
fn fixture_pages_extract_as_expected() {
    let adapter = fixture_adapter();
    let pages = [
        ("item-1001.html", "https://shop.example.com/item/1001.html"),
        ("state-2001.html", "https://shop.example.com/s/item?id=2001"),
        ("api-3001.json", "https://shop.example.com/api/item/3001"),
        ("search.html", "https://shop.example.com/search?q=%E5%85%85%E7%94%B5%E5%AE%9D"),
        ("shop-jisu.html", "https://shop.example.com/shop/jisu"),
    ];
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../site-adapters/fixtures/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (file, url) in pages {
            let body = std::fs::read(fixtures().join("pages").join(file)).unwrap();
            let extracted = adapter.extract(&Url::parse(url).unwrap(), &body).unwrap();
            insta::assert_snapshot!(file, serde_json::to_string_pretty(&extracted).unwrap());
        }
    });
}

#[test]
fn item_fields_are_typed_and_fall_back() {
    let adapter = fixture_adapter();
    let body = std::fs::read(fixtures().join("pages/state-2001.html")).unwrap();
    let out = adapter.extract(&Url::parse("https://shop.example.com/s/item?id=2001").unwrap(), &body).unwrap();
    let l = &out.listings[0];
    assert_eq!(l.item_id, "2001");
    assert_eq!(l.price.map(|p| p.to_string()).as_deref(), Some("129.00"));
    assert_eq!(l.provenance["price"], "json:$.goods.price", "the css price is absent: the fallback is used");
    assert_eq!(l.sales, Some(100_000));
    assert_eq!(l.availability, Some(Availability::OutOfStock));
    assert_eq!(l.specs.get("适用年龄").map(String::as_str), Some("3-6岁"));
    assert!(!l.specs.contains_key("材质"), "null values are no values");
}

#[test]
fn page_kinds_follow_url_patterns_and_hosts() {
    let adapter = fixture_adapter();
    let kind = |u: &str| adapter.page_kind(&Url::parse(u).unwrap());
    assert_eq!(kind("https://shop.example.com/item/1.html"), Some(PageKind::Item));
    assert_eq!(kind("https://SHOP.example.com/search?q=x"), Some(PageKind::Search));
    assert_eq!(kind("https://shop.example.com/shop/abc"), Some(PageKind::Shop));
    assert_eq!(kind("https://shop.example.com/about"), None);
    assert_eq!(kind("https://other.example.com/item/1.html"), None, "not the adapter's host");
    let err = adapter.extract(&Url::parse("https://shop.example.com/about").unwrap(), b"<html>").unwrap_err();
    assert!(matches!(err, ExtractError::NoPageKind { .. }));
}

#[test]
fn a_missing_required_field_is_drift_naming_field_and_selector() {
    let adapter = fixture_adapter();
    let page = br#"<html><body><h1 class="title">x</h1><div class="price">call us</div></body></html>"#;
    let err = adapter.extract(&Url::parse("https://shop.example.com/item/7.html").unwrap(), page).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ExtractError::Drift { ref field, .. } if field == "price"), "{message}");
    assert!(message.contains("`price`") && message.contains("css:.price .now"), "{message}");

    let state = b"<html><script>window.__INITIAL_STATE__ = {\"goods\": {}}</script></html>";
    let err = adapter.extract(&Url::parse("https://shop.example.com/s/item?id=5").unwrap(), state).unwrap_err();
    assert!(err.to_string().contains("json:$.goods.title"), "{err}");
    let err = adapter.extract(&Url::parse("https://shop.example.com/s/item?id=5").unwrap(), b"<p>").unwrap_err();
    assert!(err.to_string().contains("JSON state was not found"), "{err}");
}

#[test]
fn hostile_nesting_is_refused_before_parsing() {
    let adapter = fixture_adapter();
    let url = Url::parse("https://shop.example.com/item/1.html").unwrap();
    let started = std::time::Instant::now();
    let err = adapter.extract(&url, "<div>".repeat(200_000).as_bytes()).unwrap_err();
    assert!(matches!(err, ExtractError::TooDeep { depth: 200_000, .. }), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused quickly");
    // Many siblings are not nesting.
    let flat = "<div>x</div>".repeat(20_000);
    assert!(!matches!(adapter.extract(&url, flat.as_bytes()), Err(ExtractError::TooDeep { .. })));
}

#[test]
fn a_json_page_that_is_not_json_is_a_clear_error() {
    let adapter = fixture_adapter();
    let err = adapter.extract(&Url::parse("https://shop.example.com/api/item/1").unwrap(), b"<html>").unwrap_err();
    assert!(matches!(err, ExtractError::NotJson { .. }), "{err}");
}

#[test]
fn pages_in_gbk_are_decoded_by_their_charset() {
    let adapter = fixture_adapter();
    let html = "<html><head><meta charset=\"gbk\"></head><body><h1 class=\"title\">移动电源</h1>\
                <div class=\"price\"><span class=\"now\">¥99</span></div></body></html>";
    let (gbk, _, _) = encoding_rs::GBK.encode(html);
    let out = adapter.extract(&Url::parse("https://shop.example.com/item/8.html").unwrap(), &gbk).unwrap();
    assert_eq!(out.listings[0].title.as_deref(), Some("移动电源"));
}

#[test]
fn garbage_never_panics() {
    let adapter = fixture_adapter();
    let urls = [
        "https://shop.example.com/item/1.html",
        "https://shop.example.com/s/item?id=1",
        "https://shop.example.com/search?q",
    ];
    let deep = "<div>".repeat(3_000) + &"</div>".repeat(10);
    let deep_json = format!("<script>window.__INITIAL_STATE__ = {}</script>", "[".repeat(100_000));
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0u8; 4096],
        (0..=255u8).cycle().take(70_000).collect(),
        b"<html><body><h1 class=\"title\">trunc".to_vec(),
        b"<h1 class=title>\xff\xfe\xc3(</h1><div class=price><span class=now>\xa5 9</span>".to_vec(),
        deep.into_bytes(),
        deep_json.into_bytes(),
    ];
    for url in urls {
        let url = Url::parse(url).unwrap();
        for body in &bodies {
            // Either a result or a clear error; reaching the next line is the assertion.
            let _ = adapter.extract(&url, body);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn extract_takes_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let adapter = fixture_adapter();
        let _ = adapter.extract(&Url::parse("https://shop.example.com/item/1.html").unwrap(), &body);
    }

    #[test]
    fn parsers_never_panic(s in ".{0,64}") {
        let base = Url::parse("http://127.0.0.1/x/").unwrap();
        let _ = (parsers::yuan(&s), parsers::fen(&s), parsers::count(&s), parsers::availability(&s));
        let _ = (parsers::text(&s), parsers::absolute_url(&s, &base));
    }

    #[test]
    fn yuan_round_trips_decimals(units in 0u64..10_000_000_000, cents in 0u32..100) {
        let x = Decimal::new((units * 100 + u64::from(cents)) as i64, 2);
        prop_assert_eq!(parsers::yuan(&format!("¥{x}")), Some(x));
        prop_assert_eq!(parsers::yuan(&format!("{x}元")), Some(x));
        prop_assert_eq!(parsers::fen(&(units * 100 + u64::from(cents)).to_string()), Some(x));
    }

    #[test]
    fn counts_scale_by_wan(n in 0u64..100_000, tenths in 0u64..10) {
        prop_assert_eq!(parsers::count(&format!("{n}.{tenths}万+")), Some(n * 10_000 + tenths * 1_000));
        prop_assert_eq!(parsers::count(&format!("已售{n}")), Some(n));
    }
}

use spotcheck::cli::adapters as cli_adapters;

#[tokio::test]
async fn cli_check_and_extract() {
    let good = cli_adapters::CheckArgs { dir: Some(fixtures().join("good")) };
    assert!(cli_adapters::check(&good).unwrap());
    let bad = cli_adapters::CheckArgs { dir: Some(fixtures().join("bad")) };
    assert!(!cli_adapters::check(&bad).unwrap());
    assert!(cli_adapters::check(&cli_adapters::CheckArgs { dir: None }).unwrap());

    let adapter = fixture_adapter();
    let body = std::fs::read(fixtures().join("pages/item-1001.html")).unwrap();
    let url = Url::parse("https://shop.example.com/item/1001.html").unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&cli_adapters::render(&adapter, &url, &body, false).unwrap()).unwrap();
    assert_eq!(json["item_id"], "1001");
    assert_eq!(json["price"], "1299.00", "price is a decimal string");
    assert_eq!(json["currency"], "CNY");
    assert_eq!(json["availability"], "InStock");

    let args = cli_adapters::ExtractArgs {
        adapter: "fixture-shop".into(),
        target: fixtures().join("pages/item-1001.html").display().to_string(),
        url_as: Some(url),
        adapters: Some(fixtures().join("good")),
        all: false,
        network: Default::default(),
    };
    let scratch = tempfile::tempdir().unwrap();
    let data = spotcheck::config::DataDir::new(scratch.path());
    cli_adapters::extract(&args, &data).await.unwrap();
    let unknown = cli_adapters::ExtractArgs { adapter: "nope".into(), ..args };
    assert!(cli_adapters::extract(&unknown, &data).await.unwrap_err().to_string().contains("no adapter named `nope`"));
}

/// The shipped adapters against the sample marketplace, over real loopback HTTP:
/// every extracted listing and shop equals the market's ground truth, field by field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_adapters_reproduce_the_market_truth() {
    use spotcheck::market::{serve, Market, MarketConfig};
    use std::sync::Arc;

    let market = Arc::new(Market::new(MarketConfig { seed: 11, listings: 400, count_hits: false }));
    let (addr, _server) = serve(market.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let client = reqwest::Client::new();
    let set = AdapterSet::builtin();
    let adapter_for = |url: &Url| {
        let name = if url.path().starts_with("/mall/") { "sample-mall" } else { "sample-duo" };
        set.get(name).unwrap()
    };

    let mut listings = 0;
    let mut with_certificates = 0;
    for record in market.truth(&base) {
        let url = Url::parse(&record.listing.url).unwrap();
        let body = client.get(url.clone()).send().await.unwrap().bytes().await.unwrap();
        let adapter = adapter_for(&url);
        assert_eq!(adapter.page_kind(&url), Some(PageKind::Item), "{url}");
        let extracted = adapter.extract(&url, &body).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(extracted.listings.len(), 1, "{url}");
        let mut got = extracted.listings[0].clone();
        assert!(got.provenance.contains_key("title") && got.provenance.contains_key("price"), "{url}");
        got.provenance.clear();
        assert_eq!(got, record.listing, "{url}");
        // The shop link is discovered and classified.
        let shop_url = record.listing.shop.as_ref().and_then(|s| s.url.clone()).unwrap();
        assert!(extracted.links.iter().any(|l| l.url.as_str() == shop_url && l.kind == Some(PageKind::Shop)), "{url}");
        with_certificates += usize::from(!got.certificates.is_empty());
        listings += 1;
    }
    assert_eq!(listings, 400);
    assert!(with_certificates > 50, "certificates were extracted ({with_certificates})");

    let mut shops = 0;
    for truth in market.shops_truth(&base) {
        let url = Url::parse(&truth.url).unwrap();
        let body = client.get(url.clone()).send().await.unwrap().bytes().await.unwrap();
        let adapter = adapter_for(&url);
        let extracted = adapter.extract(&url, &body).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(extracted.kind, PageKind::Shop);
        let mut got = extracted.shops[0].clone();
        got.provenance.clear();
        assert_eq!(got, truth, "{url}");
        shops += 1;
    }
    assert!(shops > 0);

    // From each entry page, links reach list pages; list pages link items and a next page.
    for (name, entry) in market.entry_urls(&base) {
        let adapter = set.get(&name).unwrap();
        let body = client.get(entry.clone()).send().await.unwrap().bytes().await.unwrap();
        let out = adapter.extract(&entry, &body).unwrap();
        let list = out.links.iter().find(|l| l.kind == Some(PageKind::Search)).unwrap_or_else(|| panic!("{entry}"));
        let body = client.get(list.url.clone()).send().await.unwrap().bytes().await.unwrap();
        let out = adapter.extract(&list.url, &body).unwrap();
        assert!(out.links.iter().any(|l| l.kind == Some(PageKind::Item)), "{}", list.url);
        for link in &out.links {
            assert_eq!(adapter.page_kind(&link.url), link.kind, "declared and pattern kinds agree: {}", link.url);
        }
    }
}

/// Extraction speed on market item pages (run: `cargo test --release --test adapters -- --ignored --nocapture`).
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn extraction_throughput() {
    use spotcheck::market::{serve, Market, MarketConfig};
    use std::sync::Arc;
    let market = Arc::new(Market::new(MarketConfig { seed: 3, listings: 200, count_hits: false }));
    let (addr, _server) = serve(market.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let set = AdapterSet::builtin();
    let mut pages = Vec::new();
    for record in market.truth(&base) {
        let url = Url::parse(&record.listing.url).unwrap();
        let body = reqwest::get(url.clone()).await.unwrap().bytes().await.unwrap();
        let name = if url.path().starts_with("/mall/") { "sample-mall" } else { "sample-duo" };
        pages.push((set.get(name).unwrap(), url, body));
    }
    let started = std::time::Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        for (adapter, url, body) in &pages {
            assert!(adapter.extract(url, body).is_ok());
        }
    }
    let n = pages.len() * rounds;
    let secs = started.elapsed().as_secs_f64();
    println!("extracted {n} item pages in {secs:.2}s: {:.0} pages/s on one core", n as f64 / secs);
}
