//! The staff console (issue 8): being written.
