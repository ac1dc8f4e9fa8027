//! How much memory the store takes as data is written: the process's RSS
//! after every 200,000 keys, for a given database cache. Shows that the
//! store's resident memory stays within its cache however much is written
//! (RELIABILITY.md, "Memory").
//!
//!     cargo run --release --example store_memory -- [CACHE_MIB] [TREES] [KEYS]
//!
//! Defaults: 16 MiB of cache, 1 tree, 2,000,000 keys of ~110 bytes (a URL and
//! a small value, like a crawl's seen-set). `TREES` > 1 spreads the keys over
//! that many trees, as one tree per crawl job would.

use spotcheck::store::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: u64| -> Result<u64, String> {
        std::env::args()
            .nth(i)
            .map_or(Ok(default), |v| v.parse().map_err(|_| format!("argument {i} `{v}` is not a number")))
    };
    let (cache_mib, trees, keys) = (arg(1, 16)?, arg(2, 1)?.max(1), arg(3, 2_000_000)?);
    let dir = tempfile::tempdir()?;
    let store = Store::open_with_cache(dir.path(), cache_mib * 1024 * 1024)?;
    println!("cache {cache_mib} MiB, {trees} trees, {keys} keys");
    println!("{:>10} {:>9} {:>9}", "keys", "rss MiB", "disk MiB");
    let per_tree = keys / trees;
    let mut written = 0u64;
    for t in 0..trees {
        let tree = store.db().open_tree(format!("job/{t}/seen"))?;
        for i in 0..per_tree {
            let key = format!("https://market.example/item/{t}/{i}/some-long-path");
            tree.insert(key.as_bytes(), vec![1u8; 60])?;
            written += 1;
            if written.is_multiple_of(200_000) {
                store.flush()?;
                println!("{written:>10} {:>9} {:>9}", rss_mib(), store.db().size_on_disk()? >> 20);
            }
        }
    }
    Ok(())
}

/// This process's resident set size, MiB (0 where /proc is not there).
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok());
    kib.unwrap_or(0u64) / 1024
}
