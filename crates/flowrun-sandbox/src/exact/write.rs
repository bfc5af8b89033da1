//! Writes: POST (create), PUT (partial update) and DELETE, with Exact's validation
//! messages (`Mandatory: Name`, `Duplicate: Code`, `Invalid: Email`), `Timestamp` and
//! `Modified` raised on every change, `sync/Deleted` rows on delete, and webhooks after.

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};

use super::model::{Entity, Kind, LINES_NAV, Row, Val, View, parse_datetime};
use super::read::{Shape, missing, row_json};
use super::reply::{Reply, Result, bad_request};
use super::routes::Request;
use super::store::{Change, Division, blank};
use super::validate::{defaults, order_lines, validate};
use super::{USER_ID, webhooks};
use crate::state::SandboxState;

/// `POST /{service}/{Entity}`: 201 with the entity (full with `Prefer: return=representation`).
pub async fn create(state: &SandboxState, entity: Entity, request: &Request<'_>) -> Result<Reply> {
    let props = object(request.json_body()?)?;
    let now = state.exact.now_ms(state.clock.now());
    let full = prefers_representation(request.headers);
    let api = &request.ctx.api;
    let (body, changes) = state
        .exact
        .with_division(request.division, |division, _| -> Result<_> {
            let mut row = blank(entity);
            let mut sent = apply(entity, &mut row, &props, true)?;
            let key = match row.0[0].as_str() {
                Some(key) if division.exists(entity, key) => {
                    return Err(bad_request(format!("Duplicate: {}", entity.key())));
                }
                Some(key) => key.to_owned(),
                None => division.new_guid(),
            };
            row.0[0] = Val::str(&key);
            sent.push(0);
            defaults(entity, &mut row, &sent, division, now);
            validate(division, entity, &mut row, &key)?;
            let lines = if entity == Entity::SalesOrders {
                order_lines(division, &props, &key)?
            } else {
                Vec::new()
            };
            let stamp = division.stamp(now);
            set_dates(entity, &mut row, stamp);
            if entity == Entity::SalesOrders {
                row.set(entity, "OrderNumber", Val::Int(division.next_order_number));
                division.next_order_number += 1;
            }
            division.insert(entity, row);
            for mut line in lines {
                set_dates(Entity::SalesOrderLines, &mut line, stamp);
                division.insert(Entity::SalesOrderLines, line);
            }
            let mut changes = vec![Change {
                entity,
                action: "Create",
                key: key.clone(),
            }];
            if entity == Entity::SalesOrders {
                division.recompute_order(&key);
            }
            if entity == Entity::SalesOrderLines {
                changes.extend(touch_order(division, &key, stamp));
            }
            let stored = division.row(entity, &key).cloned().unwrap_or_else(|| blank(entity));
            let mut body = row_json(
                division,
                entity,
                &stored,
                View::Regular,
                &Shape::full(entity, View::Regular),
                api,
            );
            if !full {
                sparse(entity, &mut body, &sent);
            }
            Ok((body, changes))
        })?;
    webhooks::notify(state, request.division, &changes, api).await;
    Ok(Reply::Json(StatusCode::CREATED, json!({"d": body})))
}

/// `PUT /{service}/{Entity}(guid'…')`: the properties sent change, the rest stay; 204.
pub async fn update(state: &SandboxState, entity: Entity, key: &str, request: &Request<'_>) -> Result<Reply> {
    let props = object(request.json_body()?)?;
    let now = state.exact.now_ms(state.clock.now());
    let api = &request.ctx.api;
    let changes = state
        .exact
        .with_division(request.division, |division, _| -> Result<_> {
            let mut row = division.row(entity, key).cloned().ok_or_else(|| missing(entity))?;
            if entity.has_lines() && props.contains_key(LINES_NAV) {
                return Err(bad_request(
                    "SalesOrderLines cannot be changed with the sales order: use salesorder/SalesOrderLines.",
                ));
            }
            let is_line = entity == Entity::SalesOrderLines;
            let order_before = is_line.then(|| row.get(entity, "OrderID").clone());
            apply(entity, &mut row, &props, false)?;
            if is_line && Some(row.get(entity, "OrderID")) != order_before.as_ref() {
                return Err(bad_request("Invalid: OrderID"));
            }
            validate(division, entity, &mut row, key)?;
            let stamp = division.stamp(now);
            division.table_mut(entity).rows.insert(key.to_owned(), row);
            division.touch(entity, key, stamp);
            let mut changes = vec![Change {
                entity,
                action: "Update",
                key: key.to_owned(),
            }];
            if entity == Entity::SalesOrderLines {
                changes.extend(touch_order(division, key, stamp));
            }
            Ok(changes)
        })?;
    webhooks::notify(state, request.division, &changes, api).await;
    Ok(Reply::NoContent)
}

/// `DELETE /{service}/{Entity}(guid'…')`: 204, a `sync/Deleted` row (a sales order takes
/// its lines along).
pub async fn delete(state: &SandboxState, entity: Entity, key: &str, request: &Request<'_>) -> Result<Reply> {
    let now = state.exact.now_ms(state.clock.now());
    let api = &request.ctx.api;
    let changes = state
        .exact
        .with_division(request.division, |division, _| -> Result<_> {
            let row = division.row(entity, key).ok_or_else(|| missing(entity))?;
            let order = if entity == Entity::SalesOrderLines {
                row.get(entity, "OrderID").clone()
            } else {
                Val::Null
            };
            let stamp = division.stamp(now);
            if entity == Entity::SalesOrders {
                for line in division.order_lines(key) {
                    division.delete(Entity::SalesOrderLines, &line, stamp, USER_ID);
                }
            }
            division.delete(entity, key, stamp, USER_ID);
            let mut changes = vec![Change {
                entity,
                action: "Delete",
                key: key.to_owned(),
            }];
            if let (Entity::SalesOrderLines, Some(order)) = (entity, order.as_str()) {
                let order = order.to_owned();
                division.recompute_order(&order);
                division.touch(Entity::SalesOrders, &order, stamp);
                changes.push(Change {
                    entity: Entity::SalesOrders,
                    action: "Update",
                    key: order,
                });
            }
            Ok(changes)
        })?;
    webhooks::notify(state, request.division, &changes, api).await;
    Ok(Reply::NoContent)
}

pub fn object(body: Value) -> Result<Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(bad_request(
            "Error processing request stream. The request should be a valid top-level resource object.",
        )),
    }
}

fn prefers_representation(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::HeaderName::from_static("prefer"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("return=representation"))
}

/// Copies the sent properties into `row`; returns the positions set. Unknown properties are
/// refused; read-only ones are ignored (clients send back what they read), except the key
/// on a create.
pub fn apply(entity: Entity, row: &mut Row, props: &Map<String, Value>, creating: bool) -> Result<Vec<usize>> {
    let mut sent = Vec::new();
    for (name, value) in props {
        if name == "__metadata" || (creating && entity.has_lines() && name == LINES_NAV) {
            continue;
        }
        let (pos, field) = entity.field(name, View::Regular).ok_or_else(|| {
            bad_request(format!(
                "Error processing request stream. The property name '{name}' specified for type \
                 'Exact.Web.Api.Models.{}' is not valid.",
                entity.type_name()
            ))
        })?;
        let settable = field.writable || (creating && pos == 0);
        if !settable {
            continue;
        }
        row.0[pos] = convert(field.kind, value, name)?;
        sent.push(pos);
    }
    Ok(sent)
}

fn convert(kind: Kind, value: &Value, name: &str) -> Result<Val> {
    let bad = || {
        bad_request(format!(
            "Error processing request stream. The value of property '{name}' is not a valid {}.",
            kind.edm()
        ))
    };
    if value.is_null() {
        return Ok(Val::Null);
    }
    Ok(match kind {
        Kind::Guid => {
            let text = value.as_str().filter(|s| super::lexer::is_guid(s)).ok_or_else(bad)?;
            Val::str(text.to_ascii_lowercase())
        }
        Kind::Str => Val::str(value.as_str().ok_or_else(bad)?),
        Kind::Int32 | Kind::Int64 => Val::Int(
            value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(bad)?,
        ),
        Kind::Double => Val::Num(value.as_f64().ok_or_else(bad)?),
        Kind::Bool => Val::Bool(value.as_bool().ok_or_else(bad)?),
        Kind::Date => {
            let text = value.as_str().ok_or_else(bad)?;
            let ms = text
                .strip_prefix("/Date(")
                .and_then(|t| t.strip_suffix(")/"))
                .and_then(|t| t.parse().ok())
                .or_else(|| parse_datetime(text.trim_end_matches('Z')))
                .ok_or_else(bad)?;
            Val::Date(ms)
        }
    })
}

/// A new row's `Created` and `Modified`.
fn set_dates(entity: Entity, row: &mut Row, stamp: i64) {
    row.set(entity, "Created", Val::Date(stamp));
    row.set(entity, "Modified", Val::Date(stamp));
}

/// After a line changed: the order's total, `Modified` and `Timestamp` follow.
fn touch_order(division: &mut Division, line: &str, stamp: i64) -> Option<Change> {
    let order = division
        .row(Entity::SalesOrderLines, line)?
        .get(Entity::SalesOrderLines, "OrderID")
        .as_str()?
        .to_owned();
    division.recompute_order(&order);
    division.touch(Entity::SalesOrders, &order, stamp);
    Some(Change {
        entity: Entity::SalesOrders,
        action: "Update",
        key: order,
    })
}

/// Without `Prefer: return=representation`: only the key and the properties sent keep
/// their values; the rest is null.
fn sparse(entity: Entity, body: &mut Value, sent: &[usize]) {
    let Value::Object(map) = body else { return };
    for (i, field) in entity.fields().iter().enumerate() {
        if !sent.contains(&i)
            && let Some(value) = map.get_mut(field.name)
        {
            *value = Value::Null;
        }
    }
}
