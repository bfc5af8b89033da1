//! The shared HTTP keys every connection `config` may hold: `auth`, `rate_limit`, `timeout` and
//! `max_response_size`.
//!
//! A connector's connection type embeds [`HttpConnectionConfig`] with `#[serde(flatten)]` next to
//! its own keys, so one schema (and one serde type) covers both. Values are often templates such
//! as `"{{ secrets.TOKEN }}"`, so every free-text field is a plain `String`; templates are
//! rendered before a config is deserialized.

use std::fmt;
use std::str::FromStr;

use flowrun_flow::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The HTTP settings shared by every connection built on `flowrun-connect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct HttpConnectionConfig {
    /// How requests authenticate. Connectors with their own credential keys (1CRM, Conexiom,
    /// Exact Online) use those instead; set `auth` only to override them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// The most requests this connection sends per time window, across all steps of a process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// How long one request may take, connecting and reading the whole response included.
    /// Default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// The largest response body accepted; a larger one fails the request. An integer of bytes
    /// or a size with a unit (`B`, `KB`, `MB`, `GB` are powers of 1000; `KiB`, `MiB`, `GiB` of
    /// 1024). Default `10MB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_size: Option<ByteSize>,
}

/// The default of `timeout`.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The default of `max_response_size`, in bytes (`10MB`).
pub const DEFAULT_MAX_RESPONSE_SIZE: u64 = 10_000_000;

/// How a connection authenticates its requests, chosen by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// HTTP Basic: `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name.
        username: String,
        /// The password; write it as `"{{ secrets.NAME }}"`.
        password: String,
    },
    /// A fixed token sent as `Authorization: Bearer <token>`.
    Bearer {
        /// The token; write it as `"{{ secrets.NAME }}"`.
        token: String,
    },
    /// A key sent in a header or a query parameter.
    ApiKey {
        /// The header or query parameter name, e.g. `X-Api-Key` or `api_key`.
        name: String,
        /// The key; write it as `"{{ secrets.NAME }}"`.
        value: String,
        /// Where the key goes: `header` (default) or `query`.
        #[serde(rename = "in", default)]
        location: ApiKeyLocation,
    },
    /// OAuth 2.0: tokens are fetched from `token_url`, cached, refreshed before expiry and once
    /// more on a 401. With `authorization_code`, `flowrun auth login <connection>` runs the
    /// browser consent once and keeps the refresh token in the state store.
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// The grant used to obtain tokens.
        grant: OAuth2Grant,
        /// The token endpoint, e.g. `https://api.example.com/oauth/token`.
        token_url: String,
        /// The authorization endpoint the browser opens; needed for `authorization_code`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authorize_url: Option<String>,
        /// The client id.
        client_id: String,
        /// The client secret; absent for public clients.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<String>,
        /// The resource owner's user name; needed for the `password` grant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// The resource owner's password; needed for the `password` grant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// A refresh token to start from; needed for the `refresh_token` grant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_token: Option<String>,
        /// The scopes requested, sent space-separated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scopes: Option<Vec<String>>,
        /// Where the provider sends the browser back with the code (`authorization_code`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        redirect_uri: Option<String>,
        /// How the client id and secret reach the token endpoint: `basic` (default, an
        /// `Authorization: Basic` header, as RFC 6749 recommends) or `body` (form fields, for
        /// providers that accept nothing else).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_auth: Option<ClientAuth>,
        /// How long before its expiry an access token is replaced. Default `60s`. Providers
        /// that refuse early refreshes (Exact Online: not before 9.5 of its 10 minutes) need
        /// less.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_before: Option<Duration>,
    },
}

/// Where an OAuth2 client's id and secret go in a token request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// As HTTP Basic credentials (`Authorization: Basic base64(id:secret)`).
    #[default]
    Basic,
    /// As `client_id` and `client_secret` form fields.
    Body,
}

/// Where an API key is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyLocation {
    /// As a request header.
    #[default]
    Header,
    /// As a query parameter.
    Query,
}

/// The OAuth 2.0 grant a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuth2Grant {
    /// Resource-owner password: `username` and `password` are exchanged for tokens.
    Password,
    /// Client credentials: the client acts on its own behalf.
    ClientCredentials,
    /// Refresh token: `refresh_token` is exchanged for tokens.
    RefreshToken,
    /// Authorization code: a user consents once in the browser (`flowrun auth login`).
    AuthorizationCode,
}

/// At most `requests` requests per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RateLimit {
    /// How many requests the window allows; at least 1.
    #[schemars(range(min = 1))]
    pub requests: u32,
    /// The window, e.g. `1s` or `1m`.
    pub per: Duration,
}

/// A size in bytes, written as an integer or as a number and a unit (`512KB`, `10MB`, `1GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

/// The grammar of a written size; the schema's pattern and the parser agree.
pub const BYTE_SIZE_PATTERN: &str = "^[0-9]+(B|KB|MB|GB|KiB|MiB|GiB)$";

/// Why a size did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteSizeError {
    pub input: String,
}

impl fmt::Display for ByteSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a size: write bytes or a whole number and a unit, e.g. `512KB`, `10MB`, `1GiB`",
            self.input
        )
    }
}

impl std::error::Error for ByteSizeError {}

impl FromStr for ByteSize {
    type Err = ByteSizeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = || ByteSizeError {
            input: input.to_owned(),
        };
        let digits_end = input.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?;
        let (number, unit) = input.split_at(digits_end);
        let number: u64 = number.parse().map_err(|_| error())?;
        let bytes_per_unit: u64 = match unit {
            "B" => 1,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => return Err(error()),
        };
        number.checked_mul(bytes_per_unit).map(ByteSize).ok_or_else(error)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Bytes(u64),
            Text(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Bytes(bytes) => Ok(ByteSize(bytes)),
            Written::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Bytes, or a whole number and a unit: `512KB`, `10MB`, `1GiB`.",
            "oneOf": [
                { "type": "integer", "minimum": 1 },
                { "type": "string", "pattern": BYTE_SIZE_PATTERN },
            ],
        })
    }
}
