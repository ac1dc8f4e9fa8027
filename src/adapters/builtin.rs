//! The adapters shipped in `site-adapters/`, embedded so the binary works
//! from any directory (`--adapters DIR` can add to or override them).

use std::path::Path;

use super::{AdapterSet, Problem};

/// (file name, text) of every shipped adapter.
const SHIPPED: &[(&str, &str)] = &[
    ("sample-mall.toml", include_str!("../../site-adapters/sample-mall.toml")),
    ("sample-duo.toml", include_str!("../../site-adapters/sample-duo.toml")),
];

pub(super) fn load() -> (AdapterSet, Vec<Problem>) {
    let files: Vec<(String, &str)> = SHIPPED.iter().map(|(f, t)| (format!("builtin:{f}"), *t)).collect();
    AdapterSet::from_sources(files.iter().map(|(f, t)| (Path::new(f.as_str()), *t)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_adapters_load_without_problems() {
        let (set, problems) = super::load();
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(set.names(), ["sample-duo", "sample-mall"]);
    }
}
