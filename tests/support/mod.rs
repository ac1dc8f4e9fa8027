//! Test servers shared by the integration tests (`mod support;` in a test file).

pub mod hostile;
