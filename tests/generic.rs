//! The generic adapter on real pages (../shared/realpages, read in place),
//! and on garbage: it must never panic.

#![allow(clippy::unwrap_used)] // test helpers: a failure here is a failed test

use std::path::Path;

use spotcheck::adapters::generic::score::{load_cases, score};

use spotcheck::cli::score as cli_score;

const REALPAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/realpages");

#[test]
fn generic_adapter_meets_the_targets_on_real_pages() {
    let cases = load_cases(Path::new(REALPAGES)).unwrap();
    assert!(cases.len() >= 90, "only {} real pages found under {REALPAGES}", cases.len());
    let report = score(&cases);
    println!("{report}");
    for p in &report.pages {
        let bad: Vec<_> = p.verdicts.iter().filter(|(_, v)| matches!(**v, "wrong" | "missed")).collect();
        if !bad.is_empty() {
            println!("{}/{} {:?} title={:?} price={:?} ({} ms)", p.set, p.name, bad, p.title, p.price, p.millis);
        }
    }
    let overall = report.overall();
    let price = overall["price"];
    let title = overall["title"];
    assert!(price.f1() >= 0.93, "price F1 {:.3} < 0.93", price.f1());
    assert!(title.accuracy() >= 0.90, "title accuracy {:.3} < 0.90", title.accuracy());
}

#[tokio::test]
async fn the_score_command_fails_below_its_targets_and_on_a_missing_corpus() {
    let args = |dir: &str, min: f64| cli_score::ScoreArgs {
        dir: dir.into(),
        pages: false,
        min_price_f1: min,
        min_title_accuracy: 0.0,
    };
    // One small set, linked (not copied) into a scratch corpus, to stay quick.
    let scratch = tempfile::tempdir().unwrap();
    let set = "metascraper_shopping_fixtures";
    std::os::unix::fs::symlink(Path::new(REALPAGES).join(set), scratch.path().join(set)).unwrap();
    let dir = scratch.path().to_str().unwrap();
    assert!(cli_score::run(args(dir, 0.5)).await.unwrap());
    assert!(!cli_score::run(args(dir, 1.01)).await.unwrap());
    assert!(cli_score::run(args("/nonexistent/realpages", 0.0)).await.is_err());
}

/// `GENERIC_PAGE=path cargo test --test generic explain_one -- --ignored --nocapture`
#[test]
#[ignore]
fn explain_one() {
    let path = std::env::var("GENERIC_PAGE").unwrap();
    let body = std::fs::read(&path).unwrap();
    let url = url::Url::from_file_path(std::fs::canonicalize(&path).unwrap()).unwrap();
    let out = spotcheck::adapters::generic::extract(&url, &body).unwrap();
    let mut l = out.listings[0].clone();
    l.description = None;
    l.specs.clear();
    println!("{}", serde_json::to_string_pretty(&l).unwrap());
    let html = scraper::Html::parse_document(&String::from_utf8_lossy(&body));
    let h1 = scraper::Selector::parse("h1").unwrap();
    for h in html.select(&h1) {
        println!("h1: {:?}", h.text().collect::<String>().trim());
    }
    println!("elements: {}", html.root_element().descendants().count());
    for c in spotcheck::adapters::generic::price_candidates(&body).iter().take(12) {
        println!("{c:?}");
    }
}

mod garbage {
    use std::path::Path;

    use spotcheck::adapters::generic::{extract, parse_jsonld, price::parse_price};
    use spotcheck::adapters::ExtractError;
    use url::Url;

    fn url() -> Url {
        Url::parse("https://shop.example/item/1").unwrap()
    }

    #[test]
    fn fifty_megabytes_of_nested_tags_are_refused_quickly() {
        for tag in ["div", "b", "x-widget"] {
            let body = format!("<{tag}>").repeat(50 * 1024 * 1024 / (tag.len() + 2));
            let started = std::time::Instant::now();
            let err = extract(&url(), body.as_bytes()).unwrap_err();
            assert!(matches!(err, ExtractError::TooDeep { .. }), "{tag}: {err}");
            assert!(started.elapsed().as_secs() < 20, "{tag}: took {:?}", started.elapsed());
        }
    }

    #[test]
    fn fifty_megabytes_of_flat_price_tags_finish() {
        let item = r#"<div class="price-box"><span class="price">$1.00</span><button>Add to cart</button></div>"#;
        let body = format!("<h1>Many prices</h1>{}", item.repeat(50 * 1024 * 1024 / item.len()));
        let started = std::time::Instant::now();
        let out = extract(&url(), body.as_bytes()).unwrap();
        assert_eq!(out.listings.len(), 1);
        assert!(started.elapsed().as_secs() < 60, "took {:?}", started.elapsed());
        println!("50 MB flat page: {:?}", started.elapsed());
    }

    #[test]
    fn truncated_real_pages_and_invalid_utf8_do_not_panic() {
        let page = Path::new(super::REALPAGES).join("fathom_products/test/bestbuy/source.html");
        let body = std::fs::read(&page).unwrap();
        for cut in [1, 100, 5_000, body.len() / 3, body.len() / 2 + 1, body.len() - 7] {
            let out = extract(&url(), &body[..cut]).unwrap();
            assert_eq!(out.listings.len(), 1);
        }
        let mut noisy = body.clone();
        for i in (0..noisy.len()).step_by(97) {
            noisy[i] = 0xff;
        }
        assert_eq!(extract(&url(), &noisy).unwrap().listings.len(), 1);
        assert_eq!(extract(&url(), &[0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1]).unwrap().listings.len(), 1);
        assert!(extract(&url(), b"").unwrap().listings[0].price.is_none());
    }

    #[test]
    fn json_ld_of_the_wrong_types_does_not_panic() {
        let blocks = [
            r#"{"@type":"Product","offers":{"price":{"value":[1,2]},"priceCurrency":7},"name":{"@value":"Mug"}}"#,
            r#"{"@type":["Product",5],"offers":[[["x"]]],"image":{"url":{"url":"deep"}},"brand":[null,{"name":3}]}"#,
            r#"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{"@type":"Product"}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
            r#"{"@graph":"not a list","@type":null}"#,
            r#"{"@type":"Product","name":"Big","offers":{"price":"99999999999999999999999999999999"}}"#,
        ];
        for b in blocks {
            let html = format!(r#"<script type="application/ld+json">{b}</script><h1>A mug here</h1>"#);
            let out = extract(&url(), html.as_bytes()).unwrap();
            assert_eq!(out.listings.len(), 1, "{b}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_price_parser_is_total(s in "\\PC{0,64}") {
            let _ = parse_price(&s, None);
            let _ = parse_price(&s, Some(true));
            let _ = parse_price(&s, Some(false));
        }

        #[test]
        fn prices_read_back_in_every_locale(whole in 0u64..100_000_000, cents in 0u32..100) {
            let group = |sep: char| {
                let digits = whole.to_string();
                let mut out = String::new();
                for (i, c) in digits.chars().enumerate() {
                    if i > 0 && (digits.len() - i) % 3 == 0 {
                        out.push(sep);
                    }
                    out.push(c);
                }
                out
            };
            let expected: rust_decimal::Decimal = format!("{whole}.{cents:02}").parse().unwrap();
            let en = format!("${}.{cents:02}", group(','));
            let de = format!("{},{cents:02} €", group('.'));
            let cz = format!("{},{cents:02} Kč", group('\u{a0}'));
            let cn = format!("¥{}.{cents:02}", group(','));
            for text in [&en, &de, &cz, &cn] {
                let m = parse_price(text, None).unwrap();
                proptest::prop_assert_eq!(m.amount, expected, "{}", text);
            }
        }

        #[test]
        fn the_json_ld_reader_is_total(s in "\\PC{0,200}") {
            let _ = parse_jsonld(&s);
        }

        #[test]
        fn json_ld_cut_anywhere_keeps_what_was_read(name in "[a-zA-Z ]{1,20}", price in 1u32..100_000, cut in 0usize..200) {
            let full = format!(r#"{{"@type":"Product","name":"{name}","offers":{{"@type":"Offer","price":"{price}"}}}}"#);
            let values = parse_jsonld(&full);
            proptest::prop_assert_eq!(values.len(), 1);
            let cut = cut.min(full.len());
            let _ = parse_jsonld(&full[..cut]);
        }
    }
}
