//! Scoring the generic adapter on real pages with ground truth.
//!
//! The corpus is the `realpages` directory shared with this repository
//! (never copied into it):
//! - `fathom_products/` — 72 US shop pages; `ground_truth.json` holds the
//!   hand-picked title (the `<title>` text), price and main image;
//! - `metascraper_amazon_fixtures/` — 4 Amazon pages: `expected.json` title, image;
//! - `metascraper_shopping_fixtures/` — 10 shop pages: `expected.json` price
//!   (`null` means the page must yield *no* price; no entry means no truth);
//! - `wdc_lspc_sample_pages/` — 10 schema.org pages without truth: only
//!   coverage (a value was found) is reported for them.
//!
//! How values are judged:
//! - **price**: the truth text is parsed with the same locale price parser
//!   into a decimal (first amount of a range); the hand-picked element's own
//!   `content` attribute, when it has one, is accepted too (it is that
//!   element's machine-readable value, e.g. `$31⁵⁷` with `content="31.57"`).
//!   Decimals are compared numerically (`52.00` = `52`). A predicted price is
//!   a true positive when it equals an accepted value, else a false positive;
//!   a page whose truth has a price and that got no correct one counts a
//!   false negative; a page whose truth is "no price" counts any price as a
//!   false positive.
//! - **title**: both sides are normalised (lowercase, every run of
//!   non-alphanumeric characters → one space, trimmed). A title is correct
//!   when the normalised strings are equal, or one contains the other on word
//!   boundaries and the shorter has at least 2 words and 25% of the longer's
//!   characters — the truth is often the `<title>` with the site's name
//!   around the product name (`Name | Site`).
//!   Title accuracy = correct / pages with a title truth.
//! - **image**: URLs compared after dropping the scheme and `&amp;` escapes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde_json::Value as Json;
use url::Url;

use super::price::parse_price;

/// Why the corpus could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is not the expected JSON: {reason}")]
    Truth { path: PathBuf, reason: String },
}

/// What a page's truth says about its price.
#[derive(Debug, Clone, PartialEq)]
pub enum PriceTruth {
    /// No truth: not scored.
    Unknown,
    /// The page shows no usable price: any price is wrong.
    Absent,
    /// Any of these amounts is right.
    Present(Vec<Decimal>),
}

/// One page and its truth.
#[derive(Debug, Clone)]
pub struct Case {
    /// The corpus folder, e.g. `fathom_products`.
    pub set: String,
    pub name: String,
    pub path: PathBuf,
    /// The page's URL when known (for relative links), else its `file://` URL.
    pub url: Url,
    pub title: Option<String>,
    pub price: PriceTruth,
    pub image: Option<String>,
}

/// Counts for one field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    /// Pages with a truth for this field.
    pub truths: usize,
    /// Pages (with or without truth) where a value was found.
    pub found: usize,
    pub pages: usize,
}

impl Counts {
    fn ratio(a: usize, b: usize) -> f64 {
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }
    pub fn precision(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    /// Correct values over pages with a value in the truth.
    pub fn accuracy(&self) -> f64 {
        Self::ratio(self.tp, self.truths)
    }
    fn add(&mut self, o: &Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.truths += o.truths;
        self.found += o.found;
        self.pages += o.pages;
    }
}

/// The fields scored.
pub const FIELDS: &[&str] = &["title", "price", "image"];

/// The outcome of one page.
#[derive(Debug, Clone)]
pub struct PageResult {
    pub set: String,
    pub name: String,
    pub title: Option<String>,
    pub price: Option<Decimal>,
    pub image: Option<String>,
    /// Field → verdict (`ok`, `wrong`, `missed`, `-` when no truth).
    pub verdicts: BTreeMap<&'static str, &'static str>,
    pub millis: u128,
}

/// Per-set and overall counts per field, and every page's outcome.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub sets: BTreeMap<String, BTreeMap<&'static str, Counts>>,
    pub pages: Vec<PageResult>,
}

impl Report {
    /// All sets together, per field.
    pub fn overall(&self) -> BTreeMap<&'static str, Counts> {
        let mut all: BTreeMap<&'static str, Counts> = BTreeMap::new();
        for fields in self.sets.values() {
            for (f, c) in fields {
                all.entry(f).or_default().add(c);
            }
        }
        all
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| set | field | pages | truths | found | P | R | F1 | accuracy |")?;
        writeln!(f, "|---|---|---:|---:|---:|---:|---:|---:|---:|")?;
        let overall = self.overall();
        let rows = self.sets.iter().map(|(s, m)| (s.as_str(), m)).chain(std::iter::once(("all", &overall)));
        for (set, fields) in rows {
            for field in FIELDS {
                let Some(c) = fields.get(field) else { continue };
                if c.truths == 0 {
                    writeln!(f, "| {set} | {field} | {} | 0 | {} | – | – | – | – |", c.pages, c.found)?;
                } else {
                    writeln!(
                        f,
                        "| {set} | {field} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
                        c.pages,
                        c.truths,
                        c.found,
                        c.precision(),
                        c.recall(),
                        c.f1(),
                        c.accuracy()
                    )?;
                }
            }
        }
        Ok(())
    }
}

fn read_json(path: &Path) -> Result<Json, ScoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScoreError::Read { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|e| ScoreError::Truth { path: path.to_path_buf(), reason: e.to_string() })
}

fn file_url(path: &Path) -> Option<Url> {
    std::fs::canonicalize(path).ok().and_then(|p| Url::from_file_path(p).ok())
}

fn str_field(v: &Json, key: &str) -> Option<String> {
    v.get(key).and_then(Json::as_str).map(str::to_string)
}

/// Accepted amounts for a truth price text and the hand-picked element's HTML.
fn price_truth(text: &str, element_html: Option<&str>) -> PriceTruth {
    let mut accepted: Vec<Decimal> = parse_price(text, None).map(|m| m.amount).into_iter().collect();
    if let Some(html) = element_html {
        let first_tag = html.split('>').next().unwrap_or("");
        if let Some(at) = first_tag.find("content=\"") {
            let rest = &first_tag[at + 9..];
            if let Some(v) = rest.split('"').next().and_then(|v| v.trim().parse().ok()) {
                accepted.push(v);
            }
        }
    }
    if accepted.is_empty() {
        PriceTruth::Unknown
    } else {
        PriceTruth::Present(accepted)
    }
}

/// Every page of the corpus under `root`, with its truth. Missing sets are skipped.
pub fn load_cases(root: &Path) -> Result<Vec<Case>, ScoreError> {
    let mut cases = Vec::new();
    let fathom = root.join("fathom_products");
    if fathom.is_dir() {
        let truth = read_json(&fathom.join("ground_truth.json"))?;
        let Json::Object(entries) = truth else {
            return Err(ScoreError::Truth { path: fathom.join("ground_truth.json"), reason: "not an object".into() });
        };
        for (name, t) in entries {
            let path = fathom.join(&name).join("source.html");
            if !path.is_file() {
                continue;
            }
            let price = match str_field(&t, "price_text") {
                Some(p) => price_truth(&p, t.get("price_element_html").and_then(Json::as_str)),
                None => PriceTruth::Unknown,
            };
            let Some(url) = file_url(&path) else { continue };
            cases.push(Case {
                set: "fathom_products".into(),
                url,
                name,
                path,
                title: str_field(&t, "title_text"),
                price,
                image: str_field(&t, "image_src"),
            });
        }
    }
    for set in ["metascraper_amazon_fixtures", "metascraper_shopping_fixtures"] {
        let dir = root.join(set);
        if !dir.is_dir() {
            continue;
        }
        let truth = read_json(&dir.join("expected.json"))?;
        let Json::Object(entries) = truth else { continue };
        for (file, t) in entries {
            let path = dir.join("html").join(&file);
            if !path.is_file() {
                continue;
            }
            let url = str_field(&t, "input_url").or_else(|| str_field(&t, "url")).and_then(|u| Url::parse(&u).ok());
            let Some(url) = url.or_else(|| file_url(&path)) else { continue };
            let price = match t.get("price") {
                Some(Json::Null) => PriceTruth::Absent,
                Some(Json::Number(n)) => {
                    n.to_string().parse().map_or(PriceTruth::Unknown, |d| PriceTruth::Present(vec![d]))
                }
                _ => PriceTruth::Unknown,
            };
            cases.push(Case {
                set: set.into(),
                url,
                name: file,
                path,
                title: str_field(&t, "title"),
                price,
                image: str_field(&t, "image"),
            });
        }
    }
    let wdc = root.join("wdc_lspc_sample_pages");
    if wdc.is_dir() {
        let index = read_json(&wdc.join("index.json"))?;
        for entry in index.as_array().into_iter().flatten() {
            let Some(file) = str_field(entry, "file") else { continue };
            let path = wdc.join(&file);
            if !path.is_file() {
                continue;
            }
            let url = str_field(entry, "url").and_then(|u| Url::parse(&u).ok()).or_else(|| file_url(&path));
            let Some(url) = url else { continue };
            cases.push(Case {
                set: "wdc_lspc_sample_pages".into(),
                name: file,
                path,
                url,
                title: None,
                price: PriceTruth::Unknown,
                image: None,
            });
        }
    }
    cases.sort_by(|a, b| (&a.set, &a.name).cmp(&(&b.set, &b.name)));
    Ok(cases)
}

/// Lowercase, non-alphanumeric runs → one space.
pub fn normalise_title(s: &str) -> String {
    let lower = s.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.join(" ")
}

/// Is `got` the title `expected` names (see the module docs)?
pub fn title_matches(expected: &str, got: &str) -> bool {
    let (e, g) = (normalise_title(expected), normalise_title(got));
    if e.is_empty() || g.is_empty() {
        return false;
    }
    if e == g {
        return true;
    }
    let (short, long) = if e.len() <= g.len() { (&e, &g) } else { (&g, &e) };
    let padded_long = format!(" {long} ");
    let contained = padded_long.contains(&format!(" {short} "));
    if contained && short.split(' ').count() >= 2 && short.chars().count() * 4 >= long.chars().count() {
        return true;
    }
    // Word breaks lost in the truth's text (`HEART CLUBHeart`): compare without spaces.
    let (short, long) = (short.replace(' ', ""), long.replace(' ', ""));
    short.chars().count() >= 12 && short.chars().count() * 4 >= long.chars().count() && long.contains(&short)
}

fn normalise_image(s: &str) -> String {
    let s = s.trim().replace("&amp;", "&");
    let s = s.strip_prefix("https:").or_else(|| s.strip_prefix("http:")).unwrap_or(&s).to_string();
    s.trim_start_matches('/').to_string()
}

/// Read one case's page with the generic adapter; the listing and the time it took.
fn run_case(case: &Case) -> (Option<crate::model::Listing>, u128) {
    let started = std::time::Instant::now();
    let listing = std::fs::read(&case.path)
        .ok()
        .and_then(|body| super::extract(&case.url, &body).ok())
        .and_then(|e| e.listings.into_iter().next());
    (listing, started.elapsed().as_millis())
}

/// Run the generic adapter on every case (on all cores) and count.
pub fn score(cases: &[Case]) -> Report {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let chunk = cases.len().div_ceil(workers).max(1);
    let outcomes: Vec<(Option<crate::model::Listing>, u128)> = std::thread::scope(|s| {
        let handles: Vec<_> =
            cases.chunks(chunk).map(|part| s.spawn(move || part.iter().map(run_case).collect::<Vec<_>>())).collect();
        // A worker that panicked (a bug) scores its pages as found nothing.
        handles
            .into_iter()
            .zip(cases.chunks(chunk))
            .flat_map(|(h, part)| h.join().unwrap_or_else(|_| part.iter().map(|_| (None, 0)).collect()))
            .collect()
    });
    let mut report = Report::default();
    for (case, (listing, millis)) in cases.iter().zip(outcomes) {
        let title = listing.as_ref().and_then(|l| l.title.clone());
        let price = listing.as_ref().and_then(|l| l.price);
        let image = listing.as_ref().and_then(|l| l.images.first().cloned());
        let fields = report.sets.entry(case.set.clone()).or_default();
        let mut verdicts = BTreeMap::new();

        let c = fields.entry("title").or_default();
        let title_ok = case.title.as_deref().zip(title.as_deref()).map(|(e, g)| title_matches(e, g));
        verdicts.insert("title", tally(c, case.title.is_some(), title.is_some(), title_ok));

        let c = fields.entry("price").or_default();
        let (has_truth, ok) = match &case.price {
            PriceTruth::Unknown => (None, None),
            PriceTruth::Absent => (Some(false), price.map(|_| false)),
            PriceTruth::Present(accepted) => {
                (Some(true), price.map(|p| accepted.iter().any(|a| a.normalize() == p.normalize())))
            }
        };
        verdicts.insert(
            "price",
            match has_truth {
                None => tally(c, false, price.is_some(), None),
                Some(expects) => tally_price(c, expects, price.is_some(), ok),
            },
        );

        let c = fields.entry("image").or_default();
        let image_ok =
            case.image.as_deref().zip(image.as_deref()).map(|(e, g)| normalise_image(e) == normalise_image(g));
        verdicts.insert("image", tally(c, case.image.is_some(), image.is_some(), image_ok));

        report.pages.push(PageResult {
            set: case.set.clone(),
            name: case.name.clone(),
            title,
            price,
            image,
            verdicts,
            millis,
        });
    }
    report
}

/// Count one field of one page whose truth has a value (or none at all).
fn tally(c: &mut Counts, has_truth: bool, found: bool, ok: Option<bool>) -> &'static str {
    c.pages += 1;
    c.found += usize::from(found);
    if !has_truth {
        return "-";
    }
    c.truths += 1;
    match ok {
        Some(true) => {
            c.tp += 1;
            "ok"
        }
        Some(false) => {
            c.fp += 1;
            c.fn_ += 1;
            "wrong"
        }
        None => {
            c.fn_ += 1;
            "missed"
        }
    }
}

/// Count a price, whose truth may also be "no price".
fn tally_price(c: &mut Counts, expects: bool, found: bool, ok: Option<bool>) -> &'static str {
    if expects {
        return tally(c, true, found, ok);
    }
    c.pages += 1;
    c.truths += 1;
    c.found += usize::from(found);
    if found {
        c.fp += 1;
        "wrong"
    } else {
        c.tp += 1;
        "ok"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_match_by_containment_on_words() {
        assert!(title_matches("Wanderlust Festival Poncho", "Wanderlust festival poncho"));
        assert!(title_matches("Apple AirPods White MMEF2AM/A - Best Buy", "Apple AirPods White MMEF2AM/A"));
        assert!(!title_matches("Apple AirPods White MMEF2AM/A - Best Buy", "Best Buy"));
        assert!(!title_matches("Apple AirPods", "Apple Air"));
        assert!(!title_matches("Apple AirPods", ""));
        assert!(title_matches(
            "HEART CLUBHeart Button Knit Cardigan | mixxmix",
            "HEART CLUB Heart Button Knit Cardigan"
        ));
    }

    #[test]
    fn price_truth_accepts_the_elements_content() {
        let t = price_truth("$3157", Some(r#"<span itemprop="price" content="31.57"><span>$</span>"#));
        assert_eq!(t, PriceTruth::Present(vec!["3157".parse().unwrap(), "31.57".parse().unwrap()]));
        assert_eq!(price_truth("n/a", None), PriceTruth::Unknown);
    }

    #[test]
    fn counts() {
        let c = Counts { tp: 9, fp: 1, fn_: 1, truths: 10, found: 10, pages: 10 };
        assert!((c.precision() - 0.9).abs() < 1e-9);
        assert!((c.f1() - 0.9).abs() < 1e-9);
        assert!((c.accuracy() - 0.9).abs() < 1e-9);
    }
}
