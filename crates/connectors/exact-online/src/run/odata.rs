//! What Exact's OData v2 answers look like, and what flowrun makes of them: the `d` /
//! `d.results` envelope unwrapped, `/Date(ms)/` dates as RFC 3339, keys as `guid'…'`.

use serde_json::Value as Json;

/// The rows of a list page and its `__next` link: `{"d": {"results": [...], "__next": url}}`,
/// also `{"d": [...]}` (OData v1 style) and a bare array.
pub(crate) fn page(body: Json) -> Option<(Vec<Json>, Option<String>)> {
    let data = match body {
        Json::Object(mut envelope) => envelope.remove("d")?,
        list @ Json::Array(_) => list,
        _ => return None,
    };
    match data {
        Json::Array(rows) => Some((rows, None)),
        Json::Object(mut data) => {
            let next = data.remove("__next").and_then(|next| next.as_str().map(str::to_owned));
            match data.remove("results") {
                Some(Json::Array(rows)) => Some((rows, next)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// One entity: `{"d": {...}}`, or `{"d": {"results": [{...}]}}` as some single-record reads
/// answer (UNSURE in apis/exact-online.md: both are read).
pub(crate) fn entity(body: Json) -> Option<Json> {
    let Json::Object(mut envelope) = body else {
        return None;
    };
    match envelope.remove("d")? {
        Json::Object(mut data) if data.len() == 1 && data.contains_key("results") => match data.remove("results") {
            Some(Json::Array(mut rows)) if rows.len() == 1 => rows.pop(),
            Some(Json::Array(rows)) if rows.is_empty() => Some(Json::Null),
            Some(other) => Some(other),
            None => None,
        },
        other @ Json::Object(_) => Some(other),
        _ => None,
    }
}

/// Any body, unwrapped as far as it goes: a list page's rows, an entity, or the body as it is
/// (a `$count` number, a function's result).
pub(crate) fn unwrapped(body: Json) -> (Json, Option<String>) {
    let is_list = body
        .get("d")
        .is_some_and(|d| d.is_array() || d.get("results").is_some_and(Json::is_array) && d.get("__metadata").is_none());
    if is_list && let Some((rows, next)) = page(body.clone()) {
        return (Json::Array(rows), next);
    }
    if body.get("d").is_some() {
        return (entity(body.clone()).unwrap_or(body), None);
    }
    (body, None)
}

/// Every `/Date(1546300800000)/` string in `value` (at any depth) as RFC 3339 UTC,
/// `2019-01-01T00:00:00Z` (with milliseconds when there are some). A `+0100` offset suffix
/// does not move the instant: the number is UTC milliseconds.
pub(crate) fn convert_dates(value: &mut Json) {
    match value {
        Json::String(text) => {
            if let Some(converted) = odata_date(text) {
                *text = converted;
            }
        }
        Json::Array(items) => items.iter_mut().for_each(convert_dates),
        Json::Object(fields) => fields.values_mut().for_each(convert_dates),
        _ => {}
    }
}

fn odata_date(text: &str) -> Option<String> {
    let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
    // An offset suffix (`+0100`, `-0500`) after the number, not its sign.
    let digits_end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(inner.len(), |(at, _)| at);
    let millis: i64 = inner[..digits_end].parse().ok()?;
    let at = jiff::Timestamp::from_millisecond(millis).ok()?;
    Some(if millis % 1000 == 0 {
        format!("{at:.0}")
    } else {
        format!("{at:.3}")
    })
}

/// A sync row's `Timestamp` as a number. OData v2 writes Int64 values as strings
/// (`"Timestamp": "12345"`, UNSURE whether Exact does): as text, `max` of a page's timestamps
/// would put `"999"` above `"1000"` and an incremental cursor would go back.
pub(crate) fn numeric_timestamp(row: &mut Json) {
    if let Some(timestamp) = row.get_mut("Timestamp")
        && let Some(number) = timestamp.as_str().and_then(|text| text.parse::<i64>().ok())
    {
        *timestamp = Json::from(number);
    }
}

/// `entity` with its `{name}` placeholders filled from `values`: a GUID right inside
/// parentheses as `guid'…'`, anything else percent-encoded as one path segment. A placeholder
/// without a value, or a value without a placeholder (a typo), is an error.
pub(crate) fn fill_path(entity: &str, values: &indexmap::IndexMap<String, Json>) -> Result<String, String> {
    let mut filled = String::with_capacity(entity.len());
    let mut used = std::collections::HashSet::new();
    let mut rest = entity;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|at| open + at)
            .ok_or_else(|| format!("`entity` `{entity}` has a `{{` without its `}}`"))?;
        let name = &rest[open + 1..close];
        let value = values.get(name).ok_or_else(|| {
            let known: Vec<&str> = values.keys().map(String::as_str).collect();
            format!(
                "`entity` names `{{{name}}}` but `path` gives no `{name}` (it gives: {})",
                if known.is_empty() {
                    "nothing".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })?;
        used.insert(name);
        let text = match value {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        if text.trim() == "." || text.trim() == ".." {
            return Err(format!(
                "`path.{name}` is `{text}`: a value may not leave its place in the path"
            ));
        }
        let in_parentheses = rest[..open].ends_with('(') && rest[close + 1..].starts_with(')');
        filled.push_str(&rest[..open]);
        match guid_key(&text) {
            Some(key) if in_parentheses => filled.push_str(&key[1..key.len() - 1]),
            _ => filled
                .extend(url::form_urlencoded::byte_serialize(text.as_bytes()).map(|part| part.replace('+', "%20"))),
        }
        rest = &rest[close + 1..];
    }
    filled.push_str(rest);
    if let Some(unused) = values.keys().find(|name| !used.contains(name.as_str())) {
        return Err(format!(
            "`path` gives `{unused}`, which `entity` `{entity}` does not name as `{{{unused}}}`"
        ));
    }
    Ok(filled)
}

/// A GUID as a key segment, `(guid'…')`, accepting `3f2504e0-…`, `{3f2504e0-…}` and
/// `guid'3f2504e0-…'`; `None` for anything that is not one.
pub(crate) fn guid_key(id: &str) -> Option<String> {
    let trimmed = id.trim();
    let bare = trimmed
        .strip_prefix("guid'")
        .and_then(|rest| rest.strip_suffix('\''))
        .or_else(|| trimmed.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')))
        .unwrap_or(trimmed);
    let groups: Vec<&str> = bare.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    let valid = groups.len() == 5
        && groups
            .iter()
            .zip(lengths)
            .all(|(group, length)| group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit()));
    valid.then(|| format!("(guid'{}')", bare.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dates_become_rfc3339() {
        let mut row = json!({
            "Created": "/Date(1546300800000)/",
            "Modified": "/Date(1546300800123+0100)/",
            "Old": "/Date(-86400000)/",
            "Lines": {"results": [{"Due": "/Date(0)/"}]},
            "Name": "Date(5)",
            "Broken": "/Date(soon)/",
        });
        convert_dates(&mut row);
        assert_eq!(row["Created"], "2019-01-01T00:00:00Z");
        assert_eq!(row["Modified"], "2019-01-01T00:00:00.123Z");
        assert_eq!(row["Old"], "1969-12-31T00:00:00Z");
        assert_eq!(row["Lines"]["results"][0]["Due"], "1970-01-01T00:00:00Z");
        assert_eq!(row["Name"], "Date(5)");
        assert_eq!(row["Broken"], "/Date(soon)/");
    }

    #[test]
    fn envelopes_are_unwrapped() {
        let (rows, next) = page(json!({"d": {"results": [{"ID": 1}], "__next": "https://x/next"}})).unwrap();
        assert_eq!(rows, vec![json!({"ID": 1})]);
        assert_eq!(next.as_deref(), Some("https://x/next"));
        assert_eq!(page(json!({"d": [{"ID": 2}]})).unwrap().0, vec![json!({"ID": 2})]);
        assert!(page(json!({"error": {}})).is_none());
        assert_eq!(entity(json!({"d": {"ID": 3}})), Some(json!({"ID": 3})));
        assert_eq!(entity(json!({"d": {"results": [{"ID": 4}]}})), Some(json!({"ID": 4})));
        assert_eq!(unwrapped(json!(17)), (json!(17), None));
        assert_eq!(
            unwrapped(json!({"d": {"results": [], "__next": "n"}})).1.as_deref(),
            Some("n")
        );
    }

    #[test]
    fn placeholders_are_filled() {
        let values = indexmap::IndexMap::from([
            ("order".to_owned(), json!("3F2504E0-4F89-11D3-9A0C-0305E82C3301")),
            ("name".to_owned(), json!("a b/c")),
        ]);
        assert_eq!(
            fill_path(
                "salesorder/SalesOrders({order})/SalesOrderLines",
                &values[..1].iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            ),
            Ok("salesorder/SalesOrders(guid'3f2504e0-4f89-11d3-9a0c-0305e82c3301')/SalesOrderLines".to_owned())
        );
        assert_eq!(
            fill_path("read/x/{name}/{order}", &values),
            Ok("read/x/a%20b%2Fc/3F2504E0-4F89-11D3-9A0C-0305E82C3301".to_owned())
        );
        assert!(
            fill_path("crm/Accounts", &values)
                .unwrap_err()
                .contains("`path` gives `order`")
        );
        assert!(
            fill_path("crm/Accounts({id})", &indexmap::IndexMap::new())
                .unwrap_err()
                .contains("no `id`")
        );
        assert!(fill_path("crm/Accounts({id", &indexmap::IndexMap::new()).is_err());
        let dots = indexmap::IndexMap::from([("x".to_owned(), json!(".."))]);
        assert!(fill_path("read/{x}/Me", &dots).unwrap_err().contains("may not leave"));
        assert_eq!(
            fill_path("crm/Accounts", &indexmap::IndexMap::new()),
            Ok("crm/Accounts".to_owned())
        );
    }

    #[test]
    fn timestamps_become_numbers() {
        let mut row = json!({"Timestamp": "1000", "ID": "x"});
        numeric_timestamp(&mut row);
        assert_eq!(row["Timestamp"], 1000);
        let mut odd = json!({"Timestamp": "soon"});
        numeric_timestamp(&mut odd);
        assert_eq!(odd["Timestamp"], "soon");
    }

    #[test]
    fn guids_in_every_spelling() {
        let id = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
        let key = Some("(guid'3f2504e0-4f89-11d3-9a0c-0305e82c3301')".to_owned());
        assert_eq!(guid_key(id), key);
        assert_eq!(guid_key(&format!("{{{id}}}")), key);
        assert_eq!(guid_key(&format!("guid'{id}'")), key);
        assert_eq!(guid_key("1024"), None);
        assert_eq!(guid_key("3f2504e0-4f89-11d3-9a0c-0305e82c330"), None);
        assert_eq!(guid_key("3f2504e0-4f89-11d3-9a0c-0305e82c33zz"), None);
    }
}
