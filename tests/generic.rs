//! The generic adapter on real pages (../shared/realpages, read in place).

use std::path::Path;

use spotcheck::adapters::generic::score::{load_cases, score};

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
