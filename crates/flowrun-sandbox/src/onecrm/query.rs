//! List requests (`GET /data/{Model}` and related lists): PHP-style query parameters
//! (`fields[]=a&filters[address_city]=X`), filters as the model's metadata declares them,
//! order, offset and limit; the `{records, total_results}` envelope.

use std::cmp::Ordering;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::models::{FilterKind, Kind, MODELS, Model};
use super::store::{Column, Row, Store};
use super::{ApiError, error};

// UNSURE (apis/onecrm.md): the default page size and the maximum. 20 when `limit` is
// absent; a larger `limit` is cut to 200 (no error), so clients must page by what they get.
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 200;

/// The list parameters of a request, as sent.
#[derive(Debug, Default)]
pub struct ListParams {
    pub fields: Option<Vec<String>>,
    pub filters: Vec<(String, String)>,
    pub order: Option<String>,
    pub offset: Option<String>,
    pub limit: Option<String>,
}

/// Reads a raw query string: `fields[]`, `fields[0]` (PHP's `http_build_query`) or a
/// comma-separated `fields`; `filters[name]`; a top-level `filter_text`; `order`, `offset`,
/// `limit`. Other parameters (`query_favorite`, ...) are ignored.
pub fn parse(raw: Option<&str>) -> ListParams {
    let mut params = ListParams::default();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let (key, value) = (key.into_owned(), value.into_owned());
        if key == "fields" {
            let list = params.fields.get_or_insert_with(Vec::new);
            list.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
            );
        } else if let Some(rest) = key.strip_prefix("fields[") {
            if rest.ends_with(']') {
                params.fields.get_or_insert_with(Vec::new).push(value);
            }
        } else if let Some(name) = key.strip_prefix("filters[").and_then(|r| r.strip_suffix(']')) {
            params.filters.push((name.to_owned(), value));
        } else {
            match key.as_str() {
                "filter_text" => params.filters.push(("filter_text".into(), value)),
                "order" => params.order = Some(value),
                "offset" => params.offset = Some(value),
                "limit" => params.limit = Some(value),
                _ => {}
            }
        }
    }
    params
}

/// The columns a request asks for: `fields[]` (plus `id`, always; unknown names ignored),
/// or `default` when it gave none.
pub fn columns(def: &Model, fields: Option<&[String]>, default: &[&str]) -> Vec<Column> {
    let resolve = |name: &str| match name {
        "_display" => Some(Column::Display),
        _ => def.field(name).map(|(col, _)| Column::Field(col)),
    };
    let mut columns = vec![Column::Field(def.col("id"))];
    let names: Vec<&str> = match fields {
        // UNSURE (apis/onecrm.md): unknown names in `fields[]` are ignored, not refused.
        Some(fields) => fields.iter().map(String::as_str).collect(),
        None => default.to_vec(),
    };
    for column in names.into_iter().filter_map(resolve) {
        if !columns.contains(&column) {
            columns.push(column);
        }
    }
    columns
}

/// One condition on a row.
enum Pred {
    /// Case-insensitive prefix of any of these columns.
    Text(Vec<usize>, String),
    Prefix(usize, String),
    Exact(usize, String),
    NotEqual(usize, String),
}

impl Pred {
    fn matches(&self, row: &Row) -> bool {
        let starts = |col: usize, prefix: &str| row.get(col).is_some_and(|v| v.to_lowercase().starts_with(prefix));
        match self {
            Pred::Text(cols, prefix) => cols.iter().any(|&c| starts(c, prefix)),
            Pred::Prefix(col, prefix) => starts(*col, prefix),
            Pred::Exact(col, value) => row.get(*col) == Some(value.as_str()),
            Pred::NotEqual(col, value) => row.get(*col) != Some(value.as_str()),
        }
    }
}

/// Runs a list request over `model`, restricted to rows whose `within` column holds the
/// given id (a related list). `user_id` resolves `filter_owner=mine`.
pub fn list(
    store: &Store,
    model: usize,
    params: &ListParams,
    user_id: &str,
    within: Option<(usize, &str)>,
) -> Result<Value, ApiError> {
    let def = &MODELS[model];
    let mut preds = Vec::new();
    if let Some((col, id)) = within {
        preds.push(Pred::Exact(col, id.to_owned()));
    }
    for (name, value) in &params.filters {
        if let Some(pred) = predicate(def, name, value, user_id)? {
            preds.push(pred);
        }
    }
    let order = order(def, params.order.as_deref())?;
    let offset = number(params.offset.as_deref(), "offset", 0)?;
    let limit = number(params.limit.as_deref(), "limit", DEFAULT_LIMIT)?;
    if limit == 0 {
        return Err(error(StatusCode::BAD_REQUEST, "limit must be at least 1"));
    }
    let limit = limit.min(MAX_LIMIT);

    let deleted = def.col("deleted");
    let rows = &store.tables[model].rows;
    let mut matched: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].get(deleted) != Some("1") && preds.iter().all(|p| p.matches(&rows[i])))
        .collect();
    if let Some((col, descending)) = order {
        let numeric = def.fields[col].kind.is_numeric();
        let mut keyed: Vec<(SortKey, usize)> = matched
            .iter()
            .map(|&i| {
                (
                    SortKey::of(store.value(model, &rows[i], Column::Field(col)), numeric),
                    i,
                )
            })
            .collect();
        // Stable: equal keys keep insertion order, so pages never overlap.
        keyed.sort_by(|a, b| {
            let ordering = a.0.compare(&b.0);
            if descending { ordering.reverse() } else { ordering }
        });
        matched = keyed.into_iter().map(|(_, i)| i).collect();
    }
    let total = matched.len();
    let columns = columns(def, params.fields.as_deref(), &["name", "_display"]);
    let records: Vec<Value> = matched
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|i| Value::Object(store.render(model, &rows[i], Some(&columns))))
        .collect();
    Ok(json!({"records": records, "total_results": total}))
}

/// The condition of `filters[name]=value`; `None` when it restricts nothing.
fn predicate(def: &Model, name: &str, value: &str, user_id: &str) -> Result<Option<Pred>, ApiError> {
    let Some(filter) = def.filter(name) else {
        // UNSURE (apis/onecrm.md): how the real API refuses an unknown filter; 400 here.
        let valid: Vec<&str> = def.filters.iter().map(|f| f.name).collect();
        return Err(super::error_kind(
            StatusCode::BAD_REQUEST,
            "invalid_filter",
            format!(
                "Unknown filter {name} for model {}; valid filters: {}",
                def.name,
                valid.join(", ")
            ),
        ));
    };
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let lower = value.to_lowercase();
    Ok(Some(match &filter.kind {
        // UNSURE (apis/onecrm.md): which fields filter_text searches and how; here a
        // case-insensitive prefix of any of the model's search fields (SQL `LIKE 'x%'`).
        FilterKind::Text(fields) => Pred::Text(fields.iter().map(|f| def.col(f)).collect(), lower),
        FilterKind::Prefix(field) => Pred::Prefix(def.col(field), lower),
        FilterKind::Exact(field) => Pred::Exact(def.col(field), value.to_owned()),
        FilterKind::Owner => {
            let owner = def.col("assigned_user_id");
            match value {
                "all" => return Ok(None),
                "mine" => Pred::Exact(owner, user_id.to_owned()),
                "not_mine" => Pred::NotEqual(owner, user_id.to_owned()),
                other => Pred::Exact(owner, other.trim_start_matches("Users:").to_owned()),
            }
        }
    }))
}

/// `order=field`, `order=field asc`, `order=field desc` (any case): column and descending.
fn order(def: &Model, order: Option<&str>) -> Result<Option<(usize, bool)>, ApiError> {
    let Some(order) = order.map(str::trim).filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    let mut words = order.split_whitespace();
    let field = words.next().unwrap_or_default();
    let descending = match (words.next(), words.next()) {
        (None, _) => false,
        (Some(dir), None) if dir.eq_ignore_ascii_case("asc") => false,
        (Some(dir), None) if dir.eq_ignore_ascii_case("desc") => true,
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("Invalid order `{order}`: expected `field`, `field asc` or `field desc`"),
            ));
        }
    };
    match def.field(field) {
        Some((col, f)) if f.kind != Kind::FileRef => Ok(Some((col, descending))),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            format!("Cannot order {} by unknown field {field}", def.name),
        )),
    }
}

fn number(value: Option<&str>, name: &str, default: usize) -> Result<usize, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                format!("{name} must be a non-negative integer, got `{v}`"),
            )
        }),
    }
}

/// What rows sort by: missing values first, then numbers by value or text without case.
#[derive(PartialEq, PartialOrd)]
enum SortKey {
    Missing,
    Number(f64),
    Text(String),
}

impl SortKey {
    fn of(value: Option<String>, numeric: bool) -> Self {
        match value {
            None => SortKey::Missing,
            Some(v) if numeric => v.trim().parse().map_or(SortKey::Missing, SortKey::Number),
            Some(v) => SortKey::Text(v.to_lowercase()),
        }
    }

    fn compare(&self, other: &Self) -> Ordering {
        self.partial_cmp(other).unwrap_or(Ordering::Equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_style_parameters() {
        let params = parse(Some(
            "fields[]=name&fields%5B%5D=email1&filters[address_city]=San%20Jose&filter_text=ac&order=name%20desc&offset=5&limit=10&fields[2]=phone_office",
        ));
        assert_eq!(params.fields.unwrap(), ["name", "email1", "phone_office"]);
        assert_eq!(
            params.filters,
            [
                ("address_city".to_owned(), "San Jose".to_owned()),
                ("filter_text".to_owned(), "ac".to_owned())
            ]
        );
        assert_eq!(params.order.as_deref(), Some("name desc"));
        assert_eq!(params.limit.as_deref(), Some("10"));
    }
}
