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
