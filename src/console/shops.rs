//! The console's `shops` section (being written).

use axum::Router;

use super::ConsoleState;

pub fn routes() -> Router<ConsoleState> {
    Router::new()
}
