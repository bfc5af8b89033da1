//! OAuth 2.0 bookkeeping shared by every simulator: access and refresh tokens, consent
//! requests and authorization codes.
//!
//! The HTTP side (which parameters, which errors) differs per product API, so each
//! simulator has its own endpoints; what they share lives here so that
//! [`crate::Control::revoke_access_tokens`] and the grant counters cover all of them, and so
//! that token expiry always runs on the sandbox clock. Each simulator keeps its tokens in
//! its own *realm* (`"test"`, later `"exact"`, ...): a token of one API is unknown to another.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::state::lock;

/// Who a token was issued to, and for what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The simulator that issued it.
    pub realm: String,
    pub client_id: String,
    /// The user (or service account) the token acts for.
    pub subject: String,
    pub scope: Option<String>,
}

/// What a successful token request returns.
#[derive(Clone, Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    pub scope: Option<String>,
}

/// Why an access token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// Never issued (or issued by another realm).
    Unknown,
    /// Past its expiry on the sandbox clock.
    Expired,
    /// Invalidated by [`TokenStore::revoke_access_tokens`].
    Revoked,
}

/// An authorization request waiting on the consent page.
#[derive(Clone, Debug)]
pub struct ConsentRequest {
    pub realm: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub code_challenge: Option<String>,
    /// `S256` or `plain`; RFC 7636 defaults to `plain` when a challenge comes without one.
    pub code_challenge_method: Option<String>,
    /// The user who approves (the consent page has no login of its own).
    pub subject: String,
}

/// An authorization code handed out by an approved consent request.
#[derive(Clone, Debug)]
pub struct AuthCode {
    pub request: ConsentRequest,
    /// Sandbox time after which the code is refused.
    pub expires_at: Duration,
}

struct AccessEntry {
    grant: Grant,
    expires_at: Duration,
    revoked: bool,
}

#[derive(Default)]
struct Tokens {
    access: HashMap<String, AccessEntry>,
    refresh: HashMap<String, Grant>,
    consents: HashMap<String, ConsentRequest>,
    codes: HashMap<String, AuthCode>,
    grants: HashMap<String, u64>,
}

/// Every token, code and consent request of the sandbox.
#[derive(Default)]
pub struct TokenStore {
    inner: Mutex<Tokens>,
}

impl TokenStore {
    /// Issues an access token valid for `ttl` of sandbox time from `now`, and a refresh
    /// token when `with_refresh`.
    pub fn issue(&self, grant: Grant, now: Duration, ttl: Duration, with_refresh: bool) -> IssuedTokens {
        let access_token = random_token(40);
        let refresh_token = with_refresh.then(|| random_token(48));
        let scope = grant.scope.clone();
        let mut tokens = lock(&self.inner);
        if let Some(refresh) = &refresh_token {
            tokens.refresh.insert(refresh.clone(), grant.clone());
        }
        tokens.access.insert(
            access_token.clone(),
            AccessEntry {
                grant,
                expires_at: now + ttl,
                revoked: false,
            },
        );
        IssuedTokens {
            access_token,
            refresh_token,
            expires_in: ttl.as_secs(),
            scope,
        }
    }

    /// The grant behind a bearer access token of `realm`, if it is still valid at `now`.
    pub fn check_access(&self, realm: &str, token: &str, now: Duration) -> Result<Grant, TokenProblem> {
        let tokens = lock(&self.inner);
        let entry = tokens
            .access
            .get(token)
            .filter(|e| e.grant.realm == realm)
            .ok_or(TokenProblem::Unknown)?;
        if entry.revoked {
            Err(TokenProblem::Revoked)
        } else if now >= entry.expires_at {
            Err(TokenProblem::Expired)
        } else {
            Ok(entry.grant.clone())
        }
    }

    /// Makes a well-known refresh token valid, so that a test can refresh without first
    /// going through a login.
    pub fn seed_refresh_token(&self, token: &str, grant: Grant) {
        lock(&self.inner).refresh.insert(token.to_owned(), grant);
    }

    /// Uses up a refresh token of `realm`: refresh tokens rotate, so each is valid once.
    pub fn take_refresh_token(&self, realm: &str, token: &str) -> Option<Grant> {
        let mut tokens = lock(&self.inner);
        if tokens.refresh.get(token)?.realm != realm {
            return None;
        }
        tokens.refresh.remove(token)
    }

    /// Invalidates every access token issued so far; refresh tokens stay valid, as when a
    /// server restarts or an administrator revokes sessions.
    pub fn revoke_access_tokens(&self) {
        for entry in lock(&self.inner).access.values_mut() {
            entry.revoked = true;
        }
    }

    /// Counts one successful token response of this grant type.
    pub fn count_grant(&self, grant_type: &str) {
        *lock(&self.inner).grants.entry(grant_type.to_owned()).or_default() += 1;
    }

    /// Successful token responses of this grant type.
    pub fn grant_count(&self, grant_type: &str) -> u64 {
        lock(&self.inner).grants.get(grant_type).copied().unwrap_or(0)
    }

    /// Every grant counter, sorted by grant type.
    pub fn grant_counts(&self) -> Vec<(String, u64)> {
        let mut all: Vec<_> = lock(&self.inner).grants.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort();
        all
    }

    /// Stores an authorization request for the consent page; returns its id.
    pub fn begin_consent(&self, request: ConsentRequest) -> String {
        let id = random_token(24);
        lock(&self.inner).consents.insert(id.clone(), request);
        id
    }

    /// Takes a pending consent request of `realm` (approve and deny each use it up).
    pub fn take_consent(&self, realm: &str, id: &str) -> Option<ConsentRequest> {
        let mut tokens = lock(&self.inner);
        if tokens.consents.get(id)?.realm != realm {
            return None;
        }
        tokens.consents.remove(id)
    }

    /// Issues a single-use authorization code for an approved request.
    pub fn issue_code(&self, request: ConsentRequest, now: Duration, ttl: Duration) -> String {
        let code = random_token(32);
        self.insert_code(code.clone(), request, now, ttl);
        code
    }

    /// Stores an authorization code of the simulator's own making (Exact's contain `!`).
    pub fn insert_code(&self, code: String, request: ConsentRequest, now: Duration, ttl: Duration) {
        lock(&self.inner).codes.insert(
            code,
            AuthCode {
                request,
                expires_at: now + ttl,
            },
        );
    }

    /// Uses up an authorization code of `realm`: a code is gone after its first use, even
    /// when that use fails (RFC 6749 §4.1.2 wants codes used at most once).
    pub fn take_code(&self, realm: &str, code: &str) -> Option<AuthCode> {
        let mut tokens = lock(&self.inner);
        if tokens.codes.get(code)?.request.realm != realm {
            return None;
        }
        tokens.codes.remove(code)
    }
}

/// Whether a PKCE `code_verifier` answers the challenge (RFC 7636 §4.6).
pub fn pkce_matches(challenge: &str, method: Option<&str>, verifier: &str) -> bool {
    match method.unwrap_or("plain") {
        "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge,
        "plain" => verifier == challenge,
        _ => false,
    }
}

/// A random alphanumeric string, for tokens, codes and request ids.
pub fn random_token(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(len).collect()
}

/// The 302 of a consent back to the client: `uri` with `pairs` added to its query (form
/// encoding, so a code's `!` is sent as `%21`), keeping any query it already has. `None` when
/// `uri` is not a URL: the caller shows its own error page.
pub fn redirect_back(uri: &str, pairs: &[(&str, &str)]) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    let mut url = url::Url::parse(uri).ok()?;
    url.query_pairs_mut().extend_pairs(pairs);
    Some(
        (
            axum::http::StatusCode::FOUND,
            [(axum::http::header::LOCATION, url.to_string())],
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(realm: &str) -> Grant {
        Grant {
            realm: realm.into(),
            client_id: "c".into(),
            subject: "alice".into(),
            scope: None,
        }
    }

    #[test]
    fn access_tokens_expire_and_are_revoked() {
        let store = TokenStore::default();
        let issued = store.issue(grant("test"), Duration::ZERO, Duration::from_secs(10), true);
        let token = &issued.access_token;
        assert!(store.check_access("test", token, Duration::from_secs(9)).is_ok());
        assert_eq!(
            store.check_access("other", token, Duration::ZERO),
            Err(TokenProblem::Unknown)
        );
        assert_eq!(
            store.check_access("test", token, Duration::from_secs(10)),
            Err(TokenProblem::Expired)
        );
        store.revoke_access_tokens();
        assert_eq!(
            store.check_access("test", token, Duration::ZERO),
            Err(TokenProblem::Revoked)
        );
        let refresh = issued.refresh_token.expect("refresh token requested");
        assert!(store.take_refresh_token("other", &refresh).is_none());
        assert!(store.take_refresh_token("test", &refresh).is_some());
        assert!(store.take_refresh_token("test", &refresh).is_none());
    }

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, Some("S256"), verifier));
        assert!(!pkce_matches(challenge, Some("S256"), "wrong"));
        assert!(pkce_matches("abc", None, "abc"));
    }
}
