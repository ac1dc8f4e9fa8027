//! `spotcheck listings export`: the stored listings as JSON Lines or CSV.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::config::DataDir;
use crate::model::Listing;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

const CSV_COLUMNS: &[&str] = &[
    "platform",
    "item_id",
    "url",
    "title",
    "price",
    "original_price",
    "currency",
    "availability",
    "brand",
    "model",
    "category",
    "manufacturer",
    "manufacturer_address",
    "sales",
    "stock",
    "shop_id",
    "shop_name",
    "certificates",
    "captured_at",
    "capture_id",
];

fn csv_row(l: &Listing) -> Vec<String> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    vec![
        l.platform.clone(),
        l.item_id.clone(),
        l.url.clone(),
        s(&l.title),
        l.price.map(|p| p.to_string()).unwrap_or_default(),
        l.original_price.map(|p| p.to_string()).unwrap_or_default(),
        s(&l.currency),
        l.availability.map(|a| format!("{a:?}")).unwrap_or_default(),
        s(&l.brand),
        s(&l.model),
        s(&l.category),
        s(&l.manufacturer),
        s(&l.manufacturer_address),
        n(l.sales),
        n(l.stock),
        l.shop.as_ref().map(|s| s.shop_id.clone()).unwrap_or_default(),
        l.shop.as_ref().and_then(|s| s.name.clone()).unwrap_or_default(),
        l.certificates.iter().map(|c| format!("{}:{}", c.kind.as_str(), c.number)).collect::<Vec<_>>().join(";"),
        l.captured_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        s(&l.capture_id),
    ]
}

pub fn export(args: ExportArgs, data: &DataDir) -> anyhow::Result<u64> {
    let store = data.open_store()?;
    let out: Box<dyn Write> = match &args.out {
        Some(path) => {
            Box::new(std::fs::File::create(path).with_context(|| format!("cannot create `{}`", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::new(out);
    let mut n = 0;
    match args.format {
        Format::Jsonl => {
            for listing in store.latest_listings() {
                serde_json::to_writer(&mut out, &listing?)?;
                out.write_all(b"\n")?;
                n += 1;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(CSV_COLUMNS)?;
            for listing in store.latest_listings() {
                w.write_record(csv_row(&listing?))?;
                n += 1;
            }
            w.flush()?;
        }
    }
    out.flush()?;
    Ok(n)
}
