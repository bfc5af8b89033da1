//! The authorization-code consent (`flowrun auth login`): the URL a person opens, and the
//! exchange of the code the provider sends back (PKCE S256 and a CSRF `state`, RFC 7636 and
//! RFC 6749 §10.12).

use oauth2::{AuthUrl, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope};
use url::Url;

use super::oauth2::TokenManager;
use super::store::Tokens;
use crate::module::{ErrorKind, ModuleError};

/// One consent in progress.
pub struct Consent {
    /// Where the person approves access.
    pub url: Url,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
    redirect: RedirectUrl,
}

impl Consent {
    /// Starts a consent whose provider sends the browser back to `redirect_uri`.
    pub fn begin(manager: &TokenManager, redirect_uri: &str) -> Result<Consent, ModuleError> {
        let settings = manager.settings();
        let invalid = |message: String| ModuleError::new(ErrorKind::Invalid, message);
        let authorize_url = settings.authorize_url.clone().ok_or_else(|| {
            invalid("the authorization_code grant needs `authorize_url` in the connection's auth".into())
        })?;
        let authorize_url =
            AuthUrl::new(authorize_url).map_err(|error| invalid(format!("`authorize_url` is not a URL: {error}")))?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|error| invalid(format!("`redirect_uri` is not a URL: {error}")))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = manager.client()?.set_auth_uri(authorize_url);
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .set_redirect_uri(std::borrow::Cow::Borrowed(&redirect))
            .add_scopes(settings.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Consent {
            url,
            state,
            verifier,
            redirect,
        })
    }

    /// The `state` the provider must send back.
    pub fn state(&self) -> &str {
        self.state.secret()
    }

    /// Finishes the consent with the query of the redirect: checks `state`, reports a refusal,
    /// exchanges the code and stores the tokens.
    pub async fn finish(self, manager: &TokenManager, query: &[(String, String)]) -> Result<Tokens, ModuleError> {
        let get = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        if get("state") != Some(self.state.secret().as_str()) {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                "the redirect's `state` does not match the consent's: the redirect does not come from this login; start again",
            ));
        }
        if let Some(error) = get("error") {
            let description = get("error_description").map(|d| format!(": {d}")).unwrap_or_default();
            return Err(ModuleError::new(
                ErrorKind::Client,
                format!("the provider did not grant access ({error}{description})"),
            ));
        }
        let code = get("code")
            .ok_or_else(|| ModuleError::new(ErrorKind::Invalid, "the redirect carries neither `code` nor `error`"))?;
        manager
            .exchange_code(code.to_owned(), self.verifier, self.redirect)
            .await
    }
}
