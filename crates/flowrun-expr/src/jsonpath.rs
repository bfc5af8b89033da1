//! JSONPath (RFC 9535) queries, compiled once.
