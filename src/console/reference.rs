//! The shipped rule set's reference data, loaded once per process: the CCC
//! catalogue classes the plan form offers and the report and dashboard
//! classify listings by.

use std::sync::OnceLock;

use super::error::ConsoleError;
use crate::rules::reference::Catalogue;
use crate::rules::RuleSet;

static RULES: OnceLock<Result<RuleSet, String>> = OnceLock::new();

/// The built-in catalogue (`RuleSet::builtin()`'s reference data).
pub fn catalogue() -> Result<&'static Catalogue, ConsoleError> {
    match RULES.get_or_init(|| RuleSet::builtin().map_err(|e| e.to_string())) {
        Ok(rules) => Ok(&rules.reference.catalogue),
        Err(e) => Err(ConsoleError::Internal(format!("cannot load the built-in rules: {e}"))),
    }
}

/// The catalogue name of class `id`, or `id` itself.
pub fn class_name<'a>(catalogue: &'a Catalogue, id: &'a str) -> &'a str {
    catalogue.classes.iter().find(|c| c.id == id).map_or(id, |c| c.name.as_str())
}

/// Runs blocking store work off the async threads; a panic or a cancelled
/// task becomes an internal error page.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ConsoleError> + Send + 'static,
) -> Result<T, ConsoleError> {
    tokio::task::spawn_blocking(work).await.map_err(ConsoleError::internal)?
}
