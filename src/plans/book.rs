//! The plans of a data directory: `<data>/plans/<id>.toml`, one plan per
//! file, the file named by the plan's id. Read fresh on every call (the
//! scheduler reloads them each round, so an edited file takes effect without
//! a restart); written only by [`PlanBook::save`], atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::compile::{compile, Plan};
use crate::config::DataDir;
use crate::diagnostics::Problem;

/// The largest plan file [`PlanBook::save`] accepts.
pub const MAX_PLAN_BYTES: usize = 64 * 1024;

/// The plan files of one data directory.
#[derive(Debug, Clone)]
pub struct PlanBook {
    dir: PathBuf,
}

impl PlanBook {
    /// The book of `data` (`<data>/plans`; it need not exist yet).
    pub fn open(data: &DataDir) -> PlanBook {
        PlanBook { dir: data.root().join("plans") }
    }

    /// A book over any directory of plan files.
    pub fn at(dir: impl Into<PathBuf>) -> PlanBook {
        PlanBook { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the plan `id` is (or would be) stored.
    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.toml"))
    }

    /// Every `*.toml` in the book, compiled against the adapter names, sorted
    /// by file name (= plan id). A missing directory is an empty book.
    pub fn list(&self, adapters: &[&str]) -> Vec<(PathBuf, Result<Plan, Vec<Problem>>)> {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return vec![(self.dir.clone(), Err(vec![problem(&self.dir, format!("cannot read: {e}"))]))],
        };
        files.sort();
        files
            .into_iter()
            .map(|file| {
                let compiled = read(&file).and_then(|text| {
                    let plan = compile(&file, &text, adapters)?;
                    check_file_name(&file, &text, &plan)?;
                    Ok(plan)
                });
                (file, compiled)
            })
            .collect()
    }

    /// The plan `id`: `None` when there is no such file, problems when it does not compile.
    pub fn get(&self, id: &str, adapters: &[&str]) -> Option<Result<Plan, Vec<Problem>>> {
        if !safe_id(id) {
            return None;
        }
        let text = self.source(id)?;
        let file = self.path(id);
        Some(compile(&file, &text, adapters).and_then(|plan| check_file_name(&file, &text, &plan).map(|()| plan)))
    }

    /// The plan file's text (for an edit form); `None` when there is none or it is unreadable.
    pub fn source(&self, id: &str) -> Option<String> {
        if !safe_id(id) {
            return None;
        }
        std::fs::read_to_string(self.path(id)).ok()
    }

    /// Compiles `text` and, when it is a good plan whose `id` is `id`, writes it
    /// as `<id>.toml` (temporary file, fsync, rename, directory fsync).
    pub fn save(&self, id: &str, text: &str, adapters: &[&str]) -> Result<Plan, Vec<Problem>> {
        let file = self.path(if safe_id(id) { id } else { "plan" });
        if !safe_id(id) {
            return Err(vec![problem(&file, format!("bad plan id `{id}`: use `[a-z0-9][a-z0-9_-]{{0,63}}`"))]);
        }
        if text.len() > MAX_PLAN_BYTES {
            return Err(vec![problem(&file, format!("plan is {} bytes; the limit is {MAX_PLAN_BYTES}", text.len()))]);
        }
        let plan = compile(&file, text, adapters)?;
        check_file_name(&file, text, &plan)?;
        write_atomic(&self.dir, &file, text.as_bytes())
            .map_err(|e| vec![problem(&file, format!("cannot save: {e}"))])?;
        Ok(plan)
    }
}

/// `[a-z0-9][a-z0-9_-]{0,63}`: safe as a file name on any system.
pub fn safe_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

fn read(file: &Path) -> Result<String, Vec<Problem>> {
    crate::diagnostics::read_source(file, "plan").map_err(|p| vec![p])
}

/// The file's name must be the plan's id, so a plan is found by its id.
fn check_file_name(file: &Path, text: &str, plan: &Plan) -> Result<(), Vec<Problem>> {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if stem == plan.id && safe_id(&plan.id) {
        return Ok(());
    }
    let (line, column) = id_position(text);
    let message = if safe_id(&plan.id) {
        format!("plan id `{}` does not match the file name `{stem}.toml`", plan.id)
    } else {
        format!("bad plan id `{}`: use `[a-z0-9][a-z0-9_-]{{0,63}}`", plan.id)
    };
    Err(vec![Problem { file: file.to_path_buf(), line, column, message }])
}

/// Line and column of the `id =` key (or 1:1).
fn id_position(text: &str) -> (usize, usize) {
    text.lines().position(|l| l.trim_start().starts_with("id")).map_or((1, 1), |i| (i + 1, 1))
}

fn problem(file: &Path, message: String) -> Problem {
    Problem { file: file.to_path_buf(), line: 1, column: 1, message }
}

fn write_atomic(dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = file.with_extension(format!("toml.tmp{}", std::process::id()));
    let mut out = std::fs::File::create(&tmp)?;
    out.write_all(bytes)?;
    out.sync_all()?;
    drop(out);
    if let Err(e) = std::fs::rename(&tmp, file) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_ids() {
        for good in ["a", "0", "toys-2026_q4", &"a".repeat(64)] {
            assert!(safe_id(good), "{good}");
        }
        for bad in ["", "-a", "_a", "A", "a/b", "..", "a.b", &"a".repeat(65), "玩具"] {
            assert!(!safe_id(bad), "{bad}");
        }
    }
}
