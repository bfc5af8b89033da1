//! What every flowrun connector builds on.
//!
//! - The shared HTTP keys every connection `config` may carry ([`config::HttpConnectionConfig`]:
//!   `auth`, `rate_limit`, `timeout`, `max_response_size`), the request and response shapes of
//!   raw API calls ([`http`]), and the one way connector crates turn their parameter and output
//!   types into draft-07 JSON Schemas ([`schema`]).
//! - The runtime contract: the [`module::Module`] and [`module::Connector`] traits the engine
//!   calls (one async call from JSON to JSON, with a [`module::CallContext`]) and the
//!   [`registry::Registry`] where the engine and the validator find connectors.
//! - The HTTP layer connectors speak through: [`client::HttpClient`] (one per connection, made
//!   by the process's [`runtime::HttpRuntime`]) with the auth kinds ([`auth`], OAuth2 tokens
//!   cached in a [`auth::TokenStore`]), the step's retry policy per request ([`retry`]),
//!   per-connection rate limits ([`rate_limit`]), size limits, and pagination ([`paginate`]).
//!
//! This crate knows no connector by name and nothing of flows beyond the catalog types.

pub mod auth;
pub mod client;
pub mod config;
pub mod http;
pub mod module;
pub mod paginate;
pub mod quota;
pub mod rate_limit;
pub mod record;
pub mod registry;
pub mod retry;
pub mod runtime;
pub mod schema;
pub mod testing;
pub mod trigger;

#[cfg(test)]
mod tests;
