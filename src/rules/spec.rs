//! The serde shape of a rule file (`rules/<id>.toml`) and of the reference-data
//! files (`rules/data/*.toml`). Everything is `deny_unknown_fields`; values that
//! validation may reject carry their span so the problem points at them.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::{Listing, Shop};

use super::reference::{ObservedPrice, RegistryEntry, SpotCheck};

/// The rule header: everything but `condition` and `tests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSpec {
    pub id: Spanned<String>,
    pub version: u32,
    /// Chinese title shown to staff.
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub legal_basis: Vec<LegalBasis>,
    #[serde(default)]
    pub scope: ScopeSpec,
    /// When the rule is known to fire wrongly, and what staff should check.
    #[serde(default)]
    pub false_positives: Vec<String>,
    /// The finding's message; placeholders `{class_name}`, `{class_code}`, `{evidence}`, `{item_id}`, `{title}`.
    pub message: Spanned<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Evaluated and reported.
    Active,
    /// Evaluated in tests only; not reported.
    Draft,
    /// Kept for the record; never evaluated.
    Retired,
}

/// One legal provision the rule rests on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    pub law: String,
    pub article: String,
    /// `V` read in the statute text, `S` from a secondary source quoting it, `R` unverified.
    pub certainty: Certainty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Certainty {
    V,
    S,
    R,
}

/// Which listings a rule looks at at all.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSpec {
    /// Platform names (empty: every platform).
    #[serde(default)]
    pub platforms: Vec<String>,
    /// Only listings our catalogue classifies under one of these regimes (empty: all).
    #[serde(default)]
    pub regimes: Vec<Regime>,
    /// The rule needs the shop's data (no shop → not evaluated).
    #[serde(default)]
    pub needs_shop: bool,
}

/// How a product class is regulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    /// 强制性产品认证 (CCC).
    Ccc,
    /// 工业产品生产许可证 (XK).
    Xk,
    /// 食品生产许可证 (SC).
    Sc,
}

/// A condition: `all` / `any` / `not` over predicates. Written as a one-key table,
/// e.g. `{ field_missing = { fields = ["manufacturer"] } }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ConditionSpec {
    All(Vec<ConditionSpec>),
    Any(Vec<ConditionSpec>),
    Not(Box<ConditionSpec>),
    /// Any of the words (inline and/or a word list of `rules/data/`) occurs in
    /// one of the fields, and the occurrence is not part of an exception phrase.
    TextContainsAny {
        fields: Vec<Spanned<String>>,
        #[serde(default)]
        words: Vec<String>,
        #[serde(default)]
        list: Option<Spanned<String>>,
        #[serde(default)]
        except: Vec<String>,
    },
    /// The regex matches one of the fields.
    Regex {
        fields: Vec<Spanned<String>>,
        pattern: Spanned<String>,
    },
    /// Every one of the fields is absent or blank.
    FieldMissing {
        fields: Vec<Spanned<String>>,
    },
    /// A numeric field compared with a value.
    Compare {
        field: Spanned<String>,
        op: CompareOp,
        value: Decimal,
    },
    /// The listing is classified in the catalogue (under `regime`, if given), and
    /// the class is in force on the evaluation date. `new_category`: only classes
    /// with a `mandatory_from` date (newly added to the catalogue).
    InCatalogue {
        #[serde(default)]
        regime: Option<Regime>,
        #[serde(default)]
        new_category: bool,
    },
    /// An identifier the listing or its shop shows fails its format.
    IdentifierInvalid {
        kind: IdentifierKind,
    },
    /// A well-formed CCC number whose registry entry has one of `statuses`, is past
    /// its expiry, or (with `unknown = true`) is absent. Without a registry: no match.
    CertificateStatus {
        statuses: Vec<String>,
        #[serde(default)]
        unknown: bool,
        #[serde(default)]
        expired: bool,
    },
    /// Price below `ratio` × the median of comparable listings and at least
    /// `min_robust_z` robust z-scores (0.6745·(median − price)/MAD) below it,
    /// when the class has at least `min_sample` prices.
    PriceBelowBaseline {
        ratio: Decimal,
        min_sample: usize,
        min_robust_z: Decimal,
    },
    /// The shown original price is above the lowest price observed in the `days` before the evaluation date.
    PriceAboveRecentLow {
        days: u32,
    },
    /// The shop's USCC has spot-check `result`s in at least `min_years` distinct calendar
    /// years among the `window_years` years up to the evaluation date's year.
    ShopHistory {
        result: String,
        min_years: usize,
        window_years: i32,
    },
    /// The evaluation date is on or after `from`: a date `YYYY-MM-DD`, or
    /// `"catalogue"` for the listing's class's `mandatory_from`.
    DateEffective {
        from: Spanned<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum CompareOp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// The shop's USCC fails GB 32100-2015.
    Uscc,
    /// A CCC number that is not 16 digits of year + body + catalogue code + serial.
    CccFormat,
    /// A well-formed CCC number whose catalogue code is not one of the listing's class.
    CccClass,
    /// An XK number that is not `XK##-###-#####` (optionally with a province prefix).
    Xk,
    /// An SC number that is not `SC` + 14 digits with a valid food category and province.
    Sc,
}

/// One inline test: a listing (and optionally its shop, history, registry rows,
/// baseline, date) that the rule must match or must not match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: Spanned<String>,
    pub expect: Expect,
    pub listing: Listing,
    #[serde(default)]
    pub shop: Option<Shop>,
    #[serde(default)]
    pub checks: Vec<SpotCheck>,
    #[serde(default)]
    pub prices: Vec<ObservedPrice>,
    #[serde(default)]
    pub registry: Vec<RegistryEntry>,
    /// Prices of comparable listings (same class), for `price_below_baseline`.
    #[serde(default)]
    pub comparable_prices: Vec<Decimal>,
    /// The evaluation date (default: the rule set's reference date).
    #[serde(default)]
    pub today: Option<String>,
    /// For `expect = "match"`: texts the evidence must contain.
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Match,
    NoMatch,
}
