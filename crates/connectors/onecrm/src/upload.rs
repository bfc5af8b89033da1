//! `onecrm.upload_file`: `POST /files/upload`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `onecrm.upload_file`: uploads a file for a later create or update to attach. Give exactly
/// one of `content` and `path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[schemars(extend("oneOf" = [{ "required": ["content"] }, { "required": ["path"] }]))]
pub struct UploadFileParams {
    /// The file name 1CRM stores, e.g. `PO-55871.pdf` (sent as `X-OneCrm-Filename`).
    pub file_name: String,
    /// The file's bytes, base64-encoded, e.g. `"{{ steps.pdf.output.body }}"`.
    /// Padding is optional and line breaks are ignored, so the body of an `http.request` with
    /// `response: bytes` fits as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A local file to upload instead, absolute or relative to the folder flowrun runs in.
    /// At most 100 MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The file's media type, e.g. `application/pdf`. Default `application/octet-stream`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// The output of `upload_file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct UploadedFile {
    /// The temporary upload id, `INCOMING~<uuid>`. Put it in a file field (`Note.filename`,
    /// `Document.revision_filename`, `DocumentRevision.filename`, `Account.photo`) with
    /// `create_record` or `update_record` to attach the file. Uploads expire after a while
    /// (UNSURE how long), so attach soon.
    pub id: String,
}
