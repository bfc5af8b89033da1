//! The handlers of `/version`, `/public_key`, `/me`, `/meta/*` and `/data/*`.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use super::models::{self, MODELS, Model};
use super::store::{Store, WriteContext, WriteError};
use super::webhooks::Event;
use super::{ApiError, Edition, OneCrm, User, basic_user, datetime, error, error_kind, json_body, query, webhooks};
use crate::state::SandboxState;

type Result<T> = std::result::Result<T, ApiError>;

/// A fixed RSA public key in PEM: clients only check that one is served.
const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\nkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\ncKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\nmwIDAQAB\n-----END PUBLIC KEY-----\n";

/// `GET /version`, without authentication.
pub async fn version(State(state): State<Arc<SandboxState>>, headers: HeaderMap) -> Json<Value> {
    let settings = state.onecrm.settings();
    let authenticated = settings.basic_auth_enabled && matches!(basic_user(&headers), Some(Ok(_)));
    let product = match settings.edition {
        Edition::Enterprise => "enterprise",
        Edition::Professional => "professional",
        Edition::Startup => "startup",
    };
    Json(json!({"version": "8.5.0", "authenticated": authenticated, "products": [product]}))
}

/// `GET /public_key`, without authentication.
pub async fn public_key() -> Json<Value> {
    Json(json!({"key": PUBLIC_KEY}))
}

/// `GET /me`.
pub async fn me(Extension(user): Extension<&'static User>) -> Json<Value> {
    Json(json!({
        "id": format!("Users:{}", user.id),
        "name": user.display,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": "user",
        "groups": user.groups,
        "email": user.email,
        "timezone": "UTC",
        "is_partner": false,
    }))
}

/// `GET /meta/modules`: the models this user may use.
// UNSURE (apis/onecrm.md): the item shape; `{"name": model, "label": plural label}`.
pub async fn modules(Extension(user): Extension<&'static User>) -> Json<Value> {
    let list: Vec<Value> = MODELS
        .iter()
        .filter(|m| user.check(m.name).is_ok())
        .map(|m| json!({"name": m.name, "label": m.label}))
        .collect();
    Json(json!({"list": list}))
}

/// `GET /meta/fields/{Model}`.
pub async fn fields(Extension(user): Extension<&'static User>, Path(model): Path<String>) -> Result<Json<Value>> {
    let (_, def) = model_for(user, &model)?;
    Ok(Json(def.meta()))
}

/// `GET /data/{Model}`.
pub async fn list(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path(model): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    let (index, _) = model_for(user, &model)?;
    let params = query::parse(raw.as_deref());
    let store = state.onecrm.store();
    query::list(&store, index, &params, user.id, None).map(Json)
}

/// `GET /data/{Model}/{id}`: every field unless `fields[]` names some.
pub async fn read(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path((model, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    let (index, def) = model_for(user, &model)?;
    let params = query::parse(raw.as_deref());
    let store = state.onecrm.store();
    let row = store.live(index, &id).ok_or_else(not_found)?;
    let columns = params.fields.as_deref().map(|f| query::columns(def, Some(f), &[]));
    let record = store.render(index, store.row(index, row), columns.as_deref());
    Ok(Json(json!({"record": record})))
}

/// `POST /data/{Model}` `{"data": {...}}` → `{"id"}`.
pub async fn create(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path(model): Path<String>,
    body: Bytes,
) -> Result<Json<Value>> {
    let (index, _) = model_for(user, &model)?;
    let (data, _) = write_body(&body)?;
    let ctx = context(&state.onecrm, &state, user);
    let (id, record) = {
        let mut store = state.onecrm.store();
        let id = store.create(index, None, &data, &ctx).map_err(write_error)?;
        let record = full_record(&store, index, &id);
        (id, record)
    };
    webhooks::fire(&state, index, Event::Create, record, None).await;
    Ok(Json(json!({"id": id})))
}

/// `PATCH` (and `PUT`) `/data/{Model}/{id}` `{"data": {...}, "create": bool}`: updates, or
/// with `create: true` creates the record under this id when it does not exist (upsert).
// UNSURE (apis/onecrm.md): PUT is served exactly like PATCH (a partial update).
pub async fn update(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path((model, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>> {
    let (index, _) = model_for(user, &model)?;
    let (data, upsert) = write_body(&body)?;
    let ctx = context(&state.onecrm, &state, user);
    let (event, record, previous) = {
        let mut store = state.onecrm.store();
        match store.live(index, &id) {
            Some(row) => {
                let previous = store.render(index, store.row(index, row), None);
                store.update(index, row, &data, &ctx).map_err(write_error)?;
                (Event::Update, full_record(&store, index, &id), Some(previous))
            }
            None if upsert => {
                if id.is_empty() || id.len() > 36 {
                    return Err(error(StatusCode::BAD_REQUEST, "A record id has at most 36 characters"));
                }
                store
                    .create(index, Some(id.clone()), &data, &ctx)
                    .map_err(write_error)?;
                (Event::Create, full_record(&store, index, &id), None)
            }
            None => return Err(not_found()),
        }
    };
    webhooks::fire(&state, index, event, record, previous).await;
    Ok(Json(json!({"result": true})))
}

/// `DELETE /data/{Model}/{id}`: the record answers 404 afterwards.
pub async fn remove(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path((model, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let (index, _) = model_for(user, &model)?;
    let ctx = context(&state.onecrm, &state, user);
    let mut store = state.onecrm.store();
    let row = store.live(index, &id).ok_or_else(not_found)?;
    store.delete(index, row, &ctx);
    Ok(Json(json!({"result": true})))
}

/// `GET /data/{Model}/{id}/{link}`: a related list, with the list parameters of the
/// related model.
pub async fn related(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path((model, id, link)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    let (index, def) = model_for(user, &model)?;
    let (target, field) = link_for(user, def, &link)?;
    let params = query::parse(raw.as_deref());
    let store = state.onecrm.store();
    store.live(index, &id).ok_or_else(not_found)?;
    query::list(&store, target, &params, user.id, Some((field, &id))).map(Json)
}

/// `POST /data/{Model}/{id}/{link}` `{"records": [ids], "records_with_data": [{"id"}]}`:
/// relates existing records to this one.
pub async fn link(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path((model, id, link)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>> {
    let (index, def) = model_for(user, &model)?;
    let (target, field) = link_for(user, def, &link)?;
    let body = json_body(&body)?;
    let mut ids = Vec::new();
    for value in body.get("records").and_then(Value::as_array).into_iter().flatten() {
        ids.push(value.as_str().map(str::to_owned));
    }
    for value in body
        .get("records_with_data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        ids.push(value.get("id").and_then(Value::as_str).map(str::to_owned));
    }
    let ids: Option<Vec<String>> = ids.into_iter().collect();
    let ids = match ids {
        Some(ids) if !ids.is_empty() => ids,
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "Expected {\"records\": [ids]} or {\"records_with_data\": [{\"id\": ...}]}",
            ));
        }
    };
    let ctx = context(&state.onecrm, &state, user);
    let mut store = state.onecrm.store();
    store.live(index, &id).ok_or_else(not_found)?;
    let rows: Option<Vec<usize>> = ids.iter().map(|related| store.live(target, related)).collect();
    let rows = rows.ok_or_else(|| error(StatusCode::NOT_FOUND, "Related record not found"))?;
    for row in rows {
        store.set_link(target, row, field, Some(id.clone()), &ctx);
    }
    Ok(Json(json!({"result": true})))
}

/// `DELETE /data/{Model}/{id}/{link}/{related_id}`.
pub async fn unlink(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    Path((model, id, link, related)): Path<(String, String, String, String)>,
) -> Result<Json<Value>> {
    let (index, def) = model_for(user, &model)?;
    let (target, field) = link_for(user, def, &link)?;
    let ctx = context(&state.onecrm, &state, user);
    let mut store = state.onecrm.store();
    store.live(index, &id).ok_or_else(not_found)?;
    let row = store
        .live(target, &related)
        .filter(|&row| store.row(target, row).get(field) == Some(id.as_str()))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Related record not found"))?;
    store.set_link(target, row, field, None, &ctx);
    Ok(Json(json!({"result": true})))
}

/// The model of a path segment: 404 when unknown, 403 when the user may not use it.
pub fn model_for(user: &User, name: &str) -> Result<(usize, &'static Model)> {
    let (index, def) =
        models::find(name).ok_or_else(|| error(StatusCode::NOT_FOUND, format!("Model {name} not found")))?;
    user.check(def.name)?;
    Ok((index, def))
}

/// The related model and the column of it that points at the parent.
fn link_for(user: &User, def: &Model, link: &str) -> Result<(usize, usize)> {
    let link = def.link(link).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            format!("Link {link} not found for model {}", def.name),
        )
    })?;
    let (target, target_def) = model_for(user, link.model)?;
    Ok((target, target_def.col(link.field)))
}

pub fn not_found() -> ApiError {
    error(StatusCode::NOT_FOUND, "Not found")
}

/// `{"data": {...}, "create": bool}`: the data and the upsert flag.
fn write_body(body: &[u8]) -> Result<(Map<String, Value>, bool)> {
    let mut body = json_body(body)?;
    let data = match body.remove("data") {
        Some(Value::Object(data)) => data,
        Some(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "`data` must be a JSON object of field values",
            ));
        }
        None => return Err(error(StatusCode::BAD_REQUEST, "Missing `data` in the request body")),
    };
    let upsert = match body.get("create") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "1" || s == "true",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(_) => return Err(error(StatusCode::BAD_REQUEST, "`create` must be a boolean")),
    };
    Ok((data, upsert))
}

fn context(onecrm: &OneCrm, state: &SandboxState, user: &'static User) -> WriteContext<'static> {
    let clock = state.clock.now();
    let now_unix = onecrm.now_unix(clock);
    WriteContext {
        user_id: user.id,
        now: datetime::format(now_unix),
        now_unix,
        clock,
    }
}

/// The record as `GET /data/{Model}/{id}` shows it (the webhook payload).
fn full_record(store: &Store, model: usize, id: &str) -> Map<String, Value> {
    match store.live(model, id) {
        Some(row) => store.render(model, store.row(model, row), None),
        None => Map::new(),
    }
}

fn write_error(err: WriteError) -> ApiError {
    match err {
        WriteError::Missing(fields) => error_kind(
            StatusCode::BAD_REQUEST,
            "missing_required",
            format!("Missing required fields: {}", fields.join(", ")),
        ),
        WriteError::Invalid(message) => error_kind(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", message),
        WriteError::BadUpload(message) => error_kind(StatusCode::BAD_REQUEST, "invalid_file", message),
    }
}
