//! `/test/pages/*`: one collection of records `{"id": n, "name": "Item n"}` (n from 1), in
//! every pagination style flowrun supports, so each style can be walked end to end.
//!
//! Records are generated per page rather than stored, so a benchmark can ask for a huge
//! collection (`total=100000`) at no memory cost.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::json;

use super::{BadRequest, Params, number, origin};
use crate::state::SandboxState;

/// Page size when the request gives none.
const DEFAULT_PAGE_SIZE: u64 = 10;
/// Largest page size; larger requests are clamped, as real APIs do.
const MAX_PAGE_SIZE: u64 = 1000;

#[derive(Serialize)]
struct Record {
    id: u64,
    name: String,
}

/// The records at zero-based positions `offset..offset + count`, cut at `total`.
fn records(offset: u64, count: u64, total: u64) -> Vec<Record> {
    let end = offset.saturating_add(count).min(total);
    (offset..end)
        .map(|i| Record {
            id: i + 1,
            name: format!("Item {}", i + 1),
        })
        .collect()
}

/// Collection size: the `total` query parameter, else the configured size.
fn total(state: &SandboxState, params: &Params) -> Result<u64, BadRequest> {
    number(params, "total", state.config.total_records as u64)
}

/// A page size parameter: default when absent, at least 1, clamped to [`MAX_PAGE_SIZE`].
fn page_size(params: &Params, name: &str) -> Result<u64, BadRequest> {
    match number(params, name, DEFAULT_PAGE_SIZE)? {
        0 => Err(bad_request(&format!("`{name}` must be at least 1"))),
        n => Ok(n.min(MAX_PAGE_SIZE)),
    }
}

/// `&total=T` when the request overrode the size, so that next links keep the override.
fn total_suffix(params: &Params) -> String {
    params.get("total").map(|t| format!("&total={t}")).unwrap_or_default()
}

fn bad_request(message: &str) -> BadRequest {
    BadRequest(message.to_owned())
}

/// A page of the numbered styles (`page` and `link`): `page=P&per_page=N`, P from 1. Its
/// fields, in this order, are the body of `GET /test/pages/page`.
#[derive(Serialize)]
struct NumberedPage {
    data: Vec<Record>,
    page: u64,
    per_page: u64,
    total: u64,
}

/// Reads `page` and `per_page` and cuts that page out of the collection.
fn numbered_page(state: &SandboxState, params: &Params) -> Result<NumberedPage, BadRequest> {
    let total = total(state, params)?;
    let page = number(params, "page", 1)?;
    if page == 0 {
        return Err(bad_request("`page` starts at 1"));
    }
    let per_page = page_size(params, "per_page")?;
    let data = records((page - 1).saturating_mul(per_page), per_page, total);
    Ok(NumberedPage {
        data,
        page,
        per_page,
        total,
    })
}

/// `GET /test/pages/page?page=P&per_page=N` (P from 1).
pub(super) async fn page(
    State(state): State<Arc<SandboxState>>,
    Query(params): Query<Params>,
) -> Result<Response, BadRequest> {
    Ok(Json(numbered_page(&state, &params)?).into_response())
}

/// `GET /test/pages/offset?offset=O&limit=L` (O from 0).
pub(super) async fn offset(
    State(state): State<Arc<SandboxState>>,
    Query(params): Query<Params>,
) -> Result<Response, BadRequest> {
    let total = total(&state, &params)?;
    let offset = number(&params, "offset", 0)?;
    let limit = page_size(&params, "limit")?;
    Ok(Json(json!({"items": records(offset, limit, total), "total": total})).into_response())
}

/// `GET /test/pages/cursor?cursor=C&limit=L`: `meta.next_cursor` is opaque to clients
/// (base64 of the position) and `null` on the last page.
pub(super) async fn cursor(
    State(state): State<Arc<SandboxState>>,
    Query(params): Query<Params>,
) -> Result<Response, BadRequest> {
    let total = total(&state, &params)?;
    let limit = page_size(&params, "limit")?;
    let offset = match params.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => decode_cursor(cursor).ok_or_else(|| bad_request("invalid cursor"))?,
    };
    let data = records(offset, limit, total);
    let end = offset + data.len() as u64;
    let next = (end < total).then(|| URL_SAFE_NO_PAD.encode(format!("position:{end}")));
    Ok(Json(json!({"data": data, "meta": {"next_cursor": next}})).into_response())
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("position:")?.parse().ok()
}

/// `GET /test/pages/next?$top=N&$skiptoken=K`: OData v2 (`d.results`, `d.__next`), the
/// style of Exact Online; the skip token is the id of the last record already returned.
pub(super) async fn next(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, BadRequest> {
    let total = total(&state, &params)?;
    let top = page_size(&params, "$top")?;
    let skip = number(&params, "$skiptoken", 0)?;
    let results = records(skip, top, total);
    let end = skip + results.len() as u64;
    let mut d = json!({"results": results});
    if end < total {
        d["__next"] = format!(
            "{}/test/pages/next?$top={top}&$skiptoken={end}{}",
            origin(&headers, &state),
            total_suffix(&params)
        )
        .into();
    }
    Ok(Json(json!({"d": d})).into_response())
}

/// `GET /test/pages/link?page=P&per_page=N`: a bare array, the next page in an RFC 8288
/// `Link` header (the style of GitHub).
pub(super) async fn link(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, BadRequest> {
    let NumberedPage {
        data,
        page,
        per_page,
        total,
    } = numbered_page(&state, &params)?;
    let mut response = Json(data).into_response();
    if page.saturating_mul(per_page) < total {
        let next = format!(
            "<{}/test/pages/link?page={}&per_page={per_page}{}>; rel=\"next\"",
            origin(&headers, &state),
            page + 1,
            total_suffix(&params)
        );
        if let Ok(value) = next.parse() {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// `GET /test/pages/loop`: a broken API whose next link (in the body and in `Link`) always
/// points back to itself; clients must stop on a repeated URL or a page limit.
pub(super) async fn looping(State(state): State<Arc<SandboxState>>, headers: HeaderMap) -> Response {
    let url = format!("{}/test/pages/loop", origin(&headers, &state));
    let link = format!("<{url}>; rel=\"next\"");
    let body = Json(json!({"data": [{"id": 1, "name": "Item 1"}], "next": url}));
    match link.parse::<axum::http::HeaderValue>() {
        Ok(value) => ([(header::LINK, value)], body).into_response(),
        Err(_) => body.into_response(),
    }
}
