//! What every flowrun connector builds on.
//!
//! Today this crate holds plain data only: the shared HTTP keys every connection `config` may
//! carry ([`config::HttpConnectionConfig`]: `auth`, `rate_limit`, `timeout`,
//! `max_response_size`), the request and response shapes of raw API calls ([`http`]), and the
//! one way connector crates turn their parameter and output types into draft-07 JSON Schemas
//! and [`flowrun_flow::catalog::ModuleSpec`]s ([`schema`]).
//!
//! The runtime contract: the [`module::Module`] and [`module::Connector`] traits the engine
//! calls (one async call from JSON to JSON, with a [`module::CallContext`]) and the
//! [`registry::Registry`] where the engine and the validator find connectors. The HTTP layer
//! arrives with its issue: the client with its auth kinds, the OAuth2 token cache, retries,
//! rate limits, pagination, size limits and record/replay. Connectors will speak HTTP only
//! through it.
//!
//! This crate knows no connector by name and nothing of flows beyond the catalog types.

pub mod config;
pub mod http;
pub mod module;
pub mod registry;
pub mod schema;
pub mod testing;

#[cfg(test)]
mod tests;
