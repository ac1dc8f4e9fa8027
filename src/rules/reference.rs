//! Reference data the rules consult: the product catalogue (CCC classes and
//! licensed products, with the keywords that classify a listing), word lists,
//! GB/T 2260 provinces, certification bodies (all from `rules/data/*.toml`), and
//! the imported tables: the CCC certificate registry and past spot-check results
//! (CSV, as `Market::write_registry` / `Market::write_history` write them, and as
//! a cx.cnca.cn lookup or a bureau's results sheet would be transcribed).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::Listing;

use super::spec::{Certainty, Regime};
use super::RulesError;

/// `rules/data/ccc-catalogue.toml` and `rules/data/licensed-products.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueFile {
    /// Where the facts come from.
    pub source: String,
    #[serde(rename = "class")]
    pub classes: Vec<CatalogueClass>,
}

/// One product class: how it is regulated and which words classify a listing into it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueClass {
    pub id: String,
    pub name: String,
    pub regime: Regime,
    /// Catalogue codes a certificate of this class may carry (CCC: 4 digits).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Words in a title or category path that put a listing in this class; the
    /// longest matching keyword over all classes wins.
    pub keywords: Vec<String>,
    /// For classes newly added to the catalogue: no sale without the certificate from this date.
    #[serde(default)]
    pub mandatory_from: Option<NaiveDate>,
    pub certainty: Certainty,
    pub source: String,
}

/// `rules/data/<list>.toml`: a word list with the phrases that are not violations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordList {
    pub source: String,
    pub terms: Vec<String>,
    #[serde(default)]
    pub exceptions: Vec<String>,
}

/// `rules/data/areas.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreasFile {
    pub source: String,
    #[serde(rename = "province")]
    pub provinces: Vec<Area>,
    #[serde(default, rename = "area")]
    pub areas: Vec<Area>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    pub code: String,
    pub name: String,
}

/// `rules/data/cert-bodies.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodiesFile {
    pub source: String,
    #[serde(rename = "body")]
    pub bodies: Vec<CertBody>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertBody {
    pub code: String,
    pub name: String,
    pub certainty: Certainty,
}

/// Classifies listings into catalogue classes by keyword.
#[derive(Debug)]
pub struct Catalogue {
    pub classes: Vec<CatalogueClass>,
    matcher: AhoCorasick,
    /// Pattern index → class index.
    owner: Vec<usize>,
}

impl Catalogue {
    pub fn new(classes: Vec<CatalogueClass>) -> Result<Catalogue, RulesError> {
        let mut patterns = Vec::new();
        let mut owner = Vec::new();
        for (i, class) in classes.iter().enumerate() {
            for k in &class.keywords {
                patterns.push(k.clone());
                owner.push(i);
            }
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| RulesError::Matcher(e.to_string()))?;
        Ok(Catalogue { classes, matcher, owner })
    }

    /// The class of a listing: the class of the longest keyword found in its
    /// title or category path (earlier class on ties); `None` when none matches.
    pub fn classify(&self, listing: &Listing) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None; // (length, class)
        for text in [listing.title.as_deref(), listing.category.as_deref()].into_iter().flatten() {
            for m in self.matcher.find_iter(text) {
                let class = self.owner[m.pattern().as_usize()];
                let len = m.len();
                if best.is_none_or(|(l, c)| len > l || (len == l && class < c)) {
                    best = Some((len, class));
                }
            }
        }
        best.map(|(_, c)| c)
    }
}

/// One row of a CCC certificate registry export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    pub number: String,
    pub holder: String,
    pub product: String,
    pub models: String,
    /// 有效 / 暂停 / 撤销 / 注销 / 过期
    pub status: String,
    /// `YYYY-MM-DD`
    pub expiry: String,
}

/// The certificate registry, by number.
#[derive(Debug, Default)]
pub struct Registry {
    entries: HashMap<String, RegistryEntry>,
}

impl Registry {
    pub fn new(entries: impl IntoIterator<Item = RegistryEntry>) -> Registry {
        Registry { entries: entries.into_iter().map(|e| (e.number.trim().to_string(), e)).collect() }
    }

    /// Reads the CSV (header `number,holder,product,models,status,expiry`).
    pub fn from_csv(input: impl Read) -> Result<Registry, RulesError> {
        Ok(Registry::new(read_csv::<RegistryEntry>(input, "certificate registry")?))
    }

    pub fn get(&self, number: &str) -> Option<&RegistryEntry> {
        self.entries.get(number.trim())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One past spot-check result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpotCheck {
    pub uscc: String,
    #[serde(default)]
    pub company: String,
    /// `YYYY-MM-DD`
    pub date: String,
    #[serde(default)]
    pub product: String,
    /// 合格 / 不合格
    pub result: String,
}

/// Past spot-check results, by USCC.
#[derive(Debug, Default)]
pub struct CheckHistory {
    by_uscc: HashMap<String, Vec<SpotCheck>>,
}

impl CheckHistory {
    pub fn new(rows: impl IntoIterator<Item = SpotCheck>) -> CheckHistory {
        let mut by_uscc: HashMap<String, Vec<SpotCheck>> = HashMap::new();
        for row in rows {
            by_uscc.entry(row.uscc.trim().to_string()).or_default().push(row);
        }
        CheckHistory { by_uscc }
    }

    /// Reads the CSV (header `uscc,company,date,product,result`).
    pub fn from_csv(input: impl Read) -> Result<CheckHistory, RulesError> {
        Ok(CheckHistory::new(read_csv::<SpotCheck>(input, "spot-check history")?))
    }

    pub fn for_uscc(&self, uscc: &str) -> &[SpotCheck] {
        self.by_uscc.get(uscc.trim()).map_or(&[], Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.by_uscc.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_uscc.is_empty()
    }
}

/// One observed price of an item on a day (the 近7天价格 block, or our own re-crawls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedPrice {
    /// `YYYY-MM-DD`
    pub date: String,
    pub price: Decimal,
}

fn read_csv<T: serde::de::DeserializeOwned>(input: impl Read, what: &'static str) -> Result<Vec<T>, RulesError> {
    let mut reader = csv::Reader::from_reader(input);
    reader
        .deserialize()
        .enumerate()
        .map(|(i, row)| row.map_err(|e| RulesError::Csv { what, row: i + 2, reason: e.to_string() }))
        .collect()
}

/// The price level of one class of comparable listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Baseline {
    pub median: Decimal,
    /// Median absolute deviation from the median.
    pub mad: Decimal,
    pub sample: usize,
}

impl Baseline {
    /// The baseline of a set of prices; `None` when empty.
    pub fn of(mut prices: Vec<Decimal>) -> Option<Baseline> {
        let median = median(&mut prices)?;
        let mut deviations: Vec<Decimal> = prices.iter().map(|p| (*p - median).abs()).collect();
        let mad = median_of(&mut deviations)?;
        Some(Baseline { median, mad, sample: prices.len() })
    }
}

fn median(prices: &mut [Decimal]) -> Option<Decimal> {
    median_of(prices)
}

fn median_of(values: &mut [Decimal]) -> Option<Decimal> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / Decimal::TWO })
}

/// Baselines of comparable listings, keyed by class (our catalogue class id, or
/// the platform's category path when the catalogue does not classify the listing).
#[derive(Debug, Default)]
pub struct Baselines {
    pub by_class: BTreeMap<String, Baseline>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(id: &str, keywords: &[&str]) -> CatalogueClass {
        CatalogueClass {
            id: id.into(),
            name: id.into(),
            regime: Regime::Ccc,
            codes: vec!["0000".into()],
            keywords: keywords.iter().map(|k| (*k).to_string()).collect(),
            mandatory_from: None,
            certainty: Certainty::S,
            source: String::new(),
        }
    }

    #[test]
    fn the_longest_keyword_decides_the_class() {
        let catalogue =
            Catalogue::new(vec![class("charger", &["充电器"]), class("ebike_charger", &["电动车充电器"])]).unwrap();
        let listing = |title: &str, category: &str| Listing {
            title: Some(title.into()),
            category: Some(category.into()),
            ..Listing::default()
        };
        assert_eq!(catalogue.classify(&listing("雅驰 电动车充电器 48V3A", "电动车配件 > 充电器")), Some(1));
        assert_eq!(catalogue.classify(&listing("迅充 氮化镓充电器 65W", "数码配件 > 充电器")), Some(0));
        assert_eq!(catalogue.classify(&listing("图拉 手机壳", "3C数码配件 > 手机壳")), None);
    }

    #[test]
    fn baseline_is_median_and_mad() {
        let prices = ["10", "12", "14", "100", "11"].iter().map(|p| p.parse().unwrap()).collect();
        let b = Baseline::of(prices).unwrap();
        assert_eq!(b.median, Decimal::from(12));
        // deviations 2, 0, 2, 88, 1 → median 2: the outlier does not move it.
        assert_eq!(b.mad, Decimal::from(2));
        assert_eq!(b.sample, 5);
        assert!(Baseline::of(Vec::new()).is_none());
    }

    #[test]
    fn registry_and_history_csv_import_and_bad_rows_name_the_row() {
        let csv = "number,holder,product,models,status,expiry\n2016010706840003,某公司,电热水器,WH-1,有效,2027-01-01\n";
        let registry = Registry::from_csv(csv.as_bytes()).unwrap();
        assert_eq!(registry.get(" 2016010706840003 ").map(|e| e.status.as_str()), Some("有效"));
        let csv = "uscc,company,date,product,result\n91330100716105852F,某公司,2024-05-01,移动电源,不合格\n";
        let history = CheckHistory::from_csv(csv.as_bytes()).unwrap();
        assert_eq!(history.for_uscc("91330100716105852F").len(), 1);
        let bad = "number,holder\n1,2\n";
        let error = Registry::from_csv(bad.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("row 2"), "{error}");
    }
}
