//! Fetching pages over HTTP: politeness, robots.txt, retries, limits, and a
//! [`evidence::CaptureRecord`] for every exchange. (Being written.)

mod politeness;

pub use politeness::Politeness;
