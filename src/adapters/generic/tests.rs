//! The generic adapter on small pages written to show one rule each.

use super::*;

fn page(html: &str) -> Listing {
    let url = Url::parse("https://shop.example/p/1").unwrap();
    extract(&url, html.as_bytes()).unwrap().listings.remove(0)
}

fn price(l: &Listing) -> Option<String> {
    l.price.map(|p| p.to_string())
}

#[test]
fn jsonld_first_with_provenance() {
    let l = page(
        r#"<html><head><script type="application/ld+json">{"@type":"Product","name":"Kettle","offers":{"price":"19.90","priceCurrency":"EUR"}}</script>
        <meta property="og:title" content="Other"></head><body><h1>Kettle</h1><span class="price">19,90 €</span></body></html>"#,
    );
    assert_eq!(l.title.as_deref(), Some("Kettle"));
    assert_eq!(price(&l).as_deref(), Some("19.90"));
    assert_eq!(l.currency.as_deref(), Some("EUR"));
    assert_eq!(l.provenance.get("price").map(String::as_str), Some("jsonld"));
}
