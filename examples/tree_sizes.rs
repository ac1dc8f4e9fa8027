//! What a data directory's database holds, tree by tree: entries and the
//! bytes of their keys and values (a crawl job's frontier trees summed as
//! `job/*/…`). Shows which data grows from run to run (RELIABILITY.md, "Memory").
//!
//!     cargo run --release --example tree_sizes -- DATA_DIR/db
//!
//! Open it only while no `spotcheck` process uses that data directory.

use std::collections::BTreeMap;

use spotcheck::store::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::args().nth(1).ok_or("usage: tree_sizes DATA_DIR/db")?;
    let store = Store::open_with_cache(std::path::Path::new(&db), 8 << 20)?;
    let mut groups: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for name in store.db().tree_names() {
        let name = String::from_utf8_lossy(&name).into_owned();
        let tree = store.db().open_tree(&name)?;
        let (mut entries, mut bytes) = (0u64, 0u64);
        for entry in tree.iter() {
            let (k, v) = entry?;
            entries += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        let group = match name.strip_prefix("job/") {
            Some(rest) => format!("job/*/{}", rest.rsplit('/').next().unwrap_or(rest)),
            None => name,
        };
        let sum = groups.entry(group).or_default();
        (sum.0, sum.1) = (sum.0 + entries, sum.1 + bytes);
    }
    println!("{:<32} {:>10} {:>10}", "tree", "entries", "MiB");
    for (group, (entries, bytes)) in groups {
        println!("{group:<32} {entries:>10} {:>10.1}", bytes as f64 / 1048576.0);
    }
    Ok(())
}
