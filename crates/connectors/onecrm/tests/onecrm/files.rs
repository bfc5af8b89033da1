//! `upload_file`: binary bytes up, attached to a Note, and down again byte-exact.

use base64::Engine as _;
use serde_json::json;

use super::{admin, assert_output, ok, sandbox};

/// Every byte value, and bytes that are not UTF-8, so `auto` must give base64.
fn binary() -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend([
        0xff, 0xfe, 0x00, 0x00, 0xc3, 0x28, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a,
    ]);
    bytes.extend((0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    bytes
}

#[tokio::test]
async fn binary_bytes_round_trip_through_a_note() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let bytes = binary();
    let base64 = base64::engine::general_purpose::STANDARD;
    let uploaded = ok(
        &crm,
        "onecrm.upload_file",
        json!({ "file_name": "scan-0001.png", "content": base64.encode(&bytes), "mime_type": "image/png" }),
    )
    .await;
    assert_output("upload_file", &uploaded);
    let upload_id = uploaded["id"].as_str().unwrap().to_owned();
    assert!(upload_id.starts_with("INCOMING~"), "{upload_id}");

    let note = ok(
        &crm,
        "onecrm.create_record",
        json!({ "module": "Note", "data": { "name": "Scanned PO", "filename": upload_id } }),
    )
    .await;
    let note_id = note["id"].as_str().unwrap().to_owned();

    let info = ok(
        &crm,
        "onecrm.api_call",
        json!({ "path": format!("files/info/Note/{note_id}") }),
    )
    .await;
    assert_eq!(info["body"]["size"], bytes.len(), "{info}");
    assert_eq!(info["body"]["name"], "scan-0001.png", "{info}");

    for response in ["bytes", "auto"] {
        let download = ok(
            &crm,
            "onecrm.api_call",
            json!({ "path": format!("files/download/Note/{note_id}"), "response": response }),
        )
        .await;
        assert_eq!(download["status"], 200);
        let body = base64.decode(download["body"].as_str().unwrap()).unwrap();
        assert!(
            body == bytes,
            "response `{response}`: {} bytes came back, not the {} sent",
            body.len(),
            bytes.len()
        );
    }
}

#[tokio::test]
async fn a_file_is_uploaded_from_a_path() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let dir = std::env::temp_dir().join(format!("flowrun-onecrm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notes.txt");
    std::fs::write(&path, "plain text, é ü\n").unwrap();
    let uploaded = ok(
        &crm,
        "onecrm.upload_file",
        json!({ "file_name": "notes.txt", "path": path.to_str().unwrap(), "mime_type": "text/plain" }),
    )
    .await;
    let note = ok(
        &crm,
        "onecrm.create_record",
        json!({ "module": "Note", "data": { "name": "From disk", "filename": uploaded["id"] } }),
    )
    .await;
    let download = ok(
        &crm,
        "onecrm.api_call",
        json!({ "path": format!("files/download/Note/{}", note["id"].as_str().unwrap()), "response": "text" }),
    )
    .await;
    assert_eq!(download["body"], "plain text, é ü\n");
    std::fs::remove_dir_all(&dir).ok();
}
