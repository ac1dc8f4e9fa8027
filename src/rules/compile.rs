//! One rule file → a compiled [`Rule`], or every problem it has with file:line:col.
//!
//! The TOML is parsed into a spanned tree; the header, the condition and each
//! `[[tests]]` entry are deserialized on their own so a shape error in one does
//! not hide the others; then names, regexes, word lists, dates and message
//! placeholders are checked and compiled once.

use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use chrono::NaiveDate;
use regex::Regex;
use rust_decimal::Decimal;
use toml::de::DeValue;
use toml::Spanned;

use super::eval::{DateFrom, Field, Pred, TextMatcher};
use super::spec::{ConditionSpec, HeaderSpec, LegalBasis, Regime, Severity, Status, TestSpec};
use super::{Problem, Reference};
use crate::diagnostics::Diagnostics;

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub legal_basis: Vec<LegalBasis>,
    pub false_positives: Vec<String>,
    pub platforms: Vec<String>,
    pub regimes: Vec<Regime>,
    pub needs_shop: bool,
    pub(super) message: Vec<MessagePart>,
    pub(super) condition: Pred,
    pub tests: Vec<(usize, TestSpec)>,
    pub file: PathBuf,
}

/// A piece of the message template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MessagePart {
    Text(String),
    ClassName,
    ClassCode,
    Evidence,
    ItemId,
    Title,
}

/// Parse, validate and compile one rule file.
pub fn compile(file: &Path, src: &str, reference: &Reference) -> Result<Rule, Vec<Problem>> {
    let mut d = Diagnostics::new(file, src);
    let Some(root) = d.parse() else {
        return Err(d.problems);
    };
    let root_span = root.span();
    let mut table = root.into_inner();
    let condition = table.remove("condition");
    let tests = table.remove("tests");
    let header: Option<HeaderSpec> = d.de(Spanned::new(root_span.clone(), DeValue::Table(table)));

    let condition = match condition {
        None => {
            d.at(root_span.start..root_span.start, "missing `condition`");
            None
        }
        Some(value) => {
            let spec: Option<ConditionSpec> = d.de(value);
            spec.and_then(|s| compile_condition(&mut d, s, reference))
        }
    };

    let mut compiled_tests = Vec::new();
    match tests {
        None => d.at(
            root_span.start..root_span.start,
            "a rule needs inline `[[tests]]` (at least one `match` and one `no_match`)",
        ),
        Some(value) => {
            let span = value.span();
            match value.into_inner() {
                DeValue::Array(items) => {
                    for item in items {
                        let line = d.line_of(item.span().start).0;
                        if let Some(t) = d.de::<TestSpec>(item) {
                            if let Some(today) = &t.today {
                                if NaiveDate::parse_from_str(today, "%Y-%m-%d").is_err() {
                                    d.at(t.name.span(), format!("bad `today` date `{today}`: use YYYY-MM-DD"));
                                }
                            }
                            compiled_tests.push((line, t));
                        }
                    }
                }
                _ => d.at(span, "`tests` must be an array of tables (`[[tests]]`)"),
            }
        }
    }

    let mut message = Vec::new();
    if let Some(h) = &header {
        check_header(&mut d, h, file);
        message = parse_message(&mut d, &h.message);
        let kinds = |e| compiled_tests.iter().any(|(_, t): &(usize, TestSpec)| t.expect == e);
        if !compiled_tests.is_empty() && (!kinds(super::spec::Expect::Match) || !kinds(super::spec::Expect::NoMatch)) {
            d.at(h.id.span(), "inline tests must include at least one `match` and one `no_match` (a near-miss)");
        }
    }

    match (header, condition) {
        (Some(h), Some(condition)) if d.problems.is_empty() => Ok(Rule {
            id: h.id.into_inner(),
            version: h.version,
            title: h.title,
            severity: h.severity,
            status: h.status,
            legal_basis: h.legal_basis,
            false_positives: h.false_positives,
            platforms: h.scope.platforms,
            regimes: h.scope.regimes,
            needs_shop: h.scope.needs_shop,
            message,
            condition,
            tests: compiled_tests,
            file: file.to_path_buf(),
        }),
        _ => Err(d.problems),
    }
}

fn check_header(d: &mut Diagnostics<'_>, h: &HeaderSpec, file: &Path) {
    let id = h.id.get_ref();
    let good_id = !id.is_empty()
        && id
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
    if !good_id {
        d.at(h.id.span(), format!("bad rule id `{id}`: use dotted lowercase words like `ccc.missing`"));
    } else if file.file_stem().and_then(|s| s.to_str()).is_some_and(|stem| stem != id) {
        d.at(h.id.span(), format!("rule id `{id}` does not match the file name `{}`", file.display()));
    }
    if h.version == 0 {
        d.at(h.id.span(), "`version` starts at 1");
    }
    if h.legal_basis.is_empty() {
        d.at(h.id.span(), "a rule needs at least one `[[legal_basis]]`");
    }
    if h.title.is_ascii() {
        d.at(h.id.span(), "`title` must be Chinese (what staff read)");
    }
}

fn parse_message(d: &mut Diagnostics<'_>, message: &Spanned<String>) -> Vec<MessagePart> {
    let mut parts = Vec::new();
    let mut rest = message.get_ref().as_str();
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(MessagePart::Text(rest[..open].to_string()));
        }
        let Some(close) = rest[open..].find('}') else {
            d.at(message.span(), "unclosed `{` in `message`");
            return parts;
        };
        let name = &rest[open + 1..open + close];
        parts.push(match name {
            "class_name" => MessagePart::ClassName,
            "class_code" => MessagePart::ClassCode,
            "evidence" => MessagePart::Evidence,
            "item_id" => MessagePart::ItemId,
            "title" => MessagePart::Title,
            other => {
                d.at(
                    message.span(),
                    format!("unknown placeholder `{{{other}}}` in `message` (known: class_name, class_code, evidence, item_id, title)"),
                );
                MessagePart::Text(String::new())
            }
        });
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(MessagePart::Text(rest.to_string()));
    }
    parts
}

fn fields(d: &mut Diagnostics<'_>, names: &[Spanned<String>], numeric: bool) -> Vec<Field> {
    if names.is_empty() {
        d.at(0..0, "`fields` must not be empty");
    }
    names
        .iter()
        .filter_map(|n| match Field::parse(n.get_ref()) {
            Some(f) if numeric || !matches!(f, Field::Num(_)) => Some(f),
            _ => {
                d.at(n.span(), format!("unknown field `{}` (see the field list in rules/README.md)", n.get_ref()));
                None
            }
        })
        .collect()
}

fn compile_condition(d: &mut Diagnostics<'_>, spec: ConditionSpec, reference: &Reference) -> Option<Pred> {
    let list = |d: &mut Diagnostics<'_>, items: Vec<ConditionSpec>| -> Option<Vec<Pred>> {
        let n = items.len();
        let out: Vec<Pred> = items.into_iter().filter_map(|c| compile_condition(d, c, reference)).collect();
        (out.len() == n).then_some(out)
    };
    Some(match spec {
        ConditionSpec::All(items) => Pred::All(list(d, items)?),
        ConditionSpec::Any(items) => Pred::Any(list(d, items)?),
        ConditionSpec::Not(inner) => Pred::Not(Box::new(compile_condition(d, *inner, reference)?)),
        ConditionSpec::TextContainsAny { fields: names, mut words, list: word_list, mut except } => {
            let fields = fields(d, &names, false);
            if let Some(name) = &word_list {
                match reference.word_lists.get(name.get_ref()) {
                    Some(l) => {
                        words.extend(l.terms.iter().cloned());
                        except.extend(l.exceptions.iter().cloned());
                    }
                    None => {
                        let known: Vec<&str> = reference.word_lists.keys().map(String::as_str).collect();
                        d.at(
                            name.span(),
                            format!("unknown word list `{}` (known: {})", name.get_ref(), known.join(", ")),
                        );
                        return None;
                    }
                }
            }
            if words.is_empty() || words.iter().chain(&except).any(|w| w.trim().is_empty()) {
                d.at(
                    names.first().map_or(0..0, |n| n.span()),
                    "`text_contains_any` needs non-empty `words` or a `list`",
                );
                return None;
            }
            let terms = words.len();
            let patterns: Vec<String> = words.into_iter().chain(except).collect();
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&patterns);
            match ac {
                Ok(ac) => Pred::Text { fields, matcher: TextMatcher::Words { ac, terms } },
                Err(e) => {
                    d.at(names.first().map_or(0..0, |n| n.span()), format!("cannot build the word matcher: {e}"));
                    return None;
                }
            }
        }
        ConditionSpec::Regex { fields: names, pattern } => {
            let fields = fields(d, &names, false);
            match Regex::new(pattern.get_ref()) {
                Ok(re) => Pred::Text { fields, matcher: TextMatcher::Regex(re) },
                Err(e) => {
                    let reason = e.to_string().lines().last().unwrap_or_default().trim().to_string();
                    d.at(pattern.span(), format!("bad regex `{}`: {reason}", pattern.get_ref()));
                    return None;
                }
            }
        }
        ConditionSpec::FieldMissing { fields: names } => Pred::Missing(fields(d, &names, true)),
        ConditionSpec::Compare { field, op, value } => match Field::parse(field.get_ref()) {
            Some(Field::Num(f)) => Pred::Compare { field: f, op, value },
            _ => {
                d.at(
                    field.span(),
                    format!("`{}` is not a numeric field (price, original_price, sales, stock)", field.get_ref()),
                );
                return None;
            }
        },
        ConditionSpec::InCatalogue { regime, new_category } => Pred::InCatalogue { regime, new_category },
        ConditionSpec::IdentifierInvalid { kind } => Pred::IdentifierInvalid(kind),
        ConditionSpec::CertificateStatus { statuses, unknown, expired } => {
            Pred::CertificateStatus { statuses, unknown, expired }
        }
        ConditionSpec::PriceBelowBaseline { ratio, min_sample, min_robust_z } => {
            if ratio <= Decimal::ZERO || ratio >= Decimal::ONE {
                d.at(0..0, format!("`ratio` must lie between 0 and 1, not {ratio}"));
                return None;
            }
            Pred::PriceBelowBaseline { ratio, min_sample: min_sample.max(1), min_robust_z }
        }
        ConditionSpec::PriceAboveRecentLow { days } => Pred::PriceAboveRecentLow { days },
        ConditionSpec::ShopHistory { result, min_years, window_years } => {
            Pred::ShopHistory { result, min_years, window_years: window_years.max(1) }
        }
        ConditionSpec::DateEffective { from } => {
            if from.get_ref() == "catalogue" {
                Pred::DateEffective(DateFrom::Catalogue)
            } else {
                match NaiveDate::parse_from_str(from.get_ref(), "%Y-%m-%d") {
                    Ok(date) => Pred::DateEffective(DateFrom::Date(date)),
                    Err(_) => {
                        d.at(from.span(), format!("bad date `{}`: use YYYY-MM-DD or \"catalogue\"", from.get_ref()));
                        return None;
                    }
                }
            }
        }
    })
}
