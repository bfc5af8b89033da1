//! The OData system query options (`$select`, `$filter`, `$orderby`, `$top`, `$skip`,
//! `$skiptoken`, `$inlinecount`, `$expand`, `$format`) and server-driven paging.
//!
//! A skiptoken is what WCF Data Services writes: the `$orderby` values of the last row
//! followed by its key (`guid'…'` alone without `$orderby`), or its `Timestamp` (`123L`) on
//! sync endpoints. The next page starts strictly after that position, so paging stays
//! stable when rows are added or removed between pages.

use std::cmp::Ordering;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::filter::{self, Expr};
use super::model::{Entity, Kind, LINES_NAV, Row, Val, View, cmp_val, iso};
use super::store::Table;

/// Which lines of a sales order to show.
#[derive(Clone, Debug, PartialEq)]
pub enum LinesSelect {
    /// Not selected: no `SalesOrderLines` property at all.
    Hidden,
    /// Every property.
    All,
    /// `SalesOrderLines/Prop` items: these positions.
    Some(Vec<usize>),
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Positions of the selected properties; `None` for all.
    pub select: Option<Vec<usize>>,
    pub lines: LinesSelect,
    pub filter: Option<Expr>,
    /// (position, descending).
    pub orderby: Vec<(usize, bool)>,
    pub top: Option<usize>,
    pub skip: usize,
    pub skiptoken: Option<Vec<Val>>,
    pub inlinecount: bool,
    pub expand_lines: bool,
}

/// Decoded query pairs, in order.
pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Parses the options of a request for `entity` through `view`; errors are the 400 texts.
pub fn parse(pairs: &[(String, String)], entity: Entity, view: View) -> Result<Options, String> {
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    for (name, _) in pairs {
        if name.starts_with('$')
            && !matches!(
                name.as_str(),
                "$select"
                    | "$filter"
                    | "$orderby"
                    | "$top"
                    | "$skip"
                    | "$skiptoken"
                    | "$inlinecount"
                    | "$expand"
                    | "$format"
            )
        {
            return Err(format!(
                "The query parameter '{name}' begins with a system-reserved '$' character but is not recognized."
            ));
        }
    }
    let navigable = entity.has_lines() && view == View::Regular;
    let expand_lines = match get("$expand").map(str::trim) {
        None | Some("") => false,
        Some(nav) if navigable && nav == LINES_NAV => true,
        Some(other) => return Err(format!("Navigation property '{other}' not found.")),
    };
    let (select, lines) = match get("$select").map(str::trim) {
        None | Some("") if view != View::Regular => {
            return Err("The $select query option is mandatory for bulk and sync APIs.".into());
        }
        None | Some("") => (
            None,
            if navigable {
                LinesSelect::All
            } else {
                LinesSelect::Hidden
            },
        ),
        Some("*") if view == View::Regular => (
            None,
            if navigable {
                LinesSelect::All
            } else {
                LinesSelect::Hidden
            },
        ),
        Some(list) => select(list, entity, view, navigable)?,
    };
    let filter = match get("$filter").map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(filter::parse(text, entity, view)?),
    };
    let orderby = match get("$orderby").map(str::trim) {
        None | Some("") => Vec::new(),
        Some(_) if view == View::Sync => return Err("$orderby is not supported on sync APIs.".into()),
        Some(list) => orderby(list, entity, view)?,
    };
    let skiptoken = match get("$skiptoken") {
        None => None,
        Some(text) => Some(super::lexer::literals(text).ok_or_else(|| format!("Invalid $skiptoken '{text}'."))?),
    };
    let inlinecount = match get("$inlinecount") {
        None | Some("none") => false,
        Some("allpages") => true,
        Some(other) => return Err(format!("Invalid $inlinecount value '{other}'.")),
    };
    Ok(Options {
        select,
        lines,
        filter,
        orderby,
        top: number(get("$top"), "$top")?,
        skip: number(get("$skip"), "$skip")?.unwrap_or(0),
        skiptoken,
        inlinecount,
        expand_lines,
    })
}

fn number(value: Option<&str>, name: &str) -> Result<Option<usize>, String> {
    value
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| format!("Invalid {name} value '{v}': a non-negative integer is expected."))
        })
        .transpose()
}

fn no_property(entity: Entity, name: &str) -> String {
    format!(
        "No property '{name}' exists in type 'Exact.Web.Api.Models.{}'.",
        entity.type_name()
    )
}

type Selection = (Option<Vec<usize>>, LinesSelect);

fn select(list: &str, entity: Entity, view: View, navigable: bool) -> Result<Selection, String> {
    let mut fields = Vec::new();
    let mut lines = LinesSelect::Hidden;
    for item in list.split(',').map(str::trim) {
        if item == "*" {
            return Err("$select=* is not supported here: name the properties.".into());
        }
        if navigable && item == LINES_NAV {
            lines = LinesSelect::All;
        } else if let Some(sub) = item.strip_prefix("SalesOrderLines/").filter(|_| navigable) {
            let (pos, _) = Entity::SalesOrderLines
                .field(sub, View::Regular)
                .ok_or_else(|| no_property(Entity::SalesOrderLines, sub))?;
            match &mut lines {
                LinesSelect::Some(positions) => positions.push(pos),
                LinesSelect::Hidden => lines = LinesSelect::Some(vec![pos]),
                LinesSelect::All => {}
            }
        } else {
            let (pos, _) = entity.field(item, view).ok_or_else(|| no_property(entity, item))?;
            fields.push(pos);
        }
    }
    Ok((Some(fields), lines))
}

fn orderby(list: &str, entity: Entity, view: View) -> Result<Vec<(usize, bool)>, String> {
    list.split(',')
        .map(|item| {
            let mut words = item.split_whitespace();
            let name = words.next().unwrap_or("");
            let (pos, _) = entity.field(name, view).ok_or_else(|| no_property(entity, name))?;
            let desc = match words.next() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => return Err(format!("Syntax error in $orderby: unexpected '{other}'.")),
            };
            if words.next().is_some() {
                return Err(format!("Syntax error in $orderby at '{item}'."));
            }
            Ok((pos, desc))
        })
        .collect()
}

/// One page of a query's result.
pub struct Page<'a> {
    pub rows: Vec<&'a Row>,
    /// Every match (for `$inlinecount`).
    pub count: usize,
    /// The skiptoken of the next page, when there is one.
    pub next: Option<String>,
    /// `$top` left for the next page, when `$top` was given.
    pub next_top: Option<usize>,
}

/// The position tuple of a row: its `$orderby` values and key, or its `Timestamp` on sync.
fn position(row: &Row, entity: Entity, view: View, opts: &Options) -> Vec<Val> {
    if view == View::Sync {
        return vec![Val::Int(row.timestamp(entity))];
    }
    let mut tuple: Vec<Val> = opts.orderby.iter().map(|(i, _)| row.0[*i].clone()).collect();
    tuple.push(row.0[0].clone());
    tuple
}

fn cmp_tuple(a: &[Val], b: &[Val], opts: &Options) -> Ordering {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let mut order = cmp_val(x, y);
        if opts.orderby.get(i).is_some_and(|(_, desc)| *desc) {
            order = order.reverse();
        }
        if order.is_ne() {
            return order;
        }
    }
    Ordering::Equal
}

/// Filters, sorts and cuts one page of `table`.
pub fn run<'a>(
    table: &'a Table,
    entity: Entity,
    view: View,
    opts: &Options,
    page_size: usize,
) -> Result<Page<'a>, String> {
    let mut rows: Vec<(Vec<Val>, &Row)> = table
        .rows
        .values()
        .filter(|r| opts.filter.as_ref().is_none_or(|f| filter::matches(f, &r.0)))
        .map(|r| (position(r, entity, view, opts), r))
        .collect();
    if view == View::Sync || !opts.orderby.is_empty() {
        rows.sort_by(|a, b| cmp_tuple(&a.0, &b.0, opts));
    }
    let count = rows.len();
    let start = match &opts.skiptoken {
        Some(token) => {
            if token.len() != rows.first().map_or(token.len(), |r| r.0.len()) {
                return Err("Invalid $skiptoken for this query.".into());
            }
            rows.partition_point(|(pos, _)| cmp_tuple(pos, token, opts).is_le())
        }
        None => opts.skip.min(count),
    };
    let wanted = opts.top.unwrap_or(usize::MAX);
    let take = wanted.min(page_size.max(1));
    let end = start.saturating_add(take).min(count);
    let page: Vec<&Row> = rows[start..end].iter().map(|(_, r)| *r).collect();
    let more = end < count && wanted > take;
    let next = more.then(|| token_text(entity, view, &rows[end - 1].0, opts));
    Ok(Page {
        rows: page,
        count,
        next,
        next_top: opts.top.map(|t| t - take),
    })
}

fn token_text(entity: Entity, view: View, tuple: &[Val], opts: &Options) -> String {
    if view == View::Sync {
        return literal(Kind::Int64, &tuple[0]);
    }
    let fields = entity.fields();
    let kinds = opts.orderby.iter().map(|(i, _)| fields[*i].kind).chain([Kind::Guid]);
    kinds
        .zip(tuple)
        .map(|(k, v)| literal(k, v))
        .collect::<Vec<_>>()
        .join(",")
}

/// A value as an OData literal.
pub fn literal(kind: Kind, value: &Val) -> String {
    match value {
        Val::Null => "null".into(),
        Val::Str(s) if kind == Kind::Guid => format!("guid'{s}'"),
        Val::Str(s) => format!("'{}'", s.replace('\'', "''")),
        Val::Int(n) if kind == Kind::Int64 => format!("{n}L"),
        Val::Int(n) => n.to_string(),
        Val::Num(n) => format!("{n:?}"),
        Val::Bool(b) => b.to_string(),
        Val::Date(ms) => format!("datetime'{}'", iso(*ms)),
    }
}

/// What a query value may carry unescaped in a next link.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'=');

/// The absolute URL of the next page: the same query (pieces kept as the client sent them)
/// without `$skiptoken`/`$skip`, `$top` lowered to what is left, plus the new skiptoken.
pub fn next_link(url_without_query: &str, raw: Option<&str>, token: &str, top: Option<usize>) -> String {
    let mut pieces: Vec<String> = raw
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            !matches!(name.as_ref(), "$skiptoken" | "$skip" | "$top")
        })
        .map(str::to_owned)
        .collect();
    if let Some(top) = top {
        pieces.push(format!("$top={top}"));
    }
    pieces.push(format!("$skiptoken={}", utf8_percent_encode(token, QUERY_VALUE)));
    format!("{url_without_query}?{}", pieces.join("&"))
}
