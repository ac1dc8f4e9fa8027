//! A draw on disk: `draw.json` (the record), `draw.csv` (the table) and
//! `candidates.jsonl` (one [`Candidate`] per line, what it was drawn from),
//! written by `spotcheck sample draw` and by every plan run, and read back by
//! `spotcheck sample verify`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::candidate::Candidate;
use super::draw::Draw;
use super::SamplingError;

pub const DRAW_JSON: &str = "draw.json";
pub const DRAW_CSV: &str = "draw.csv";
pub const CANDIDATES: &str = "candidates.jsonl";

/// Writes the three files of `drawn` (drawn from `candidates`) into `dir`,
/// creating it. Each file is written to a temporary name, synced and renamed,
/// so a file under its name is always whole.
pub fn write_draw_files(dir: &Path, candidates: &[Candidate], drawn: &Draw) -> Result<(), SamplingError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut lines = Vec::new();
    for c in candidates {
        serde_json::to_writer(&mut lines, c)?;
        lines.push(b'\n');
    }
    write_atomic(&dir.join(CANDIDATES), &lines)?;
    write_atomic(&dir.join(DRAW_JSON), drawn.to_json()?.as_bytes())?;
    write_atomic(&dir.join(DRAW_CSV), drawn.to_csv()?.as_bytes())
}

/// The draw recorded in `dir` and the candidates beside it.
pub fn read_draw_files(dir: &Path) -> Result<(Draw, Vec<Candidate>), SamplingError> {
    let path = dir.join(DRAW_JSON);
    let json = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    let drawn = Draw::from_json(&json)?;
    Ok((drawn, read_candidates(&dir.join(CANDIDATES))?))
}

/// Redoes the draw recorded in `dir` from its candidates
/// ([`SamplingError::DoesNotVerify`] lists every difference).
pub fn verify_draw_files(dir: &Path) -> Result<Draw, SamplingError> {
    let (drawn, candidates) = read_draw_files(dir)?;
    drawn.verify(&candidates)?;
    Ok(drawn)
}

/// Candidates as JSON Lines (blank lines skipped).
pub fn read_candidates(path: &Path) -> Result<Vec<Candidate>, SamplingError> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let candidate = serde_json::from_str(&line).map_err(|e| SamplingError::BadCandidate {
            path: path.to_path_buf(),
            line: i + 1,
            detail: e.to_string(),
        })?;
        out.push(candidate);
    }
    Ok(out)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SamplingError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

fn io(path: &Path, source: std::io::Error) -> SamplingError {
    SamplingError::Io { path: PathBuf::from(path), source }
}
