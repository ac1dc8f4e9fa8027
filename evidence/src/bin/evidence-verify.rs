//! `evidence-verify FILE.wacz [--key sha256:…] [--tsa-ca roots.pem] [--json]`
//!
//! Checks a spotcheck evidence bundle offline and prints a verdict: exit 0
//! when everything verifies, 1 when a check failed, 2 when the command line
//! or a file cannot be read. Depends on the `evidence` crate only.

use std::process::ExitCode;

use evidence::bundle::{verify, verify_bundle, VerifyOptions};

const USAGE: &str = "usage: evidence-verify FILE.wacz [--key sha256:<hex>] [--tsa-ca ROOTS.pem] [--json]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("evidence-verify: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<bool, String> {
    let mut file = None;
    let mut options = VerifyOptions::default();
    let mut json = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--key" => options.expect_key = Some(args.next().ok_or("--key needs a fingerprint")?),
            "--tsa-ca" => {
                let path = args.next().ok_or("--tsa-ca needs a file")?;
                let pem = std::fs::read(&path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
                options.tsa_roots = evidence::timestamp::certs_from_pem(&pem).map_err(|e| format!("`{path}`: {e}"))?;
            }
            "--json" => json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(true);
            }
            other if other.starts_with('-') => return Err(format!("unknown option `{other}`")),
            other if file.is_none() => file = Some(other.to_string()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let file = file.ok_or("no bundle given")?;
    let bytes = std::fs::read(&file).map_err(|e| format!("cannot read `{file}`: {e}"))?;
    let report = verify_bundle(&bytes, &options);
    if json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        print!("{}", verify::render_text(&file, &report));
    }
    Ok(report.ok())
}
