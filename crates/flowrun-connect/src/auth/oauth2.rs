//! OAuth 2.0 tokens of one connection: obtained with the connection's grant, cached, refreshed
//! a minute before they expire and once more when the API answers 401.
//!
//! One [`TokenManager`] per connection per process, behind one async mutex: concurrent steps
//! that need a new token wait for the one refresh in flight instead of starting their own
//! (two refreshes racing would burn a rotating refresh token). The grants themselves are the
//! `oauth2` crate's; its requests go through our reqwest client ([`send_token_request`]).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse, TokenUrl,
};
use tokio::sync::Mutex;

use super::store::{TokenStore, Tokens};
use crate::config::{ClientAuth, OAuth2Grant};
use crate::module::{ErrorKind, ModuleError};

/// A token is refreshed this long before it expires, so a request never leaves with a token
/// that dies on the way (the default of `refresh_before`).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The most of a token endpoint's answer we read.
const MAX_TOKEN_RESPONSE: usize = 1 << 20;

/// An OAuth2 connection's settings, rendered (secrets in place).
#[derive(Clone)]
pub struct OAuth2Settings {
    pub grant: OAuth2Grant,
    pub token_url: String,
    pub authorize_url: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    pub scopes: Vec<String>,
    pub redirect_uri: Option<String>,
    pub client_auth: ClientAuth,
    /// How long before expiry a token is replaced ([`REFRESH_MARGIN`] unless the connection
    /// says `refresh_before`).
    pub refresh_margin: Duration,
}

pub(crate) type Client = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The tokens of one connection.
pub struct TokenManager {
    connection: Arc<str>,
    settings: OAuth2Settings,
    http: TokenHttp,
    store: Arc<dyn TokenStore>,
    /// `None` until the store has been read.
    cached: Mutex<Option<Option<Tokens>>>,
}

impl TokenManager {
    pub fn new(
        connection: Arc<str>,
        settings: OAuth2Settings,
        http: reqwest::Client,
        store: Arc<dyn TokenStore>,
        recorder: Option<Arc<crate::record::Recorder>>,
    ) -> TokenManager {
        TokenManager {
            connection,
            settings,
            http: TokenHttp { client: http, recorder },
            store,
            cached: Mutex::new(None),
        }
    }

    pub fn settings(&self) -> &OAuth2Settings {
        &self.settings
    }

    /// A valid access token: the cached one while it has more than the refresh margin left,
    /// else a new one (refreshed, or obtained with the grant). Callers that arrive while a
    /// refresh is in flight wait for it and share its token.
    pub async fn access_token(&self) -> Result<String, ModuleError> {
        let mut cached = self.cached.lock().await;
        if cached.is_none() {
            *cached = Some(self.store.load(&self.connection).await.map_err(store_error)?);
        }
        let current = cached.as_ref().and_then(Option::as_ref);
        if let Some(tokens) = current
            && !expiring(tokens, self.settings.refresh_margin)
        {
            return Ok(tokens.access_token.clone());
        }
        let fresh = self.obtain(current).await?;
        // Saved before it is used: if the provider rotated the refresh token, the old one is
        // dead now and this is the only copy.
        self.store.save(&self.connection, &fresh).await.map_err(store_error)?;
        let access = fresh.access_token.clone();
        *cached = Some(Some(fresh));
        Ok(access)
    }

    /// The API refused `token` (401): the next [`access_token`](Self::access_token) gets a new
    /// one. A token already replaced by another caller's refresh is left alone, so sixteen
    /// requests failing with the same old token cause one refresh, not sixteen.
    pub async fn invalidate(&self, token: &str) {
        let mut cached = self.cached.lock().await;
        if let Some(Some(tokens)) = cached.as_mut()
            && tokens.access_token == token
        {
            tokens.expires_at = Some(Timestamp::UNIX_EPOCH);
        }
    }

    /// New tokens: with the refresh token when there is one, else with the grant.
    async fn obtain(&self, current: Option<&Tokens>) -> Result<Tokens, ModuleError> {
        let refresh_token = current
            .and_then(|tokens| tokens.refresh_token.clone())
            .or_else(|| self.settings.refresh_token.clone());
        if let Some(refresh_token) = refresh_token {
            let client = self.client()?;
            let token = RefreshToken::new(refresh_token.clone());
            let result = client
                .exchange_refresh_token(&token)
                .add_scopes(self.scopes())
                .request_async(&self.http)
                .await;
            match result {
                Ok(response) => return Ok(tokens_from(&response, Some(refresh_token))),
                // A refused refresh token: the password and client-credentials grants can
                // start over; the others need a person.
                Err(RequestTokenError::ServerResponse(refused))
                    if matches!(
                        self.settings.grant,
                        OAuth2Grant::Password | OAuth2Grant::ClientCredentials
                    ) =>
                {
                    tracing::warn!(
                        connection = %self.connection,
                        reason = %refused,
                        "the refresh token was refused; asking for new tokens with the grant",
                    );
                }
                Err(error) => return Err(self.token_error("refresh_token", error)),
            }
        }
        let client = self.client()?;
        let http = &self.http;
        let result = match self.settings.grant {
            OAuth2Grant::Password => {
                let (Some(username), Some(password)) = (&self.settings.username, &self.settings.password) else {
                    return Err(ModuleError::new(
                        ErrorKind::Invalid,
                        format!(
                            "connection `{}`: the password grant needs `username` and `password`",
                            self.connection
                        ),
                    ));
                };
                let username = ResourceOwnerUsername::new(username.clone());
                let password = ResourceOwnerPassword::new(password.clone());
                client
                    .exchange_password(&username, &password)
                    .add_scopes(self.scopes())
                    .request_async(http)
                    .await
            }
            OAuth2Grant::ClientCredentials => {
                client
                    .exchange_client_credentials()
                    .add_scopes(self.scopes())
                    .request_async(http)
                    .await
            }
            OAuth2Grant::RefreshToken => {
                return Err(ModuleError::new(
                    ErrorKind::Invalid,
                    format!(
                        "connection `{}`: the refresh_token grant needs `refresh_token` in its auth",
                        self.connection
                    ),
                ));
            }
            OAuth2Grant::AuthorizationCode => {
                return Err(ModuleError::new(
                    ErrorKind::Invalid,
                    format!(
                        "connection `{0}` has no tokens yet: run `flowrun auth login {0}` once to \
                         consent in the browser",
                        self.connection
                    ),
                ));
            }
        };
        result
            .map(|response| tokens_from(&response, None))
            .map_err(|error| self.token_error(grant_name(self.settings.grant), error))
    }

    /// Exchanges the code of a consent (`flowrun auth login`) and stores the tokens.
    pub async fn exchange_code(
        &self,
        code: String,
        verifier: PkceCodeVerifier,
        redirect_uri: RedirectUrl,
    ) -> Result<Tokens, ModuleError> {
        let client = self.client()?;
        let result = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect_uri))
            .request_async(&self.http)
            .await;
        let tokens = result
            .map(|response| tokens_from(&response, None))
            .map_err(|error| self.token_error("authorization_code", error))?;
        self.store.save(&self.connection, &tokens).await.map_err(store_error)?;
        *self.cached.lock().await = Some(Some(tokens.clone()));
        Ok(tokens)
    }

    pub(crate) fn client(&self) -> Result<Client, ModuleError> {
        let token_url = TokenUrl::new(self.settings.token_url.clone()).map_err(|error| {
            ModuleError::new(
                ErrorKind::Invalid,
                format!("connection `{}`: `token_url` is not a URL: {error}", self.connection),
            )
        })?;
        let mut client = BasicClient::new(ClientId::new(self.settings.client_id.clone())).set_token_uri(token_url);
        if let Some(secret) = &self.settings.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        if self.settings.client_auth == ClientAuth::Body {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        Ok(client)
    }

    fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.settings.scopes.iter().cloned().map(Scope::new)
    }

    fn token_error(&self, grant: &str, error: RequestTokenError<ModuleError, BasicErrorResponse>) -> ModuleError {
        let connection = &self.connection;
        match error {
            RequestTokenError::ServerResponse(refused) => {
                let hint = match (grant, self.settings.grant) {
                    ("refresh_token", OAuth2Grant::AuthorizationCode) => {
                        format!(": run `flowrun auth login {connection}` to consent again")
                    }
                    ("refresh_token", _) => {
                        ": the refresh token is no longer valid; set a new one in the connection".to_owned()
                    }
                    _ => String::new(),
                };
                ModuleError::new(
                    ErrorKind::Client,
                    format!(
                        "connection `{connection}`: the token endpoint refused the {grant} grant ({refused}){hint}"
                    ),
                )
                .with_status(400)
            }
            RequestTokenError::Request(mut error) => {
                error.message = format!("connection `{connection}`: token request failed: {}", error.message);
                error
            }
            // The body may hold tokens: it is not shown.
            RequestTokenError::Parse(error, _) => ModuleError::new(
                ErrorKind::Invalid,
                format!("connection `{connection}`: the token endpoint's answer is not a token response ({error})"),
            ),
            RequestTokenError::Other(message) => ModuleError::new(
                ErrorKind::Other,
                format!("connection `{connection}`: token request failed: {message}"),
            ),
        }
    }
}

fn grant_name(grant: OAuth2Grant) -> &'static str {
    match grant {
        OAuth2Grant::Password => "password",
        OAuth2Grant::ClientCredentials => "client_credentials",
        OAuth2Grant::RefreshToken => "refresh_token",
        OAuth2Grant::AuthorizationCode => "authorization_code",
    }
}

fn expiring(tokens: &Tokens, margin: Duration) -> bool {
    let Some(expires_at) = tokens.expires_at else {
        return false;
    };
    let margin = jiff::SignedDuration::try_from(margin).unwrap_or_default();
    expires_at.saturating_sub(margin).unwrap_or(Timestamp::UNIX_EPOCH) <= Timestamp::now()
}

/// Tokens from a token response; a refresh that returns no refresh token keeps `previous`
/// (RFC 6749 §6: the provider may keep the old one valid).
fn tokens_from(response: &BasicTokenResponse, previous: Option<String>) -> Tokens {
    let expires_at = response.expires_in().and_then(|lifetime| {
        let lifetime = jiff::SignedDuration::try_from(lifetime).ok()?;
        Timestamp::now().checked_add(lifetime).ok()
    });
    Tokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response
            .refresh_token()
            .map(|token| token.secret().clone())
            .or(previous),
        token_type: Some("Bearer".to_owned()),
        expires_at,
        scopes: response
            .scopes()
            .map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect())
            .unwrap_or_default(),
    }
}

fn store_error(error: super::store::TokenStoreError) -> ModuleError {
    ModuleError::new(ErrorKind::Other, format!("token store: {error}"))
}

/// The `oauth2` crate's requests, sent through our reqwest client.
struct TokenHttp {
    client: reqwest::Client,
    recorder: Option<Arc<crate::record::Recorder>>,
}

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp {
    type Error = ModuleError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, ModuleError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send_token_request(self, request))
    }
}

/// Sends one token request through our reqwest client. Statuses the provider's error format
/// does not cover (429, 5xx) become errors the step's retry policy knows.
async fn send_token_request(
    http: &TokenHttp,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, ModuleError> {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let url = crate::client::redact_url_str(&request.uri().to_string());
    let request = reqwest::Request::try_from(request)
        .map_err(|error| ModuleError::new(ErrorKind::Invalid, format!("{method} {url}: {}", error.without_url())))?;
    let response = http
        .client
        .execute(request)
        .await
        .map_err(|error| crate::client::transport_error(&format!("{method} {url}"), error, None))?;
    let status = response.status();
    let headers = response.headers().clone();
    if status.as_u16() == 429 || status.is_server_error() {
        let kind = if status.as_u16() == 429 {
            ErrorKind::RateLimited
        } else {
            ErrorKind::Server
        };
        let mut error = ModuleError::new(kind, format!("{method} {url} → {status}")).with_status(status.as_u16());
        if let Some(wait) = crate::retry::requested_wait(
            |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned),
            std::time::SystemTime::now(),
        ) {
            error = error.with_retry_after(wait);
        }
        return Err(error);
    }
    let body = crate::client::read_body(response, MAX_TOKEN_RESPONSE as u64, &format!("{method} {url}")).await?;
    if let Some(recorder) = &http.recorder {
        let shown = crate::client::Response {
            status: status.as_u16(),
            headers: headers.clone(),
            body: body.clone(),
            method: crate::http::Method::Post,
            url: url.clone(),
        };
        recorder.record_token(&url, &shown, started.elapsed().as_millis() as u64);
    }
    let body = numeric_expires_in(body);
    let mut built = http::Response::builder().status(status);
    if let Some(all) = built.headers_mut() {
        *all = headers;
    }
    built
        .body(body)
        .map_err(|error| ModuleError::new(ErrorKind::Other, format!("{method} {url}: {error}")))
}

/// The token answer with a string `expires_in` (`"600"`, as Exact Online sends it) made the
/// number RFC 6749 §5.1 asks for, which the `oauth2` crate insists on. Any other body is
/// passed on as it came.
fn numeric_expires_in(body: bytes::Bytes) -> Vec<u8> {
    if !body.windows(12).any(|window| window == b"\"expires_in\"") {
        return body.to_vec();
    }
    let Ok(serde_json::Value::Object(mut answer)) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body.to_vec();
    };
    let Some(seconds) = answer
        .get("expires_in")
        .and_then(serde_json::Value::as_str)
        .and_then(|text| text.trim().parse::<u64>().ok())
    else {
        return body.to_vec();
    };
    answer.insert("expires_in".to_owned(), seconds.into());
    serde_json::to_vec(&answer).unwrap_or_else(|_| body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::numeric_expires_in;

    #[test]
    fn a_string_expires_in_becomes_a_number() {
        let fixed = numeric_expires_in(br#"{"access_token":"a","token_type":"bearer","expires_in":"600"}"#[..].into());
        let answer: serde_json::Value = serde_json::from_slice(&fixed).unwrap();
        assert_eq!(answer["expires_in"], 600);
        assert_eq!(answer["access_token"], "a");
    }

    #[test]
    fn other_answers_pass_unchanged() {
        for body in [
            &br#"{"access_token":"a","expires_in":3600}"#[..],
            br#"{"access_token":"a","expires_in":"soon"}"#,
            br#"{"error":"invalid_grant"}"#,
            b"not json \"expires_in\"",
        ] {
            assert_eq!(numeric_expires_in(body.into()), body);
        }
    }
}
