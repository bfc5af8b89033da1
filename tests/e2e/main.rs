//! End-to-end tests: the real flowrun binary.
