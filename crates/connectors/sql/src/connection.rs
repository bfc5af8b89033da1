//! The `config` block of a SQL connection.

use flowrun_flow::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A connection to one database. It embeds none of the shared HTTP keys (`auth`, `rate_limit`,
/// `max_response_size` mean nothing to a database): credentials go in the URL, and `timeout`
/// is its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SqlConnection {
    /// The database: `sqlite://data/app.db` (a file; a relative path is below the project's
    /// folder, the one of `flowrun.yaml`, else the flow file's; made with its folders when
    /// missing; `?mode=ro` for read only), `sqlite::memory:` (one database per connection for
    /// the process), or `postgres://user:password@host:5432/db`. Write a password as
    /// `"postgres://app:{{ secrets.DB_PASSWORD }}@db/app"`; it never shows in a message.
    #[schemars(regex(pattern = r"^(sqlite:|postgres://|postgresql://)"))]
    pub url: String,
    /// How long one call may take, from waiting for a connection to its last statement (a
    /// whole `insert` or `upsert` included); the run's cancellation stops it too. Default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// The most connections open at once. Default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_connections: Option<u32>,
}
