//! The `config` block of a 1CRM connection.

use flowrun_connect::config::HttpConnectionConfig;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A connection to one 1CRM instance. The connector authenticates with HTTP Basic
/// (`username`, `password`); an administrator must enable the API and Basic auth in "API and
/// OAuth settings". Setting the shared `auth` key (e.g. `oauth2` against
/// `https://{domain}/api.php/auth/user/access_token`) replaces Basic auth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[schemars(extend(
    "allOf" = [
        { "if": { "not": { "required": ["auth"] } }, "then": { "required": ["username", "password"] } },
        { "if": { "not": { "required": ["base_url"] } }, "then": { "required": ["domain"] } }
    ]
))]
pub struct OnecrmConnection {
    /// The instance's host without scheme (flowrun adds `https://`), e.g. `crm.example.com`.
    /// Optionally with a port and the folder 1CRM lives in (`portaldemo.1crmcloud.com/1crm`);
    /// not `https://crm.example.com`. The connector calls `https://{domain}/api.php`.
    /// Required unless `base_url` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9.\-]+(:[0-9]+)?(/[^\s?#]*)?$"))]
    pub domain: Option<String>,
    /// The 1CRM user the connector acts as; its access rights apply. Required unless `auth` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The user's password; write it as `"{{ secrets.NAME }}"`. Required unless `auth` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A full API root instead of `https://{domain}/api.php`, mostly for tests.
    /// It includes `api.php`, e.g. a sandbox's `http://127.0.0.1:8080/onecrm/api.php`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(flatten)]
    pub http: HttpConnectionConfig,
}
