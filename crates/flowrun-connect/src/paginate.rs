//! Following an API's pages: page number, offset and limit, a cursor in the body, a next link
//! in the body (OData's `__next`), the `Link` header.
//!
//! Each page's items are handed on as the page arrives and the page itself is dropped, so a
//! caller that only counts records never holds more than one page. Two guards keep a broken
//! API from running forever: a next page already fetched is an error (a loop), and so is
//! reaching `max_pages` while the API still names a next page (a silent cut would lose
//! records).

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use serde_json_path::JsonPath;
use url::Url;

use crate::client::{HttpClient, Request, Response};
use crate::module::{CallContext, ErrorKind, ModuleError};

/// `max_pages` when a pagination does not set it.
pub const DEFAULT_MAX_PAGES: u32 = 100;

/// How to find the next page. Every kind stops at the first empty page, at `max_pages`, and
/// when the next page is not given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// The next page's URL is the `Link: <…>; rel="next"` response header (RFC 8288).
    LinkHeader {
        /// JSONPath of the items in each page's body, e.g. `$.data`; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
    /// The next page's URL is a field of the body, e.g. `$.next` or `$.links.next`.
    NextUrl {
        /// JSONPath of the next page's URL (absolute or relative to the request URL).
        next: String,
        /// JSONPath of the items in each page's body; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
    /// An opaque cursor from the body is sent back as a query parameter.
    Cursor {
        /// JSONPath of the cursor in the body, e.g. `$.meta.next_cursor`.
        next: String,
        /// The query parameter that carries it, e.g. `cursor`.
        param: String,
        /// JSONPath of the items in each page's body; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
    /// Offset and limit query parameters; a page with fewer than `page_size` items is the last.
    Offset {
        /// The offset parameter, e.g. `offset`; starts at 0 and grows by the items received.
        param: String,
        /// The page-size parameter, e.g. `limit`.
        limit_param: String,
        /// Items per page.
        #[schemars(range(min = 1))]
        page_size: u32,
        /// JSONPath of the items in each page's body; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
    /// A page-number query parameter, counting up from `start`.
    Page {
        /// The page parameter, e.g. `page`.
        param: String,
        /// The first page's number. Default 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<u32>,
        /// JSONPath of the items in each page's body; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
}

impl Pagination {
    pub fn items(&self) -> Option<&str> {
        match self {
            Pagination::LinkHeader { items, .. }
            | Pagination::NextUrl { items, .. }
            | Pagination::Cursor { items, .. }
            | Pagination::Offset { items, .. }
            | Pagination::Page { items, .. } => items.as_deref(),
        }
    }

    pub fn max_pages(&self) -> u32 {
        let max = match self {
            Pagination::LinkHeader { max_pages, .. }
            | Pagination::NextUrl { max_pages, .. }
            | Pagination::Cursor { max_pages, .. }
            | Pagination::Offset { max_pages, .. }
            | Pagination::Page { max_pages, .. } => *max_pages,
        };
        max.unwrap_or(DEFAULT_MAX_PAGES).max(1)
    }
}

/// What a paged read fetched.
#[derive(Debug)]
pub struct Paged {
    pub pages: u32,
    pub items: u64,
    /// The last page's response (status and headers for the output), its body emptied.
    pub last: Response,
}

/// Fetches every page from `first` on, handing each page's items to `on_items` in order.
pub async fn fetch_pages(
    client: &HttpClient,
    context: &CallContext,
    first: Request,
    pagination: &Pagination,
    mut on_items: impl FnMut(Vec<Json>) -> Result<(), ModuleError>,
) -> Result<Paged, ModuleError> {
    let items_path = compile("items", pagination.items())?;
    let next_path = match pagination {
        Pagination::NextUrl { next, .. } | Pagination::Cursor { next, .. } => compile("next", Some(next))?,
        _ => None,
    };
    let max_pages = pagination.max_pages();
    let mut request = first;
    let (mut offset, mut page) = (0u64, 0u64);
    match pagination {
        Pagination::Offset {
            param,
            limit_param,
            page_size,
            ..
        } => {
            set_query(&mut request.url, param, "0");
            set_query(&mut request.url, limit_param, &page_size.to_string());
        }
        Pagination::Page { param, start, .. } => {
            page = u64::from(start.unwrap_or(1));
            set_query(&mut request.url, param, &page.to_string());
        }
        _ => {}
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut pages = 0u32;
    let mut count = 0u64;
    loop {
        if !seen.insert(request.url.as_str().to_owned()) {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "pagination loop: after {pages} pages the API named {} as the next page again; \
                     check the `paginate` settings",
                    client.shown_url(&request.url)
                ),
            ));
        }
        let mut response = client.send(context, &request).await?;
        pages += 1;
        let body = response.json()?;
        response.body = bytes::Bytes::new();
        // What names the next page is read before the items are moved out of the body.
        let named_next = match pagination {
            Pagination::LinkHeader { .. } => next_link(&response),
            Pagination::NextUrl { .. } | Pagination::Cursor { .. } => next_value(next_path.as_ref(), &body),
            Pagination::Offset { .. } | Pagination::Page { .. } => None,
        };
        let page_items = select_items(items_path.as_ref(), body, pages, &response)?;
        let received = page_items.len() as u64;
        count += received;
        let next = if received == 0 {
            None
        } else {
            match pagination {
                Pagination::LinkHeader { .. } | Pagination::NextUrl { .. } => {
                    named_next.map(|next| join(&request.url, &next)).transpose()?
                }
                Pagination::Cursor { param, .. } => named_next.map(|cursor| {
                    let mut url = request.url.clone();
                    set_query(&mut url, param, &cursor);
                    url
                }),
                Pagination::Offset { param, page_size, .. } => (received >= u64::from(*page_size)).then(|| {
                    offset += received;
                    let mut url = request.url.clone();
                    set_query(&mut url, param, &offset.to_string());
                    url
                }),
                Pagination::Page { param, .. } => {
                    page += 1;
                    let mut url = request.url.clone();
                    set_query(&mut url, param, &page.to_string());
                    Some(url)
                }
            }
        };
        on_items(page_items)?;
        let Some(next) = next else {
            return Ok(Paged {
                pages,
                items: count,
                last: response,
            });
        };
        if pages >= max_pages {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "stopped at `max_pages` ({max_pages}) with {count} items while the API still names a next page \
                     ({}): raise `paginate.max_pages` to read everything",
                    client.shown_url(&next)
                ),
            ));
        }
        request.url = next;
    }
}

fn compile(what: &str, path: Option<&str>) -> Result<Option<JsonPath>, ModuleError> {
    path.map(|path| {
        JsonPath::parse(path).map_err(|error| {
            ModuleError::new(
                ErrorKind::Invalid,
                format!("paginate.{what}: `{path}` is not a JSONPath ({error})"),
            )
        })
    })
    .transpose()
}

/// The items of a page: the nodes `items` selects (one list node counts as its elements), or
/// the body itself when it is a list. Nothing selected is an empty page. Items are moved out
/// of the body, not copied: pages of thousands of records are the common case.
fn select_items(
    path: Option<&JsonPath>,
    mut body: Json,
    page: u32,
    response: &Response,
) -> Result<Vec<Json>, ModuleError> {
    let selected = match path {
        None => body,
        Some(path) => {
            let mut pointers: Vec<String> = path
                .query_located(&body)
                .locations()
                .map(|location| location.to_json_pointer())
                .collect();
            match pointers.len() {
                0 => return Ok(Vec::new()),
                1 => body.pointer_mut(&pointers[0]).map(Json::take).unwrap_or_default(),
                _ => {
                    // Nodes inside other selected nodes (`$..*`) cannot be moved out twice.
                    let mut sorted = pointers.clone();
                    sorted.sort();
                    let nested = sorted
                        .windows(2)
                        .any(|pair| pair[1].starts_with(&format!("{}/", pair[0])));
                    if nested {
                        return Ok(path.query(&body).all().into_iter().cloned().collect());
                    }
                    return Ok(pointers
                        .iter_mut()
                        .map(|pointer| body.pointer_mut(pointer).map(Json::take).unwrap_or_default())
                        .collect());
                }
            }
        }
    };
    match selected {
        Json::Array(items) => Ok(items),
        Json::Null => Ok(Vec::new()),
        other => Err(ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "{} {}: page {page} has no list of items{} (found {}); set `paginate.items` to the JSONPath of the list",
                response.method.as_str(),
                response.url,
                path.map(|p| format!(" at `{p}`")).unwrap_or_default(),
                kind_of(&other),
            ),
        )),
    }
}

fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// The value at `next` as text; `null`, `""` and nothing mean there is no next page.
fn next_value(path: Option<&JsonPath>, body: &Json) -> Option<String> {
    let node = path?.query(body).first()?;
    match node {
        Json::String(text) if !text.is_empty() => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The `rel="next"` target of the `Link` headers (RFC 8288).
fn next_link(response: &Response) -> Option<String> {
    for value in response.headers.get_all("link") {
        let Ok(value) = value.to_str() else { continue };
        for link in split_links(value) {
            let Some((target, params)) = link.split_once('>') else {
                continue;
            };
            let target = target.trim().trim_start_matches('<');
            let is_next = params.split(';').any(|param| {
                let Some((name, value)) = param.split_once('=') else {
                    return false;
                };
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return Some(target.to_owned());
            }
        }
    }
    None
}

/// Splits a `Link` header into links at the commas between them (not those inside `<…>` or
/// quotes).
fn split_links(value: &str) -> Vec<&str> {
    let (mut links, mut start, mut in_target, mut in_quotes) = (Vec::new(), 0, false, false);
    for (index, c) in value.char_indices() {
        match c {
            '<' if !in_quotes => in_target = true,
            '>' if !in_quotes => in_target = false,
            '"' if !in_target => in_quotes = !in_quotes,
            ',' if !in_target && !in_quotes => {
                links.push(value[start..index].trim());
                start = index + 1;
            }
            _ => {}
        }
    }
    links.push(value[start..].trim());
    links
}

fn join(current: &Url, next: &str) -> Result<Url, ModuleError> {
    current.join(next).map_err(|error| {
        ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "the API's next page `{}` is not a URL ({error})",
                crate::client::redact_url_str(next)
            ),
        )
    })
}

/// Sets a query parameter, replacing any of the same name.
pub fn set_query(url: &mut Url, name: &str, value: &str) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(n, _)| n != name)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_are_split_where_links_end() {
        assert_eq!(
            split_links(r#"<https://a/x?p=1,2>; rel="prev", <https://a/x?p=3>; rel="next last""#),
            vec![
                r#"<https://a/x?p=1,2>; rel="prev""#,
                r#"<https://a/x?p=3>; rel="next last""#
            ]
        );
    }

    proptest::proptest! {
        /// Any header text splits without a panic, into pieces of the text.
        #[test]
        fn any_link_header_splits(value in ".{0,200}") {
            for link in split_links(&value) {
                proptest::prop_assert!(value.contains(link));
            }
        }

        /// A next link survives any number of other links around it.
        #[test]
        fn the_next_link_is_found_among_others(before in 0usize..4, after in 0usize..4, page in 1u32..1000) {
            let mut links: Vec<String> = (0..before).map(|i| format!("<https://a/x?p={i}>; rel=\"prev\"")).collect();
            links.push(format!("<https://a/x?page={page}&a=1,2>; rel=\"next\""));
            links.extend((0..after).map(|i| format!("<https://a/y?q={i}>; rel=\"last\"; title=\"a, b\"")));
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("link", links.join(", ").parse().unwrap_or_else(|_| unreachable!()));
            let response = Response {
                status: 200,
                headers,
                body: bytes::Bytes::new(),
                method: crate::http::Method::Get,
                url: String::new(),
            };
            proptest::prop_assert_eq!(next_link(&response), Some(format!("https://a/x?page={page}&a=1,2")));
        }
    }

    #[test]
    fn set_query_replaces() {
        let mut url = Url::parse("https://a/x?page=1&per_page=5").unwrap_or_else(|_| unreachable!());
        set_query(&mut url, "page", "2");
        assert_eq!(url.as_str(), "https://a/x?per_page=5&page=2");
    }
}
