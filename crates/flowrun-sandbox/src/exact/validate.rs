//! Exact's validation of a row about to be stored (`Mandatory: Name`, `Duplicate: Code`,
//! `Invalid: Email`, …), the defaults a create fills in, and the properties derived from
//! others (names, line amounts).

use serde_json::{Map, Value};

use super::model::{Entity, LINES_NAV, Row, Val};
use super::reply::{Result, bad_request};
use super::store::{Division, blank, round2};
use super::write::{apply, object};

/// What Exact fills in when a create leaves it out.
pub fn defaults(entity: Entity, row: &mut Row, sent: &[usize], division: &mut Division, now: i64) {
    let mut default = |name: &str, value: Val| {
        if !sent.contains(&entity.pos(name)) {
            row.set(entity, name, value);
        }
    };
    match entity {
        Entity::Accounts => {
            default("Status", Val::str("C"));
            default("IsSupplier", Val::Bool(false));
        }
        Entity::Items => {
            default("IsSalesItem", Val::Bool(true));
            default("IsStockItem", Val::Bool(false));
            default("Unit", Val::str("pc"));
            default("CostPriceStandard", Val::Num(0.0));
        }
        Entity::GLAccounts => default("BalanceType", Val::str("W")),
        Entity::SalesOrders => {
            default("Currency", Val::str("EUR"));
            default("OrderDate", Val::Date(now - now.rem_euclid(86_400_000)));
            row.set(entity, "Status", Val::Int(12));
        }
        Entity::Contacts | Entity::SalesOrderLines | Entity::Deleted => {}
    }
    if entity == Entity::Accounts && row.get(entity, "Code") == &Val::Null {
        row.set(entity, "Code", Val::str(format!("{:>18}", division.next_account_code)));
        division.next_account_code += 1;
    }
}

fn text(row: &Row, entity: Entity, name: &str) -> String {
    row.get(entity, name).as_str().unwrap_or("").trim().to_owned()
}

fn mandatory(row: &Row, entity: Entity, name: &str) -> Result<()> {
    if text(row, entity, name).is_empty() && !matches!(row.get(entity, name), Val::Int(_) | Val::Num(_)) {
        return Err(bad_request(format!("Mandatory: {name}")));
    }
    Ok(())
}

/// A `Code` unique among the entity's rows (ignoring case and padding).
fn unique_code(division: &Division, entity: Entity, row: &Row, key: &str) -> Result<()> {
    let code = text(row, entity, "Code").to_lowercase();
    let taken = division
        .table(entity)
        .rows
        .values()
        .any(|other| other.key() != key && text(other, entity, "Code").to_lowercase() == code);
    if taken {
        Err(bad_request("Duplicate: Code"))
    } else {
        Ok(())
    }
}

fn valid_email(row: &Row, entity: Entity) -> Result<()> {
    let email = text(row, entity, "Email");
    let ok = email.is_empty()
        || email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        }) && !email.contains(' ')
            && email.matches('@').count() == 1;
    if ok { Ok(()) } else { Err(bad_request("Invalid: Email")) }
}

/// Exact's validation of a row about to be stored, and the properties it derives.
pub fn validate(division: &Division, entity: Entity, row: &mut Row, key: &str) -> Result<()> {
    match entity {
        Entity::Accounts => {
            mandatory(row, entity, "Name")?;
            mandatory(row, entity, "Code")?;
            let code = text(row, entity, "Code");
            if code.chars().count() > 18 {
                return Err(bad_request("Invalid: Code"));
            }
            row.set(entity, "Code", Val::str(format!("{code:>18}")));
            unique_code(division, entity, row, key)?;
            valid_email(row, entity)?;
        }
        Entity::Contacts => {
            mandatory(row, entity, "LastName")?;
            mandatory(row, entity, "Account")?;
            let account = text(row, entity, "Account");
            if !division.exists(Entity::Accounts, &account) {
                return Err(bad_request("Invalid: Account"));
            }
            valid_email(row, entity)?;
            row.set(entity, "AccountName", division.account_name(&account));
            let full = format!("{} {}", text(row, entity, "FirstName"), text(row, entity, "LastName"));
            row.set(entity, "FullName", Val::str(full.trim()));
        }
        Entity::Items | Entity::GLAccounts => {
            mandatory(row, entity, "Code")?;
            mandatory(row, entity, "Description")?;
            unique_code(division, entity, row, key)?;
        }
        Entity::SalesOrders => {
            mandatory(row, entity, "OrderedBy")?;
            let customer = text(row, entity, "OrderedBy");
            if !division.exists(Entity::Accounts, &customer) {
                return Err(bad_request("Invalid: OrderedBy"));
            }
            row.set(entity, "OrderedByName", division.account_name(&customer));
        }
        Entity::SalesOrderLines => {
            mandatory(row, entity, "OrderID")?;
            if !division.exists(Entity::SalesOrders, &text(row, entity, "OrderID")) {
                return Err(bad_request("Invalid: OrderID"));
            }
            line(division, row)?;
        }
        Entity::Deleted => {}
    }
    Ok(())
}

/// A sales order line's item and amounts: price and description default to the item's.
fn line(division: &Division, row: &mut Row) -> Result<()> {
    let (l, i) = (Entity::SalesOrderLines, Entity::Items);
    mandatory(row, l, "Item")?;
    let item = division
        .row(i, &text(row, l, "Item"))
        .ok_or_else(|| bad_request("Invalid: Item"))?;
    row.set(l, "ItemCode", item.get(i, "Code").clone());
    if row.get(l, "Description") == &Val::Null {
        row.set(l, "Description", item.get(i, "Description").clone());
    }
    if row.get(l, "Quantity") == &Val::Null {
        row.set(l, "Quantity", Val::Num(1.0));
    }
    if row.get(l, "UnitPrice") == &Val::Null {
        row.set(l, "UnitPrice", item.get(i, "StandardSalesPrice").clone());
    }
    let number = |v: &Val| match v {
        Val::Num(n) => *n,
        Val::Int(n) => *n as f64,
        _ => 0.0,
    };
    let amount = number(row.get(l, "Quantity")) * number(row.get(l, "UnitPrice"));
    row.set(l, "AmountDC", Val::Num(round2(amount)));
    if row.get(l, "LineNumber") == &Val::Null {
        let order = text(row, l, "OrderID");
        let next = division.order_lines(&order).len() + 1;
        row.set(l, "LineNumber", Val::Int(i64::try_from(next).unwrap_or(1)));
    }
    Ok(())
}

/// The lines of a sales order being created: at least one, each with an existing `Item`.
pub fn order_lines(division: &mut Division, props: &Map<String, Value>, order: &str) -> Result<Vec<Row>> {
    let lines = match props.get(LINES_NAV) {
        Some(Value::Array(lines)) if !lines.is_empty() => lines,
        Some(Value::Object(wrapped)) => match wrapped.get("results") {
            Some(Value::Array(lines)) if !lines.is_empty() => lines,
            _ => return Err(bad_request("Mandatory: SalesOrderLines")),
        },
        _ => return Err(bad_request("Mandatory: SalesOrderLines")),
    };
    let mut rows = Vec::new();
    for (n, value) in lines.iter().enumerate() {
        let props = object(value.clone())?;
        let l = Entity::SalesOrderLines;
        let mut row = blank(l);
        apply(l, &mut row, &props, true)?;
        row.set(l, "ID", Val::str(division.new_guid()));
        row.set(l, "OrderID", Val::str(order));
        row.set(l, "LineNumber", Val::Int(i64::try_from(n).unwrap_or(0) + 1));
        line(division, &mut row)?;
        rows.push(row);
    }
    Ok(rows)
}
