//! The rule engine: declarative red-flag rules (`rules/<id>.toml`) evaluated
//! against normalized listings, with the legal basis and the exact evidence.
//!
//! Shape (as cedar's parse → validate → evaluate split):
//! - [`spec`]: the serde shape of a rule file, `deny_unknown_fields`, spans kept;
//! - [`compile`]: one file at a time into a [`Rule`], every problem reported with
//!   file:line:col; regexes and word lists (Aho–Corasick) compiled once; a bad
//!   file is reported and skipped, the others load;
//! - [`eval`]: a [`Rule`]'s condition over an [`EvalInput`] → [`Finding`]s;
//! - [`reference`]: the catalogue, word lists, areas, certification bodies, and
//!   the importers of a certificate registry and of past spot-check results;
//! - [`ids`]: USCC, CCC, XK and SC checkers;
//! - [`score`]: precision and recall per rule over the sample marketplace.

pub mod compile;
pub mod eval;
pub mod ids;
pub mod reference;
pub mod score;
pub mod spec;
pub mod workload;

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use compile::Rule;
pub use eval::{EvalInput, Evidence, Finding, Tables};
pub use reference::{Baseline, Baselines, CheckHistory, ObservedPrice, Registry, RegistryEntry, SpotCheck};
pub use spec::{Severity, Status};

use reference::{AreasFile, BodiesFile, Catalogue, CatalogueFile, CertBody, WordList};

/// Errors of the rule engine outside rule files (those are [`Problem`]s).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read `{path}`")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("reference data is invalid:\n{0}")]
    Data(String),
    #[error("cannot build a word matcher: {0}")]
    Matcher(String),
    #[error("{what}: bad csv row {row}: {reason}")]
    Csv { what: &'static str, row: usize, reason: String },
}

pub use crate::diagnostics::Problem;

/// The shipped rule files, embedded so the binary works from anywhere.
pub const BUILTIN_RULES: &[(&str, &str)] = &[
    ("ccc.missing.toml", include_str!("../../rules/ccc.missing.toml")),
    ("ccc.malformed.toml", include_str!("../../rules/ccc.malformed.toml")),
    ("ccc.category_mismatch.toml", include_str!("../../rules/ccc.category_mismatch.toml")),
    ("ccc.invalid.toml", include_str!("../../rules/ccc.invalid.toml")),
    ("ccc.mark_misleading.toml", include_str!("../../rules/ccc.mark_misleading.toml")),
    ("ccc.new_category_deadline.toml", include_str!("../../rules/ccc.new_category_deadline.toml")),
    ("uscc.invalid.toml", include_str!("../../rules/uscc.invalid.toml")),
    ("licence.missing.toml", include_str!("../../rules/licence.missing.toml")),
    ("xk.invalid.toml", include_str!("../../rules/xk.invalid.toml")),
    ("sc.invalid.toml", include_str!("../../rules/sc.invalid.toml")),
    ("label.sanwu.toml", include_str!("../../rules/label.sanwu.toml")),
    ("ad.absolute_terms.toml", include_str!("../../rules/ad.absolute_terms.toml")),
    ("ad.medical_claims.toml", include_str!("../../rules/ad.medical_claims.toml")),
    ("price.clearly_low.toml", include_str!("../../rules/price.clearly_low.toml")),
    ("price.fake_was_price.toml", include_str!("../../rules/price.fake_was_price.toml")),
    ("shop.repeat_offender.toml", include_str!("../../rules/shop.repeat_offender.toml")),
];

/// The shipped reference data (`rules/data/`), embedded.
const BUILTIN_DATA: &[(&str, &str)] = &[
    ("ccc-catalogue.toml", include_str!("../../rules/data/ccc-catalogue.toml")),
    ("licensed-products.toml", include_str!("../../rules/data/licensed-products.toml")),
    ("absolute-terms.toml", include_str!("../../rules/data/absolute-terms.toml")),
    ("medical-claims.toml", include_str!("../../rules/data/medical-claims.toml")),
    ("areas.toml", include_str!("../../rules/data/areas.toml")),
    ("cert-bodies.toml", include_str!("../../rules/data/cert-bodies.toml")),
];

/// Reference data compiled for evaluation.
#[derive(Debug)]
pub struct Reference {
    pub catalogue: Catalogue,
    /// Word-list name (file stem) → list.
    pub word_lists: std::collections::BTreeMap<String, WordList>,
    /// GB/T 2260 province codes (2 digits).
    pub provinces: Vec<String>,
    pub bodies: Vec<CertBody>,
}

impl Reference {
    /// Loads `dir/data/<name>.toml` for each known data file, falling back to the
    /// embedded copy when the file is absent. `dir = None`: embedded only.
    pub fn load(dir: Option<&Path>) -> Result<Reference, RulesError> {
        let mut problems = Vec::new();
        let mut texts = Vec::new();
        for (name, builtin) in BUILTIN_DATA {
            let path = dir.map(|d| d.join("data").join(name));
            let text = match &path {
                Some(p) if p.exists() => {
                    std::fs::read_to_string(p).map_err(|source| RulesError::Read { path: p.clone(), source })?
                }
                _ => (*builtin).to_string(),
            };
            texts.push((path.unwrap_or_else(|| PathBuf::from("rules/data").join(name)), text));
        }
        fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str, problems: &mut Vec<String>) -> Option<T> {
            toml::from_str(text)
                .map_err(|e| {
                    let offset = e.span().map_or(0, |s| s.start).min(text.len());
                    let before = text.get(..offset).unwrap_or_default();
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    problems.push(format!("{}:{line}:{column}: {}", path.display(), e.message().trim_end()))
                })
                .ok()
        }
        let mut classes = Vec::new();
        let mut word_lists = std::collections::BTreeMap::new();
        let (mut provinces, mut bodies) = (Vec::new(), Vec::new());
        for (path, text) in &texts {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            match stem.as_str() {
                "ccc-catalogue" | "licensed-products" => {
                    if let Some(f) = parse::<CatalogueFile>(path, text, &mut problems) {
                        classes.extend(f.classes);
                    }
                }
                "areas" => {
                    if let Some(f) = parse::<AreasFile>(path, text, &mut problems) {
                        provinces = f.provinces.into_iter().map(|a| a.code).collect();
                    }
                }
                "cert-bodies" => {
                    if let Some(f) = parse::<BodiesFile>(path, text, &mut problems) {
                        bodies = f.bodies;
                    }
                }
                _ => {
                    if let Some(list) = parse::<WordList>(path, text, &mut problems) {
                        word_lists.insert(stem, list);
                    }
                }
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for c in &classes {
            if !ids.insert(c.id.as_str()) {
                problems.push(format!("rules/data: duplicate class id `{}`", c.id));
            }
            if c.keywords.iter().any(|k| k.trim().is_empty()) || c.keywords.is_empty() {
                problems.push(format!("rules/data: class `{}` needs non-empty keywords", c.id));
            }
            if c.regime == spec::Regime::Ccc
                && (c.codes.is_empty()
                    || c.codes.iter().any(|k| k.len() != 4 || !k.bytes().all(|b| b.is_ascii_digit())))
            {
                problems.push(format!("rules/data: CCC class `{}` needs 4-digit catalogue codes", c.id));
            }
        }
        if !problems.is_empty() {
            return Err(RulesError::Data(problems.join("\n")));
        }
        Ok(Reference { catalogue: Catalogue::new(classes)?, word_lists, provinces, bodies })
    }
}

/// A loaded rule set: the rules that compiled, the problems of those that did
/// not, and the reference data they use.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub problems: Vec<Problem>,
    pub reference: Reference,
    /// The default evaluation date when a listing has no capture time.
    pub reference_date: NaiveDate,
}

impl RuleSet {
    /// The shipped rules and data, embedded in the binary.
    pub fn builtin() -> Result<RuleSet, RulesError> {
        let reference = Reference::load(None)?;
        let files = BUILTIN_RULES.iter().map(|(name, text)| (PathBuf::from("rules").join(name), (*text).to_string()));
        Ok(RuleSet::from_files(files, reference))
    }

    /// Every `*.toml` in `dir` (sorted by name) with the data in `dir/data/`.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        let reference = Reference::load(Some(dir))?;
        let read = std::fs::read_dir(dir).map_err(|source| RulesError::Read { path: dir.to_path_buf(), source })?;
        let mut paths: Vec<PathBuf> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut files = Vec::new();
        let mut unread = Vec::new();
        for path in paths {
            match crate::diagnostics::read_source(&path, "rule") {
                Ok(text) => files.push((path, text)),
                Err(problem) => unread.push(problem),
            }
        }
        let mut set = RuleSet::from_files(files, reference);
        set.problems.extend(unread);
        Ok(set)
    }

    /// Compiles each file on its own: a bad file adds its problems and is skipped.
    pub fn from_files(files: impl IntoIterator<Item = (PathBuf, String)>, reference: Reference) -> RuleSet {
        let mut rules: Vec<Rule> = Vec::new();
        let mut problems = Vec::new();
        for (path, text) in files {
            match compile::compile(&path, &text, &reference) {
                Ok(rule) => {
                    if let Some(first) = rules.iter().find(|r| r.id == rule.id) {
                        problems.push(Problem {
                            file: path.clone(),
                            line: 1,
                            column: 1,
                            message: format!("duplicate rule id `{}` (also in `{}`)", rule.id, first.file.display()),
                        });
                    } else {
                        rules.push(rule);
                    }
                }
                Err(p) => problems.extend(p),
            }
        }
        let reference_date = NaiveDate::from_ymd_opt(2025, 11, 20).unwrap_or_default();
        RuleSet { rules, problems, reference, reference_date }
    }

    /// The findings of every active rule for one listing, in rule order.
    pub fn evaluate(&self, input: &EvalInput<'_>) -> Vec<Finding> {
        let ctx = eval::Ctx::new(self, input);
        self.rules.iter().filter(|r| r.status == Status::Active).filter_map(|r| r.evaluate(&ctx)).collect()
    }

    /// Evaluates a whole crawl: every listing with its shop (matched by platform
    /// and shop id) and its observed prices (by [`Listing::key`], may be empty).
    /// When `tables.baselines` is empty it is built from `listings` first.
    ///
    /// [`Listing::key`]: crate::model::Listing::key
    pub fn evaluate_all(
        &self,
        listings: &[crate::model::Listing],
        shops: &[crate::model::Shop],
        prices: &std::collections::HashMap<String, Vec<ObservedPrice>>,
        tables: &mut Tables,
        today: NaiveDate,
    ) -> Vec<Finding> {
        if tables.baselines.by_class.is_empty() {
            tables.baselines = self.baselines(listings);
        }
        let shop_by_key: std::collections::HashMap<(&str, &str), &crate::model::Shop> =
            shops.iter().map(|s| ((s.platform.as_str(), s.shop_id.as_str()), s)).collect();
        let tables: &Tables = tables;
        listings
            .iter()
            .flat_map(|listing| {
                let shop = listing
                    .shop
                    .as_ref()
                    .and_then(|r| shop_by_key.get(&(listing.platform.as_str(), r.shop_id.as_str())).copied());
                let prices = prices.get(&listing.key()).map_or(&[][..], Vec::as_slice);
                let input = EvalInput { listing, shop, checks: None, prices, tables, today };
                self.evaluate(&input)
            })
            .collect()
    }

    /// Price baselines of comparable listings (see [`Baselines`]).
    pub fn baselines<'l>(&self, listings: impl IntoIterator<Item = &'l crate::model::Listing>) -> Baselines {
        let mut prices: std::collections::BTreeMap<String, Vec<rust_decimal::Decimal>> = Default::default();
        for l in listings {
            if let (Some(price), Some(key)) = (l.price, self.class_key(l)) {
                prices.entry(key).or_default().push(price);
            }
        }
        Baselines { by_class: prices.into_iter().filter_map(|(k, v)| Baseline::of(v).map(|b| (k, b))).collect() }
    }

    /// The key comparable listings share: our class id, else the platform's category path.
    pub fn class_key(&self, listing: &crate::model::Listing) -> Option<String> {
        match self.reference.catalogue.classify(listing) {
            Some(i) => Some(self.reference.catalogue.classes[i].id.clone()),
            None => listing.category.clone(),
        }
    }

    /// Runs every rule's inline tests; returns the failures (empty: all pass).
    pub fn run_tests(&self) -> Vec<TestFailure> {
        self.rules.iter().flat_map(|r| eval::run_tests(self, r)).collect()
    }

    pub fn test_count(&self) -> usize {
        self.rules.iter().map(|r| r.tests.len()).sum()
    }
}

/// An inline test that did not pass.
#[derive(Debug, Clone)]
pub struct TestFailure {
    pub file: PathBuf,
    pub line: usize,
    pub rule: String,
    pub test: String,
    pub reason: String,
}

impl fmt::Display for TestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: rule `{}` test `{}`: {}", self.file.display(), self.line, self.rule, self.test, self.reason)
    }
}
