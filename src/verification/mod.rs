//! Verification of delistings by re-crawl (issue 7).
//! (Being built: see the issue.)
