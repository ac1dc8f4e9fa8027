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

#[test]
fn struck_was_price_and_related_items_are_not_the_price() {
    let l = page(
        r#"<html><body><header><span class="price">$5.00</span></header>
        <div class="product"><h1>Blue Kettle 1.7 L</h1>
          <div class="price-box"><del>$59.99</del> <span class="price">$39.99</span></div>
          <button class="add-to-cart">Add to cart</button></div>
        <div class="related-products"><h2>You may also like</h2><span class="price">$12.00</span></div>
        </body></html>"#,
    );
    assert_eq!(l.title.as_deref(), Some("Blue Kettle 1.7 L"));
    assert_eq!(price(&l).as_deref(), Some("39.99"));
    assert_eq!(l.currency.as_deref(), Some("USD"));
    assert_eq!(l.provenance.get("price").map(String::as_str), Some("page:price-near-title"));
    assert_eq!(l.availability, Some(Availability::InStock));
}

#[test]
fn locale_of_the_page_decides_the_decimal_mark() {
    let l = page(
        r#"<html lang="de-DE"><body><h1>Gartenhaus Modell Nord</h1><span class="price">34.000</span>
        <button>In den Warenkorb</button></body></html>"#,
    );
    assert_eq!(price(&l).as_deref(), Some("34000"));
}

#[test]
fn markup_price_the_page_shows_differently_yields_to_the_page() {
    let l = page(
        r#"<html><body><h1>Toddler Tee Shirt</h1><div itemscope itemtype="http://schema.org/Product">
        <span itemprop="name">Toddler Tee Shirt</span>
        <span class="price" itemprop="offers" itemscope itemtype="http://schema.org/Offer">$28.50+
          <meta itemprop="price" content="25.00"><meta itemprop="priceCurrency" content="USD"></span></div></body></html>"#,
    );
    assert_eq!(price(&l).as_deref(), Some("28.50"));
    assert!(l.provenance.get("price").is_some_and(|p| p.starts_with("page:")), "{:?}", l.provenance);
}

#[test]
fn chinese_page_stock_specs_certificates_and_seller() {
    let l = extract(
        &Url::parse("https://shop.example/item/9").unwrap(),
        r#"<html lang="zh-CN"><body><h1>小米充电宝 10000mAh 移动电源</h1>
        <div class="price">￥129.00</div><div class="stock">已售罄</div><a class="buy">立即购买</a>
        <table><tr><th>品牌</th><td>小米</td></tr><tr><th>型号</th><td>PB1022ZM</td></tr>
        <tr><th>货号</th><td>XM-001</td></tr><tr><th>生产厂家</th><td>紫米电子</td></tr></table>
        <p>3C认证证书编号：2020010914312345</p>
        <div class="licence">企业名称：深圳市某某电子有限公司<br>统一社会信用代码：91440300715267260X<br>
        住所：深圳市南山区科技园1号</div></body></html>"#
            .as_bytes(),
    )
    .unwrap();
    let item = &l.listings[0];
    assert_eq!(item.price.map(|p| p.to_string()).as_deref(), Some("129.00"));
    assert_eq!(item.currency.as_deref(), Some("CNY"));
    assert_eq!(item.availability, Some(Availability::OutOfStock));
    assert_eq!(item.brand.as_deref(), Some("小米"));
    assert_eq!(item.model.as_deref(), Some("PB1022ZM"));
    assert_eq!(item.sku.as_deref(), Some("XM-001"));
    assert_eq!(item.manufacturer.as_deref(), Some("紫米电子"));
    assert_eq!(item.certificates.len(), 1, "{:?}", item.certificates);
    assert_eq!(item.certificates[0].number, "2020010914312345");
    let shop = &l.shops[0];
    assert_eq!(shop.uscc.as_deref(), Some("91440300715267260X"));
    assert_eq!(shop.name.as_deref(), Some("深圳市某某电子有限公司"));
    assert!(shop.address.as_deref().is_some_and(|a| a.starts_with("深圳市南山区科技园1号")), "{shop:?}");
    assert_eq!(item.shop.as_ref().map(|s| s.shop_id.as_str()), Some("91440300715267260X"));
}

#[test]
fn rdfa_and_meta_tags_when_there_is_nothing_else() {
    let l = page(
        r#"<html><head><meta property="og:title" content="Oak Stool"><meta property="product:price:amount" content="49.5">
        <meta property="product:price:currency" content="GBP"><meta property="og:image" content="/img/stool.jpg"></head>
        <body><div vocab="http://schema.org/" typeof="Product"><span property="brand">Woodly</span>
        <span property="sku">ST-1</span></div></body></html>"#,
    );
    assert_eq!(l.title.as_deref(), Some("Oak Stool"));
    assert_eq!(price(&l).as_deref(), Some("49.5"));
    assert_eq!(l.currency.as_deref(), Some("GBP"));
    assert_eq!(l.images, ["https://shop.example/img/stool.jpg"]);
    assert_eq!(l.sku.as_deref(), Some("ST-1"));
    assert_eq!(l.provenance.get("sku").map(String::as_str), Some("rdfa"));
}

#[test]
fn description_block_when_markup_has_none() {
    let l = page(
        r#"<html><body><h1>Oak Stool Low</h1><div id="product-description"><p>Solid oak, oiled by hand.</p>
        <p>Seat height 45 cm; carries 120 kg.</p></div></body></html>"#,
    );
    assert_eq!(l.description.as_deref(), Some("Solid oak, oiled by hand. Seat height 45 cm; carries 120 kg."));
    assert_eq!(l.provenance.get("description").map(String::as_str), Some("page:description"));
}

#[test]
fn a_page_without_any_price_yields_none() {
    let l = page("<html><body><h1>No Longer Available</h1><p>Shop our new arrivals</p></body></html>");
    assert_eq!(l.price, None);
}

#[test]
fn the_json_ld_product_the_heading_names_is_the_main_one() {
    let l = page(
        r#"<html><head><title>Walnut Desk Lamp | Lamps Shop</title>
        <script type="application/ld+json">[{"@type":"Product","name":"Brass Floor Lamp","offers":{"price":"199.00"}},
        {"@type":"Product","name":"Walnut Desk Lamp","offers":{"price":"89.00","priceCurrency":"USD"}}]</script></head>
        <body><h1>Walnut Desk Lamp</h1></body></html>"#,
    );
    assert_eq!(l.title.as_deref(), Some("Walnut Desk Lamp"));
    assert_eq!(price(&l).as_deref(), Some("89.00"));
}

#[test]
fn the_image_captioned_with_the_title_at_its_largest_size() {
    let l = page(
        r#"<html><body><img alt="Logo" src="/logo.png"><h1>Four Channel Relay Module</h1>
        <img alt="Four Channel Relay Module" src="/small.jpg" data-old-hires="/large.jpg"></body></html>"#,
    );
    assert_eq!(l.images, ["https://shop.example/large.jpg"]);
    assert_eq!(l.provenance.get("images").map(String::as_str), Some("page:img-alt"));
}
