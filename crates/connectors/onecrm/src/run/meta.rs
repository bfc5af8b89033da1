//! The metadata modules: `/meta/modules`, `/meta/fields/{Model}`, `/me`.

use flowrun_connect::client::Request;
use flowrun_connect::module::{ErrorKind, ModuleError};
use flowrun_connect::schema::{NoParams, parse_params};
use serde_json::{Map, Value as Json, json};

use super::api::{Api, not_found, take_field};
use crate::meta::ListFieldsParams;

/// `list_modules`: `GET /meta/modules` → the entries of `list`.
pub(crate) async fn list_modules(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let NoParams {} = parse_params(api.uses, params)?;
    let mut body = api.json(&Request::get(api.url(&["meta", "modules"])?)).await?;
    let list = match take_field(&mut body, "list", "GET /meta/modules")? {
        Json::Array(list) => list,
        // UNSURE: the item shape is undocumented; a map of name → entry is read as its entries.
        Json::Object(entries) => entries
            .into_iter()
            .map(|(name, entry)| match entry {
                Json::Object(mut fields) => {
                    fields.entry("name").or_insert(Json::String(name));
                    Json::Object(fields)
                }
                label => json!({ "name": name, "label": label }),
            })
            .collect(),
        other => {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!("GET /meta/modules: `list` is not a list but {other}"),
            ));
        }
    };
    // Bare model names become `{name}` so every entry is an object, as the output says.
    let list: Vec<Json> = list
        .into_iter()
        .map(|entry| match entry {
            Json::Object(_) => entry,
            name => json!({ "name": name }),
        })
        .collect();
    Ok(Json::Array(list))
}

/// `list_fields`: `GET /meta/fields/{Model}` → `{fields, filters}`.
pub(crate) async fn list_fields(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let params: ListFieldsParams = parse_params(api.uses, params)?;
    let module = api.required("module", &params.module)?;
    let mut body = api
        .json(&Request::get(api.url(&["meta", "fields", module])?))
        .await
        .map_err(|error| not_found(error, module, None))?;
    let fields = take_field(&mut body, "fields", "GET /meta/fields/{Model}")?;
    // A module without filters may leave the key out; PHP writes an empty map as `[]`.
    let filters = match body.get_mut("filters").map(Json::take) {
        Some(Json::Object(filters)) => Json::Object(filters),
        _ => Json::Object(Map::new()),
    };
    let fields = match fields {
        Json::Object(fields) => Json::Object(fields),
        Json::Array(list) if list.is_empty() => Json::Object(Map::new()),
        other => {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!("GET /meta/fields/{module}: `fields` is not a map of fields but {other}"),
            ));
        }
    };
    Ok(json!({ "fields": fields, "filters": filters }))
}

/// `get_my_info`: `GET /me` → the user.
pub(crate) async fn get_my_info(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let NoParams {} = parse_params(api.uses, params)?;
    let body = api.json(&Request::get(api.url(&["me"])?)).await?;
    if body.get("id").is_none() {
        return Err(ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "GET /me: expected the user with an `id`, 1CRM answered {}",
                flowrun_connect::client::excerpt(body.to_string().as_bytes())
            ),
        ));
    }
    Ok(body)
}
