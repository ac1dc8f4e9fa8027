//! `spotcheck bench extract`: the generic extractor's time per page against
//! extruct's, on the real pages of `../shared/realpages` (read where they are,
//! never copied).
//!
//! Both run on one core, one page after another, over every page in memory,
//! for several repetitions after a warm-up; each figure is the median of the
//! repetitions. Rows:
//! - spotcheck's generic extractor (`adapters::generic::extract`, as `--adapter
//!   generic` and `spotcheck score` run it): JSON-LD (repaired when broken),
//!   microdata, RDFa, meta tags, then what the page shows — heading, prices
//!   near it and the buy button, struck prices, stock words, spec tables,
//!   certificates, the seller's licence — and the choice between them, with
//!   prices parsed into amounts and currencies;
//! - spotcheck's HTML parse alone (UTF-8 decode + html5ever, the tree every
//!   extraction starts from), as a floor;
//! - extruct (`benches/peers/extruct_bench.py`): JSON-LD, microdata, RDFa and
//!   OpenGraph into dictionaries (`uniform=True`) — structured data only, no
//!   visible-page reading, no price parsing, no choice of the main product;
//! - extruct without RDFa (pyRdfa is most of its time), and lxml's parse alone.
//!
//! There is no structured-data-only entry point in the generic extractor to
//! time apart (its JSON-LD, microdata and RDFa readers are private to it), so
//! the like-for-like comparison is "all of spotcheck's reading" against "only
//! extruct's structured data", which favours extruct.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::adapters::generic;
use crate::adapters::generic::score::load_cases;

use super::peers::{check_module, loadavg, median, peers_dir, run_script, PythonPeer};
use super::proc::cpu_secs;

/// The peer's script, in the peers directory.
pub const EXTRUCT_BENCH: &str = "extruct_bench.py";
/// Pages each side runs untimed first (the Python script warms up on as many).
const WARM_UP_PAGES: usize = 8;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchExtractArgs {
    /// The real-page corpus [default: `../shared/realpages` here, else beside the source tree].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Timed passes over every page, per tool (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repetitions: usize,
    #[command(flatten)]
    pub peer: PythonPeer,
}

impl BenchExtractArgs {
    /// The whole suite's run: 2 repetitions (about a minute on 2 cores, nearly all extruct's RDFa).
    pub fn quick() -> BenchExtractArgs {
        BenchExtractArgs { dir: None, repetitions: 2, peer: PythonPeer::quiet() }
    }
}

/// One tool (or part of one) over every page.
#[derive(Debug, Clone, Serialize)]
pub struct ExtractRow {
    pub tool: String,
    pub what: String,
    /// Pages ÷ the median pass's seconds.
    pub pages_per_sec: f64,
    /// The median pass's wall time per page.
    pub us_per_page: f64,
    /// The median pass's CPU time per page (this thread or the Python process).
    pub cpu_us_per_page: f64,
    pub wall_secs: Vec<f64>,
    pub cpu_secs: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub struct ExtractReport {
    pub dir: String,
    pub pages: usize,
    pub mib: f64,
    pub repetitions: usize,
    pub extruct: String,
    pub python: String,
    pub rows: Vec<ExtractRow>,
    /// extruct's (four syntaxes) time per page ÷ spotcheck's generic extractor's.
    pub speedup_vs_extruct: f64,
    /// The same against extruct without RDFa.
    pub speedup_vs_extruct_without_rdfa: f64,
    /// extruct's CPU time per page ÷ spotcheck's (steadier than wall time on a busy machine).
    pub cpu_speedup_vs_extruct: f64,
    /// The median over pages of extruct's time on the page ÷ spotcheck's.
    pub median_page_ratio: f64,
    /// Pages on which spotcheck found a title / a price (that it did the work).
    pub spotcheck_titles: usize,
    pub spotcheck_prices: usize,
    /// Exceptions extruct logged in its first pass (a syntax failing on a page).
    pub extruct_syntax_failures: u64,
    pub load_before: String,
    pub load_after: String,
}

/// The JSON line `extruct_bench.py` prints.
#[derive(Debug, Deserialize)]
pub struct ExtructOutput {
    pub extruct: String,
    pub python: String,
    pub pages: usize,
    pub syntax_failures: u64,
    pub rows: BTreeMap<String, Passes>,
    pub extruct_page_us: Vec<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Passes {
    pub wall_secs: Vec<f64>,
    pub cpu_secs: Vec<f64>,
}

/// spotcheck's side, measured in one thread.
struct Measured {
    generic: Passes,
    parse: Passes,
    page_us: Vec<f64>,
    titles: usize,
    prices: usize,
}

pub async fn run(args: BenchExtractArgs) -> anyhow::Result<ExtractReport> {
    if args.repetitions == 0 {
        bail!("nothing to measure: give --repetitions above zero");
    }
    let corpus = corpus_dir(args.dir.as_deref())?;
    let peers = peers_dir(args.peer.peers_dir.as_deref(), EXTRUCT_BENCH)?;
    let script = peers.join(EXTRUCT_BENCH);
    check_module(&args.peer.python, &peers, "import extruct").await?;
    let cases = load_cases(&corpus).with_context(|| format!("cannot load the pages under `{}`", corpus.display()))?;
    if cases.is_empty() {
        bail!("no pages under `{}`", corpus.display());
    }
    let mut pages: Vec<(Url, Vec<u8>)> = Vec::with_capacity(cases.len());
    let mut manifest = Vec::with_capacity(cases.len());
    for case in &cases {
        let path =
            std::fs::canonicalize(&case.path).with_context(|| format!("cannot read `{}`", case.path.display()))?;
        let body = std::fs::read(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
        manifest.push(serde_json::json!({ "path": path, "url": case.url.as_str() }));
        pages.push((case.url.clone(), body));
    }
    let bytes: usize = pages.iter().map(|(_, b)| b.len()).sum();
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let manifest_path = scratch.path().join("pages.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest)?)?;
    let load_before = loadavg();

    let repetitions = args.repetitions;
    eprintln!("spotcheck: {} pages ({:.1} MiB), {repetitions} passes …", pages.len(), bytes as f64 / 1048576.0);
    // html5ever logs a warning for some pages' markup; the measuring thread drops
    // them (extruct prints nothing either), so the time is extraction, not terminal output.
    let ours = tokio::task::spawn_blocking(move || {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            measure_spotcheck(&pages, repetitions)
        })
    })
    .await
    .context("the measuring thread failed")?;
    eprintln!("extruct: the same pages, {repetitions} passes …");
    let script_args = [
        "--manifest".to_string(),
        manifest_path.display().to_string(),
        "--repetitions".to_string(),
        repetitions.to_string(),
    ];
    let theirs: ExtructOutput = run_script(&args.peer.python, &script, &script_args).await?;
    if theirs.pages != cases.len() {
        bail!("{EXTRUCT_BENCH} read {} pages, not {}", theirs.pages, cases.len());
    }
    let report = report(&corpus, &Corpus { pages: cases.len(), bytes }, repetitions, ours, theirs, load_before)?;
    args.peer.print(&report, table)?;
    Ok(report)
}

/// How many pages and bytes (a pair, to keep `report`'s arguments few).
struct Corpus {
    pages: usize,
    bytes: usize,
}

fn report(
    dir: &Path,
    corpus: &Corpus,
    repetitions: usize,
    ours: Measured,
    theirs: ExtructOutput,
    load_before: String,
) -> anyhow::Result<ExtractReport> {
    let n = corpus.pages;
    let row = |tool: &str, what: &str, p: &Passes| -> ExtractRow {
        let wall = median(&p.wall_secs);
        let cpu = median(&p.cpu_secs);
        ExtractRow {
            tool: tool.to_string(),
            what: what.to_string(),
            pages_per_sec: n as f64 / wall.max(1e-12),
            us_per_page: wall * 1e6 / n.max(1) as f64,
            cpu_us_per_page: cpu * 1e6 / n.max(1) as f64,
            wall_secs: p.wall_secs.clone(),
            cpu_secs: p.cpu_secs.clone(),
        }
    };
    let passes = |name: &str| {
        theirs.rows.get(name).cloned().with_context(|| format!("{EXTRUCT_BENCH} reported no `{name}` row"))
    };
    let rows = vec![
        row("spotcheck", "generic extractor: structured data + visible page, prices parsed", &ours.generic),
        row("spotcheck", "HTML parse only (UTF-8 decode + html5ever)", &ours.parse),
        row("extruct", "json-ld + microdata + rdfa + opengraph, uniform", &passes("extruct")?),
        row("extruct", "json-ld + microdata + opengraph (no RDFa)", &passes("extruct_without_rdfa")?),
        row("extruct", "HTML parse only (lxml, parse_xmldom_html)", &passes("parse")?),
    ];
    let ratios: Vec<f64> = theirs
        .extruct_page_us
        .iter()
        .zip(&ours.page_us)
        .filter(|(_, ours)| **ours > 0.0)
        .map(|(theirs, ours)| theirs / ours)
        .collect();
    Ok(ExtractReport {
        dir: dir.display().to_string(),
        pages: n,
        mib: corpus.bytes as f64 / (1024.0 * 1024.0),
        repetitions,
        extruct: theirs.extruct,
        python: theirs.python,
        speedup_vs_extruct: rows[2].us_per_page / rows[0].us_per_page.max(1e-12),
        speedup_vs_extruct_without_rdfa: rows[3].us_per_page / rows[0].us_per_page.max(1e-12),
        cpu_speedup_vs_extruct: rows[2].cpu_us_per_page / rows[0].cpu_us_per_page.max(1e-12),
        median_page_ratio: median(&ratios),
        rows,
        spotcheck_titles: ours.titles,
        spotcheck_prices: ours.prices,
        extruct_syntax_failures: theirs.syntax_failures,
        load_before,
        load_after: loadavg(),
    })
}

/// The generic extractor and the bare parse over every page, `repetitions`
/// times, in this thread (wall and this thread's CPU per pass).
fn measure_spotcheck(pages: &[(Url, Vec<u8>)], repetitions: usize) -> Measured {
    for (url, body) in pages.iter().take(WARM_UP_PAGES) {
        std::hint::black_box(generic::extract(url, body).ok());
    }
    let mut generic_passes = Passes { wall_secs: Vec::new(), cpu_secs: Vec::new() };
    let mut parse_passes = Passes { wall_secs: Vec::new(), cpu_secs: Vec::new() };
    let mut per_page: Vec<Vec<f64>> = vec![Vec::with_capacity(repetitions); pages.len()];
    let (mut titles, mut prices) = (0, 0);
    for rep in 0..repetitions {
        let (t, cpu) = (Instant::now(), cpu_secs("thread-self"));
        for (i, (url, body)) in pages.iter().enumerate() {
            let started = Instant::now();
            let extracted = generic::extract(url, body).ok();
            per_page[i].push(started.elapsed().as_secs_f64() * 1e6);
            if rep == 0 {
                let listing = extracted.as_ref().and_then(|e| e.listings.first());
                titles += usize::from(listing.is_some_and(|l| l.title.is_some()));
                prices += usize::from(listing.is_some_and(|l| l.price.is_some()));
            }
            std::hint::black_box(extracted);
        }
        generic_passes.wall_secs.push(t.elapsed().as_secs_f64());
        generic_passes.cpu_secs.push(cpu_secs("thread-self") - cpu);

        let (t, cpu) = (Instant::now(), cpu_secs("thread-self"));
        for (_, body) in pages {
            let text = String::from_utf8_lossy(body);
            std::hint::black_box(scraper::Html::parse_document(&text));
        }
        parse_passes.wall_secs.push(t.elapsed().as_secs_f64());
        parse_passes.cpu_secs.push(cpu_secs("thread-self") - cpu);
    }
    Measured {
        generic: generic_passes,
        parse: parse_passes,
        page_us: per_page.iter().map(|times| median(times)).collect(),
        titles,
        prices,
    }
}

/// `--dir`, else `../shared/realpages` from here, else beside the source tree.
fn corpus_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = given {
        if !dir.is_dir() {
            bail!("real-page directory `{}` does not exist", dir.display());
        }
        return Ok(dir.to_path_buf());
    }
    let candidates =
        [PathBuf::from("../shared/realpages"), Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realpages")];
    candidates.iter().find(|d| d.is_dir()).cloned().with_context(|| {
        format!("no real pages at `{}` or `{}`; give --dir", candidates[0].display(), candidates[1].display())
    })
}

/// The report as a Markdown table.
pub fn table(r: &ExtractReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} real pages ({:.1} MiB) from {}, one core, median of {} passes; extruct {} on Python {}; load {} → {}\n",
        r.pages, r.mib, r.dir, r.repetitions, r.extruct, r.python, r.load_before, r.load_after
    );
    let _ = writeln!(out, "| tool | what | pages/s | µs per page | CPU µs per page |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for row in &r.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.0} | {:.0} |",
            row.tool, row.what, row.pages_per_sec, row.us_per_page, row.cpu_us_per_page
        );
    }
    let _ = writeln!(
        out,
        "\nspotcheck's generic extractor: {:.1}× extruct's speed ({:.1}× in CPU time; {:.1}× extruct without RDFa); \
         median per-page ratio {:.1}×; it found a title on {} and a price on {} of {} pages. \
         extruct logged {} syntax failures.",
        r.speedup_vs_extruct,
        r.cpu_speedup_vs_extruct,
        r.speedup_vs_extruct_without_rdfa,
        r.median_page_ratio,
        r.spotcheck_titles,
        r.spotcheck_prices,
        r.pages,
        r.extruct_syntax_failures
    );
    out
}

#[cfg(test)]
mod tests {
    use super::super::peers::last_json_line;
    use super::*;

    #[test]
    fn the_extruct_result_line_is_read_and_turned_into_rows() {
        let out = "noise\n{\"peer\": \"extruct\", \"extruct\": \"0.18.0\", \"python\": \"3.11.7\", \"pages\": 2, \
                   \"bytes\": 10, \"syntax_failures\": 1, \"rows\": {\
                   \"extruct\": {\"wall_secs\": [0.4, 0.2, 0.3], \"cpu_secs\": [0.4, 0.2, 0.3]}, \
                   \"extruct_without_rdfa\": {\"wall_secs\": [0.02], \"cpu_secs\": [0.02]}, \
                   \"parse\": {\"wall_secs\": [0.01], \"cpu_secs\": [0.01]}}, \
                   \"extruct_page_us\": [100000.0, 200000.0]}\n";
        let theirs: ExtructOutput = last_json_line(out).unwrap();
        let passes = |w: f64| Passes { wall_secs: vec![w], cpu_secs: vec![w] };
        let ours = Measured {
            generic: passes(0.03),
            parse: passes(0.01),
            page_us: vec![10_000.0, 20_000.0],
            titles: 2,
            prices: 1,
        };
        let r = report(Path::new("x"), &Corpus { pages: 2, bytes: 10 }, 3, ours, theirs, "0".into()).unwrap();
        assert_eq!(r.rows.len(), 5);
        assert!((r.rows[2].us_per_page - 150_000.0).abs() < 1e-6, "the median pass, per page");
        assert!((r.speedup_vs_extruct - 10.0).abs() < 1e-9);
        assert!((r.median_page_ratio - 10.0).abs() < 1e-9);
        assert!(table(&r).contains("| extruct | json-ld + microdata + rdfa + opengraph, uniform |"));
        assert!(last_json_line::<ExtructOutput>("Traceback\n").is_err());
    }

    #[test]
    fn the_quick_run_is_small() {
        let q = BenchExtractArgs::quick();
        assert!(q.repetitions <= 3 && q.peer.quiet);
    }
}
