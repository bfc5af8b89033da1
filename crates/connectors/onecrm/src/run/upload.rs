//! `upload_file`: `POST /files/upload` with the file's bytes as the body.

use base64::Engine as _;
use bytes::Bytes;
use flowrun_connect::client::{Body, Request};
use flowrun_connect::http::Method;
use flowrun_connect::module::{ErrorKind, ModuleError};
use flowrun_connect::schema::{invalid_params, parse_params};
use serde_json::{Value as Json, json};

use super::api::{Api, take_field};
use crate::upload::UploadFileParams;

/// The largest file read from `path`: the body is held in memory (and sent again on a retry).
/// UNSURE: 1CRM's own limit is its PHP `upload_max_filesize`, unknown here.
pub(crate) const MAX_FILE_SIZE: u64 = 100_000_000;

pub(crate) async fn upload_file(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let params: UploadFileParams = parse_params(api.uses, params)?;
    let file_name = api.required("file_name", &params.file_name)?;
    if file_name.chars().any(char::is_control) {
        return Err(invalid_params(api.uses, "`file_name` must not hold control characters"));
    }
    let bytes = match (&params.content, &params.path) {
        (Some(content), None) => decode(api.uses, content)?,
        (None, Some(path)) => read(api.uses, path).await?,
        _ => return Err(invalid_params(api.uses, "give exactly one of `content` and `path`")),
    };
    let content_type = params
        .mime_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let request = Request::new(Method::Post, api.url(&["files", "upload"])?)
        .header("X-OneCrm-Filename", file_name)
        .body(Body::Raw { bytes, content_type });
    let mut body = api.json(&request).await?;
    match take_field(&mut body, "id", "POST /files/upload")? {
        id @ Json::String(_) => Ok(json!({ "id": id })),
        other => Err(ModuleError::new(
            ErrorKind::Invalid,
            format!("POST /files/upload: the upload id is not a string but {other}"),
        )),
    }
}

/// Base64 as other steps write it: standard alphabet, padded or not, line breaks allowed.
fn decode(uses: &str, content: &str) -> Result<Bytes, ModuleError> {
    let compact: String = content.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::general_purpose::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(compact.as_bytes())
        .map(Bytes::from)
        .map_err(|error| invalid_params(uses, &format!("`content` is not base64 ({error})")))
}

/// The file at `path`, relative to flowrun's working directory: a module call does not know
/// the flow file's folder.
async fn read(uses: &str, path: &str) -> Result<Bytes, ModuleError> {
    let cannot = |error: std::io::Error| invalid_params(uses, &format!("cannot read `path` `{path}` ({error})"));
    let size = tokio::fs::metadata(path).await.map_err(cannot)?.len();
    if size > MAX_FILE_SIZE {
        return Err(invalid_params(
            uses,
            &format!("`path` `{path}` is {size} bytes, more than the {MAX_FILE_SIZE} bytes an upload may hold"),
        ));
    }
    tokio::fs::read(path).await.map(Bytes::from).map_err(cannot)
}
