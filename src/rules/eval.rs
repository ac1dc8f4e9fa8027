//! Evaluation: a compiled condition over one listing (with its shop, history
//! and the imported tables) → a [`Finding`] with the exact evidence.
//!
//! Per listing the classification (one Aho–Corasick pass over title and
//! category) is computed once and shared by all rules.

use std::borrow::Cow;
use std::collections::BTreeSet;

use aho_corasick::AhoCorasick;
use chrono::{Datelike, NaiveDate};
use regex::Regex;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{CertificateKind, Listing, Shop};

use super::compile::{MessagePart, Rule};
use super::ids::{parse_ccc, sc_is_well_formed, uscc_problem, xk_is_well_formed};
use super::reference::{Baseline, Baselines, CatalogueClass, CheckHistory, ObservedPrice, Registry, SpotCheck};
use super::spec::{CompareOp, Expect, IdentifierKind, Regime, Severity};
use super::{RuleSet, TestFailure};

/// Imported tables shared by every evaluation.
#[derive(Debug, Default)]
pub struct Tables {
    pub registry: Option<Registry>,
    pub history: Option<CheckHistory>,
    pub baselines: Baselines,
}

/// What one evaluation looks at.
#[derive(Debug, Clone, Copy)]
pub struct EvalInput<'a> {
    pub listing: &'a Listing,
    pub shop: Option<&'a Shop>,
    /// Past spot checks of the shop's operator; `None`: look them up in `tables.history` by USCC.
    pub checks: Option<&'a [SpotCheck]>,
    /// Prices observed for this item (date → price).
    pub prices: &'a [ObservedPrice],
    pub tables: &'a Tables,
    /// The evaluation date (what "today" is for dates, deadlines and windows).
    pub today: NaiveDate,
}

/// One red flag raised by one rule on one listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub version: u32,
    pub severity: Severity,
    pub title: String,
    pub message: String,
    /// `law article` of each legal basis.
    pub legal_basis: Vec<String>,
    pub listing: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_id: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// The field and the exact text that triggered a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Field path, e.g. `title`, `specs.认证`, `shop.uscc`, `certificates.ccc`.
    pub field: String,
    /// The matched text (for a missing field: empty).
    pub text: String,
    /// Byte range of `text` in the field's value, when it is a part of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<[usize; 2]>,
    /// Why, when the text alone does not say it (e.g. `registry status 撤销`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Evidence {
    fn whole(field: impl Into<String>, text: impl Into<String>, note: Option<String>) -> Evidence {
        Evidence { field: field.into(), text: text.into(), span: None, note }
    }
}

/// A field a predicate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Title,
    Description,
    Category,
    Brand,
    Model,
    Manufacturer,
    ManufacturerAddress,
    /// One spec row by key.
    Spec(String),
    /// Every spec row's value.
    AllSpecs,
    Certificates(CertificateKind),
    ShopName,
    ShopOperator,
    ShopUscc,
    ShopLicence,
    ShopAddress,
    Num(NumField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumField {
    Price,
    OriginalPrice,
    Sales,
    Stock,
}

impl Field {
    pub fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "title" => Field::Title,
            "description" => Field::Description,
            "category" => Field::Category,
            "brand" => Field::Brand,
            "model" => Field::Model,
            "manufacturer" => Field::Manufacturer,
            "manufacturer_address" => Field::ManufacturerAddress,
            "specs.*" => Field::AllSpecs,
            "certificates.ccc" => Field::Certificates(CertificateKind::Ccc),
            "certificates.xk" => Field::Certificates(CertificateKind::Xk),
            "certificates.sc" => Field::Certificates(CertificateKind::Sc),
            "certificates.qs" => Field::Certificates(CertificateKind::Qs),
            "shop.name" => Field::ShopName,
            "shop.operator_name" => Field::ShopOperator,
            "shop.uscc" => Field::ShopUscc,
            "shop.licence_text" => Field::ShopLicence,
            "shop.address" => Field::ShopAddress,
            "price" => Field::Num(NumField::Price),
            "original_price" => Field::Num(NumField::OriginalPrice),
            "sales" => Field::Num(NumField::Sales),
            "stock" => Field::Num(NumField::Stock),
            other => match other.strip_prefix("specs.") {
                Some(key) if !key.is_empty() => Field::Spec(key.to_string()),
                _ => return None,
            },
        })
    }

    fn is_shop(&self) -> bool {
        matches!(
            self,
            Field::ShopName | Field::ShopOperator | Field::ShopUscc | Field::ShopLicence | Field::ShopAddress
        )
    }

    /// Calls `f(label, text)` for each value of the field; the label is built only when asked for.
    fn each<'a>(&self, l: &'a Listing, shop: Option<&'a Shop>, mut f: impl FnMut(Label<'a>, &'a str)) {
        let mut one = |label: &'static str, v: Option<&'a String>| {
            if let Some(v) = v {
                f(Label::Fixed(label), v);
            }
        };
        match self {
            Field::Title => one("title", l.title.as_ref()),
            Field::Description => one("description", l.description.as_ref()),
            Field::Category => one("category", l.category.as_ref()),
            Field::Brand => one("brand", l.brand.as_ref()),
            Field::Model => one("model", l.model.as_ref()),
            Field::Manufacturer => one("manufacturer", l.manufacturer.as_ref()),
            Field::ManufacturerAddress => one("manufacturer_address", l.manufacturer_address.as_ref()),
            Field::ShopName => one("shop.name", shop.and_then(|s| s.name.as_ref())),
            Field::ShopOperator => one("shop.operator_name", shop.and_then(|s| s.operator_name.as_ref())),
            Field::ShopUscc => one("shop.uscc", shop.and_then(|s| s.uscc.as_ref())),
            Field::ShopLicence => one("shop.licence_text", shop.and_then(|s| s.licence_text.as_ref())),
            Field::ShopAddress => one("shop.address", shop.and_then(|s| s.address.as_ref())),
            Field::Spec(key) => {
                if let Some((k, v)) = l.specs.get_key_value(key) {
                    f(Label::Spec(k), v);
                }
            }
            Field::AllSpecs => {
                for (k, v) in &l.specs {
                    f(Label::Spec(k), v);
                }
            }
            Field::Certificates(kind) => {
                for c in l.certificates.iter().filter(|c| c.kind == *kind) {
                    f(Label::Certificate(*kind), &c.number);
                }
            }
            Field::Num(_) => {}
        }
    }

    fn label(&self) -> String {
        match self {
            Field::Title => "title".into(),
            Field::Description => "description".into(),
            Field::Category => "category".into(),
            Field::Brand => "brand".into(),
            Field::Model => "model".into(),
            Field::Manufacturer => "manufacturer".into(),
            Field::ManufacturerAddress => "manufacturer_address".into(),
            Field::Spec(k) => format!("specs.{k}"),
            Field::AllSpecs => "specs.*".into(),
            Field::Certificates(k) => format!("certificates.{}", k.as_str()),
            Field::ShopName => "shop.name".into(),
            Field::ShopOperator => "shop.operator_name".into(),
            Field::ShopUscc => "shop.uscc".into(),
            Field::ShopLicence => "shop.licence_text".into(),
            Field::ShopAddress => "shop.address".into(),
            Field::Num(n) => match n {
                NumField::Price => "price",
                NumField::OriginalPrice => "original_price",
                NumField::Sales => "sales",
                NumField::Stock => "stock",
            }
            .into(),
        }
    }
}

/// A field value's name in evidence, rendered only for a match.
#[derive(Debug, Clone, Copy)]
pub enum Label<'a> {
    Fixed(&'static str),
    Spec(&'a str),
    Certificate(CertificateKind),
}

impl Label<'_> {
    fn render(self) -> String {
        match self {
            Label::Fixed(s) => s.to_string(),
            Label::Spec(k) => format!("specs.{k}"),
            Label::Certificate(k) => format!("certificates.{}", k.as_str()),
        }
    }
}

/// How a text predicate matches.
#[derive(Debug)]
pub enum TextMatcher {
    /// Patterns `0..terms` are terms, the rest exceptions; leftmost-longest, so an
    /// exception phrase that contains a term at the same start ("最佳使用时间" ⊃ "最佳") wins.
    Words {
        ac: AhoCorasick,
        terms: usize,
    },
    Regex(Regex),
}

#[derive(Debug, Clone, Copy)]
pub enum DateFrom {
    Date(NaiveDate),
    Catalogue,
}

/// A compiled condition.
#[derive(Debug)]
pub enum Pred {
    All(Vec<Pred>),
    Any(Vec<Pred>),
    Not(Box<Pred>),
    Text { fields: Vec<Field>, matcher: TextMatcher },
    Missing(Vec<Field>),
    Compare { field: NumField, op: CompareOp, value: Decimal },
    InCatalogue { regime: Option<Regime>, new_category: bool },
    IdentifierInvalid(IdentifierKind),
    CertificateStatus { statuses: Vec<String>, unknown: bool, expired: bool },
    PriceBelowBaseline { ratio: Decimal, min_sample: usize, min_robust_z: Decimal },
    PriceAboveRecentLow { days: u32 },
    ShopHistory { result: String, min_years: usize, window_years: i32 },
    DateEffective(DateFrom),
}

/// Per-listing state shared by all rules.
pub struct Ctx<'a> {
    set: &'a RuleSet,
    input: &'a EvalInput<'a>,
    class: Option<&'a CatalogueClass>,
    class_key: Option<Cow<'a, str>>,
}

impl<'a> Ctx<'a> {
    pub fn new(set: &'a RuleSet, input: &'a EvalInput<'a>) -> Ctx<'a> {
        let class = set.reference.catalogue.classify(input.listing).map(|i| &set.reference.catalogue.classes[i]);
        let class_key = match class {
            Some(c) => Some(Cow::Borrowed(c.id.as_str())),
            None => input.listing.category.as_deref().map(Cow::Borrowed),
        };
        Ctx { set, input, class, class_key }
    }

    /// The class, when it is in force on the evaluation date.
    fn class_in_force(&self) -> Option<&'a CatalogueClass> {
        self.class.filter(|c| c.mandatory_from.is_none_or(|from| self.input.today >= from))
    }

    fn checks(&self) -> &'a [SpotCheck] {
        if let Some(c) = self.input.checks {
            return c;
        }
        match (self.input.shop.and_then(|s| s.uscc.as_deref()), &self.input.tables.history) {
            (Some(uscc), Some(h)) => h.for_uscc(uscc),
            _ => &[],
        }
    }

    fn baseline(&self) -> Option<&'a Baseline> {
        self.input.tables.baselines.by_class.get(self.class_key.as_deref()?)
    }
}

type Matched = Option<Vec<Evidence>>;

impl Pred {
    fn eval(&self, ctx: &Ctx<'_>) -> Matched {
        let input = ctx.input;
        let l = input.listing;
        match self {
            Pred::All(items) => {
                let mut evidence = Vec::new();
                for p in items {
                    evidence.extend(p.eval(ctx)?);
                }
                Some(evidence)
            }
            Pred::Any(items) => {
                // Every matching branch's evidence, so the finding shows all reasons.
                let mut matched: Option<Vec<Evidence>> = None;
                for p in items {
                    if let Some(e) = p.eval(ctx) {
                        matched.get_or_insert_with(Vec::new).extend(e);
                    }
                }
                matched
            }
            Pred::Not(inner) => match inner.eval(ctx) {
                Some(_) => None,
                None => Some(Vec::new()),
            },
            Pred::Text { fields, matcher } => {
                let mut evidence = Vec::new();
                for field in fields {
                    field.each(l, input.shop, |label, text| {
                        if let Some((s, e)) = matcher.find(text) {
                            evidence.push(Evidence {
                                field: label.render(),
                                text: text[s..e].to_string(),
                                span: Some([s, e]),
                                note: None,
                            });
                        }
                    });
                }
                (!evidence.is_empty()).then_some(evidence)
            }
            Pred::Missing(fields) => {
                for field in fields {
                    if field.is_shop() && input.shop.is_none() {
                        return None; // unknown, not missing
                    }
                    let mut present = false;
                    field.each(l, input.shop, |_, text| present |= !text.trim().is_empty());
                    if let Field::Num(n) = field {
                        present = num(l, *n).is_some();
                    }
                    if present {
                        return None;
                    }
                }
                Some(fields.iter().map(|f| Evidence::whole(f.label(), "", Some("absent".into()))).collect())
            }
            Pred::Compare { field, op, value } => {
                let v = num(l, *field)?;
                let hit = match op {
                    CompareOp::Lt => v < *value,
                    CompareOp::Le => v <= *value,
                    CompareOp::Gt => v > *value,
                    CompareOp::Ge => v >= *value,
                    CompareOp::Eq => v == *value,
                };
                hit.then(|| vec![Evidence::whole(Field::Num(*field).label(), v.to_string(), None)])
            }
            Pred::InCatalogue { regime, new_category } => {
                let class = ctx.class_in_force()?;
                let ok = regime.is_none_or(|r| r == class.regime) && (!new_category || class.mandatory_from.is_some());
                ok.then(|| {
                    let mut note = format!("classified as {} ({})", class.name, class.codes.join("/"));
                    if let Some(from) = class.mandatory_from {
                        note.push_str(&format!(", mandatory from {from}"));
                    }
                    let text = l.title.clone().unwrap_or_default();
                    vec![Evidence::whole("title", text, Some(note))]
                })
            }
            Pred::IdentifierInvalid(kind) => identifier_invalid(ctx, *kind),
            Pred::CertificateStatus { statuses, unknown, expired } => {
                let registry = input.tables.registry.as_ref()?;
                let max_year = input.today.year() as u32;
                let mut evidence = Vec::new();
                for c in l.certificates.iter().filter(|c| c.kind == CertificateKind::Ccc) {
                    if parse_ccc(&c.number, max_year).is_none() {
                        continue;
                    }
                    let note = match registry.get(&c.number) {
                        None if *unknown => Some("absent from the certificate registry".to_string()),
                        None => None,
                        Some(e) if statuses.contains(&e.status) => {
                            Some(format!("registry status {} (holder {})", e.status, e.holder))
                        }
                        Some(e) if *expired && expired_on(&e.expiry, input.today) => {
                            Some(format!("registry expiry {} before {}", e.expiry, input.today))
                        }
                        Some(_) => None,
                    };
                    if let Some(note) = note {
                        evidence.push(Evidence::whole("certificates.ccc", c.number.clone(), Some(note)));
                    }
                }
                (!evidence.is_empty()).then_some(evidence)
            }
            Pred::PriceBelowBaseline { ratio, min_sample, min_robust_z } => {
                let price = l.price?;
                let b = ctx.baseline()?;
                if b.sample < *min_sample || price >= b.median * ratio {
                    return None;
                }
                let z_ok = b.mad.is_zero() || Decimal::new(6745, 4) * (b.median - price) / b.mad >= *min_robust_z;
                z_ok.then(|| {
                    let note = format!(
                        "class median {} (MAD {}, n = {}), threshold {} × median",
                        b.median, b.mad, b.sample, ratio
                    );
                    vec![Evidence::whole("price", price.to_string(), Some(note))]
                })
            }
            Pred::PriceAboveRecentLow { days } => {
                let was = l.original_price?;
                let since = input.today - chrono::Days::new(u64::from(*days));
                // Prices observed by us (earlier crawls) and those the page itself shows.
                let observed = input.prices.iter().map(|p| (p.date.as_str(), p.price));
                let shown = l.price_history.iter().map(|(date, price)| (date.as_str(), *price));
                let (low_date, low_price) = observed
                    .chain(shown)
                    .filter(|(date, _)| {
                        NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok_and(|d| d >= since && d < input.today)
                    })
                    .min_by_key(|(_, price)| *price)?;
                (was > low_price).then(|| {
                    let note =
                        format!("lowest price in the {days} days before {}: {low_price} on {low_date}", input.today);
                    vec![Evidence::whole("original_price", was.to_string(), Some(note))]
                })
            }
            Pred::ShopHistory { result, min_years, window_years } => {
                let last = input.today.year();
                let first = last - window_years + 1;
                let years: BTreeSet<i32> = ctx
                    .checks()
                    .iter()
                    .filter(|c| c.result == *result)
                    .filter_map(|c| NaiveDate::parse_from_str(&c.date, "%Y-%m-%d").ok())
                    .filter(|d| *d <= input.today)
                    .map(|d| d.year())
                    .filter(|y| (first..=last).contains(y))
                    .collect();
                (years.len() >= *min_years).then(|| {
                    let list: Vec<String> = years.iter().map(i32::to_string).collect();
                    let uscc = input.shop.and_then(|s| s.uscc.clone()).unwrap_or_default();
                    vec![Evidence::whole(
                        "shop.uscc",
                        uscc,
                        Some(format!("{result} in {} ({first}–{last})", list.join(", "))),
                    )]
                })
            }
            Pred::DateEffective(from) => {
                let date = match from {
                    DateFrom::Date(d) => *d,
                    DateFrom::Catalogue => ctx.class?.mandatory_from?,
                };
                (input.today >= date).then(Vec::new)
            }
        }
    }
}

impl TextMatcher {
    /// The first term occurrence (byte range) that is not part of an exception.
    fn find(&self, text: &str) -> Option<(usize, usize)> {
        match self {
            TextMatcher::Words { ac, terms } => {
                ac.find_iter(text).find(|m| m.pattern().as_usize() < *terms).map(|m| (m.start(), m.end()))
            }
            TextMatcher::Regex(re) => re.find(text).map(|m| (m.start(), m.end())),
        }
    }
}

fn num(l: &Listing, f: NumField) -> Option<Decimal> {
    match f {
        NumField::Price => l.price,
        NumField::OriginalPrice => l.original_price,
        NumField::Sales => l.sales.map(Decimal::from),
        NumField::Stock => l.stock.map(Decimal::from),
    }
}

fn expired_on(expiry: &str, today: NaiveDate) -> bool {
    NaiveDate::parse_from_str(expiry.trim(), "%Y-%m-%d").is_ok_and(|d| d < today)
}

fn identifier_invalid(ctx: &Ctx<'_>, kind: IdentifierKind) -> Matched {
    let input = ctx.input;
    let l = input.listing;
    let provinces = &ctx.set.reference.provinces;
    let max_year = input.today.year() as u32;
    let numbers = |k: CertificateKind| l.certificates.iter().filter(move |c| c.kind == k);
    let field = |k: CertificateKind| format!("certificates.{}", k.as_str());
    let evidence: Vec<Evidence> = match kind {
        IdentifierKind::Uscc => {
            let uscc = input.shop?.uscc.as_deref()?;
            let problem = uscc_problem(uscc, provinces)?;
            vec![Evidence::whole("shop.uscc", uscc, Some(problem.describe().to_string()))]
        }
        IdentifierKind::CccFormat => numbers(CertificateKind::Ccc)
            .filter(|c| parse_ccc(&c.number, max_year).is_none())
            .map(|c| {
                Evidence::whole(
                    field(c.kind),
                    c.number.clone(),
                    Some("not year(4)+body(2)+catalogue code(4)+serial(6)".into()),
                )
            })
            .collect(),
        IdentifierKind::CccClass => {
            let class = ctx.class.filter(|c| c.regime == Regime::Ccc)?;
            numbers(CertificateKind::Ccc)
                .filter_map(|c| {
                    let code = parse_ccc(&c.number, max_year)?.catalogue_code;
                    (!class.codes.iter().any(|k| k == code)).then(|| {
                        let note = format!("catalogue code {code} is not {} ({})", class.name, class.codes.join("/"));
                        Evidence { field: field(c.kind), text: code.to_string(), span: Some([6, 10]), note: Some(note) }
                    })
                })
                .collect()
        }
        IdentifierKind::Xk => numbers(CertificateKind::Xk)
            .filter(|c| !xk_is_well_formed(&c.number))
            .map(|c| Evidence::whole(field(c.kind), c.number.clone(), Some("not XK##-###-#####".into())))
            .collect(),
        IdentifierKind::Sc => numbers(CertificateKind::Sc)
            .filter(|c| !sc_is_well_formed(&c.number, provinces))
            .map(|c| {
                Evidence::whole(
                    field(c.kind),
                    c.number.clone(),
                    Some("not SC + 14 digits (category 01–31, province)".into()),
                )
            })
            .collect(),
    };
    (!evidence.is_empty()).then_some(evidence)
}

impl Rule {
    /// The finding of this rule for the listing in `ctx`, if its scope and condition hold.
    pub(super) fn evaluate(&self, ctx: &Ctx<'_>) -> Option<Finding> {
        let input = ctx.input;
        if self.needs_shop && input.shop.is_none() {
            return None;
        }
        if !self.platforms.is_empty() && !self.platforms.contains(&input.listing.platform) {
            return None;
        }
        if !self.regimes.is_empty() && !ctx.class_in_force().is_some_and(|c| self.regimes.contains(&c.regime)) {
            return None;
        }
        let evidence = self.condition.eval(ctx)?;
        Some(Finding {
            rule: self.id.clone(),
            version: self.version,
            severity: self.severity,
            title: self.title.clone(),
            message: self.render(ctx, &evidence),
            legal_basis: self.legal_basis.iter().map(|b| format!("{} {}", b.law, b.article)).collect(),
            listing: input.listing.key(),
            capture_id: input.listing.capture_id.clone(),
            evidence,
        })
    }

    fn render(&self, ctx: &Ctx<'_>, evidence: &[Evidence]) -> String {
        let mut out = String::new();
        for part in &self.message {
            match part {
                MessagePart::Text(t) => out.push_str(t),
                MessagePart::ClassName => out.push_str(ctx.class.map_or("未分类", |c| c.name.as_str())),
                MessagePart::ClassCode => out.push_str(&ctx.class.map(|c| c.codes.join("/")).unwrap_or_default()),
                MessagePart::ItemId => out.push_str(&ctx.input.listing.item_id),
                MessagePart::Title => out.push_str(ctx.input.listing.title.as_deref().unwrap_or_default()),
                MessagePart::Evidence => {
                    let shown: Vec<String> = evidence
                        .iter()
                        .filter(|e| !e.text.is_empty() || e.note.is_some())
                        .map(|e| match (&e.note, e.text.is_empty()) {
                            (Some(n), true) => format!("{}: {n}", e.field),
                            (Some(n), false) => format!("{}「{}」({n})", e.field, e.text),
                            (None, _) => format!("{}「{}」", e.field, e.text),
                        })
                        .collect();
                    out.push_str(&shown.join("；"));
                }
            }
        }
        out
    }
}

/// Runs `rule`'s inline tests against `set`'s reference data.
pub(super) fn run_tests(set: &RuleSet, rule: &Rule) -> Vec<TestFailure> {
    let mut failures = Vec::new();
    for (line, t) in &rule.tests {
        let fail = |reason: String| TestFailure {
            file: rule.file.clone(),
            line: *line,
            rule: rule.id.clone(),
            test: t.name.get_ref().clone(),
            reason,
        };
        let today = t
            .today
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or(set.reference_date);
        let mut tables = Tables {
            registry: (!t.registry.is_empty()).then(|| Registry::new(t.registry.iter().cloned())),
            ..Tables::default()
        };
        if let (false, Some(key)) = (t.comparable_prices.is_empty(), set.class_key(&t.listing)) {
            if let Some(b) = Baseline::of(t.comparable_prices.clone()) {
                tables.baselines.by_class.insert(key, b);
            }
        }
        let input = EvalInput {
            listing: &t.listing,
            shop: t.shop.as_ref(),
            checks: Some(&t.checks),
            prices: &t.prices,
            tables: &tables,
            today,
        };
        let ctx = Ctx::new(set, &input);
        let finding = rule.evaluate(&ctx);
        match (t.expect, finding) {
            (Expect::Match, None) => failures.push(fail("expected a match, got none".into())),
            (Expect::NoMatch, Some(f)) => failures.push(fail(format!("expected no match, got: {}", f.message))),
            (Expect::Match, Some(f)) => {
                for want in &t.evidence {
                    if !f.evidence.iter().any(|e| e.text.contains(want.as_str()) || e.field == *want) {
                        failures.push(fail(format!("evidence lacks `{want}`: {}", f.message)));
                    }
                }
            }
            (Expect::NoMatch, None) => {}
        }
    }
    failures
}
