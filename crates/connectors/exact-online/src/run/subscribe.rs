//! `exact_online.subscribe`: the rows of an entity, page after page through `d.__next`.

use std::collections::HashSet;

use flowrun_connect::client::Request;
use flowrun_connect::module::{ErrorKind, ModuleError};
use serde_json::Value as Json;
use url::Url;

use super::api::Api;
use super::odata;
use crate::SubscribeParams;

/// Rows a page holds on regular endpoints; bulk and sync pages hold 1000.
const PAGE_SIZE: u64 = 60;

/// The most pages one read follows (600,000 rows at 60 a page, 100 million on bulk).
const MAX_PAGES: u32 = 100_000;

pub(crate) async fn subscribe(api: &Api<'_>, params: SubscribeParams) -> Result<Json, ModuleError> {
    let entity = odata::fill_path(&params.entity, &params.path)
        .map_err(|problem| ModuleError::new(ErrorKind::Invalid, format!("{}: {problem}", api.uses)))?;
    let mut url = api.division_url(&entity)?;
    query(api.uses, &mut url, &params)?;
    let doing = format!("read `{}`", params.entity);
    let mut rows: Vec<Json> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut next = Some(url);
    let mut pages = 0u32;
    while let Some(url) = next.take() {
        if !seen.insert(url.as_str().to_owned()) {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: after {pages} pages of `{}` Exact Online named a page already read as the next one; \
                     stopped instead of reading in a loop",
                    api.uses, params.entity
                ),
            ));
        }
        if pages == MAX_PAGES {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: `{}` has more than {MAX_PAGES} pages; narrow it with `filter` or read it in parts with `limit`",
                    api.uses, params.entity
                ),
            ));
        }
        let body = api.send(Request::get(url), &doing).await?.json()?;
        pages += 1;
        // A key in the path (`crm/Accounts({id})`) answers one entity: a list of one.
        let Some((page, link)) =
            odata::page(body.clone()).or_else(|| odata::entity(body.clone()).map(|entity| (vec![entity], None)))
        else {
            return Err(api.unexpected(&params.entity, &body));
        };
        rows.extend(page);
        if let Some(limit) = params.limit
            && rows.len() as u64 >= limit
        {
            rows.truncate(limit as usize);
            break;
        }
        if !params.paginate {
            break;
        }
        next = match link {
            Some(link) => Some(next_page(api, &params.entity, &link)?),
            None => None,
        };
    }
    for row in &mut rows {
        odata::convert_dates(row);
        odata::numeric_timestamp(row);
    }
    Ok(Json::Array(rows))
}

/// The `$` options of the first page. `$top` goes out only when the limit fits one page: Exact
/// sends no `__next` with `$top` (UNSURE), so a larger limit is reached by paging and cut.
fn query(uses: &str, url: &mut Url, params: &SubscribeParams) -> Result<(), ModuleError> {
    let bulk_or_sync = params.entity.starts_with("bulk/") || params.entity.starts_with("sync/");
    if bulk_or_sync && params.select.is_empty() {
        return Err(ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "{uses}: `{}` is a bulk or sync endpoint, where Exact Online requires `select` (the properties to \
                 return, e.g. [ID, Code, Name, Timestamp])",
                params.entity
            ),
        ));
    }
    if params.select.iter().any(|name| name.trim() == "*") {
        return Err(ModuleError::new(
            ErrorKind::Invalid,
            format!("{uses}: `select: [\"*\"]` is refused by Exact Online; leave `select` out to get every property"),
        ));
    }
    let mut pairs = url.query_pairs_mut();
    if !params.select.is_empty() {
        pairs.append_pair("$select", &params.select.join(","));
    }
    if let Some(filter) = &params.filter {
        pairs.append_pair("$filter", filter);
    }
    if let Some(order_by) = &params.order_by {
        pairs.append_pair("$orderby", order_by);
    }
    if !params.expand.is_empty() {
        pairs.append_pair("$expand", &params.expand.join(","));
    }
    let page_size = if bulk_or_sync { 1000 } else { PAGE_SIZE };
    if let Some(limit) = params.limit
        && (limit <= page_size || !params.paginate)
    {
        pairs.append_pair("$top", &limit.to_string());
    }
    for (name, value) in &params.parameters {
        let text = match value {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        pairs.append_pair(name, &text);
    }
    drop(pairs);
    Ok(())
}

/// The `__next` link as a URL on the connection's own site.
fn next_page(api: &Api<'_>, entity: &str, link: &str) -> Result<Url, ModuleError> {
    let url = api.root_url(link)?;
    if !api.is_own(&url) {
        return Err(ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "{}: Exact Online's next page of `{entity}` is on another site ({}); not followed, since the \
                 request would carry the connection's token",
                api.uses,
                url.origin().ascii_serialization()
            ),
        ));
    }
    Ok(url)
}
