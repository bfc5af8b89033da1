//! The record modules on `/data/{Model}` and `/data/{Model}/{id}`.

use flowrun_connect::client::{Body, Request};
use flowrun_connect::http::Method;
use flowrun_connect::module::{ErrorKind, ModuleError};
use flowrun_connect::paginate::set_query;
use flowrun_connect::schema::parse_params;
use serde_json::{Value as Json, json};

use super::api::{Api, append_fields, append_php, not_found, take_field};
use crate::records::{
    CreateRecordParams, DeleteRecordParams, GetRecordParams, SearchRecordsParams, UpdateRecordParams,
};

/// Records asked for per request. UNSURE: 1CRM's default and maximum page size are not
/// documented; 100 is what its own PHP client pages by. Fewer rows per page are coped with.
pub(crate) const PAGE_SIZE: u64 = 100;

/// `search_records`: every page of `GET /data/{Model}`, up to `limit` records.
///
/// Not `paginate::fetch_pages`: its offset kind stops at the first page shorter than asked,
/// which would silently cut the read short should 1CRM cap pages below 100 (its maximum is
/// UNSURE); 1CRM says when to stop with `total_results`, and `limit` must stop mid-read.
pub(crate) async fn search(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let params: SearchRecordsParams = parse_params(api.uses, params)?;
    let module = api.required("module", &params.module)?;
    let mut url = api.url(&["data", module])?;
    append_fields(&mut url, &params.fields);
    if let Some(text) = &params.filter_text {
        url.query_pairs_mut().append_pair("filter_text", text);
    }
    for (name, value) in &params.filters {
        append_php(&mut url, &format!("filters[{name}]"), value, api.uses)?;
    }
    if let Some(order) = &params.order {
        url.query_pairs_mut().append_pair("order", order);
    }
    let limit = params.limit.unwrap_or(u64::MAX);
    let start = params.offset.unwrap_or(0);
    let mut offset = start;
    let mut records: Vec<Json> = Vec::new();
    let mut total: Option<u64> = None;
    let mut previous_first: Option<Json> = None;
    while (records.len() as u64) < limit {
        let asked = PAGE_SIZE.min(limit - records.len() as u64);
        let mut page_url = url.clone();
        set_query(&mut page_url, "offset", &offset.to_string());
        set_query(&mut page_url, "limit", &asked.to_string());
        let request = Request::get(page_url);
        let mut body = api
            .json(&request)
            .await
            .map_err(|error| not_found(error, module, None))?;
        total = count(body.get("total_results")).or(total);
        let page = match take_field(&mut body, "records", "GET /data/{Model}")? {
            Json::Array(page) => page,
            Json::Null => Vec::new(),
            other => {
                return Err(ModuleError::new(
                    ErrorKind::Invalid,
                    format!("GET /data/{module}: `records` is not a list but {other}"),
                ));
            }
        };
        let received = page.len() as u64;
        if received == 0 {
            break;
        }
        // An API that ignores `offset` would send the first page forever.
        let first = page.first().and_then(|record| record.get("id")).cloned();
        if first.is_some() && first == previous_first {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "GET /data/{module}: 1CRM sent the same page again at offset {offset}; stopped after {} records",
                    records.len()
                ),
            ));
        }
        previous_first = first;
        records.extend(page);
        offset = offset.saturating_add(received);
        match total {
            Some(total) if offset >= total => break,
            // Without a count, a short page is the last one.
            None if received < asked => break,
            _ => {}
        }
    }
    records.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let total = total.unwrap_or(start.saturating_add(records.len() as u64));
    // Built by moving the records in: `json!` would serialize (copy) every record through a
    // reference (7 ms of a 10,000-record read, benches/search.rs `parts`).
    let mut output = serde_json::Map::new();
    output.insert("records".to_owned(), Json::Array(records));
    output.insert("total_results".to_owned(), Json::from(total));
    Ok(Json::Object(output))
}

/// `total_results` as a number; 1CRM writes most numbers as strings, so both are read.
fn count(value: Option<&Json>) -> Option<u64> {
    match value? {
        Json::Number(number) => number.as_u64(),
        Json::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// `get_record`: `GET /data/{Model}/{id}` → the record.
pub(crate) async fn get(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let params: GetRecordParams = parse_params(api.uses, params)?;
    let module = api.required("module", &params.module)?;
    let id = api.required("id", &params.id)?;
    fetch(api, module, id, &params.fields).await
}

/// `GET /data/{Model}/{id}` (only `fields`, or every field): the record. A 404 says whether
/// the module or the record is unknown ([`not_found`]); the `new_event` trigger reads the
/// record of a delivery with it too.
pub(crate) async fn fetch(api: &Api<'_>, module: &str, id: &str, fields: &[String]) -> Result<Json, ModuleError> {
    let mut url = api.url(&["data", module, id])?;
    append_fields(&mut url, fields);
    let mut body = api
        .json(&Request::get(url))
        .await
        .map_err(|error| not_found(error, module, Some(id)))?;
    take_field(&mut body, "record", "GET /data/{Model}/{id}")
}

/// `create_record`: `POST /data/{Model}` with `{data}` → `{id}`.
pub(crate) async fn create(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let params: CreateRecordParams = parse_params(api.uses, params)?;
    let module = api.required("module", &params.module)?;
    let url = api.url(&["data", module])?;
    let request = Request::new(Method::Post, url).body(Body::Json(json!({ "data": params.data })));
    let mut body = api
        .json(&request)
        .await
        .map_err(|error| not_found(error, module, None))?;
    let id = take_field(&mut body, "id", "POST /data/{Model}")?;
    let id = id_text(id, &format!("POST /data/{module}: the new record's `id`"))?;
    Ok(json!({ "id": id }))
}

/// An id 1CRM sent (a new record's, a webhook subscription's): a string, or, not documented
/// but still the id, a number. `what` names it in the error.
pub(crate) fn id_text(id: Json, what: &str) -> Result<String, ModuleError> {
    match id {
        Json::String(id) => Ok(id),
        Json::Number(number) => Ok(number.to_string()),
        other => Err(ModuleError::new(
            ErrorKind::Invalid,
            format!("{what} is not a string but {other}"),
        )),
    }
}

/// `update_record`: `PATCH /data/{Model}/{id}` with `{data, create}` → `{id, result}`.
pub(crate) async fn update(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let params: UpdateRecordParams = parse_params(api.uses, params)?;
    let module = api.required("module", &params.module)?;
    let id = api.required("id", &params.id)?;
    let url = api.url(&["data", module, id])?;
    let body = json!({ "data": params.data, "create": params.create });
    let request = Request::new(Method::Patch, url).body(Body::Json(body));
    let body = api
        .json(&request)
        .await
        .map_err(|error| not_found(error, module, Some(id)))?;
    Ok(json!({ "id": id, "result": result(&body) }))
}

/// `delete_record`: `DELETE /data/{Model}/{id}` → `{id, result}`.
pub(crate) async fn delete(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let params: DeleteRecordParams = parse_params(api.uses, params)?;
    let module = api.required("module", &params.module)?;
    let id = api.required("id", &params.id)?;
    let url = api.url(&["data", module, id])?;
    let body = api
        .json(&Request::new(Method::Delete, url))
        .await
        .map_err(|error| not_found(error, module, Some(id)))?;
    Ok(json!({ "id": id, "result": result(&body) }))
}

/// 1CRM's `result`: `true`, or (values being strings there) `"1"`; a 2xx without one is a
/// success too, since failures come as other statuses.
fn result(body: &Json) -> bool {
    match body.get("result") {
        Some(Json::Bool(flag)) => *flag,
        Some(Json::String(text)) => !matches!(text.as_str(), "" | "0" | "false"),
        Some(Json::Number(number)) => number.as_f64() != Some(0.0),
        Some(Json::Null) | None => true,
        Some(_) => true,
    }
}
