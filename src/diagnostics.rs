//! Problems in the files people write — adapters, rules, reference data —
//! reported as `file:line:column: message`, every problem at once.
//!
//! Both the adapter and the rule loaders parse TOML into a spanned tree and
//! deserialize each part on its own ([`Diagnostics::de`]), so a shape error in
//! one part is recorded and the others are still checked.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// One problem in one file, at a line and column (both 1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
    }
}

/// The largest adapter, rule or plan file read: the biggest shipped one is a
/// few KiB, so anything near this is a mistake or an attack, not a config.
pub const MAX_SOURCE_BYTES: u64 = 1 << 20;

/// Reads a file people write (adapter, rule, plan), refusing one larger than
/// [`MAX_SOURCE_BYTES`] before reading it whole, or not UTF-8. `what` names
/// the kind of file in the message.
pub fn read_source(file: &Path, what: &str) -> Result<String, Problem> {
    use std::io::Read as _;
    let problem = |message: String| Problem { file: file.to_path_buf(), line: 1, column: 1, message };
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| problem(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(problem(format!("{what} file is larger than {} KiB", MAX_SOURCE_BYTES / 1024)));
    }
    String::from_utf8(bytes).map_err(|e| problem(format!("{what} file is not UTF-8: {e}")))
}

/// Collects the problems of one file, turning byte spans into line:column.
pub struct Diagnostics<'s> {
    file: PathBuf,
    src: &'s str,
    line_starts: Vec<usize>,
    pub problems: Vec<Problem>,
}

impl<'s> Diagnostics<'s> {
    pub fn new(file: &Path, src: &'s str) -> Diagnostics<'s> {
        let line_starts = std::iter::once(0).chain(src.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Diagnostics { file: file.to_path_buf(), src, line_starts, problems: Vec::new() }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_of(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.src.len());
        let line = self.line_starts.partition_point(|&start| start <= offset).max(1);
        let line_start = self.line_starts[line - 1];
        let column = self.src.get(line_start..offset).map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }

    /// Parses the whole file into a spanned tree. On syntax errors, records
    /// every one the parser recovered from and returns `None`: the shape of a
    /// file that does not parse is not checked.
    pub fn parse(&mut self) -> Option<Spanned<DeTable<'s>>> {
        let (root, errors) = DeTable::parse_recoverable(self.src);
        for e in &errors {
            self.at(e.span().unwrap_or(0..0), e.message().trim_end().to_string());
        }
        errors.is_empty().then_some(root)
    }

    /// Records a problem at the start of `span`.
    pub fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = self.line_of(span.start);
        self.problems.push(Problem { file: self.file.clone(), line, column, message: message.into() });
    }

    /// Deserializes one part of the tree; a shape error is recorded, not returned.
    pub fn de<T: DeserializeOwned>(&mut self, value: Spanned<DeValue<'_>>) -> Option<T> {
        let span = value.span();
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(v),
            Err(e) => {
                self.at(e.span().unwrap_or(span), e.message().trim_end().to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_too_large_or_not_utf8_is_a_problem_of_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_SOURCE_BYTES as usize + 1]).unwrap();
        let problem = read_source(&big, "adapter").unwrap_err();
        assert_eq!(problem.file, big);
        assert!(problem.message.contains("adapter file is larger than 1024 KiB"), "{problem}");
        let latin = dir.path().join("latin.toml");
        std::fs::write(&latin, b"name = \"caf\xe9\"").unwrap();
        assert!(read_source(&latin, "rule").unwrap_err().message.contains("rule file is not UTF-8"));
        let fine = dir.path().join("fine.toml");
        std::fs::write(&fine, vec![b'#'; MAX_SOURCE_BYTES as usize]).unwrap();
        assert_eq!(read_source(&fine, "plan").unwrap().len(), MAX_SOURCE_BYTES as usize);
    }

    #[test]
    fn spans_map_to_lines_and_character_columns() {
        let src = "a = 1\n名称 = \"x\"\n";
        let mut d = Diagnostics::new(Path::new("f.toml"), src);
        let offset = src.find('=').map(|_| src.rfind('=').unwrap_or(0)).unwrap_or(0);
        d.at(offset..offset + 1, "here");
        assert_eq!(d.problems[0].to_string(), "f.toml:2:4: here");
        assert_eq!(d.line_of(0), (1, 1));
        assert_eq!(d.line_of(10_000), (3, 1), "past the end clamps to the end");
    }
}
