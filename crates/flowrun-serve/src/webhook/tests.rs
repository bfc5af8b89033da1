use base64::Engine as _;
use flowrun_flow::model::{Signature, SignatureAlgorithm, Webhook};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;

use super::{Refusal, WebhookGate};

const SECRET: &str = "whsec-canary-5c1b";

fn webhook(signature: Option<Signature>) -> Webhook {
    Webhook {
        path: "orders".to_owned(),
        secret: Some("{{ secrets.HOOK }}".to_owned()),
        signature,
        respond: None,
        dedupe: None,
        rate_limit: None,
    }
}

fn signed(timestamp_header: Option<&str>) -> Signature {
    Signature {
        header: "X-Signature".to_owned(),
        algorithm: SignatureAlgorithm::HmacSha256,
        timestamp_header: timestamp_header.map(str::to_owned),
        tolerance: Some("5m".parse().unwrap()),
    }
}

fn hmac_hex(message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

fn now() -> Timestamp {
    "2026-12-04T12:00:00Z".parse().unwrap()
}

fn check(gate: &WebhookGate, headers: &[(&str, &str)], body: &[u8]) -> Result<(), Refusal> {
    gate.check(
        |name| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
        body,
        now(),
    )
}

#[test]
fn a_signed_body_is_accepted_in_every_encoding_and_a_wrong_one_refused() {
    let gate = WebhookGate::new(&webhook(Some(signed(None))), Some(SECRET.to_owned()), 1 << 20).unwrap();
    let body = br#"{"order": 7}"#;
    let hex = hmac_hex(body);
    check(&gate, &[("x-signature", &hex)], body).unwrap();
    check(&gate, &[("x-signature", &format!("sha256={hex}"))], body).unwrap();
    check(&gate, &[("x-signature", &hex.to_uppercase())], body).unwrap();
    let base64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(&hex).unwrap());
    check(&gate, &[("x-signature", &base64)], body).unwrap();

    let error = check(&gate, &[("x-signature", &hex)], br#"{"order": 8}"#).unwrap_err();
    assert_eq!(
        error,
        Refusal::Unauthorized("the `x-signature` signature does not match the body".to_owned())
    );
    let error = check(&gate, &[], body).unwrap_err();
    assert_eq!(
        error,
        Refusal::Unauthorized("no `x-signature` header (the signature)".to_owned())
    );
    let error = check(&gate, &[("x-signature", "abc")], body).unwrap_err();
    assert!(error.to_string().contains("not an HMAC-SHA256"), "{error}");
}

#[test]
fn a_signing_time_outside_the_tolerance_is_a_replay() {
    let gate = WebhookGate::new(
        &webhook(Some(signed(Some("X-Timestamp")))),
        Some(SECRET.to_owned()),
        1 << 20,
    )
    .unwrap();
    let body = b"{}";
    let sign = |stamp: &str| hmac_hex(format!("{stamp}.{}", std::str::from_utf8(body).unwrap()).as_bytes());
    let fresh = (now().as_second() - 60).to_string();
    check(&gate, &[("x-timestamp", &fresh), ("x-signature", &sign(&fresh))], body).unwrap();
    let millis = (now().as_millisecond() + 30_000).to_string();
    check(
        &gate,
        &[("x-timestamp", &millis), ("x-signature", &sign(&millis))],
        body,
    )
    .unwrap();

    let old = (now().as_second() - 3600).to_string();
    let error = check(&gate, &[("x-timestamp", &old), ("x-signature", &sign(&old))], body).unwrap_err();
    assert!(error.to_string().contains("signed 3600s away from now"), "{error}");
    // The timestamp is signed: changing it breaks the signature.
    let error = check(&gate, &[("x-timestamp", &fresh), ("x-signature", &sign(&old))], body).unwrap_err();
    assert!(error.to_string().contains("does not match"), "{error}");
    let error = check(&gate, &[("x-signature", &sign(&fresh))], body).unwrap_err();
    assert!(error.to_string().contains("no `x-timestamp` header"), "{error}");
}

#[test]
fn without_a_signature_the_secret_is_a_bearer_token() {
    let gate = WebhookGate::new(&webhook(None), Some(SECRET.to_owned()), 1 << 20).unwrap();
    check(&gate, &[("authorization", &format!("Bearer {SECRET}"))], b"{}").unwrap();
    check(&gate, &[("authorization", &format!("bearer {SECRET}"))], b"{}").unwrap();
    let error = check(&gate, &[("authorization", "Bearer guess")], b"{}").unwrap_err();
    assert!(matches!(error, Refusal::Unauthorized(_)));
    assert!(check(&gate, &[], b"{}").is_err());
    // No secret at all: the path is the secret.
    let open = WebhookGate::new(&webhook(None), None, 1 << 20).unwrap();
    check(&open, &[], b"{}").unwrap();
}

#[test]
fn an_oversized_body_is_refused_before_anything_else() {
    let gate = WebhookGate::new(&webhook(None), None, 4).unwrap();
    assert_eq!(
        check(&gate, &[], b"12345"),
        Err(Refusal::TooLarge { size: 5, limit: 4 })
    );
}

#[test]
fn the_secret_never_shows() {
    let gate = WebhookGate::new(&webhook(Some(signed(None))), Some(SECRET.to_owned()), 10).unwrap();
    assert!(!format!("{gate:?}").contains(SECRET));
    let missing = WebhookGate::new(&webhook(Some(signed(None))), None, 10).unwrap_err();
    assert!(missing.contains("`signature` needs a `secret`"), "{missing}");
}

proptest::proptest! {
    /// Whatever a client sends, checking answers without a panic, and only the right
    /// signature passes.
    #[test]
    fn any_request_is_checked_without_panic(signature in "\\PC{0,80}", stamp in "\\PC{0,30}", body in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let gate = WebhookGate::new(&webhook(Some(signed(Some("X-Timestamp")))), Some(SECRET.to_owned()), 1 << 20).unwrap();
        let result = check(&gate, &[("x-timestamp", &stamp), ("x-signature", &signature)], &body);
        proptest::prop_assert!(result.is_err());
    }
}
