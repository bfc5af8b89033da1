//! Files: `POST /files/upload` keeps the raw body as a temporary upload (`INCOMING~<id>`),
//! which a `file_ref` field attaches on create/update (`store.rs`); `/files/info` and
//! `/files/download` read the attached file back, byte for byte.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

use super::routes::{model_for, not_found};
use super::store::{StoredFile, Upload, new_id};
use super::{ApiError, User, error};
use crate::state::SandboxState;

/// Largest upload accepted.
const MAX_UPLOAD: usize = 64 * 1024 * 1024;

pub fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_UPLOAD)
}

/// `POST /files/upload`: raw bytes, `Content-Type`, `X-OneCrm-Filename` → `{"id"}`.
pub async fn upload(
    State(state): State<Arc<SandboxState>>,
    Extension(_user): Extension<&'static User>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = match headers.get("x-onecrm-filename") {
        Some(value) => String::from_utf8_lossy(value.as_bytes()).trim().to_owned(),
        None => String::new(),
    };
    if name.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Missing X-OneCrm-Filename header with the file name",
        ));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let id = format!("INCOMING~{}", new_id(&mut fastrand::Rng::new()));
    let upload = Upload {
        file: StoredFile {
            name,
            mime,
            bytes: body,
            modified: 0,
        },
        at: state.clock.now(),
    };
    state.onecrm.store().uploads.insert(id.clone(), upload);
    Ok(Json(json!({"id": id})).into_response())
}

/// `GET /files/info/{Model}/{id}` → `{"name", "size", "mimetype", "modified"}`.
pub async fn info(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path((model, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let file = attached(&state, user, &model, &id)?;
    Ok(Json(json!({
        "name": file.name,
        "size": file.bytes.len(),
        "mimetype": file.mime,
        "modified": file.modified,
    }))
    .into_response())
}

/// `GET /files/download/{Model}/{id}`: the bytes, with the content type they were uploaded
/// with.
pub async fn download(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path((model, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let file = attached(&state, user, &model, &id)?;
    let content_type =
        HeaderValue::from_str(&file.mime).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let encoded = utf8_percent_encode(&file.name, NON_ALPHANUMERIC).to_string();
    let disposition = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}"))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        file.bytes,
    )
        .into_response())
}

/// The file attached to a live record of a model that holds files.
fn attached(state: &SandboxState, user: &User, model: &str, id: &str) -> Result<StoredFile, ApiError> {
    let (index, def) = model_for(user, model)?;
    if !def.has_file {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("Model {model} has no files; files are on Document and Note"),
        ));
    }
    let store = state.onecrm.store();
    store.live(index, id).ok_or_else(not_found)?;
    store
        .files
        .get(&(index, id.to_owned()))
        .cloned()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "No file attached to this record"))
}
