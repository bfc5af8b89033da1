//! The nine data endpoints (paths in `contract.rs`), behind bearer authentication: HubCo
//! scoping, the two delta filters, and the bare or paged list answers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::contract::{page, params};
use super::records::{self, Document, SpokeCo};
use super::store::{HUBCOS, Store};
use super::{ApiError, ConexiomSettings, HUBCO_ID, USERNAME, dates, error, invalid_value};
use crate::state::SandboxState;

type Result<T> = std::result::Result<T, ApiError>;

/// Largest `pageSize`; larger values are cut to it.
// UNSURE (apis/conexiom.md): the doc knows no paging; cut rather than refused.
const MAX_PAGE_SIZE: usize = 1000;

/// `GET /api/hubcos/{hubCoId}/alerts`: every alert of the HubCo (no delta).
pub async fn alerts(
    State(state): State<Arc<SandboxState>>,
    Path(hubco): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let query = Query::parse(raw.as_deref());
    state.conexiom.read(|store, settings| {
        let paging = query.paging(settings)?;
        let hubco = hubco_id(&hubco)?;
        let alerts: Vec<_> = store
            .alerts
            .iter()
            .filter(|a| store.documents[a.document].hubco == hubco)
            .collect();
        Ok(list(alerts, paging, |a| {
            records::alert_json(a, &store.documents[a.document], false)
        }))
    })
}

/// `GET /api/alerts/{alertId}`: the AlertDetail.
pub async fn alert(State(state): State<Arc<SandboxState>>, Path(id): Path<String>) -> Result<Response> {
    state.conexiom.read(|store, _| {
        let alert = id
            .parse()
            .ok()
            .and_then(|id| store.alert(id))
            .ok_or_else(|| not_found("Alert", &id))?;
        let document = &store.documents[alert.document];
        readable(document.hubco)?;
        Ok(Json(records::alert_json(alert, document, true)).into_response())
    })
}

/// `GET /api/hubcos/{hubCoId}/spokecos[?lastModifiedFromDate=…]`.
pub async fn spokecos(
    State(state): State<Arc<SandboxState>>,
    Path(hubco): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let query = Query::parse(raw.as_deref());
    state.conexiom.read(|store, settings| {
        let from = query.date(params::LAST_MODIFIED_FROM)?;
        let paging = query.paging(settings)?;
        let hubco = hubco_id(&hubco)?;
        let spokecos: Vec<_> = store
            .spokecos
            .iter()
            .filter(|s| s.hubco == hubco)
            .filter(|s| from.is_none_or(|from| dates::at_or_after(s.last_modified_on, from)))
            .collect();
        Ok(list(spokecos, paging, records::spokeco_json))
    })
}

/// `GET /api/spokecos/{spokeCoId}/documents[?ProcessedOnFromDate=…]`: with the filter,
/// unprocessed documents (no `ProcessedOn`) never match.
pub async fn documents(
    State(state): State<Arc<SandboxState>>,
    Path(spokeco): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let query = Query::parse(raw.as_deref());
    state.conexiom.read(|store, settings| {
        let from = query.date(params::PROCESSED_ON_FROM)?;
        let paging = query.paging(settings)?;
        let spokeco = spokeco_of(store, &spokeco)?;
        let documents: Vec<_> = spokeco
            .documents
            .iter()
            .map(|&i| &store.documents[i])
            .filter(|d| match from {
                None => true,
                Some(from) => d.processed_on.is_some_and(|on| dates::at_or_after(on, from)),
            })
            .collect();
        Ok(list(documents, paging, records::document_json))
    })
}

/// `GET /api/documents/{documentId}`: the DocumentData.
pub async fn document(State(state): State<Arc<SandboxState>>, Path(id): Path<String>) -> Result<Response> {
    state.conexiom.read(|store, _| {
        let document = document_of(store, &id)?;
        Ok(Json(records::data_json(document)).into_response())
    })
}

/// `GET /api/documents/{documentId}/files`.
pub async fn files(
    State(state): State<Arc<SandboxState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let query = Query::parse(raw.as_deref());
    state.conexiom.read(|store, settings| {
        let paging = query.paging(settings)?;
        let document = document_of(store, &id)?;
        let files: Vec<_> = document.files.iter().collect();
        Ok(list(files, paging, |f| records::file_json(document.id, f)))
    })
}

/// `GET /api/spokecos/{spokeCoId}/buyers`.
pub async fn buyers(
    State(state): State<Arc<SandboxState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let query = Query::parse(raw.as_deref());
    state.conexiom.read(|store, settings| {
        let paging = query.paging(settings)?;
        let spokeco = spokeco_of(store, &id)?;
        let buyers: Vec<_> = spokeco.buyers.iter().collect();
        Ok(list(buyers, paging, |b| records::buyer_json(spokeco.id, b)))
    })
}

/// `GET /api/spokecos/{spokeCoId}/addresses`.
pub async fn addresses(
    State(state): State<Arc<SandboxState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let query = Query::parse(raw.as_deref());
    state.conexiom.read(|store, settings| {
        let paging = query.paging(settings)?;
        let spokeco = spokeco_of(store, &id)?;
        let addresses: Vec<_> = spokeco.addresses.iter().collect();
        Ok(list(addresses, paging, |a| records::address_json(spokeco.id, a)))
    })
}

/// `GET /api/spokecos/{spokeCoId}`.
pub async fn spokeco(State(state): State<Arc<SandboxState>>, Path(id): Path<String>) -> Result<Response> {
    state.conexiom.read(|store, _| {
        let spokeco = spokeco_of(store, &id)?;
        Ok(Json(records::spokeco_json(spokeco)).into_response())
    })
}

/// 403 unless the user may read this HubCo.
// UNSURE (apis/conexiom.md): 403 rather than 401 for another HubCo.
fn readable(hubco: i64) -> Result<()> {
    if hubco == HUBCO_ID {
        Ok(())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            format!("The user '{USERNAME}' is not allowed to access HubCo {hubco}."),
        ))
    }
}

// UNSURE (apis/conexiom.md): ids are integers; any other path segment is an id that does
// not exist (404), as it would be for GUIDs.
fn not_found(what: &str, id: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, format!("No {what} was found with id '{id}'."))
}

/// A HubCo id of the path: 404 when no such HubCo exists, 403 when it is not the user's.
fn hubco_id(text: &str) -> Result<i64> {
    let hubco = text
        .parse()
        .ok()
        .filter(|id| HUBCOS.contains(id))
        .ok_or_else(|| not_found("HubCo", text))?;
    readable(hubco)?;
    Ok(hubco)
}

fn spokeco_of<'a>(store: &'a Store, text: &str) -> Result<&'a SpokeCo> {
    let spokeco = text
        .parse()
        .ok()
        .and_then(|id| store.spokeco(id))
        .ok_or_else(|| not_found("SpokeCo", text))?;
    readable(spokeco.hubco)?;
    Ok(spokeco)
}

fn document_of<'a>(store: &'a Store, text: &str) -> Result<&'a Document> {
    let document = text
        .parse()
        .ok()
        .and_then(|id| store.document(id))
        .ok_or_else(|| not_found("Document", text))?;
    readable(document.hubco)?;
    Ok(document)
}

/// Which slice of a list the paged mode answers.
#[derive(Clone, Copy)]
struct Paging {
    page: usize,
    page_size: usize,
}

/// A list as a bare JSON array, or in the paged mode as
/// `{"Items": [...], "TotalCount", "Page", "PageSize"}`.
fn list<T>(items: Vec<T>, paging: Option<Paging>, render: impl Fn(T) -> Value) -> Response {
    let Some(paging) = paging else {
        return Json(Value::Array(items.into_iter().map(render).collect())).into_response();
    };
    let total = items.len();
    let skip = (paging.page - 1).saturating_mul(paging.page_size);
    let slice: Vec<Value> = items
        .into_iter()
        .skip(skip)
        .take(paging.page_size)
        .map(render)
        .collect();
    let mut body = Map::new();
    body.insert(page::ITEMS.to_owned(), Value::Array(slice));
    body.insert(page::TOTAL_COUNT.to_owned(), total.into());
    body.insert(page::PAGE.to_owned(), paging.page.into());
    body.insert(page::PAGE_SIZE.to_owned(), paging.page_size.into());
    Json(Value::Object(body)).into_response()
}

/// The query parameters, with names matched case-insensitively as ASP.NET binds them.
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Self { pairs }
    }

    /// The first value of a parameter; an empty value counts as absent (ASP.NET binds it as
    /// `null`).
    // UNSURE (apis/conexiom.md): an empty delta date is no filter rather than a 400.
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.trim().is_empty())
    }

    /// A delta date (nanoseconds since the epoch); 400 when it is not a date.
    fn date(&self, name: &'static str) -> Result<Option<i128>> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => dates::parse(text).map(Some).ok_or_else(|| invalid_value(name, text)),
        }
    }

    /// The paged mode's page, when the settings ask for it or the request passes `page`.
    fn paging(&self, settings: &ConexiomSettings) -> Result<Option<Paging>> {
        let page = self.positive(params::PAGE)?;
        if !settings.paged && page.is_none() {
            return Ok(None);
        }
        let page_size = self
            .positive(params::PAGE_SIZE)?
            .unwrap_or(settings.page_size)
            .clamp(1, MAX_PAGE_SIZE);
        Ok(Some(Paging {
            page: page.unwrap_or(1),
            page_size,
        }))
    }

    /// A positive integer parameter; 400 when it is anything else.
    fn positive(&self, name: &'static str) -> Result<Option<usize>> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Some(n)),
                _ => Err(invalid_value(name, text)),
            },
        }
    }
}
