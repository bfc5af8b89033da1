//! What every Conexiom module shares: the connection's client (made once per connection by the
//! HTTP layer, with the password grant as its auth), URLs below `api_url`, lists whether bare
//! or wrapped, and errors worded for Conexiom.

use std::sync::Arc;

use flowrun_connect::client::{ClientSettings, HttpClient, Request, excerpt};
use flowrun_connect::config::{Auth, ClientAuth, OAuth2Grant};
use flowrun_connect::module::{CallContext, ErrorKind, ModuleError};
use flowrun_connect::paginate::set_query;
use serde::Deserialize;
use serde_json::Value as Json;
use url::Url;

use crate::contract::{self, Endpoint};
use crate::{ConexiomConnection, Id};

/// The most pages one wrapped list is read to; a server that keeps answering "more" past this
/// is not followed into a loop.
const MAX_PAGES: u32 = 10_000;

/// The client of one call and what its errors need to name.
pub(crate) struct Api<'a> {
    context: &'a CallContext,
    client: Arc<HttpClient>,
    /// `conexiom.<module>`, for messages about the `with:` block.
    pub uses: &'a str,
    /// The connection's HubCo.
    pub hubco: Id,
    /// The connection's user, for 401 and 403 messages.
    username: String,
}

impl<'a> Api<'a> {
    /// The call's Conexiom client. The settings are read from the connection once per rendered
    /// config; later calls get the cached client.
    pub fn new(context: &'a CallContext, uses: &'a str) -> Result<Api<'a>, ModuleError> {
        let Some(connection) = &context.connection else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!("{uses} needs a `conexiom` connection: set `connection:` on the step"),
            ));
        };
        let name = &connection.name;
        let config = ConexiomConnection::deserialize(&*connection.config).map_err(|error| {
            ModuleError::new(
                ErrorKind::Invalid,
                format!("connection `{name}`: not a valid `conexiom` connection ({error})"),
            )
        })?;
        let client = context.http.client_for(context, |_| settings(&config))?;
        Ok(Api {
            context,
            client,
            uses,
            hubco: config.hubco_id,
            username: config.username,
        })
    }

    /// The endpoint's URL below `api_url`, each segment percent-encoded: an id can never reach
    /// another route (an id holding `/` stays one segment).
    fn url(&self, endpoint: Endpoint<'_>) -> Result<Url, ModuleError> {
        let mut url = self.client.url("")?;
        let root = url.to_string();
        match url.path_segments_mut() {
            Ok(mut path) => {
                path.pop_if_empty().extend(endpoint.segments());
            }
            Err(()) => {
                return Err(ModuleError::new(
                    ErrorKind::Invalid,
                    format!("the API root `{root}` cannot carry a path"),
                ));
            }
        }
        Ok(url)
    }

    /// One record.
    pub async fn get(&self, endpoint: Endpoint<'_>) -> Result<Json, ModuleError> {
        let url = self.url(endpoint)?;
        self.json(endpoint, url).await
    }

    /// Every record of a list, with the delta parameter when there is one. A bare array is the
    /// list; an object's first array is, and when the object also says `TotalCount`, the next
    /// pages are read until that many records came (UNSURE whether the API ever pages).
    pub async fn list(&self, endpoint: Endpoint<'_>, delta: Option<(&str, String)>) -> Result<Json, ModuleError> {
        let mut url = self.url(endpoint)?;
        if let Some((name, value)) = &delta {
            url.query_pairs_mut().append_pair(name, value);
        }
        let mut records = Vec::new();
        let mut page_url = url.clone();
        for page in 1..=MAX_PAGES {
            let body = self.json(endpoint, page_url).await?;
            let (items, total, page_size) = match body {
                Json::Array(items) => return Ok(Json::Array(if records.is_empty() { items } else { records })),
                Json::Object(mut wrapper) => {
                    let total = wrapper.get(contract::TOTAL_COUNT).and_then(Json::as_u64);
                    let page_size = wrapper.get(contract::PAGE_SIZE).and_then(Json::as_u64);
                    let items = wrapper.values_mut().find_map(|value| match value {
                        Json::Array(items) => Some(std::mem::take(items)),
                        _ => None,
                    });
                    let Some(items) = items else {
                        return Err(self.not_a_list(endpoint, &Json::Object(wrapper)));
                    };
                    (items, total, page_size)
                }
                other => return Err(self.not_a_list(endpoint, &other)),
            };
            let got = items.len();
            records.extend(items);
            let Some(total) = total else { break };
            if got == 0 || records.len() as u64 >= total {
                break;
            }
            page_url = url.clone();
            set_query(&mut page_url, contract::PAGE, &(page + 1).to_string());
            let size = page_size.unwrap_or(got as u64);
            set_query(&mut page_url, contract::PAGE_SIZE, &size.to_string());
        }
        Ok(Json::Array(records))
    }

    async fn json(&self, endpoint: Endpoint<'_>, url: Url) -> Result<Json, ModuleError> {
        let request = Request::get(url).header("Accept", "application/json");
        let response = self
            .client
            .send(self.context, &request)
            .await
            .map_err(|error| self.reworded(endpoint, error))?;
        response.json()
    }

    fn not_a_list(&self, endpoint: Endpoint<'_>, body: &Json) -> ModuleError {
        let (what, id) = endpoint.subject();
        ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "{}: expected a list (a JSON array, or an object holding one) for {what} `{id}`, Conexiom answered {}",
                self.uses,
                excerpt(body.to_string().as_bytes())
            ),
        )
    }

    /// 400, 401, 403 and 404 said in Conexiom's terms, with its `Message` and `ModelState`.
    fn reworded(&self, endpoint: Endpoint<'_>, mut error: ModuleError) -> ModuleError {
        let name = self
            .context
            .connection
            .as_ref()
            .map(|connection| &*connection.name)
            .unwrap_or_default();
        let (what, id) = endpoint.subject();
        let said = said(&error);
        match error.status {
            Some(400) => {
                error.message = format!("Conexiom refused the request{said} ({})", error.message);
            }
            Some(401) => {
                error.message = format!(
                    "connection `{name}`: Conexiom refused the access token of user `{}` even after a new one \
                     was obtained{said}: check that the user may use the API ({})",
                    self.username, error.message
                );
            }
            Some(403) => {
                error.message = format!(
                    "connection `{name}`: user `{}` may not read {what} `{id}`{said}; the connection reads \
                     HubCo `{}`: check `hubco_id` and the user's access ({})",
                    self.username, self.hubco, error.message
                );
            }
            Some(404) => {
                error.message = format!(
                    "no {what} with id `{id}` (deleted, never created, or not in HubCo `{}`){said} ({})",
                    self.hubco, error.message
                );
            }
            _ => {}
        }
        error
    }
}

/// `: <Message>; <param>: <messages>` of an error body, or nothing.
fn said(error: &ModuleError) -> String {
    let Some(body) = error.details.as_ref().and_then(|details| details.get("body")) else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(message) = body.get(contract::MESSAGE).and_then(Json::as_str) {
        parts.push(message.to_owned());
    }
    if let Some(Json::Object(state)) = body.get(contract::MODEL_STATE) {
        for (field, messages) in state {
            let messages: Vec<&str> = match messages {
                Json::Array(list) => list.iter().filter_map(Json::as_str).collect(),
                Json::String(message) => vec![message.as_str()],
                _ => Vec::new(),
            };
            parts.push(format!("{field}: {}", messages.join(" ")));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

/// The client settings of a Conexiom connection: `api_url` as the root, and the password grant
/// (body client credentials unless the connection says `basic`) unless `auth` overrides it.
fn settings(config: &ConexiomConnection) -> Result<ClientSettings, ModuleError> {
    let api_url = config.api_url.trim_end_matches('/');
    let mut http = config.http.clone();
    if http.auth.is_none() {
        http.auth = Some(Auth::OAuth2 {
            grant: OAuth2Grant::Password,
            token_url: config
                .token_url
                .clone()
                .unwrap_or_else(|| format!("{api_url}/{}", contract::TOKEN_PATH)),
            authorize_url: None,
            client_id: config.client_id.clone(),
            client_secret: Some(config.client_secret.clone()),
            username: Some(config.username.clone()),
            password: Some(config.password.clone()),
            refresh_token: None,
            scopes: None,
            redirect_uri: None,
            client_auth: Some(config.client_auth.unwrap_or(ClientAuth::Body)),
            refresh_before: None,
        });
    }
    Ok(ClientSettings {
        base_url: Some(api_url.to_owned()),
        http,
        quota: None,
    })
}
