//! Digests and ids: `sha256`, `sha1`, `md5`, `hmac_sha256`, `uuid`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use minijinja::{Environment, Error, State, Value};
use sha2::Digest as _;

use super::{add_filter_and_function, charge, expect_bytes, failure};

pub(super) fn register(env: &mut Environment<'static>) {
    add_filter_and_function(env, "sha256", sha256);
    add_filter_and_function(env, "sha1", sha1);
    add_filter_and_function(env, "md5", md5);
    add_filter_and_function(env, "hmac_sha256", hmac_sha256);
    env.add_function("uuid", uuid);
}

/// `sha256(text)`: the SHA-256 of the text's UTF-8 bytes, lowercase hex.
fn sha256(state: &State<'_, '_>, value: &Value) -> Result<String, Error> {
    let bytes = expect_bytes("sha256", "the value", value)?;
    charge(state, bytes.len())?;
    Ok(hex::encode(sha2::Sha256::digest(bytes)))
}

/// `sha1(text)`: SHA-1, lowercase hex (for APIs that still ask for it).
fn sha1(state: &State<'_, '_>, value: &Value) -> Result<String, Error> {
    let bytes = expect_bytes("sha1", "the value", value)?;
    charge(state, bytes.len())?;
    Ok(hex::encode(sha1::Sha1::digest(bytes)))
}

/// `md5(text)`: MD5, lowercase hex (for APIs that still ask for it; not for security).
fn md5(state: &State<'_, '_>, value: &Value) -> Result<String, Error> {
    let bytes = expect_bytes("md5", "the value", value)?;
    charge(state, bytes.len())?;
    Ok(hex::encode(md5::Md5::digest(bytes)))
}

/// `hmac_sha256(message, key, encoding?)`: the HMAC-SHA256 of the message, lowercase hex,
/// or base64 with `"base64"` (as Shopify-style webhook signatures are).
fn hmac_sha256(state: &State<'_, '_>, message: &Value, key: &Value, encoding: Option<&str>) -> Result<String, Error> {
    let message = expect_bytes("hmac_sha256", "the message", message)?;
    let key = expect_bytes("hmac_sha256", "the key", key)?;
    charge(state, message.len())?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    let digest = mac.finalize().into_bytes();
    match encoding {
        None | Some("hex") => Ok(hex::encode(digest)),
        Some("base64") => Ok(base64::engine::general_purpose::STANDARD.encode(digest)),
        Some(_) => Err(failure("hmac_sha256", "the encoding must be \"hex\" or \"base64\"")),
    }
}

/// `uuid()`: a random version-4 UUID; a test's fixed sequence ([`crate::Runtime`]) when there
/// is one.
fn uuid(state: &State<'_, '_>) -> String {
    match crate::scope::runtime_of(state) {
        Some(runtime) => runtime.uuids.next_uuid().to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    }
}
