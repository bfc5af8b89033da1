//! Everything the binary prints for people or programs.

pub mod diagnostics;
