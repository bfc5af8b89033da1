//! What every Exact Online module shares: the connection's client (made once per connection
//! by the HTTP layer, with the authorization-code grant and Exact's rate-limit headers), the
//! division, URLs, requests with the headers Exact needs, and errors worded for Exact.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::client::{ClientSettings, HttpClient, Request, Response};
use flowrun_connect::config::{Auth, ClientAuth, OAuth2Grant};
use flowrun_connect::module::{CallContext, ErrorKind, ModuleError};
use flowrun_connect::quota::{QuotaHeaders, WhenSpent, WindowHeaders};
use serde::Deserialize;
use serde_json::Value as Json;
use tokio::sync::Mutex;
use url::Url;

use super::odata;
use crate::ExactOnlineConnection;

/// Exact refuses a new access token in the first 9.5 of its 10 minutes: refresh in the last
/// 30 seconds (apis/exact-online.md "Token rules").
const REFRESH_BEFORE: Duration = Duration::from_secs(30);

/// The divisions read from `current/Me`, by connection, for connections without `division`:
/// looked up once per process, one lookup at a time.
#[derive(Default)]
pub(crate) struct Divisions(Mutex<HashMap<String, u64>>);

/// The client of one call and what its URLs and errors need.
pub(crate) struct Api<'a> {
    context: &'a CallContext,
    client: Arc<HttpClient>,
    /// `exact_online.<module>`, for messages about the `with:` block.
    pub uses: &'a str,
    /// The connection's name.
    pub connection: &'a str,
    /// `{base_uri}/api/v1/`.
    root: Url,
    /// The division data URLs go to.
    pub division: u64,
}

impl<'a> Api<'a> {
    /// The call's client and division; the division is the connection's, else the user's
    /// current one (one `current/Me` per connection and process).
    pub async fn new(context: &'a CallContext, uses: &'a str, divisions: &Divisions) -> Result<Api<'a>, ModuleError> {
        let Some(connection) = &context.connection else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!("{uses} needs an `exact_online` connection: set `connection:` on the step"),
            ));
        };
        let name = &*connection.name;
        let config = connection_config(name, &connection.config)?;
        let client = context.http.client_for(context, |_| settings(name, &config))?;
        let root = api_root(name, &config.base_uri)?;
        let mut api = Api {
            context,
            client,
            uses,
            connection: name,
            root,
            division: 0,
        };
        api.division = match config.division {
            Some(division) => division,
            None => {
                let key = format!("{name}\n{}\n{}", config.base_uri, config.client_id);
                let mut known = divisions.0.lock().await;
                match known.get(&key) {
                    Some(division) => *division,
                    None => {
                        let division = api.current_division().await?;
                        known.insert(key, division);
                        division
                    }
                }
            }
        };
        Ok(api)
    }

    /// `GET current/Me`: the user, unwrapped, dates converted.
    pub async fn me(&self) -> Result<Json, ModuleError> {
        let url = self.root_url("current/Me")?;
        let body = self.send(Request::get(url), "read the current user").await?.json()?;
        let Some(mut me) = odata::entity(body.clone()) else {
            return Err(self.unexpected("current/Me", &body));
        };
        odata::convert_dates(&mut me);
        Ok(me)
    }

    async fn current_division(&self) -> Result<u64, ModuleError> {
        let mut url = self.root_url("current/Me")?;
        url.query_pairs_mut().append_pair("$select", "CurrentDivision");
        let body = self
            .send(Request::get(url), "read the current division")
            .await?
            .json()?;
        odata::entity(body.clone())
            .and_then(|me| me.get("CurrentDivision").and_then(Json::as_u64))
            .ok_or_else(|| self.unexpected("current/Me", &body))
    }

    /// A URL below `{base_uri}/api/v1/` (`current/Me`).
    pub fn root_url(&self, path: &str) -> Result<Url, ModuleError> {
        self.root.join(path).map_err(|error| {
            ModuleError::new(
                ErrorKind::Invalid,
                format!("{}: `{path}` is not a path ({error})", self.uses),
            )
        })
    }

    /// A URL below the division: `{base_uri}/api/v1/{division}/{path}`.
    pub fn division_url(&self, path: &str) -> Result<Url, ModuleError> {
        self.root_url(&format!("{}/{path}", self.division))
    }

    /// Whether `url` goes to the connection's own site: `__next` links are followed only
    /// there, since every request carries the connection's token.
    pub fn is_own(&self, url: &Url) -> bool {
        url.origin() == self.root.origin() && url.path().starts_with(self.root.path())
    }

    /// Sends a request with `Accept: application/json` (without it Exact answers Atom XML),
    /// through the HTTP layer (token, rate limits, the step's retries); errors said in Exact's
    /// terms. `doing` completes "Exact Online refused to …".
    pub async fn send(&self, request: Request, doing: &str) -> Result<Response, ModuleError> {
        let request = request.header("Accept", "application/json");
        self.client
            .send(self.context, &request)
            .await
            .map_err(|error| self.reworded(error, doing))
    }

    pub fn unexpected(&self, what: &str, body: &Json) -> ModuleError {
        ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "{}: Exact Online's answer for `{what}` is not an OData result (`d`): {}",
                self.uses,
                flowrun_connect::client::excerpt(body.to_string().as_bytes())
            ),
        )
    }

    /// 400, 401, 403 and 404 said in Exact's terms; the message Exact gave (`error.message.value`)
    /// is already in the HTTP layer's text.
    fn reworded(&self, mut error: ModuleError, doing: &str) -> ModuleError {
        let name = self.connection;
        let division = self.division;
        let prefix = match error.status {
            Some(400) => format!("Exact Online refused to {doing}"),
            Some(401) => format!(
                "connection `{name}`: Exact Online refused the access token even after a new one was obtained; \
                 if this persists, run `flowrun auth login {name}`"
            ),
            Some(403) => format!(
                "connection `{name}`: no access to {doing} in division {division}: check the division, the \
                 user's rights, the app's scopes and the licence's modules"
            ),
            Some(404) => format!("Exact Online cannot {doing}: no such entity, record or division path"),
            _ => return error,
        };
        error.message = format!("{prefix} ({})", error.message);
        error
    }
}

/// The connection's config, typed.
fn connection_config(name: &str, config: &Json) -> Result<ExactOnlineConnection, ModuleError> {
    ExactOnlineConnection::deserialize(config).map_err(|error| {
        ModuleError::new(
            ErrorKind::Invalid,
            format!("connection `{name}`: not a valid `exact_online` connection ({error})"),
        )
    })
}

/// `{base_uri}/api/v1/`, from a base URI that must be an http(s) site.
fn api_root(name: &str, base_uri: &str) -> Result<Url, ModuleError> {
    let invalid = |why: String| {
        ModuleError::new(
            ErrorKind::Invalid,
            format!("connection `{name}`: `base_uri` `{base_uri}` {why}; write e.g. `https://start.exactonline.nl`"),
        )
    };
    let base = Url::parse(base_uri.trim()).map_err(|error| invalid(format!("is not a URL ({error})")))?;
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(invalid("is not an http(s) site".to_owned()));
    }
    let root = format!("{}/api/v1/", base.as_str().trim_end_matches('/'));
    Url::parse(&root).map_err(|error| invalid(format!("cannot hold the API path ({error})")))
}

/// The client settings of an Exact Online connection: the authorization-code grant against
/// `{base_uri}/api/oauth2/{auth,token}` with the client in the body, refreshed in the last 30
/// seconds, unless `auth` overrides it; and Exact's rate-limit headers.
pub(crate) fn settings(name: &str, config: &ExactOnlineConnection) -> Result<ClientSettings, ModuleError> {
    let root = api_root(name, &config.base_uri)?;
    let site = root.as_str().trim_end_matches("/v1/").to_owned();
    let mut http = config.http.clone();
    if http.auth.is_none() {
        http.auth = Some(Auth::OAuth2 {
            grant: OAuth2Grant::AuthorizationCode,
            token_url: format!("{site}/oauth2/token"),
            authorize_url: Some(format!("{site}/oauth2/auth")),
            client_id: config.client_id.clone(),
            client_secret: Some(config.client_secret.clone()),
            username: None,
            password: None,
            refresh_token: None,
            scopes: (!config.scopes.is_empty()).then(|| config.scopes.clone()),
            redirect_uri: config.redirect_uri.clone(),
            client_auth: Some(ClientAuth::Body),
            refresh_before: format!("{}s", REFRESH_BEFORE.as_secs()).parse().ok(),
        });
    }
    Ok(ClientSettings {
        base_url: Some(root.to_string()),
        http,
        quota: Some(rate_limit_headers()),
    })
}

/// Exact's budget per app and division: a minute's (waited out) and a day's (not waited
/// out), announced on every division-scoped response; resets in UTC epoch milliseconds.
fn rate_limit_headers() -> QuotaHeaders {
    let window = |name: &str, infix: &str, when_spent| WindowHeaders {
        name: name.to_owned(),
        limit: format!("X-RateLimit{infix}-Limit"),
        remaining: format!("X-RateLimit{infix}-Remaining"),
        reset: format!("X-RateLimit{infix}-Reset"),
        when_spent,
    };
    QuotaHeaders {
        windows: vec![
            window("minutely", "-Minutely", WhenSpent::Wait),
            window("daily", "", WhenSpent::Fail),
        ],
    }
}
