//! Whether a request to `POST /hooks/<path>` may start a run, before anything is queued.
//!
//! - With `signature`, the request carries an HMAC-SHA256 of the raw body keyed with the
//!   webhook's `secret`, in `signature.header`: hex (`sha256=` prefix allowed, as GitHub sends
//!   it) or base64. With `timestamp_header` too, the signed text is `{timestamp}.{body}` (as
//!   Stripe signs it) and a timestamp further than `tolerance` (default 5m) from now, either
//!   way, is refused: a captured request cannot be replayed later.
//! - Without `signature`, a `secret` must come as `Authorization: Bearer <secret>`.
//! - Without either, anyone who knows the path may start runs: the path is the secret.
//!
//! Every comparison of secret material is constant-time. Refusals say why for the logs; the
//! caller answers 401 (413 for a body over the limit) and starts nothing.

use std::time::Duration;

use base64::Engine as _;
use flowrun_flow::model::{SignatureAlgorithm, Webhook};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The default `signature.tolerance`.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// A webhook's checks, ready to apply to requests.
pub struct WebhookGate {
    secret: Option<String>,
    signature: Option<SignatureCheck>,
    max_body: usize,
}

struct SignatureCheck {
    header: String,
    timestamp_header: Option<String>,
    tolerance: Duration,
}

/// Why a request starts nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 401: no or a wrong signature or token, or a stale timestamp.
    #[error("{0}")]
    Unauthorized(String),
    /// 413: the body is larger than the server accepts.
    #[error("the body is {size} bytes, more than the {limit} accepted")]
    TooLarge { size: usize, limit: usize },
}

impl std::fmt::Debug for WebhookGate {
    /// Never the secret.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WebhookGate")
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("signed", &self.signature.is_some())
            .field("max_body", &self.max_body)
            .finish()
    }
}

impl WebhookGate {
    /// The checks of `webhook`, whose `secret` is given rendered (a template such as
    /// `{{ secrets.HOOK_KEY }}` in the flow). A `signature` without a secret is refused here as
    /// the validator refuses it.
    pub fn new(webhook: &Webhook, secret: Option<String>, max_body: usize) -> Result<WebhookGate, String> {
        let signature = match &webhook.signature {
            None => None,
            Some(signature) => {
                if secret.as_deref().is_none_or(str::is_empty) {
                    return Err(format!(
                        "webhook `{}`: `signature` needs a `secret`, the HMAC key",
                        webhook.path
                    ));
                }
                match signature.algorithm {
                    SignatureAlgorithm::HmacSha256 => {}
                }
                Some(SignatureCheck {
                    header: signature.header.to_ascii_lowercase(),
                    timestamp_header: signature
                        .timestamp_header
                        .as_ref()
                        .map(|name| name.to_ascii_lowercase()),
                    tolerance: signature
                        .tolerance
                        .map_or(DEFAULT_TOLERANCE, |tolerance| tolerance.as_std()),
                })
            }
        };
        Ok(WebhookGate {
            secret: secret.filter(|secret| !secret.is_empty()),
            signature,
            max_body,
        })
    }

    /// Checks one request: `header` looks a header up by its lowercase name.
    pub fn check<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), Refusal> {
        if body.len() > self.max_body {
            return Err(Refusal::TooLarge {
                size: body.len(),
                limit: self.max_body,
            });
        }
        let (Some(secret), Some(check)) = (&self.secret, &self.signature) else {
            return match &self.secret {
                None => Ok(()),
                Some(secret) => bearer(header("authorization"), secret),
            };
        };
        let Some(sent) = header(&check.header) else {
            return Err(Refusal::Unauthorized(format!(
                "no `{}` header (the signature)",
                check.header
            )));
        };
        let Some(sent) = decode_signature(sent) else {
            return Err(Refusal::Unauthorized(format!(
                "the `{}` header is not an HMAC-SHA256 in hex or base64",
                check.header
            )));
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| Refusal::Unauthorized("the webhook's secret cannot key an HMAC".to_owned()))?;
        if let Some(name) = &check.timestamp_header {
            let Some(stamp) = header(name) else {
                return Err(Refusal::Unauthorized(format!("no `{name}` header (the signing time)")));
            };
            let signed_at = signing_time(stamp).ok_or_else(|| {
                Refusal::Unauthorized(format!(
                    "the `{name}` header is not a time (Unix seconds or milliseconds, or RFC 3339)"
                ))
            })?;
            let apart = now.duration_since(signed_at).unsigned_abs();
            if apart > check.tolerance {
                return Err(Refusal::Unauthorized(format!(
                    "the request was signed {}s away from now, more than the tolerance of {}s: a replay, or a clock off",
                    apart.as_secs(),
                    check.tolerance.as_secs()
                )));
            }
            mac.update(stamp.trim().as_bytes());
            mac.update(b".");
        }
        mac.update(body);
        mac.verify_slice(&sent)
            .map_err(|_| Refusal::Unauthorized(format!("the `{}` signature does not match the body", check.header)))
    }
}

/// The hex HMAC-SHA256 a sender puts in the signature header: of `{timestamp}.{body}` when
/// the webhook has a `timestamp_header`, else of the body. For senders written in Rust and
/// for tests; docs/serve.md shows the same in a shell.
pub fn sign(secret: &[u8], timestamp: Option<&str>, body: &[u8]) -> String {
    // Any key length is valid for HMAC: `new_from_slice` cannot fail here.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    if let Some(timestamp) = timestamp {
        mac.update(timestamp.as_bytes());
        mac.update(b".");
    }
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// `Authorization: Bearer <secret>`, compared in constant time.
fn bearer(authorization: Option<&str>, secret: &str) -> Result<(), Refusal> {
    let token = authorization
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
        })
        .ok_or_else(|| Refusal::Unauthorized("no `Authorization: Bearer …` header".to_owned()))?;
    if bool::from(token.as_bytes().ct_eq(secret.as_bytes())) {
        Ok(())
    } else {
        Err(Refusal::Unauthorized(
            "the bearer token is not the webhook's secret".to_owned(),
        ))
    }
}

/// A signature's bytes: hex (`sha256=` prefix allowed, any case) or base64; 32 bytes either way.
fn decode_signature(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    let value = value
        .strip_prefix("sha256=")
        .or_else(|| value.strip_prefix("SHA256="))
        .unwrap_or(value);
    let bytes = hex::decode(value)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(value).ok())?;
    (bytes.len() == 32).then_some(bytes)
}

/// A signing time: Unix seconds, Unix milliseconds (13 digits and more), or RFC 3339.
fn signing_time(value: &str) -> Option<Timestamp> {
    let value = value.trim();
    if let Ok(number) = value.parse::<i64>() {
        return if number.unsigned_abs() >= 1_000_000_000_000 {
            Timestamp::from_millisecond(number).ok()
        } else {
            Timestamp::from_second(number).ok()
        };
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests;
