//! The `config` block of an Exact Online connection.

use flowrun_connect::config::HttpConnectionConfig;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A connection to Exact Online through an app registered in the Exact App Center. Access is
/// granted once with `flowrun auth login <connection>` (OAuth 2.0 authorization code); the
/// refresh token lives in the state store, not here, because Exact replaces it on every refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ExactOnlineConnection {
    /// The country's site, which serves both tokens and data: `https://start.exactonline.nl`,
    /// `.be`, `.de`, `.co.uk`, `.fr`, `.es` or `https://start.exactonline.com` (US).
    pub base_uri: String,
    /// The division (administration) to work in, e.g. `123456`. Default: the user's current
    /// division (`/api/v1/current/Me`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<u64>,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret; write it as `"{{ secrets.NAME }}"`.
    pub client_secret: String,
    /// The redirect URI registered for the app, where `flowrun auth login` receives the code.
    /// Only granting access needs it; refreshing tokens does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Scopes to ask for at consent, e.g. `[crm/accounts]`. Exact grants the scopes chosen
    /// in the app's registration; whether it reads these is UNSURE. Default: none asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(flatten)]
    pub http: HttpConnectionConfig,
}
