//! The `config` block of a Conexiom connection.

use flowrun_connect::config::{ClientAuth, HttpConnectionConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::id::Id;

/// A connection to one Conexiom tenant, reading the data of one HubCo. The connector gets its
/// tokens with the OAuth 2.0 password grant (`username`, `password`, `client_id`,
/// `client_secret`) and fetches a new one when a token expires or a call returns 401.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ConexiomConnection {
    /// The tenant's API root, e.g. `https://dev65.conexiom.net/Conexiom.API`.
    pub api_url: String,
    /// The id of the HubCo (the Conexiom customer) whose data this connection reads.
    pub hubco_id: Id,
    /// The API user's name.
    pub username: String,
    /// The API user's password; write it as `"{{ secrets.NAME }}"`.
    pub password: String,
    /// The OAuth 2.0 client id.
    pub client_id: String,
    /// The OAuth 2.0 client secret; write it as `"{{ secrets.NAME }}"`.
    pub client_secret: String,
    /// The token endpoint. Default `{api_url}/token`. UNSURE: the real path is undocumented;
    /// `{api_url}/oauth/token` and `{api_url}/connect/token` are the other candidates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// How the client id and secret reach the token endpoint: `body` (default, form fields) or
    /// `basic` (an `Authorization: Basic` header). UNSURE which the real API expects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<ClientAuth>,
    #[serde(flatten)]
    pub http: HttpConnectionConfig,
}
