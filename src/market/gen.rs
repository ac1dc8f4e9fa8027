//! Building one listing, shop or operator from `(seed, index)`: the content
//! both platform renderers print and the ground truth is made of.
//!
//! A generated [`Item`] is platform-neutral except for what the platforms
//! label differently (the CCC spec key, the sales wording); those are resolved
//! here so that the renderers and the truth read the same values.

use chrono::{Days, NaiveDate};

use super::catalogue::{
    ProductClass, Regime, Region, CLASSES, GENERIC_LINES, NAME_PARTS, NEAR_MISS_LINES, REGIONS, STREETS,
};
use super::ids::{ccc_number, make_uscc, sc_number, xk_number};
use super::layout::{Layout, Platform};
use super::rng::{mix64, Rng, Stream};
use super::violations::{
    original_price_fen, price_fen, price_history, CccFlaw, History, ItemFlaws, LicenceFlaw, Malformation,
    OperatorFlaws, Registration, Sanwu, ShopFlaws, REFERENCE_DATE,
};
use crate::model::{Certificate, CertificateKind};

/// The reference date as a date.
pub(crate) fn reference_date() -> NaiveDate {
    NaiveDate::parse_from_str(REFERENCE_DATE, "%Y-%m-%d").unwrap_or_default()
}

/// A company behind one or more shops.
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    pub index: u32,
    pub company: String,
    pub uscc: String,
    pub address: String,
    pub legal_representative: String,
    pub flaws: OperatorFlaws,
}

fn street_address(rng: &mut Rng, region: &Region) -> String {
    format!(
        "{}{}{}号{}栋{}室",
        region.name,
        rng.pick(STREETS),
        rng.range(1, 399),
        rng.range(1, 12),
        rng.range(101, 1808)
    )
}

static SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"];
static GIVEN: &[&str] = &["伟", "芳", "敏", "静", "强", "磊", "洋", "婷", "军", "杰"];

impl Operator {
    pub(crate) fn generate(layout: &Layout, k: u32) -> Operator {
        let mut rng = Rng::new(layout.seed, Stream::Operator, u64::from(k));
        let flaws = OperatorFlaws::draw(&mut rng);
        let region = rng.pick(REGIONS);
        let company = format!(
            "{}{}{}",
            region.city,
            rng.pick(NAME_PARTS),
            rng.pick(&["电子商务有限公司", "贸易有限公司", "科技有限公司"])
        );
        let uscc = make_uscc(&mut rng, region.code, !flaws.uscc_invalid);
        let address = street_address(&mut rng, region);
        let legal_representative = format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN));
        Operator { index: k, company, uscc, address, legal_representative, flaws }
    }

    /// Rows of the exported spot-check history: (date, product class name, result).
    pub(crate) fn history(&self, layout: &Layout) -> Vec<(String, &'static str, &'static str)> {
        let mut rng = Rng::new(layout.seed, Stream::Operator, u64::from(self.index) | 1 << 40);
        let mut row = |year: i32, failed: bool| {
            let date =
                NaiveDate::from_ymd_opt(year, rng.range(3, 10) as u32, rng.range(1, 28) as u32).unwrap_or_default();
            (date.format("%Y-%m-%d").to_string(), rng.pick(CLASSES).name, if failed { "不合格" } else { "合格" })
        };
        match self.flaws.history {
            History::None => Vec::new(),
            History::Passed => vec![row(2024, false), row(2025, false)],
            History::OneRecentFailure => vec![row(2023, false), row(2024, true), row(2025, false)],
            History::OldFailures => vec![row(2019, true), row(2021, true), row(2024, false)],
            History::Repeat { years } => {
                let mut rows = vec![row(2023, true), row(2024, true)];
                rows.push(row(2025, years >= 3));
                rows
            }
        }
    }
}

/// A shop as its page shows it.
#[derive(Debug, Clone)]
pub(crate) struct ShopInfo {
    pub index: u32,
    pub platform: Platform,
    pub shop_id: u64,
    pub name: String,
    pub operator: Operator,
    pub flaws: ShopFlaws,
    /// 经营范围 shown with the licence.
    pub scope: String,
}

impl ShopInfo {
    pub(crate) fn generate(layout: &Layout, j: u32) -> ShopInfo {
        let platform = layout.platform_of_shop(j);
        let operator = Operator::generate(layout, layout.operator_of(j));
        let mut rng = Rng::new(layout.seed, Stream::Shop, u64::from(j) | 1 << 40);
        let flaws = ShopFlaws::draw(&mut rng);
        let suffix = match platform {
            Platform::Mall => *rng.pick(&["旗舰店", "专营店", "官方旗舰店", "专卖店"]),
            Platform::Duo => *rng.pick(&["的小店", "百货", "官方店", "优选店"]),
        };
        let name = format!("{}{}{}", rng.pick(NAME_PARTS), rng.pick(&["数码", "家居", "生活", "电器", "优品"]), suffix);
        let scope =
            "一般项目：电子产品销售；家用电器销售；日用百货销售；互联网销售（除销售需要许可的商品）。".to_string();
        ShopInfo { index: j, platform, shop_id: layout.shop_id(platform, j), name, operator, flaws, scope }
    }

    pub(crate) fn path(&self) -> String {
        shop_path(self.platform, self.shop_id)
    }
}

pub(crate) fn shop_path(platform: Platform, shop_id: u64) -> String {
    match platform {
        Platform::Mall => format!("/mall/shop/{shop_id}"),
        Platform::Duo => format!("/duo/mall_page.html?mall_id={shop_id}"),
    }
}

pub(crate) fn item_path(platform: Platform, item_id: u64) -> String {
    match platform {
        Platform::Mall => format!("/mall/item/{item_id}.html"),
        Platform::Duo => format!("/duo/goods.html?goods_id={item_id}"),
    }
}

/// A certificate number as shown, with what the exported registry says about it.
#[derive(Debug, Clone)]
pub(crate) struct ShownCertificate {
    pub certificate: Certificate,
    /// Registry status (CCC only); `None` when the registry does not list it.
    pub registration: Option<Registration>,
    /// The class the registered certificate is for (differs on a category mismatch).
    pub registered_class: &'static str,
}

/// One listing, as both its page and its truth record show it.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub index: u32,
    pub platform: Platform,
    pub item_id: u64,
    /// The selling shop's index and public id.
    pub shop: u32,
    pub shop_id: u64,
    pub class: &'static ProductClass,
    pub flaws: ItemFlaws,
    pub title: String,
    pub price_fen: u64,
    pub original_fen: Option<u64>,
    /// (date, price in fen) for the 7 days before the reference date.
    pub history: Vec<(String, u64)>,
    pub brand: String,
    pub model: String,
    /// The spec table in page order.
    pub specs: Vec<(&'static str, String)>,
    pub certificate: Option<ShownCertificate>,
    pub manufacturer: Option<String>,
    pub manufacturer_address: Option<String>,
    /// Sales as displayed and as a number (the displayed value, not the raw one).
    pub sales_text: String,
    pub sales: u64,
    pub stock: u64,
    /// Root-relative image paths.
    pub images: Vec<String>,
    pub description: String,
}

/// Certificate serials: a bijection of the listing index onto 6 years × 10^6 serials,
/// so registered numbers never collide (for up to 6,000,000 listings).
fn certificate_year_serial(seed: u64, i: u32) -> (u64, u64) {
    const SPACE: u64 = 6_000_000;
    let seq = (u64::from(i) * 7_777_777 + mix64(seed) % SPACE) % SPACE;
    (2019 + seq / 1_000_000, seq % 1_000_000)
}

fn sales_display(platform: Platform, raw: u64) -> (String, u64) {
    match platform {
        Platform::Mall if raw < 10_000 => (format!("月销 {raw}"), raw),
        Platform::Mall => {
            let tenths = raw / 1_000;
            let text = if tenths.is_multiple_of(10) {
                format!("月销 {}万+", tenths / 10)
            } else {
                format!("月销 {}.{}万+", tenths / 10, tenths % 10)
            };
            (text, tenths * 1_000)
        }
        Platform::Duo if raw < 10_000 => (format!("已拼{raw}件"), raw),
        Platform::Duo => (format!("已拼{}万+件", raw / 10_000), raw / 10_000 * 10_000),
    }
}

/// The spec key under which each platform shows the CCC number.
pub(crate) fn ccc_key(platform: Platform) -> &'static str {
    match platform {
        Platform::Mall => "3C证书编号",
        Platform::Duo => "CCC证书编号",
    }
}

impl Item {
    pub(crate) fn generate(layout: &Layout, i: u32) -> Item {
        let shop = layout.shop_of(i);
        let platform = layout.platform_of_shop(shop);
        let (class_index, mut rng) = layout.class_of(i, shop);
        let class = &CLASSES[class_index];
        let flaws = ItemFlaws::draw(&mut rng, class);
        let item_id = layout.item_id(platform, i);

        let brand = (*rng.pick(class.brands)).to_string();
        let noun = *rng.pick(class.nouns);
        let variant = *rng.pick(class.variants);
        let first = rng.below(class.points.len() as u64) as usize;
        let second = (first + 1 + rng.below(class.points.len() as u64 - 1) as usize) % class.points.len();
        let (point_a, point_b) = (class.points[first], class.points[second]);
        let model = format!(
            "{}-{}{:03}{}",
            class.model_prefix,
            rng.range(1, 9),
            rng.below(1000),
            rng.pick(&["", "A", "S", "Pro"])
        );

        let mut title = String::new();
        if class.slug == "phone-case" {
            title.push_str("3C数码 ");
        }
        title.push_str(&format!("{brand} {noun} {variant} {point_a} {point_b}"));
        if let Some((phrase, true)) = flaws.absolute {
            title.push(' ');
            title.push_str(phrase);
        }

        let price = price_fen(&mut rng, class, flaws.clearly_low);
        let original = flaws.shows_original_price.then(|| original_price_fen(&mut rng, price));
        let day_prices = price_history(&mut rng, price, original, flaws.fake_was_price);
        let today = reference_date();
        let history = day_prices
            .iter()
            .enumerate()
            .map(|(d, p)| ((today - Days::new(7 - d as u64)).format("%Y-%m-%d").to_string(), *p))
            .collect();

        let maker_region = rng.pick(REGIONS);
        let maker = format!("{}{}{}", maker_region.city, rng.pick(NAME_PARTS), class.maker_kind);
        let maker_address = street_address(&mut rng, maker_region);
        let made = today - Days::new(rng.range(20, 400));

        let mut specs: Vec<(&'static str, String)> =
            vec![("品牌", brand.clone()), ("型号", model.clone()), (class.variant_key, variant.to_string())];
        let certificate = certificate(&mut rng, layout, i, class, &flaws, maker_region.code);
        if let Some(shown) = &certificate {
            let key = match shown.certificate.kind {
                CertificateKind::Ccc => ccc_key(platform),
                CertificateKind::Xk => "生产许可证编号",
                CertificateKind::Sc => "食品生产许可证编号",
                CertificateKind::Qs => "生产许可证",
            };
            specs.push((key, shown.certificate.number.clone()));
        }
        if let CccFlaw::MarkMisleading { cqc } = flaws.ccc {
            specs.push(("认证", if cqc { "CQC认证" } else { "3C" }.to_string()));
        }
        let (manufacturer, manufacturer_address) = match flaws.sanwu {
            None => (Some(maker), Some(maker_address)),
            Some(Sanwu::NoName) => (None, Some(maker_address)),
            Some(Sanwu::NoAddress) => (Some(maker), None),
            Some(Sanwu::Neither) => (None, None),
        };
        if let Some(name) = &manufacturer {
            specs.push(("生产厂家", name.clone()));
        }
        if let Some(address) = &manufacturer_address {
            specs.push(("厂址", address.clone()));
        }
        specs.push(("生产日期", made.format("%Y-%m-%d").to_string()));
        if matches!(class.regime, Regime::Sc { .. }) {
            specs.push(("保质期", "180天".to_string()));
        }
        specs.push(("执行标准", class.standard.to_string()));

        let magnitude = rng.below(4) as u32;
        let raw_sales = rng.range(10u64.pow(magnitude + 1) / 10, 10u64.pow(magnitude + 2) - 1);
        let (sales_text, sales) = sales_display(platform, raw_sales);
        let stock = if rng.per_mille(50) { 0 } else { rng.range(1, 5000) };
        let images = (1..=rng.range(3, 5))
            .map(|k| format!("/img/{}/{item_id}-{k}.gif", platform.prefix().trim_start_matches('/')))
            .collect();

        let mut lines = vec![format!("产品特点：{point_a}，{point_b}。"), (*rng.pick(GENERIC_LINES)).to_string()];
        if flaws.near_miss {
            lines.push((*rng.pick(NEAR_MISS_LINES)).to_string());
        }
        if let Some((phrase, false)) = flaws.absolute {
            lines.push(format!("{phrase}，放心选购。"));
        }
        if let Some(claim) = flaws.medical {
            lines.push(claim.to_string());
        }
        let description = lines.concat();

        Item {
            index: i,
            platform,
            item_id,
            shop,
            shop_id: layout.shop_id(platform, shop),
            class,
            flaws,
            title,
            price_fen: price,
            original_fen: original,
            history,
            brand,
            model,
            specs,
            certificate,
            manufacturer,
            manufacturer_address,
            sales_text,
            sales,
            stock,
            images,
            description,
        }
    }

    pub(crate) fn path(&self) -> String {
        item_path(self.platform, self.item_id)
    }
}

/// The certificate the listing shows, per its regime and flaws.
fn certificate(
    rng: &mut Rng,
    layout: &Layout,
    i: u32,
    class: &'static ProductClass,
    flaws: &ItemFlaws,
    area: &str,
) -> Option<ShownCertificate> {
    let shown = |kind, number: String, registration, registered_class| {
        Some(ShownCertificate { certificate: Certificate { kind, number }, registration, registered_class })
    };
    match class.regime {
        Regime::Ccc { code, .. } => {
            let (year, serial) = certificate_year_serial(layout.seed, i);
            let proper = ccc_number(year, code, serial);
            match flaws.ccc {
                CccFlaw::Clean => shown(CertificateKind::Ccc, proper, Some(Registration::Valid), class.name),
                CccFlaw::Missing | CccFlaw::MarkMisleading { .. } => None,
                CccFlaw::Malformed(how) => {
                    let number = match how {
                        Malformation::Short => proper[..15].to_string(),
                        Malformation::Long => format!("{proper}{}", rng.below(10)),
                        Malformation::Letter => format!("{}O{}", &proper[..4], &proper[5..]),
                    };
                    shown(CertificateKind::Ccc, number, None, class.name)
                }
                CccFlaw::Mismatch { code: other } => {
                    let other_class = CLASSES
                        .iter()
                        .find(|c| matches!(c.regime, Regime::Ccc { code, .. } if code == other))
                        .map_or(class.name, |c| c.name);
                    shown(CertificateKind::Ccc, ccc_number(year, other, serial), Some(Registration::Valid), other_class)
                }
                CccFlaw::Invalid(Registration::Unknown) => {
                    // Year 2018 is outside the registered range, so it never collides.
                    shown(CertificateKind::Ccc, ccc_number(2018, code, serial), None, class.name)
                }
                CccFlaw::Invalid(status) => shown(CertificateKind::Ccc, proper, Some(status), class.name),
            }
        }
        Regime::Xk { prefix } => match flaws.licence {
            LicenceFlaw::Clean => shown(CertificateKind::Xk, xk_number(prefix, rng.below(100_000)), None, class.name),
            LicenceFlaw::Malformed => {
                shown(CertificateKind::Xk, format!("{prefix}-{:04}", rng.below(10_000)), None, class.name)
            }
            _ => None,
        },
        Regime::Sc { food_category } => match flaws.licence {
            LicenceFlaw::Clean => shown(CertificateKind::Sc, sc_number(food_category, area, rng), None, class.name),
            LicenceFlaw::Malformed => shown(
                CertificateKind::Sc,
                format!("SC1{food_category}{area}{:04}", rng.below(10_000)),
                None,
                class.name,
            ),
            LicenceFlaw::Qs => {
                shown(CertificateKind::Qs, format!("QS{}{:08}", &area[..4], rng.below(100_000_000)), None, class.name)
            }
            LicenceFlaw::Missing => None,
        },
        Regime::Standard | Regime::Unregulated => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sales_text_and_value_agree() {
        assert_eq!(sales_display(Platform::Mall, 12_345), ("月销 1.2万+".to_string(), 12_000));
        assert_eq!(sales_display(Platform::Mall, 20_999), ("月销 2万+".to_string(), 20_000));
        assert_eq!(sales_display(Platform::Mall, 356), ("月销 356".to_string(), 356));
        assert_eq!(sales_display(Platform::Duo, 104_000), ("已拼10万+件".to_string(), 100_000));
    }

    #[test]
    fn items_are_deterministic() {
        let layout = Layout::new(5, 1000);
        let a = Item::generate(&layout, 77);
        let b = Item::generate(&layout, 77);
        assert_eq!(a.title, b.title);
        assert_eq!(a.specs, b.specs);
        assert_eq!(a.description, b.description);
    }
}
