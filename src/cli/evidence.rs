//! `spotcheck evidence …`: the station key, the ledger, bundles and their
//! verification.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::config::{DataDir, Identity};
use crate::sealing::Station;

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Show the station's public key and fingerprint (the key is generated on first use).
    Key(KeyArgs),
    /// The hash-chained ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// List the recorded findings (their ids are what `bundle --finding` takes).
    Findings(FindingsArgs),
    /// Seal findings or captures into a signed WACZ evidence bundle.
    Bundle(BundleArgs),
    /// Verify a bundle offline: every file, the signature, the proofs, the timestamps.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct FindingsArgs {
    /// Only findings of this rule.
    #[arg(long)]
    pub rule: Option<String>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["finding", "capture", "case"])))]
pub struct BundleArgs {
    /// A finding to seal (repeat for several); its capture comes with it.
    #[arg(long)]
    pub finding: Vec<String>,
    /// A capture id to seal (repeat for several).
    #[arg(long)]
    pub capture: Vec<String>,
    /// A case: every finding in it (with captures and pictures), recorded on the case.
    #[arg(long, conflicts_with_all = ["finding", "capture"])]
    pub case: Option<String>,
    /// Where to write the bundle (`.wacz`).
    #[arg(long)]
    pub out: PathBuf,
    /// Title of the bundle and its report.
    #[arg(long, default_value = "网络抽查电子证据 / online spot-check evidence")]
    pub title: String,
    /// Why the evidence is taken (case or task number).
    #[arg(long)]
    pub purpose: Option<String>,
    /// RFC 3161 time-stamping authority URL for the checkpoint.
    #[arg(long, env = "SPOTCHECK_TSA_URL")]
    pub tsa_url: Option<String>,
    /// Print the report to PDF with Chromium: auto (when found), always, never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub pdf: String,
    /// Capture each finding's page in Chromium first when it has no screenshot yet,
    /// so every finding in the bundle has a picture: auto (when found), always, never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub pictures: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub network: crate::cli::network::NetworkArgs,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bundle to verify.
    pub file: PathBuf,
    /// Require this station key fingerprint (`sha256:<hex>`).
    #[arg(long)]
    pub key: Option<String>,
    /// Trusted TSA root certificate(s), PEM; tokens must chain to one.
    #[arg(long)]
    pub tsa_ca: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// Print the public key as PEM too.
    #[arg(long)]
    pub pem: bool,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Re-check the whole chain, every tree node, every checkpoint signature and
    /// timestamp, and (with --artifacts) every captured file the ledger names.
    Verify(LedgerVerifyArgs),
    /// Sign a checkpoint over everything recorded so far.
    Checkpoint(CheckpointArgs),
}

#[derive(Debug, clap::Args)]
pub struct LedgerVerifyArgs {
    /// Also re-hash every capture record and raw body the ledger names.
    #[arg(long)]
    pub artifacts: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// RFC 3161 time-stamping authority to timestamp the checkpoint with.
    #[arg(long, env = "SPOTCHECK_TSA_URL")]
    pub tsa_url: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs an evidence command; `Ok(false)` when a verification failed.
pub async fn run(command: EvidenceCommand, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    // Verification needs nothing of the station: it is what enforcement runs.
    if let EvidenceCommand::Verify(args) = &command {
        return verify(args);
    }
    let store = data.open_store().with_context(|| format!("cannot open the station in `{}`", data.root().display()))?;
    let station = Station::open(data, &store, identity)?;
    match command {
        EvidenceCommand::Key(args) => {
            let public = station.key.public();
            if station.key_created {
                println!("generated a new station key");
            }
            println!("fingerprint  {}", public.fingerprint());
            println!(
                "private key  {} (mode 0600)",
                data.keys().join(evidence::keys::StationKey::PRIVATE_FILE).display()
            );
            println!("public key   {}", data.keys().join(evidence::keys::StationKey::PUBLIC_FILE).display());
            if args.pem {
                print!("{}", public.to_pem());
            }
            Ok(true)
        }
        EvidenceCommand::Verify(args) => verify(&args),
        EvidenceCommand::Findings(args) => {
            let findings = crate::findings::FindingStore::open(&store)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut n = 0;
            let written = (|| -> std::io::Result<()> {
                for f in findings.all() {
                    let f = f.map_err(std::io::Error::other)?;
                    if args.rule.as_ref().is_some_and(|r| *r != f.rule) {
                        continue;
                    }
                    n += 1;
                    if args.json {
                        writeln!(out, "{}", serde_json::to_string(&f)?)?;
                    } else {
                        writeln!(out, "{}  {:<26} {}", f.id, f.rule, f.listing)?;
                    }
                }
                if !args.json {
                    writeln!(out, "{n} findings")?;
                }
                out.flush()
            })();
            match written {
                // A reader that stops early (`| head`) is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(true),
                other => other.map(|()| true).context("cannot list the findings"),
            }
        }
        EvidenceCommand::Bundle(args) => {
            let findings = crate::findings::FindingStore::open(&store)?;
            let ids = match &args.case {
                Some(case) => crate::cases::CaseStore::open(&store)?
                    .get(case)?
                    .with_context(|| format!("case `{case}` not found"))?
                    .findings
                    .into_iter()
                    .map(|f| f.id)
                    .collect(),
                None => args.finding.clone(),
            };
            let records = Station::findings(&findings, &ids)?;
            let captures = Station::capture_ids(&args.capture)?;
            let chromium_for = |mode: &str, flag: &str| -> anyhow::Result<Option<PathBuf>> {
                match mode {
                    "never" => Ok(None),
                    "always" => evidence::report::find_chromium().map(Some).with_context(|| {
                        format!("{flag} always: no Chromium found (install the `chromium` package or set SPOTCHECK_CHROMIUM)")
                    }),
                    _ => Ok(evidence::report::find_chromium()),
                }
            };
            let chromium = chromium_for(&args.pdf, "--pdf")?;
            if let Some(path) = chromium_for(&args.pictures, "--pictures")? {
                let pool = crate::browser::BrowserPool::launch(crate::browser::BrowserConfig {
                    chromium: Some(path),
                    ..args.network.browser_config()
                })
                .await?;
                let fetch = args.network.fetch_config(identity);
                let taken = station.picture_findings(&pool, &records, &fetch).await?;
                if !args.json && taken.captured > 0 {
                    println!("pictured {} finding page(s) in Chromium", taken.captured);
                }
                for failure in &taken.failed {
                    eprintln!("warning: no picture of {failure}");
                }
            }
            let options = crate::sealing::BundleOptions {
                out: args.out.clone(),
                title: args.title.clone(),
                purpose: args.purpose.clone(),
                tsa_url: args.tsa_url.clone(),
                chromium,
            };
            let summary = match &args.case {
                Some(case) => {
                    let notifier = crate::cases::notify::Notifier {
                        store: &store,
                        station: &station,
                        cases: &crate::cases::CaseStore::open(&store)?,
                        findings: &findings,
                        notices: &crate::notices::NoticeStore::open(store.db())?,
                        actor: crate::cases::actor(identity),
                    };
                    notifier.seal_bundle(case, options).await?
                }
                None => station.seal_bundle(&store, records, captures, &options).await?,
            };
            if args.json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!("bundle {} written to {}", summary.id, summary.path.display());
                println!(
                    "  {} captures, {} findings, {} ledger entries with proofs, {} timestamp tokens, {} files{}",
                    summary.captures,
                    summary.findings,
                    summary.ledger_entries,
                    summary.timestamp_tokens,
                    summary.files,
                    if summary.pdf { " (report as HTML and PDF)" } else { " (report as HTML)" }
                );
                println!(
                    "  {} ({} bytes), signed by {}",
                    summary.sha256,
                    summary.bytes,
                    station.key.public().fingerprint()
                );
            }
            Ok(true)
        }
        EvidenceCommand::Ledger(LedgerCommand::Checkpoint(args)) => {
            let signed = station.checkpoint_timestamped(args.tsa_url.as_deref()).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&signed)?);
            } else {
                print!("{}", signed.text);
                println!("signature: {}", signed.signature);
            }
            Ok(true)
        }
        EvidenceCommand::Ledger(LedgerCommand::Verify(args)) => {
            let started = std::time::Instant::now();
            let mut report = station.verify_ledger()?;
            let mut artifacts = None;
            if args.artifacts {
                let (checked, problems) = station.verify_artifacts()?;
                report.problems.extend(problems);
                artifacts = Some(checked);
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "ledger: {} entries, {} checkpoints, {} timestamp tokens checked in {:.2}s",
                    report.entries,
                    report.checkpoints,
                    report.tokens,
                    started.elapsed().as_secs_f64()
                );
                if let Some(n) = artifacts {
                    println!("artifacts: {n} capture records and bodies re-hashed");
                }
                if let Some(cp) = &report.latest {
                    println!("latest checkpoint: {} entries, root {}, signed {}", cp.size, cp.root, cp.time);
                }
                for p in &report.problems {
                    println!("FAILED {} at {}: {}", p.check, p.at, p.detail);
                }
                println!("{}", if report.ok() { "ledger verified" } else { "LEDGER DOES NOT VERIFY" });
            }
            Ok(report.ok())
        }
    }
}

/// `spotcheck evidence verify`: the same checks as `evidence-verify`.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read `{}`", args.file.display()))?;
    let mut options = evidence::bundle::VerifyOptions { expect_key: args.key.clone(), ..Default::default() };
    if let Some(path) = &args.tsa_ca {
        let pem = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        options.tsa_roots = evidence::timestamp::certs_from_pem(&pem)?;
    }
    let report = evidence::bundle::verify_bundle(&bytes, &options);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", evidence::bundle::verify::render_text(&args.file.display().to_string(), &report));
    }
    Ok(report.ok())
}
