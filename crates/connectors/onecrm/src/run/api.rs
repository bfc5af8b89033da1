//! What every 1CRM module shares: the connection's client (made once per connection by the
//! HTTP layer), URLs below `api.php`, PHP-style query parameters, and errors worded for 1CRM.

use std::sync::Arc;

use flowrun_connect::client::{ClientSettings, HttpClient, Request, Response};
use flowrun_connect::config::Auth;
use flowrun_connect::module::{CallContext, ErrorKind, ModuleError};
use flowrun_connect::schema::invalid_params;
use serde::Deserialize;
use serde_json::Value as Json;
use url::Url;

use crate::OnecrmConnection;

/// The client of one call and what its errors need to name.
pub(crate) struct Api<'a> {
    pub context: &'a CallContext,
    client: Arc<HttpClient>,
    /// `onecrm.<module>`, for messages about the `with:` block.
    pub uses: &'a str,
}

impl<'a> Api<'a> {
    /// The call's 1CRM client. The settings are read from the connection once per rendered
    /// config; later calls get the cached client.
    pub fn new(context: &'a CallContext, uses: &'a str) -> Result<Api<'a>, ModuleError> {
        let Some(connection) = &context.connection else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!("{uses} needs a `onecrm` connection: set `connection:` on the step"),
            ));
        };
        let name = connection.name.clone();
        let client = context.http.client_for(context, |config| settings(&name, config))?;
        Ok(Api { context, client, uses })
    }

    /// `api.php/<segments…>`, each segment percent-encoded: a module name or id can never
    /// reach another route (an id holding `/` stays one segment).
    pub fn url(&self, segments: &[&str]) -> Result<Url, ModuleError> {
        let mut url = self.client.url("")?;
        let root = url.to_string();
        match url.path_segments_mut() {
            Ok(mut path) => {
                path.pop_if_empty().extend(segments);
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

    /// `value` of key `key`, which must not be empty (`module`, `id`).
    pub fn required<'v>(&self, key: &str, value: &'v str) -> Result<&'v str, ModuleError> {
        if value.trim().is_empty() {
            return Err(invalid_params(self.uses, &format!("`{key}` must not be empty")));
        }
        Ok(value)
    }

    /// A path the user wrote (`api_call`), relative to `api.php`.
    pub fn relative_url(&self, path: &str) -> Result<Url, ModuleError> {
        if path.contains("://") || path.starts_with("//") {
            // The connection's credentials must not travel to another host.
            return Err(invalid_params(
                self.uses,
                &format!("`path` `{path}` must be relative to `api.php`, e.g. `meta/modules`, not a URL"),
            ));
        }
        self.client.url(path)
    }

    /// Sends the request through the HTTP layer (auth, retries, limits); errors reworded.
    pub async fn send(&self, request: &Request) -> Result<Response, ModuleError> {
        self.client
            .send(self.context, request)
            .await
            .map_err(|error| self.reworded(error))
    }

    /// Sends the request and parses the body as JSON.
    pub async fn json(&self, request: &Request) -> Result<Json, ModuleError> {
        self.send(request).await?.json()
    }

    /// 401 and 403 say what to check; 1CRM's `hint` is kept when the body excerpt cut it off.
    fn reworded(&self, mut error: ModuleError) -> ModuleError {
        let name = self
            .context
            .connection
            .as_ref()
            .map(|connection| &*connection.name)
            .unwrap_or_default();
        if let Some(hint) = body_field(&error, "hint")
            && !error.message.contains(hint.as_str())
        {
            error.message.push_str(&format!("; hint: {hint}"));
        }
        match error.status {
            Some(401) => {
                let user = self
                    .context
                    .connection
                    .as_ref()
                    .filter(|connection| connection.config.get("auth").is_none())
                    .and_then(|connection| connection.config.get("username")?.as_str().map(str::to_owned))
                    .map(|user| format!(" of user `{user}`"))
                    .unwrap_or_default();
                error.message = format!(
                    "connection `{name}`: 1CRM refused the credentials{user}: check `username` and `password`, \
                     and that an administrator enabled the API and Basic auth ({})",
                    error.message
                );
            }
            Some(403) => {
                error.message = format!(
                    "connection `{name}`: 1CRM forbids this to the connection's user (its access rights, the \
                     edition, or the API settings) ({})",
                    error.message
                );
            }
            _ => {}
        }
        error
    }
}

/// A string field of the error body 1CRM sent (`{"message", "error", "hint"}`).
pub(crate) fn body_field(error: &ModuleError, field: &str) -> Option<String> {
    let value = error.details.as_ref()?.get("body")?.get(field)?.as_str()?;
    Some(value.to_owned())
}

/// A 404 of a request about `module` (and record `id`): an unknown module or a missing record,
/// said in those words.
pub(crate) fn not_found(mut error: ModuleError, module: &str, id: Option<&str>) -> ModuleError {
    if error.status != Some(404) {
        return error;
    }
    let unknown_module = id.is_none() || names_module(&error);
    error.message = if unknown_module {
        format!(
            "1CRM has no module `{module}`; `onecrm.list_modules` lists them ({})",
            error.message
        )
    } else {
        format!(
            "no `{module}` record with id `{}` (deleted, never created, or not visible to the user) ({})",
            id.unwrap_or_default(),
            error.message
        )
    };
    error
}

/// Whether a 404 is about the module rather than a record: 1CRM says `Model Acount not found`
/// for an unknown module, `Not found` for a record.
pub(crate) fn names_module(error: &ModuleError) -> bool {
    let message = body_field(error, "message").unwrap_or_default().to_ascii_lowercase();
    message.contains("model") || message.contains("module")
}

/// The client settings of a 1CRM connection: the API root and Basic auth from its keys.
fn settings(name: &str, config: &Json) -> Result<ClientSettings, ModuleError> {
    let invalid = |why: String| ModuleError::new(ErrorKind::Invalid, format!("connection `{name}`: {why}"));
    let config = OnecrmConnection::deserialize(config)
        .map_err(|error| invalid(format!("not a valid `onecrm` connection ({error})")))?;
    let base_url = match (config.base_url, config.domain) {
        (Some(base_url), _) => base_url,
        (None, Some(given)) => format!("https://{}/api.php", domain(&given).map_err(invalid)?),
        (None, None) => {
            return Err(invalid(
                "set `domain` (the instance's host, e.g. `crm.example.com`)".to_owned(),
            ));
        }
    };
    let mut http = config.http;
    if http.auth.is_none() {
        match (config.username, config.password) {
            (Some(username), Some(password)) => http.auth = Some(Auth::Basic { username, password }),
            _ => {
                return Err(invalid(
                    "set `username` and `password` (the 1CRM user the connector acts as), or `auth`".to_owned(),
                ));
            }
        }
    }
    Ok(ClientSettings {
        base_url: Some(base_url),
        http,
        quota: None,
    })
}

/// The domain as the API root needs it: a host (and folder) without scheme. The schema rejects
/// a scheme when the flow is validated; a value rendered from a template is checked here.
pub(crate) fn domain(domain: &str) -> Result<&str, String> {
    let trimmed = domain.trim().trim_end_matches('/');
    if let Some((scheme, rest)) = trimmed.split_once("://") {
        return Err(format!(
            "`domain` is the host without a scheme (flowrun adds `https://`): write `{rest}`, not `{scheme}://{rest}`"
        ));
    }
    if trimmed.is_empty() || trimmed.contains(char::is_whitespace) || trimmed.contains(['?', '#']) {
        return Err(format!(
            "`domain` `{domain}` is not a host name, e.g. `crm.example.com` or `crm.example.com/1crm`"
        ));
    }
    Ok(trimmed)
}

/// Adds `value` under `name` the way PHP reads queries: a list as `name[]=a&name[]=b`, an
/// object as `name[key]=value` (nested the same way), `null` left out.
pub(crate) fn append_php(url: &mut Url, name: &str, value: &Json, uses: &str) -> Result<(), ModuleError> {
    match value {
        Json::Null => {}
        Json::Array(values) => {
            let name = if name.ends_with("[]") {
                name.to_owned()
            } else {
                format!("{name}[]")
            };
            for value in values {
                match value {
                    Json::Array(_) | Json::Object(_) => {
                        return Err(invalid_params(
                            uses,
                            &format!("`{name}`: a list in a query holds strings, numbers or booleans"),
                        ));
                    }
                    value => append_php(url, &name, value, uses)?,
                }
            }
        }
        Json::Object(entries) => {
            for (key, value) in entries {
                append_php(url, &format!("{name}[{key}]"), value, uses)?;
            }
        }
        Json::String(text) => {
            url.query_pairs_mut().append_pair(name, text);
        }
        Json::Number(number) => {
            url.query_pairs_mut().append_pair(name, &number.to_string());
        }
        Json::Bool(flag) => {
            // 1CRM writes booleans as "0"/"1".
            url.query_pairs_mut().append_pair(name, if *flag { "1" } else { "0" });
        }
    }
    Ok(())
}

/// `fields[]=a&fields[]=b`.
pub(crate) fn append_fields(url: &mut Url, fields: &[String]) {
    for field in fields {
        url.query_pairs_mut().append_pair("fields[]", field);
    }
}

/// A field of a JSON object body, or an error saying what 1CRM sent instead.
pub(crate) fn take_field(body: &mut Json, field: &str, what: &str) -> Result<Json, ModuleError> {
    match body.get_mut(field) {
        Some(value) => Ok(value.take()),
        None => Err(ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "{what}: expected a JSON object with `{field}`, 1CRM answered {}",
                flowrun_connect::client::excerpt(body.to_string().as_bytes())
            ),
        )),
    }
}
