//! Reads: lists with paging, single records, `$count`, a sales order's lines, and
//! `system/Divisions`, rendered as OData v2 verbose JSON (`{"d": …}`).

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::model::{Entity, LINES_NAV, Row, View, render};
use super::query::{self, LinesSelect, Options};
use super::reply::{Reply, Result, bad_request, not_found};
use super::store::{Division, Table};
use super::{DIVISION, OTHER_DIVISION};

/// Where a request came from, for absolute URLs.
pub struct Ctx {
    /// `http://host/exact/api/v1/{division}`.
    pub api: String,
    /// The request's absolute URL without its query (base of `__next`).
    pub url: String,
    pub raw_query: Option<String>,
}

/// Which properties of a row to write.
pub struct Shape {
    select: Option<Vec<usize>>,
    lines: LinesSelect,
    expand: bool,
}

impl Shape {
    /// Every property (a sales order's lines deferred).
    pub fn full(entity: Entity, view: View) -> Shape {
        let lines = if entity.has_lines() && view == View::Regular {
            LinesSelect::All
        } else {
            LinesSelect::Hidden
        };
        Shape {
            select: None,
            lines,
            expand: false,
        }
    }

    pub fn of(opts: &Options) -> Shape {
        Shape {
            select: opts.select.clone(),
            lines: opts.lines.clone(),
            expand: opts.expand_lines,
        }
    }
}

/// `{api}/crm/Accounts(guid'…')`.
pub fn record_uri(api: &str, entity: Entity, key: &str) -> String {
    format!("{api}/{}/{}(guid'{key}')", entity.service(), entity.name())
}

/// One row as JSON, with `__metadata` and (for a sales order) its lines deferred or expanded.
pub fn row_json(division: &Division, entity: Entity, row: &Row, view: View, shape: &Shape, api: &str) -> Value {
    let uri = record_uri(api, entity, row.key());
    let mut out = render(entity, row, view, shape.select.as_deref(), &uri);
    if entity.has_lines() && shape.lines != LinesSelect::Hidden {
        let nav = if shape.expand {
            let line_select = match &shape.lines {
                LinesSelect::Some(positions) => Some(positions.as_slice()),
                _ => None,
            };
            let lines: Vec<Value> = division
                .order_lines(row.key())
                .iter()
                .filter_map(|k| division.row(Entity::SalesOrderLines, k))
                .map(|l| {
                    let uri = record_uri(api, Entity::SalesOrderLines, l.key());
                    Value::Object(render(Entity::SalesOrderLines, l, View::Regular, line_select, &uri))
                })
                .collect();
            json!({"results": lines})
        } else {
            json!({"__deferred": {"uri": format!("{uri}/{LINES_NAV}")}})
        };
        out.insert(LINES_NAV.into(), nav);
    }
    Value::Object(out)
}

/// A page of a collection: `{"d": {"results": […], "__count"?, "__next"?}}`.
pub fn list(
    division: &Division,
    table: &Table,
    entity: Entity,
    view: View,
    opts: &Options,
    page_size: usize,
    ctx: &Ctx,
) -> Result<Reply> {
    let page = query::run(table, entity, view, opts, page_size).map_err(bad_request)?;
    let shape = Shape::of(opts);
    let results: Vec<Value> = page
        .rows
        .iter()
        .map(|row| row_json(division, entity, row, view, &shape, &ctx.api))
        .collect();
    let mut d = Map::new();
    d.insert("results".into(), Value::Array(results));
    if opts.inlinecount {
        d.insert("__count".into(), Value::String(page.count.to_string()));
    }
    if let Some(token) = page.next {
        let next = query::next_link(&ctx.url, ctx.raw_query.as_deref(), &token, page.next_top);
        d.insert("__next".into(), Value::String(next));
    }
    Ok(Reply::Json(StatusCode::OK, json!({"d": d})))
}

/// `/{Entity}(guid'…')`: `{"d": {…}}`.
pub fn single(division: &Division, entity: Entity, key: &str, opts: &Options, ctx: &Ctx) -> Result<Reply> {
    let row = division.row(entity, key).ok_or_else(|| missing(entity))?;
    let body = row_json(division, entity, row, View::Regular, &Shape::of(opts), &ctx.api);
    Ok(Reply::Json(StatusCode::OK, json!({"d": body})))
}

/// WCF Data Services' 404 for an unknown key.
pub fn missing(entity: Entity) -> super::reply::ODataError {
    not_found(format!("Resource not found for the segment '{}'.", entity.name()))
}

/// `/{Entity}/$count`: the number of matches, as text.
pub fn count(table: &Table, entity: Entity, opts: &Options) -> Result<Reply> {
    let page = query::run(table, entity, View::Regular, opts, usize::MAX).map_err(bad_request)?;
    Ok(Reply::Text(page.count.to_string()))
}

/// `SalesOrders(guid'…')/SalesOrderLines`: the order's lines as a collection.
pub fn order_lines(division: &Division, order: &str, opts: &Options, page_size: usize, ctx: &Ctx) -> Result<Reply> {
    if !division.exists(Entity::SalesOrders, order) {
        return Err(missing(Entity::SalesOrders));
    }
    let mut table = Table::default();
    for key in division.order_lines(order) {
        if let Some(row) = division.row(Entity::SalesOrderLines, &key) {
            table.rows.insert(key, row.clone());
        }
    }
    list(
        division,
        &table,
        Entity::SalesOrderLines,
        View::Regular,
        opts,
        page_size,
        ctx,
    )
}

/// `system/Divisions`: the user's divisions (`$select` honoured).
pub fn divisions(select: Option<&str>, ctx: &Ctx) -> Result<Reply> {
    let rows = [
        (DIVISION, "Flowrun Demo B.V.", "NL"),
        (OTHER_DIVISION, "Flowrun Demo België BV", "BE"),
    ];
    let wanted: Option<Vec<&str>> = select.map(|s| s.split(',').map(str::trim).collect());
    let names = [
        "Code",
        "Description",
        "Country",
        "Currency",
        "Current",
        "Customer",
        "CustomerName",
        "HID",
    ];
    if let Some(bad) = wanted.iter().flatten().find(|w| !names.contains(w)) {
        return Err(bad_request(format!(
            "No property '{bad}' exists in type 'Exact.Web.Api.Models.Division'."
        )));
    }
    let results: Vec<Value> = rows
        .iter()
        .map(|(code, description, country)| {
            let all = json!({
                "Code": code,
                "Description": description,
                "Country": country,
                "Currency": "EUR",
                "Current": *code == DIVISION,
                "Customer": super::routes::DIVISION_CUSTOMER,
                "CustomerName": "Flowrun Demo Holding B.V.",
                "HID": code.to_string(),
            });
            let mut out = Map::new();
            out.insert(
                "__metadata".into(),
                json!({"uri": format!("{}/system/Divisions({code})", ctx.api), "type": "Exact.Web.Api.Models.HRM.Division"}),
            );
            for name in names {
                if wanted.as_ref().is_none_or(|w| w.contains(&name)) {
                    out.insert(name.into(), all[name].clone());
                }
            }
            Value::Object(out)
        })
        .collect();
    Ok(Reply::Json(StatusCode::OK, json!({"d": {"results": results}})))
}
