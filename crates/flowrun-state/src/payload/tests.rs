use serde_json::{Value, json};

use super::*;

fn small_limits() -> PayloadLimits {
    PayloadLimits {
        compress_above: 64,
        truncate_above: 4096,
    }
}

fn big_value(bytes: usize) -> Value {
    json!({ "records": vec!["abcdefgh"; bytes / 11] })
}

#[tokio::test]
async fn small_values_are_plain_json_text() {
    let value = json!({"a": [1, 2, "three"], "b": null});
    let encoded = encode(small_limits(), value.clone(), OverLimit::Truncate)
        .await
        .unwrap();
    assert_eq!(encoded, Encoded::Text(r#"{"a":[1,2,"three"],"b":null}"#.to_owned()));
    let Encoded::Text(text) = encoded else { unreachable!() };
    assert_eq!(decode("v", text.as_bytes(), small_limits()).unwrap(), value);
}

#[tokio::test]
async fn values_over_the_compression_limit_are_compressed_and_round_trip() {
    let value = big_value(2000);
    let plain = serde_json::to_vec(&value).unwrap().len();
    let (encoded, kept) = encode_keep(small_limits(), value.clone(), OverLimit::Truncate)
        .await
        .unwrap();
    assert_eq!(kept, value);
    let Encoded::Compressed(bytes) = &encoded else {
        panic!("expected compressed, got {encoded:?}")
    };
    assert!(encoded.len() < plain / 4, "{} vs {plain}", encoded.len());
    assert_eq!(decode("v", bytes, small_limits()).unwrap(), value);
}

#[tokio::test]
async fn values_over_the_hard_limit_become_the_marker() {
    let value = big_value(10_000);
    let original = serde_json::to_vec(&value).unwrap().len() as u64;
    let encoded = encode(small_limits(), value, OverLimit::Truncate).await.unwrap();
    let Encoded::Text(text) = encoded else {
        panic!("marker is text")
    };
    assert_eq!(
        decode("v", text.as_bytes(), small_limits()).unwrap(),
        json!({"$truncated": true, "original_bytes": original})
    );
}

#[tokio::test]
async fn values_that_must_stay_whole_are_refused_over_the_hard_limit() {
    let error = encode(small_limits(), big_value(10_000), OverLimit::Refuse("a cursor"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StateError::TooLarge { what, limit: 4096, .. } if what == "a cursor"),
        "{error}"
    );
}

#[test]
fn garbage_is_reported_not_panicked_on() {
    let error = decode("step output", b"{not json", small_limits()).unwrap_err();
    assert!(
        error.to_string().starts_with("stored step output is unreadable"),
        "{error}"
    );
    let error = decode("step output", &[0x28, 0xB5, 0x2F, 0xFD, 1, 2], small_limits()).unwrap_err();
    assert!(matches!(error, StateError::Corrupt { .. }), "{error}");
}

/// JSON that writes itself: what the engine gives for a module's output.
struct Shared(Arc<Value>);

impl WriteJson for Shared {
    fn write_json(&self, out: &mut JsonOut) -> serde_json::Result<()> {
        serde_json::to_writer(out, &*self.0)
    }
}

#[tokio::test]
async fn written_payloads_are_stored_like_the_values_they_write() {
    for value in [json!({"a": [1, 2, "three"]}), big_value(2000), big_value(8000)] {
        let written = Payload::Written(Arc::new(Shared(Arc::new(value.clone()))));
        assert_eq!(written, Payload::Value(value.clone()));
        assert_eq!(written.to_value().unwrap(), value);
        let from_written = encode(small_limits(), written, OverLimit::Truncate).await.unwrap();
        let from_value = encode(small_limits(), value, OverLimit::Truncate).await.unwrap();
        assert_eq!(from_written, from_value);
    }
}
