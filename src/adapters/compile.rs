//! Loading an adapter file: parse → validate → compile.
//!
//! The TOML is parsed into a spanned tree first, then each part (the header,
//! each page, each field, each link …) is deserialized and checked on its own,
//! so one file reports every problem it has, each with its line and column,
//! instead of stopping at the first. Selectors, regexes and JSON paths are
//! compiled here, once.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use regex::Regex;
use scraper::Selector;
use serde_json_path::JsonPath;
use toml::de::DeValue;
use toml::Spanned;

use crate::model::PageKind;

use super::parsers::Parser;
use super::rules::{
    fields_for, CertificateRule, Document, Extractor, Field, FieldRule, ItemsRule, LinkRule, PageRule, Shape, Source,
    StateRule, Template,
};
use super::spec::{CertificateSpec, DocumentSpec, FieldSpec, HeaderSpec, LinkSpec, PageSpec};
use super::{Adapter, Problem};
use crate::diagnostics::Diagnostics;

/// The adapter format this build reads.
pub const FORMAT: i64 = 1;

/// Parse, validate and compile one adapter file.
pub(super) fn compile(file: &Path, src: &str) -> Result<Adapter, Vec<Problem>> {
    let mut d = Diagnostics::new(file, src);
    let Some(root) = d.parse() else {
        return Err(d.problems);
    };
    let root_span = root.span();
    let mut table = root.into_inner();
    let pages = table.remove("pages");
    let header: Option<HeaderSpec> = d.de(Spanned::new(root_span, DeValue::Table(table)));
    if let Some(header) = &header {
        check_header(&mut d, header);
    }
    let mut rules = Vec::new();
    match pages {
        None => d.at(0..0, "missing `[[pages]]`: an adapter needs at least one page kind"),
        Some(pages) => {
            let span = pages.span();
            match pages.into_inner() {
                DeValue::Array(array) => {
                    for page in array {
                        if let Some(rule) = compile_page(&mut d, page) {
                            rules.push(rule);
                        }
                    }
                }
                _ => d.at(span, "`pages` must be an array of tables (`[[pages]]`)"),
            }
        }
    }
    match header {
        Some(h) if d.problems.is_empty() => Ok(Adapter {
            name: h.name.into_inner(),
            platform: h.platform.into_inner(),
            version: h.version,
            hosts: h.hosts.into_iter().map(|s| s.into_inner().to_ascii_lowercase()).collect(),
            politeness: h.politeness.unwrap_or_default(),
            fetch: h.fetch,
            wait_for: h.wait_for.map(Spanned::into_inner),
            source: file.to_path_buf(),
            text: Some(Arc::from(src)),
            pages: rules,
        }),
        _ => Err(d.problems),
    }
}

fn check_header(d: &mut Diagnostics<'_>, h: &HeaderSpec) {
    if *h.format.get_ref() != FORMAT {
        d.at(
            h.format.span(),
            format!("unsupported adapter format `{}` (this build reads format {FORMAT})", h.format.get_ref()),
        );
    }
    let name = h.name.get_ref();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        d.at(h.name.span(), format!("bad adapter name `{name}`: use lowercase letters, digits, `-` and `_`"));
    }
    if h.platform.get_ref().trim().is_empty() {
        d.at(h.platform.span(), "`platform` must not be empty");
    }
    for host in &h.hosts {
        let ok = url::Host::parse(host.get_ref()).is_ok() && !host.get_ref().contains(['/', ':']);
        if !ok {
            d.at(host.span(), format!("bad host `{}`: give a bare host name like `item.example.com`", host.get_ref()));
        }
    }
    if let Some(sel) = &h.wait_for {
        selector(d, sel);
    }
}

fn selector(d: &mut Diagnostics<'_>, s: &Spanned<String>) -> Option<Selector> {
    Selector::parse(s.get_ref())
        .map_err(|e| d.at(s.span(), format!("bad css selector `{}`: {}", s.get_ref(), selector_error(&e))))
        .ok()
}

/// A one-line, lowercase reason for a selector error (scraper's Display of
/// parser errors is a multi-line debug dump).
fn selector_error(e: &scraper::error::SelectorErrorKind) -> String {
    use scraper::error::SelectorErrorKind;
    let text = match e {
        SelectorErrorKind::UnexpectedSelectorParseError(inner) => format!("{inner:?}"),
        other => other.to_string(),
    };
    let (name, payload) = text.split_once('(').map_or((text.as_str(), ""), |(n, p)| (n, p.trim_end_matches(')')));
    let mut words = String::new();
    for (i, c) in name.char_indices() {
        if c.is_uppercase() && i > 0 && !name[..i].ends_with(' ') {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    if payload.is_empty() {
        words
    } else {
        format!("{words} ({payload})")
    }
}

fn regex(d: &mut Diagnostics<'_>, s: &Spanned<String>) -> Option<Regex> {
    Regex::new(s.get_ref())
        .map_err(|e| {
            // The regex crate's message is multi-line (pattern, caret, reason): keep the reason.
            let text = e.to_string();
            let reason = text.lines().last().unwrap_or_default().trim_start_matches("error: ").to_string();
            d.at(s.span(), format!("bad regex `{}`: {reason}", s.get_ref()))
        })
        .ok()
}

fn json_path(d: &mut Diagnostics<'_>, s: &Spanned<String>) -> Option<JsonPath> {
    JsonPath::parse(s.get_ref()).map_err(|e| d.at(s.span(), format!("bad json path `{}`: {e}", s.get_ref()))).ok()
}

/// "an item", "a shop" …
fn article(kind: PageKind) -> String {
    match kind {
        PageKind::Item => "an item".to_string(),
        other => format!("a {other}"),
    }
}

/// What the fields of one page may refer to.
struct PageContext {
    kind: PageKind,
    url_groups: Vec<String>,
    document: Document,
    has_json: bool,
    has_specs: bool,
}

fn compile_page(d: &mut Diagnostics<'_>, page: Spanned<DeValue<'_>>) -> Option<PageRule> {
    let span = page.span();
    let DeValue::Table(mut table) = page.into_inner() else {
        d.at(span, "each `[[pages]]` entry must be a table");
        return None;
    };
    let fields = table.remove("fields");
    let links = table.remove("links");
    let certificates = table.remove("certificates");
    let spec: PageSpec = d.de(Spanned::new(span.clone(), DeValue::Table(table)))?;
    let url = regex(d, &spec.url);
    let url_groups: Vec<String> =
        url.as_ref().map(|r| r.capture_names().flatten().map(String::from).collect()).unwrap_or_default();
    let document = match spec.document {
        DocumentSpec::Html => Document::Html,
        DocumentSpec::Json => Document::Json,
    };
    let state = spec.state.as_ref().and_then(|s| {
        if document == Document::Json {
            d.at(s.span(), "`state` reads a script in an HTML page; this page has `document = \"json\"`");
        }
        let s = s.get_ref();
        let script = selector(d, &s.script)?;
        let regex = match &s.regex {
            Some(r) => Some(regex(d, r)?),
            None => None,
        };
        Some(StateRule { script, prefix: s.prefix.clone(), regex })
    });
    let mut field_entries = Vec::new();
    if let Some(fields) = fields {
        let fspan = fields.span();
        match fields.into_inner() {
            DeValue::Table(t) => field_entries.extend(t),
            _ => d.at(fspan, "`fields` must be a table of field name → extractor"),
        }
    }
    let ctx = PageContext {
        kind: spec.kind,
        has_specs: field_entries.iter().any(|(k, _)| k.get_ref() == "specs"),
        url_groups,
        document,
        has_json: document == Document::Json || spec.state.is_some(),
    };
    let mut rules = Vec::new();
    for (key, value) in field_entries {
        let allowed = fields_for(ctx.kind);
        let Some(&(_, field)) = allowed.iter().find(|(n, _)| *n == key.get_ref().as_ref()) else {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            d.at(
                key.span(),
                format!(
                    "unknown field `{}` for {} page (expected one of: {})",
                    key.get_ref(),
                    article(ctx.kind),
                    names.join(", ")
                ),
            );
            continue;
        };
        let vspan = value.span();
        if let Some(spec) = d.de::<FieldSpec>(value) {
            rules.extend(compile_field(d, &ctx, field, spec, vspan));
        }
    }
    let items = spec.items.as_ref().and_then(|path| compile_items(d, &ctx, path, &mut rules));
    if url.is_some() {
        add_identity(d, &ctx, &mut rules, spec.url.span());
    }
    // Specs first (`spec = "…"` extractors read it), then in the fields' declared order.
    rules.sort_by_key(|r| (r.field != Field::Specs, r.field));
    let certificates = compile_list(d, certificates, "certificates", |d, v| {
        let cspan = v.span();
        let spec: CertificateSpec = d.de(v)?;
        compile_certificate(d, &ctx, spec, cspan)
    });
    let links = compile_list(d, links, "links", |d, v| {
        let lspan = v.span();
        let spec: LinkSpec = d.de(v)?;
        compile_link(d, &ctx, spec, lspan)
    });
    Some(PageRule { kind: spec.kind, url: url?, document, state, items, fields: rules, certificates, links })
}

/// `items = "$.path"`: only on item and live pages with JSON, and each item
/// needs its own `item_id` field (made required: an item without one is drift).
fn compile_items(
    d: &mut Diagnostics<'_>,
    ctx: &PageContext,
    path: &Spanned<String>,
    rules: &mut [FieldRule],
) -> Option<ItemsRule> {
    if !matches!(ctx.kind, PageKind::Item | PageKind::Live) {
        d.at(path.span(), format!("`items` lists products: it belongs on item or live pages, not {} pages", ctx.kind));
        return None;
    }
    match rules.iter_mut().find(|r| r.field == Field::ItemId) {
        Some(rule) => rule.required = true,
        None => d.at(path.span(), "a page with `items` needs an `item_id` field read from each item"),
    }
    let compiled = json_source(d, ctx, path)?;
    Some(ItemsRule { path: compiled, label: format!("json:{}", path.get_ref()) })
}

/// Item pages must yield an `item_id`, shop pages a `shop_id`: from a field or the URL.
fn add_identity(d: &mut Diagnostics<'_>, ctx: &PageContext, rules: &mut Vec<FieldRule>, url_span: Range<usize>) {
    let id = match ctx.kind {
        PageKind::Item => Field::ItemId,
        PageKind::Shop => Field::ShopId,
        PageKind::Search | PageKind::Live => return,
    };
    if let Some(rule) = rules.iter_mut().find(|r| r.field == id) {
        rule.required = true;
        return;
    }
    let name = id.name();
    if ctx.url_groups.iter().any(|g| g == name) {
        let extractor = Extractor {
            source: Source::UrlGroup(name.to_string()),
            all: false,
            join: String::new(),
            regex: None,
            map: Default::default(),
            template: None,
            parser: Parser::Text,
            label: format!("url:{name}"),
        };
        rules.push(FieldRule { field: id, chain: vec![extractor], required: true });
    } else {
        d.at(
            url_span,
            format!(
                "{} pages need a `{name}`: add a named group `(?P<{name}>…)` to the url regex or a `{name}` field",
                ctx.kind
            ),
        );
    }
}

fn compile_list<T>(
    d: &mut Diagnostics<'_>,
    value: Option<Spanned<DeValue<'_>>>,
    what: &str,
    mut each: impl FnMut(&mut Diagnostics<'_>, Spanned<DeValue<'_>>) -> Option<T>,
) -> Vec<T> {
    let Some(value) = value else { return Vec::new() };
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items.into_iter().filter_map(|v| each(d, v)).collect(),
        _ => {
            d.at(span, format!("`{what}` must be an array of tables (`[[pages.{what}]]`)"));
            Vec::new()
        }
    }
}

fn compile_field(
    d: &mut Diagnostics<'_>,
    ctx: &PageContext,
    field: Field,
    mut spec: FieldSpec,
    span: Range<usize>,
) -> Option<FieldRule> {
    let required = spec.required.take().is_some_and(|r| r.into_inner());
    let fallbacks = spec.or.take().unwrap_or_default();
    let mut chain = Vec::new();
    let mut ok = true;
    match compile_extractor(d, ctx, field, spec, span) {
        Some(e) => chain.push(e),
        None => ok = false,
    }
    for fallback in fallbacks {
        let fspan = fallback.span();
        let mut spec = fallback.into_inner();
        if let Some(r) = spec.required.take() {
            d.at(r.span(), "`required` belongs on the field's first extractor, not inside `or`");
        }
        if spec.or.take().is_some() {
            d.at(fspan.clone(), "`or` cannot be nested: list every fallback in the field's one `or`");
        }
        match compile_extractor(d, ctx, field, spec, fspan) {
            Some(e) => chain.push(e),
            None => ok = false,
        }
    }
    ok.then_some(FieldRule { field, chain, required })
}

/// Which source keys an extractor spec sets, with their spans.
fn sources_of(spec: &FieldSpec) -> Vec<(&'static str, Range<usize>)> {
    let mut found = Vec::new();
    let mut note = |name, span: Option<Range<usize>>| {
        if let Some(span) = span {
            found.push((name, span));
        }
    };
    note("css", spec.css.as_ref().map(Spanned::span));
    note("json", spec.json.as_ref().map(Spanned::span));
    note("spec", spec.spec.as_ref().map(Spanned::span));
    note("url_group", spec.url_group.as_ref().map(Spanned::span));
    note("const", spec.constant.as_ref().map(Spanned::span));
    note("table", spec.table.as_ref().map(Spanned::span));
    note("json_table", spec.json_table.as_ref().map(Spanned::span));
    found
}

fn compile_extractor(
    d: &mut Diagnostics<'_>,
    ctx: &PageContext,
    field: Field,
    spec: FieldSpec,
    span: Range<usize>,
) -> Option<Extractor> {
    let before = d.problems.len();
    let sources = sources_of(&spec);
    if sources.len() > 1 {
        d.at(
            sources[1].1.clone(),
            format!(
                "`{}` and `{}` cannot be combined: an extractor reads one source (use `or` for a fallback)",
                sources[0].0, sources[1].0
            ),
        );
        return None;
    }
    let name = field.name();
    let source = if let Some(css) = &spec.css {
        let attr = spec.attr.as_ref().map(|a| a.get_ref().clone());
        css_source(d, ctx, css).map(|selector| Source::Css { selector, attr })
    } else if let Some(path) = &spec.json {
        json_source(d, ctx, path).map(Source::Json)
    } else if let Some(keys) = &spec.spec {
        if !ctx.has_specs {
            d.at(keys.span(), "`spec` reads the page's spec sheet, but this page has no `specs` field");
        } else if field == Field::Specs {
            d.at(keys.span(), "the `specs` field cannot read itself");
        } else if keys.get_ref().0.is_empty() {
            d.at(keys.span(), "`spec` needs at least one key");
        }
        Some(Source::Spec(keys.get_ref().0.clone()))
    } else if let Some(group) = &spec.url_group {
        if !ctx.url_groups.contains(group.get_ref()) {
            d.at(group.span(), format!("the url regex has no named group `{}`", group.get_ref()));
        }
        Some(Source::UrlGroup(group.get_ref().clone()))
    } else if let Some(value) = &spec.constant {
        Some(Source::Const(value.get_ref().clone()))
    } else if let Some(t) = &spec.table {
        let t = t.get_ref();
        let rows = css_source(d, ctx, &t.rows);
        let key = selector(d, &t.key);
        let value = selector(d, &t.value);
        Some(Source::CssTable { rows: rows?, key: key?, value: value? })
    } else if let Some(t) = &spec.json_table {
        let t = t.get_ref();
        if let Some(split) = &t.split {
            if split.get_ref().is_empty() {
                d.at(split.span(), "`split` needs the text between key and value, like `：`");
            } else if t.key.is_some() || t.value.is_some() {
                d.at(split.span(), "`split` reads \"key：value\" strings: it cannot be combined with `key`/`value`");
            }
        }
        let split = t.split.as_ref().map(|s| s.get_ref().clone());
        json_source(d, ctx, &t.path).map(|path| Source::JsonTable {
            path,
            key: t.key.clone(),
            value: t.value.clone(),
            split,
        })
    } else if spec.regex.is_some() {
        Some(Source::Raw)
    } else {
        d.at(span.clone(), format!("field `{name}` has no source: give one of `css`, `json`, `regex`, `spec`, `url_group`, `const`, `table`, `json_table`"));
        None
    };
    let source = source?;
    if let Some(attr) = &spec.attr {
        if spec.css.is_none() {
            d.at(attr.span(), "`attr` only goes with `css`");
        }
    }
    match (field.shape(), source.is_table()) {
        (Shape::Map, false) => {
            d.at(span.clone(), format!("field `{name}` takes a key/value table: use `table` or `json_table`"))
        }
        (Shape::One(_) | Shape::List, true) => {
            d.at(span.clone(), format!("a table fills `specs` or `price_history`, not `{name}`"))
        }
        _ => {}
    }
    let regex = match &spec.regex {
        Some(r) if source.is_table() => {
            d.at(r.span(), "`regex` cannot filter a table");
            None
        }
        Some(r) => regex(d, r),
        None => None,
    };
    let parser = match &spec.parse {
        None => field.default_parser(),
        Some(p) => match Parser::from_name(p.get_ref()) {
            None => {
                d.at(
                    p.span(),
                    format!("unknown parser `{}` (expected one of: {})", p.get_ref(), Parser::NAMES.join(", ")),
                );
                field.default_parser()
            }
            Some(parser) => {
                let wanted = match field.shape() {
                    Shape::One(t) => t,
                    Shape::List | Shape::Map => super::parsers::ValueType::Text,
                };
                if parser.output() != wanted {
                    d.at(
                        p.span(),
                        format!(
                            "parser `{}` yields {}, but field `{name}` needs {}",
                            p.get_ref(),
                            parser.output().as_str(),
                            wanted.as_str()
                        ),
                    );
                }
                parser
            }
        },
    };
    let template = spec.template.as_ref().map(|t| (t, Template::parse(t.get_ref())));
    if let Some((t, parsed)) = &template {
        if !parsed.has_value() {
            d.at(t.span(), format!("template `{}` has no `{{}}` for the found value", t.get_ref()));
        } else if source.is_table() {
            d.at(t.span(), "`template` cannot fill a table");
        }
        for group in parsed.groups() {
            if !ctx.url_groups.iter().any(|g| g == group) {
                d.at(t.span(), format!("template `{}`: the url regex has no named group `{group}`", t.get_ref()));
            }
        }
    }
    let all = spec.all.as_ref().is_some_and(|a| *a.get_ref()) || field.shape() == Shape::List;
    let label = label(&spec, &source);
    (d.problems.len() == before).then(|| Extractor {
        source,
        all,
        join: spec.join.clone().unwrap_or_else(|| "\n".to_string()),
        regex,
        map: spec.map.clone().unwrap_or_default(),
        template: template.map(|(_, parsed)| parsed),
        parser,
        label,
    })
}

fn css_source(d: &mut Diagnostics<'_>, ctx: &PageContext, css: &Spanned<String>) -> Option<Selector> {
    if ctx.document == Document::Json {
        d.at(css.span(), "css selectors need an HTML page; this page has `document = \"json\"`");
    }
    selector(d, css)
}

fn json_source(d: &mut Diagnostics<'_>, ctx: &PageContext, path: &Spanned<String>) -> Option<JsonPath> {
    if !ctx.has_json {
        d.at(path.span(), "a json path needs JSON: give the page a `state` (embedded script) or `document = \"json\"`");
    }
    json_path(d, path)
}

/// The provenance label of an extractor: `css:h1.title`, `json:$.price` …
fn label(spec: &FieldSpec, source: &Source) -> String {
    let base = match source {
        Source::Css { .. } => {
            let css = spec.css.as_ref().map(|s| s.get_ref().as_str()).unwrap_or_default();
            match &spec.attr {
                Some(a) => format!("css:{css}@{}", a.get_ref()),
                None => format!("css:{css}"),
            }
        }
        Source::Json(_) => format!("json:{}", spec.json.as_ref().map(|s| s.get_ref().as_str()).unwrap_or_default()),
        Source::Raw => "page".to_string(),
        Source::Spec(keys) => format!("spec:{}", keys.join("|")),
        Source::UrlGroup(g) => format!("url:{g}"),
        Source::Const(_) => "const".to_string(),
        Source::CssTable { .. } => {
            let t = spec.table.as_ref().map(|t| t.get_ref());
            t.map(|t| format!("table:{} {}/{}", t.rows.get_ref(), t.key.get_ref(), t.value.get_ref()))
                .unwrap_or_default()
        }
        Source::JsonTable { .. } => {
            format!(
                "json:{}",
                spec.json_table.as_ref().map(|t| t.get_ref().path.get_ref().as_str()).unwrap_or_default()
            )
        }
    };
    match &spec.regex {
        Some(r) if matches!(source, Source::Raw) => format!("regex:{}", r.get_ref()),
        Some(r) => format!("{base} regex:{}", r.get_ref()),
        None => base,
    }
}

fn compile_certificate(
    d: &mut Diagnostics<'_>,
    ctx: &PageContext,
    spec: CertificateSpec,
    span: Range<usize>,
) -> Option<CertificateRule> {
    let base = FieldSpec { regex: spec.regex.clone(), ..FieldSpec::default() };
    let mut sources = Vec::new();
    let parts = [
        spec.spec.map(|s| FieldSpec { spec: Some(s), ..FieldSpec::default() }),
        spec.css.map(|s| FieldSpec { css: Some(s), attr: spec.attr.clone(), ..FieldSpec::default() }),
        spec.json.map(|s| FieldSpec { json: Some(s), ..FieldSpec::default() }),
    ];
    let mut any = false;
    for part in parts.into_iter().flatten() {
        any = true;
        let part = FieldSpec { regex: base.regex.clone(), all: Some(Spanned::new(0..0, true)), ..part };
        sources.extend(compile_extractor(d, ctx, Field::Description, part, span.clone()));
    }
    if !any {
        if base.regex.is_none() {
            d.at(span, "a certificate entry needs a source: `spec`, `css`, `json` and/or `regex`");
            return None;
        }
        let raw = FieldSpec { all: Some(Spanned::new(0..0, true)), ..base };
        sources.extend(compile_extractor(d, ctx, Field::Description, raw, span));
    }
    Some(CertificateRule { kind: spec.kind, sources })
}

fn compile_link(d: &mut Diagnostics<'_>, ctx: &PageContext, spec: LinkSpec, span: Range<usize>) -> Option<LinkRule> {
    let attr = match (&spec.css, spec.attr) {
        (Some(_), None) => Some(Spanned::new(0..0, "href".to_string())),
        (_, attr) => attr,
    };
    let part = FieldSpec {
        css: spec.css,
        attr,
        json: spec.json,
        regex: spec.regex,
        all: Some(Spanned::new(0..0, true)),
        parse: Some(Spanned::new(0..0, "raw".to_string())),
        ..FieldSpec::default()
    };
    if let Some(t) = &spec.template {
        if !t.contains("{}") {
            d.at(span.clone(), format!("link template `{t}` has no `{{}}` for the found value"));
        }
    }
    let extractor = compile_extractor(d, ctx, Field::Description, part, span)?;
    Some(LinkRule { extractor, template: spec.template, kind: spec.kind })
}
