//! The generic HTTP connector: `uses: http.request` calls any HTTP API, with or without a
//! connection.
//!
//! A connection adds a `base_url` that relative URLs resolve against and the shared HTTP keys
//! (`auth`, `rate_limit`, `timeout`, `max_response_size`); without one, `url` must be absolute.
//!
//! [`spec`] is the catalog entry (the connection schema and the module's parameter and output
//! schemas); [`connector`] is the runtime the binary registers, on top of the HTTP layer of
//! `flowrun-connect` (auth, retries per request, rate limits, pagination).

mod call;
mod request;

use std::sync::Arc;

use flowrun_connect::module::{Connector, Module};

use flowrun_connect::config::HttpConnectionConfig;
use flowrun_connect::schema::{input_schema, module};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use flowrun_connect::paginate::Pagination;
pub use request::{ContentEncoding, FilePart, RequestOutput, RequestParams, ResponseFormat};

/// The name in `uses: http.<module>` and `connector: http`.
pub const NAME: &str = "http";

/// A connection to one HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct HttpConnection {
    /// The URL relative request URLs resolve against, e.g. `https://api.example.com/v2`.
    /// A request `url` of `orders?status=open` becomes `https://api.example.com/v2/orders?status=open`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(flatten)]
    pub http: HttpConnectionConfig,
}

/// The catalog entry of the `http` connector.
pub fn spec() -> ConnectorSpec {
    ConnectorSpec {
        name: NAME.to_owned(),
        description: "Calls any HTTP API: JSON, text or binary, with basic, bearer, API-key or \
                      OAuth2 authentication from the connection, or no connection at all for an \
                      absolute URL."
            .to_owned(),
        connection_schema: input_schema::<HttpConnection>(),
        connection_optional: true,
        modules: vec![
            module::<RequestParams, RequestOutput>(
                "request",
                ModuleKind::ApiCall,
                "Sends one HTTP request (or, with `paginate`, one per page) and returns \
             `{status, headers, body}`. A status outside 2xx fails the step unless listed in \
             `ok_status`.",
            )
            // Without a connection there is no `base_url` to resolve a relative URL against.
            .without_connection(serde_json::json!({
                "type": "object",
                "properties": { "url": { "type": "string", "pattern": "^https?://" } },
            })),
        ],
    }
}

/// The runtime of the `http` connector, for the binary's `Registry`.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(HttpConnector)
}

struct HttpConnector;

impl Connector for HttpConnector {
    fn name(&self) -> &str {
        NAME
    }

    fn spec(&self) -> ConnectorSpec {
        spec()
    }

    fn module(&self, name: &str) -> Option<Arc<dyn Module>> {
        match name {
            "request" => Some(Arc::new(call::HttpRequest)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
