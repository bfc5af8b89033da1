//! The REST entry points: `current/Me`, and one dispatcher for everything under
//! `/api/v1/{division}/`, which authenticates, counts the call against the rate limits
//! (and writes their headers on every answer, errors and 429s included), checks the
//! division, and hands the resource to the read, write and webhook handlers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::lexer::is_guid;
use super::model::{Entity, LINES_NAV, View};
use super::query::{self, Options};
use super::read::{self, Ctx};
use super::reply::{self, ODataError, Reply, Result, bad_request, error, not_found as odata_not_found};
use super::{DIVISION, FORBIDDEN_DIVISION, PREFIX, REALM, USER_DIVISIONS, USER_ID, USERNAME, webhooks, write};
use crate::state::SandboxState;
use crate::tokens::Grant;

/// `Me.DivisionCustomer` and the divisions' `Customer`.
pub const DIVISION_CUSTOMER: &str = "5e2b8f1a-7c3d-4b9e-a1f0-c2d3e4f5a6b7";

/// The grant behind the request's bearer token, if valid now.
fn bearer(state: &SandboxState, headers: &HeaderMap) -> Option<Grant> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))?
        .1
        .trim();
    state.tokens.check_access(REALM, token, state.clock.now()).ok()
}

/// `http://host` of the request, for absolute URLs.
fn origin(state: &SandboxState, headers: &HeaderMap) -> String {
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("http://{host}"),
        None => state.base_url(),
    }
}

fn json_wanted(state: &SandboxState, headers: &HeaderMap, pairs: &[(String, String)]) -> bool {
    reply::wants_json(headers)
        || !state.exact.settings().require_json_accept
        || pairs
            .iter()
            .any(|(k, v)| k == "$format" && v.eq_ignore_ascii_case("json"))
}

/// `GET /api/v1/current/Me`: not division-scoped, not counted, no rate-limit headers.
pub async fn me(State(state): State<Arc<SandboxState>>, OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Response {
    if bearer(&state, &headers).is_none() {
        return reply::unauthorized();
    }
    let pairs = query::pairs(uri.query());
    let json = json_wanted(&state, &headers, &pairs);
    let me = json!({
        "CurrentDivision": DIVISION,
        "UserID": USER_ID,
        "UserName": USERNAME,
        "FullName": "Jan de Demo",
        "FirstName": "Jan",
        "LastName": "Demo",
        "Initials": "J.",
        "Email": USERNAME,
        "Language": "NL-NL",
        "LanguageCode": "nl-NL",
        "DivisionCustomer": DIVISION_CUSTOMER,
        "DivisionCustomerCode": "             10001",
        "DivisionCustomerName": "Flowrun Demo Holding B.V.",
        "IsClientUser": false,
    });
    let mut out = Map::new();
    let uri = format!(
        "{}{PREFIX}/api/v1/current/Me(guid'{USER_ID}')",
        origin(&state, &headers)
    );
    out.insert(
        "__metadata".into(),
        json!({"uri": uri, "type": "Exact.Web.Api.System.Me"}),
    );
    let select = pairs.iter().find(|(k, _)| k == "$select").map(|(_, v)| v.as_str());
    let result = (|| {
        let Value::Object(all) = me else {
            unreachable!("an object literal")
        };
        match select.filter(|s| !s.trim().is_empty()) {
            None => out.extend(all),
            Some(list) => {
                for name in list.split(',').map(str::trim) {
                    let value = all.get(name).ok_or_else(|| {
                        bad_request(format!(
                            "No property '{name}' exists in type 'Exact.Web.Api.System.Me'."
                        ))
                    })?;
                    out.insert(name.into(), value.clone());
                }
            }
        }
        Ok(Reply::Json(StatusCode::OK, json!({"d": {"results": [out]}})))
    })();
    reply::render(result, json)
}

/// Any path no route matches.
pub async fn not_found(OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Response {
    let segment = uri.path().rsplit('/').next().unwrap_or("").to_owned();
    reply::render_error(
        &odata_not_found(format!("Resource not found for the segment '{segment}'.")),
        reply::wants_json(&headers),
    )
}

/// `ANY /api/v1/{division}/{*rest}`.
pub async fn division(
    State(state): State<Arc<SandboxState>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let pairs = query::pairs(uri.query());
    let json = json_wanted(&state, &headers, &pairs);
    let Some(grant) = bearer(&state, &headers) else {
        return reply::unauthorized();
    };
    let path = uri.path();
    let rest = path.strip_prefix(PREFIX).unwrap_or(path).trim_start_matches("/api/v1/");
    let (division_text, resource) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(division) = division_text.parse::<u64>() else {
        let err = odata_not_found(format!("Resource not found for the segment '{division_text}'."));
        return reply::render_error(&err, json);
    };
    let verdict = state.exact.spend(&grant.client_id, division);
    if let Some(wait_ms) = verdict.refused_for_ms {
        let message = if verdict.daily_exhausted {
            "API rate limit exceeded: the daily limit of this division is used up."
        } else {
            "API rate limit exceeded: too many calls in this minute."
        };
        let mut response = reply::render_error(&error(StatusCode::TOO_MANY_REQUESTS, message), json);
        verdict.write(response.headers_mut());
        if state.exact.settings().retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait_ms.div_ceil(1000)));
        }
        return response;
    }
    let result = if USER_DIVISIONS.contains(&division) {
        let ctx = Ctx {
            api: format!("{}{PREFIX}/api/v1/{division}", origin(&state, &headers)),
            url: format!("{}{path}", origin(&state, &headers)),
            raw_query: uri.query().map(str::to_owned),
        };
        let resource = percent_encoding::percent_decode_str(resource)
            .decode_utf8_lossy()
            .into_owned();
        let request = Request {
            division,
            method: &method,
            headers: &headers,
            pairs: &pairs,
            body,
            ctx: &ctx,
        };
        dispatch(&state, &resource, request).await
    } else {
        Err(forbidden(division))
    };
    let mut response = reply::render(result, json);
    verdict.write(response.headers_mut());
    response
}

// UNSURE (apis/exact-online.md): 401 or 403 for a division that is not the user's; 403
// with the OData error body, as the doc suggests.
fn forbidden(division: u64) -> ODataError {
    let message = if division == FORBIDDEN_DIVISION {
        format!("Forbidden: you have no access to division {division}.")
    } else {
        format!("Forbidden: division {division} does not exist or is not accessible.")
    };
    error(StatusCode::FORBIDDEN, message)
}

/// What the handlers need of the request.
pub struct Request<'a> {
    pub division: u64,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub pairs: &'a [(String, String)],
    pub body: std::result::Result<Bytes, BytesRejection>,
    pub ctx: &'a Ctx,
}

impl Request<'_> {
    /// The body of a POST or PUT: `application/json`, at most 10 MB.
    pub fn json_body(&self) -> Result<Value> {
        let bytes = match &self.body {
            Ok(bytes) => bytes,
            Err(_) => {
                return Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The request body exceeds the limit of 10 MB.",
                ));
            }
        };
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.starts_with("application/json") {
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type 'application/json' is required for this request.",
            ));
        }
        serde_json::from_slice(bytes)
            .map_err(|_| bad_request("Error processing request stream. JSON text specified is not valid."))
    }
}

/// The resource a path names.
enum Resource {
    Divisions,
    Webhooks(Option<String>),
    Collection(Entity, View),
    Count(Entity),
    Single(Entity, String),
    Lines(String),
}

fn parse_resource(path: &str) -> Result<Resource> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let unknown = |segment: &str| odata_not_found(format!("Resource not found for the segment '{segment}'."));
    let (view, segments) = match segments.first() {
        Some(s) if s.eq_ignore_ascii_case("bulk") => (View::Bulk, &segments[1..]),
        Some(s) if s.eq_ignore_ascii_case("sync") => (View::Sync, &segments[1..]),
        _ => (View::Regular, &segments[..]),
    };
    match segments {
        [s, name]
            if view == View::Regular && s.eq_ignore_ascii_case("system") && name.eq_ignore_ascii_case("Divisions") =>
        {
            Ok(Resource::Divisions)
        }
        [s, name] if view == View::Regular && s.eq_ignore_ascii_case("webhooks") => {
            let (name, key) = split_key(name)?;
            if !name.eq_ignore_ascii_case("WebhookSubscriptions") {
                return Err(unknown(name));
            }
            Ok(Resource::Webhooks(key))
        }
        [name] if view == View::Sync && name.eq_ignore_ascii_case("Deleted") => {
            Ok(Resource::Collection(Entity::Deleted, View::Sync))
        }
        [service, name, tail @ ..] => {
            let (name, key) = split_key(name)?;
            let entity = Entity::lookup(service, name).ok_or_else(|| unknown(name))?;
            match (key, tail, view) {
                (None, [], _) => Ok(Resource::Collection(entity, view)),
                (None, ["$count"], View::Regular) => Ok(Resource::Count(entity)),
                (Some(key), [], View::Regular) => Ok(Resource::Single(entity, key)),
                (Some(key), [nav], View::Regular) if entity.has_lines() && *nav == LINES_NAV => {
                    Ok(Resource::Lines(key))
                }
                (_, [other, ..], _) => Err(unknown(other)),
                _ => Err(unknown(name)),
            }
        }
        [other, ..] => Err(unknown(other)),
        [] => Err(unknown("")),
    }
}

/// `Accounts(guid'…')` → (`Accounts`, key).
fn split_key(segment: &str) -> Result<(&str, Option<String>)> {
    let Some((name, rest)) = segment.split_once('(') else {
        return Ok((segment, None));
    };
    let key = rest
        .strip_suffix(')')
        .and_then(|k| k.strip_prefix("guid'"))
        .and_then(|k| k.strip_suffix('\''))
        .filter(|k| is_guid(k))
        .ok_or_else(|| bad_request(format!("Bad Request - Error in query syntax: invalid key '({rest}'.")))?;
    Ok((name, Some(key.to_ascii_lowercase())))
}

fn method_not_allowed() -> ODataError {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "The requested method is not allowed on this resource.",
    )
}

async fn dispatch(state: &SandboxState, path: &str, request: Request<'_>) -> Result<Reply> {
    let resource = parse_resource(path)?;
    let exact = &state.exact;
    let method = request.method.clone();
    let options = |entity: Entity, view: View| -> Result<Options> {
        query::parse(request.pairs, entity, view).map_err(bad_request)
    };
    match (resource, method) {
        (Resource::Divisions, Method::GET) => {
            let select = request
                .pairs
                .iter()
                .find(|(k, _)| k == "$select")
                .map(|(_, v)| v.as_str());
            read::divisions(select, request.ctx)
        }
        (Resource::Webhooks(key), _) => webhooks::handle(state, key, &request),
        (Resource::Collection(entity, view), Method::GET) => {
            let opts = options(entity, view)?;
            exact.with_division(request.division, |division, settings| {
                let page_size = if view == View::Regular {
                    settings.page_size
                } else {
                    settings.bulk_page_size
                };
                read::list(
                    division,
                    division.table(entity),
                    entity,
                    view,
                    &opts,
                    page_size,
                    request.ctx,
                )
            })
        }
        (Resource::Count(entity), Method::GET) => {
            let opts = options(entity, View::Regular)?;
            exact.with_division(request.division, |division, _| {
                read::count(division.table(entity), entity, &opts)
            })
        }
        (Resource::Single(entity, key), Method::GET) => {
            let opts = options(entity, View::Regular)?;
            exact.with_division(request.division, |division, _| {
                read::single(division, entity, &key, &opts, request.ctx)
            })
        }
        (Resource::Lines(order), Method::GET) => {
            let opts = options(Entity::SalesOrderLines, View::Regular)?;
            exact.with_division(request.division, |division, settings| {
                read::order_lines(division, &order, &opts, settings.page_size, request.ctx)
            })
        }
        (Resource::Collection(entity, View::Regular), Method::POST) if entity != Entity::Deleted => {
            write::create(state, entity, &request).await
        }
        (Resource::Single(entity, key), Method::PUT) => write::update(state, entity, &key, &request).await,
        (Resource::Single(entity, key), Method::DELETE) => write::delete(state, entity, &key, &request).await,
        _ => Err(method_not_allowed()),
    }
}
