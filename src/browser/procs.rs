//! The browser's process tree, read from `/proc`: Chromium runs a renderer,
//! GPU and utility process per tab or service, so its memory is the sum over
//! the tree, not the RSS of the one process we started.

use std::collections::HashMap;
use std::fs;

/// `root` and every process descended from it (Linux `/proc`; empty elsewhere
/// or when `root` is gone).
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut parents: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(ppid) = parent_of(pid) {
            parents.entry(ppid).or_default().push(pid);
        }
    }
    if fs::metadata(format!("/proc/{root}")).is_err() {
        return Vec::new();
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(children) = parents.get(&out[i]) {
            out.extend(children);
        }
        i += 1;
    }
    out
}

/// The parent pid from `/proc/<pid>/stat` (the field after the `)` that ends
/// the command name, which may itself contain spaces and parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Resident set size of `pid` in bytes (`VmRSS`). Summed over a tree it
/// counts shared pages (Chromium's libraries) once per process.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    proc_kb(pid, "status", "VmRSS:")
}

/// Proportional set size of `pid` in bytes (`Pss` in `smaps_rollup`): shared
/// pages split among their sharers, so a tree's sum is what it really costs.
pub fn pss_bytes(pid: u32) -> Option<u64> {
    proc_kb(pid, "smaps_rollup", "Pss:")
}

fn proc_kb(pid: u32, file: &str, name: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// True when `pid` is gone or a zombie (exited, not yet reaped).
pub(super) fn is_dead(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()) == Some("Z"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn our_own_process_is_its_tree_root_and_has_memory() {
        let me = std::process::id();
        assert_eq!(super::process_tree(me).first(), Some(&me));
        assert!(super::rss_bytes(me).unwrap_or(0) > 0);
        assert!(!super::is_dead(me));
    }
}
