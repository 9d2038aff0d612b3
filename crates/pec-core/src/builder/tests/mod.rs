//! Builder tests, kind by kind.
