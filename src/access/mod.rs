//! Staff and enforcement access: tokens with roles for the API (issue 7).
//! (Being built: see the issue.)
