//! Routing (属地): which bureau owns a shop's case.
//!
//! 市场监督管理行政处罚程序规定 第10条 gives an online seller's case to the
//! bureau of the place where the shop actually operates. So the shop's
//! operating address decides first (place names from the routing table found
//! in the address text); when the address names no known place, the
//! registration authority's area code inside the USCC (characters 3–8) stands
//! in for it; when neither gives an area, the table's default bureau takes the
//! case for manual assignment. The table is data (`rules/data/routing.toml`),
//! so a new bureau is a line in a file, not a code change.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Shop;

/// The shipped routing table.
pub const BUILTIN_ROUTING: &str = include_str!("../../rules/data/routing.toml");

#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("cannot read the routing table `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad routing table `{path}`:{line}: {message}")]
    Parse { path: PathBuf, line: usize, message: String },
    #[error("bad routing table `{path}`: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// `rules/data/routing.toml` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    #[allow(dead_code)] // documents the file; kept so `deny_unknown_fields` accepts it
    source: String,
    default: Bureau,
    #[serde(rename = "place")]
    places: Vec<Place>,
    #[serde(rename = "bureau")]
    bureaus: Vec<BureauRow>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Place {
    code: String,
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BureauRow {
    prefix: String,
    name: String,
}

/// A bureau: the area-code prefix it is responsible for and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bureau {
    pub code: String,
    pub name: String,
}

/// What decided the area code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// Place names in the shop's operating address.
    Address,
    /// The registration authority's area code in the shop's USCC.
    Uscc,
    /// Neither: the default bureau.
    Default,
}

impl std::fmt::Display for Basis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Basis::Address => "address",
            Basis::Uscc => "uscc",
            Basis::Default => "default",
        })
    }
}

/// The routing of one shop, with the reason kept for the case file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    pub basis: Basis,
    /// The area code found (2, 4 or 6 digits from an address; 6 from a USCC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_code: Option<String>,
    /// The address text or USCC the area came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The place names matched in the address, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
    pub bureau: Bureau,
    /// Why, in one line (shown by `cases show`).
    pub reason: String,
}

/// The compiled routing table.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    default: Bureau,
    places: Vec<Place>,
    bureaus: Vec<BureauRow>,
}

impl RoutingTable {
    /// The embedded `rules/data/routing.toml`.
    pub fn builtin() -> Result<RoutingTable, RoutingError> {
        RoutingTable::parse(Path::new("rules/data/routing.toml"), BUILTIN_ROUTING)
    }

    /// `dir/data/routing.toml` when it exists (a rules directory), else the embedded table.
    pub fn load(dir: Option<&Path>) -> Result<RoutingTable, RoutingError> {
        match dir.map(|d| d.join("data").join("routing.toml")) {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| RoutingError::Read { path: path.clone(), source })?;
                RoutingTable::parse(&path, &text)
            }
            _ => RoutingTable::builtin(),
        }
    }

    pub fn parse(path: &Path, text: &str) -> Result<RoutingTable, RoutingError> {
        let file: RoutingFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start).min(text.len());
            let line = text.get(..offset).unwrap_or_default().matches('\n').count() + 1;
            RoutingError::Parse { path: path.to_path_buf(), line, message: e.message().trim_end().to_string() }
        })?;
        let bad_code = |c: &str| !matches!(c.len(), 2 | 4 | 6) || !c.bytes().all(|b| b.is_ascii_digit());
        let mut problems = Vec::new();
        for p in &file.places {
            if bad_code(&p.code) || p.name.trim().is_empty() {
                problems
                    .push(format!("place `{}` `{}`: code must be 2, 4 or 6 digits and name non-empty", p.code, p.name));
            }
        }
        for b in &file.bureaus {
            if bad_code(&b.prefix) || b.name.trim().is_empty() {
                problems.push(format!("bureau `{}`: prefix must be 2, 4 or 6 digits and name non-empty", b.prefix));
            }
        }
        let mut prefixes: Vec<&str> = file.bureaus.iter().map(|b| b.prefix.as_str()).collect();
        prefixes.sort_unstable();
        for pair in prefixes.windows(2) {
            if pair[0] == pair[1] {
                problems.push(format!("bureau prefix `{}` listed twice", pair[0]));
            }
        }
        if !problems.is_empty() {
            return Err(RoutingError::Invalid { path: path.to_path_buf(), message: problems.join("; ") });
        }
        Ok(RoutingTable { default: file.default, places: file.places, bureaus: file.bureaus })
    }

    pub fn default_bureau(&self) -> &Bureau {
        &self.default
    }

    /// The bureau for an area code: the longest listed prefix (6 → 4 → 2 digits), if any.
    pub fn bureau_for(&self, area: &str) -> Option<Bureau> {
        [6usize, 4, 2].into_iter().filter_map(|n| area.get(..n)).find_map(|prefix| {
            self.bureaus
                .iter()
                .find(|b| b.prefix == prefix)
                .map(|b| Bureau { code: b.prefix.clone(), name: b.name.clone() })
        })
    }

    /// The most specific area the address names: every place whose name occurs
    /// in it, keeping the deepest one that agrees with the shallower ones found
    /// (a 朝阳区 in an address that says 吉林省 is not Beijing's).
    pub fn area_of_address(&self, address: &str) -> Option<(String, Vec<String>)> {
        let found: Vec<&Place> = self.places.iter().filter(|p| address.contains(p.name.as_str())).collect();
        let agrees = |c: &Place| {
            [2usize, 4].into_iter().filter(|&n| n < c.code.len()).all(|n| {
                let at_level: Vec<&&Place> = found.iter().filter(|p| p.code.len() == n).collect();
                at_level.is_empty() || at_level.iter().any(|p| c.code.starts_with(p.code.as_str()))
            })
        };
        let best = found.iter().filter(|c| agrees(c)).max_by_key(|c| c.code.len())?;
        let mut names: Vec<(usize, String)> = found
            .iter()
            .filter(|p| best.code.starts_with(p.code.as_str()))
            .map(|p| (p.code.len(), p.name.clone()))
            .collect();
        names.sort();
        names.dedup_by(|a, b| a.1 == b.1);
        Some((best.code.clone(), names.into_iter().map(|(_, n)| n).collect()))
    }

    /// Routes a shop: address, else USCC, else the default bureau.
    pub fn route(&self, shop: &Shop) -> Routing {
        if let Some(address) = shop.address.as_deref().filter(|a| !a.trim().is_empty()) {
            if let Some((area, matched)) = self.area_of_address(address) {
                let (bureau, how) = match self.bureau_for(&area) {
                    Some(b) => (b, "the bureau for the longest listed prefix".to_string()),
                    None => (self.default.clone(), format!("no bureau listed for `{area}`: the default bureau")),
                };
                return Routing {
                    basis: Basis::Address,
                    reason: format!("operating address names {} (area `{area}`); {how}", matched.join("")),
                    area_code: Some(area),
                    from: Some(address.to_string()),
                    matched,
                    bureau,
                };
            }
        }
        if let Some(uscc) = shop.uscc.as_deref().map(str::trim) {
            if let Some(area) = uscc_area(uscc) {
                if let Some(bureau) = self.bureau_for(area) {
                    let why = if shop.address.is_some() {
                        "the address names no known place"
                    } else {
                        "the shop shows no address"
                    };
                    return Routing {
                        basis: Basis::Uscc,
                        reason: format!("{why}; USCC `{uscc}` was registered in area `{area}`"),
                        area_code: Some(area.to_string()),
                        from: Some(uscc.to_string()),
                        matched: Vec::new(),
                        bureau,
                    };
                }
            }
        }
        Routing {
            basis: Basis::Default,
            area_code: None,
            from: None,
            matched: Vec::new(),
            bureau: self.default.clone(),
            reason: "neither the address nor the USCC names an area with a listed bureau".into(),
        }
    }
}

/// Characters 3–8 of a USCC (GB 32100-2015): the registration authority's
/// GB/T 2260 area code, when they are six digits and the code is 18 long.
pub fn uscc_area(uscc: &str) -> Option<&str> {
    if uscc.len() != 18 || !uscc.is_ascii() {
        return None;
    }
    uscc.get(2..8).filter(|a| a.bytes().all(|b| b.is_ascii_digit()) && !a.starts_with('0'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn shop(address: Option<&str>, uscc: Option<&str>) -> Shop {
        Shop {
            platform: "sample-mall".into(),
            shop_id: "s1".into(),
            address: address.map(Into::into),
            uscc: uscc.map(Into::into),
            ..Shop::default()
        }
    }

    #[test]
    fn the_shipped_table_loads_and_covers_every_sample_region() {
        let t = RoutingTable::builtin().unwrap();
        for r in crate::market::catalogue::REGIONS {
            let (area, _) = t.area_of_address(&format!("{}科技园路1号", r.name)).unwrap();
            assert_eq!(area, r.code, "{}", r.name);
            let bureau = t.bureau_for(&area).unwrap().code;
            // 东莞 has no districts: its city bureau (4419) is the local one.
            assert!(r.code.starts_with(&bureau) && bureau.len() >= 4, "local bureau for {}: {bureau}", r.name);
        }
    }

    #[test]
    fn the_address_beats_the_uscc() {
        let t = RoutingTable::builtin().unwrap();
        let r = t.route(&shop(Some("浙江省杭州市西湖区文三路1号"), Some("91440300MA5ABCDE1X")));
        assert_eq!(r.basis, Basis::Address);
        assert_eq!(r.area_code.as_deref(), Some("330106"));
        assert_eq!(r.bureau.name, "杭州市西湖区市场监督管理局");
        assert_eq!(r.matched, vec!["浙江省", "杭州市", "西湖区"]);
    }

    #[test]
    fn a_city_without_a_listed_district_goes_to_the_city_bureau() {
        let t = RoutingTable::builtin().unwrap();
        let r = t.route(&shop(Some("深圳市福田区深南大道1号"), None));
        assert_eq!((r.basis, r.bureau.code.as_str()), (Basis::Address, "4403"));
    }

    #[test]
    fn a_district_name_from_another_province_does_not_count() {
        let t = RoutingTable::builtin().unwrap();
        let (area, _) = t.area_of_address("吉林省长春市朝阳区人民大街1号").unwrap();
        assert_eq!(area, "22");
        let r = t.route(&shop(Some("吉林省长春市朝阳区人民大街1号"), Some("91440300MA5ABCDE1X")));
        assert_eq!((r.basis, r.bureau.code.as_str()), (Basis::Address, "000000"));
    }

    #[test]
    fn the_uscc_stands_in_when_the_address_names_no_place() {
        let t = RoutingTable::builtin().unwrap();
        let r = t.route(&shop(Some("科技园路1号"), Some("91440300MA5ABCDE1X")));
        assert_eq!(r.basis, Basis::Uscc);
        assert_eq!(r.area_code.as_deref(), Some("440300"));
        assert_eq!(r.bureau.code, "4403");
    }

    #[test]
    fn nothing_known_goes_to_the_default_bureau() {
        let t = RoutingTable::builtin().unwrap();
        for s in [shop(None, None), shop(Some("某地"), Some("not-a-uscc")), shop(None, Some("91650100MA5ABCDE1X"))] {
            let r = t.route(&s);
            assert_eq!((r.basis, r.bureau.code.as_str()), (Basis::Default, "000000"), "{s:?}");
        }
    }

    #[test]
    fn a_bad_table_names_the_file_and_what_is_wrong() {
        let bad = "source = \"x\"\ndefault = { code = \"0\", name = \"d\" }\nplace = []\nbureau = [{ prefix = \"4\", name = \"x\" }]\n";
        let e = RoutingTable::parse(Path::new("r.toml"), bad).unwrap_err().to_string();
        assert!(e.contains("`r.toml`") && e.contains("bureau `4`"), "{e}");
        let e = RoutingTable::parse(Path::new("r.toml"), "source = 1").unwrap_err().to_string();
        assert!(e.contains("`r.toml`:1"), "{e}");
    }
}
