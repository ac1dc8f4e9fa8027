//! Running a plan (issue 8): being written.
