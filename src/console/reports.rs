//! The console's `reports` section (being written).

use axum::Router;

use super::ConsoleState;

pub fn routes() -> Router<ConsoleState> {
    Router::new()
}
