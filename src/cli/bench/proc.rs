//! What every benchmark needs from the operating system: the sample
//! marketplace in a child process, CPU seconds and peak memory from /proc,
//! and the size of a directory on disk.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

/// The sample marketplace in a child process; killed when dropped.
pub struct MarketProcess {
    pub child: Child,
    pub url: String,
}

impl MarketProcess {
    pub fn start(listings: u64) -> anyhow::Result<MarketProcess> {
        let exe = std::env::current_exe().context("cannot find this program's path")?;
        let mut child = Command::new(exe)
            .args(["market", "serve", "--addr", "127.0.0.1:0", "--listings", &listings.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the sample marketplace")?;
        let stdout = child.stdout.take().context("no stdout from the marketplace")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            bail!("the marketplace did not say where it listens (got `{}`)", line.trim());
        };
        Ok(MarketProcess { url: url.trim_end_matches('/').to_string(), child })
    }
}

impl Drop for MarketProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// user + system CPU seconds of a process (`self` or a pid), from /proc.
pub fn cpu_secs(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    kib_field("/proc/self/status", "VmHWM:")
}

/// A `NAME:  123 kB` line of a /proc file (status, meminfo), in KiB; 0 when absent.
pub fn kib_field(path: &str, name: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM so each run reports its own peak (Linux: write 5 to clear_refs).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn dir_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
