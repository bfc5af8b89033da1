//! The records of every model, the files attached to them and the pending uploads; how a
//! write is checked and applied; how a record is rendered as 1CRM's flat JSON.
//!
//! Records are rows of optional strings, one column per field of the model (see
//! `models.rs`): the API itself speaks strings ("0"/"1", "3222.22"), and rows are much
//! cheaper to seed than JSON maps. Deletes are soft (`deleted = "1"`), as in 1CRM.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::models::{Kind, MODELS, Model, find};
use super::user_name;

/// Temporary uploads expire after this much sandbox time.
// UNSURE (apis/onecrm.md): how long temporary uploads live; one hour here.
pub const UPLOAD_TTL: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug, Default)]
pub struct Row {
    pub values: Vec<Option<String>>,
}

impl Row {
    pub fn get(&self, col: usize) -> Option<&str> {
        self.values.get(col).and_then(|v| v.as_deref())
    }

    fn set(&mut self, col: usize, value: Option<String>) {
        if let Some(slot) = self.values.get_mut(col) {
            *slot = value;
        }
    }
}

#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
    pub by_id: HashMap<String, usize>,
    /// The next `case_number` / `invoice_number`.
    pub next_number: u64,
}

impl Table {
    pub fn push(&mut self, id: String, row: Row) {
        self.by_id.insert(id, self.rows.len());
        self.rows.push(row);
    }
}

/// A file attached to a record (`Note.filename`, `Document.revision_filename`).
#[derive(Clone)]
pub struct StoredFile {
    pub name: String,
    pub mime: String,
    pub bytes: Bytes,
    /// Unix seconds of the attachment (`modified` of `/files/info`).
    pub modified: u64,
}

/// A file uploaded by `POST /files/upload`, waiting to be attached.
pub struct Upload {
    pub file: StoredFile,
    /// Sandbox time of the upload, for expiry.
    pub at: Duration,
}

#[derive(Default)]
pub struct Store {
    /// One table per model, in the order of [`MODELS`].
    pub tables: Vec<Table>,
    /// Attached files by (model index, record id).
    pub files: HashMap<(usize, String), StoredFile>,
    /// Pending uploads by `INCOMING~…` id.
    pub uploads: HashMap<String, Upload>,
}

/// A column of a rendered record: a field, or the computed `_display` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Field(usize),
    Display,
}

/// Why a write was refused.
#[derive(Debug)]
pub enum WriteError {
    /// Required fields missing or empty: 400.
    Missing(Vec<&'static str>),
    /// A value of the wrong type for its field: 422.
    Invalid(String),
    /// An unknown or expired upload id in a file field: 400.
    BadUpload(String),
}

/// What a write carries besides the data.
pub struct WriteContext<'a> {
    pub user_id: &'a str,
    /// `date_modified` (and `date_entered` on create).
    pub now: String,
    pub now_unix: u64,
    /// Sandbox time, for upload expiry.
    pub clock: Duration,
}

impl Store {
    /// The row index of a live (not deleted) record.
    pub fn live(&self, model: usize, id: &str) -> Option<usize> {
        let table = self.tables.get(model)?;
        let index = *table.by_id.get(id)?;
        let deleted = MODELS[model].col("deleted");
        (table.rows[index].get(deleted) != Some("1")).then_some(index)
    }

    pub fn row(&self, model: usize, index: usize) -> &Row {
        &self.tables[model].rows[index]
    }

    /// The display name of a live record of `bean` (a model name or `"User"`).
    fn ref_name(&self, bean: &str, id: &str) -> Option<String> {
        if bean == "User" {
            return user_name(id).map(str::to_owned);
        }
        let (model, _) = find(bean)?;
        let index = self.live(model, id)?;
        self.row(model, index).get(MODELS[model].col("name")).map(str::to_owned)
    }

    /// The value a column shows: stored, or computed for `ref` fields and `_display`.
    pub fn value(&self, model: usize, row: &Row, column: Column) -> Option<String> {
        let def = &MODELS[model];
        let col = match column {
            Column::Display => def.col("name"),
            Column::Field(col) => col,
        };
        match def.fields[col].kind {
            Kind::Ref { bean, id_name } => {
                let id = row.get(def.col(id_name)).filter(|id| !id.is_empty())?;
                let bean = match bean {
                    Some(bean) => bean,
                    None => row.get(def.col("parent_type"))?,
                };
                self.ref_name(bean, id)
            }
            _ => row.get(col).map(str::to_owned),
        }
    }

    /// The record as 1CRM's flat JSON: these columns, or every field and `_display`.
    pub fn render(&self, model: usize, row: &Row, columns: Option<&[Column]>) -> Map<String, Value> {
        let def = &MODELS[model];
        let mut record = Map::new();
        let mut put = |column: Column| {
            let key = match column {
                Column::Field(col) => def.fields[col].name,
                Column::Display => "_display",
            };
            let value = self.value(model, row, column).map_or(Value::Null, Value::String);
            record.insert(key.to_owned(), value);
        };
        match columns {
            Some(columns) => columns.iter().copied().for_each(&mut put),
            None => {
                (0..def.fields.len()).map(Column::Field).for_each(&mut put);
                put(Column::Display);
            }
        }
        record
    }

    /// Creates a record (with `id` when an upsert names it); returns its id.
    pub fn create(
        &mut self,
        model: usize,
        id: Option<String>,
        data: &Map<String, Value>,
        ctx: &WriteContext<'_>,
    ) -> Result<String, WriteError> {
        let def = &MODELS[model];
        let id = id.unwrap_or_else(|| new_id(&mut fastrand::Rng::new()));
        let mut base = Row {
            values: vec![None; def.fields.len()],
        };
        base.set(def.col("id"), Some(id.clone()));
        base.set(def.col("deleted"), Some("0".into()));
        base.set(def.col("date_entered"), Some(ctx.now.clone()));
        base.set(def.col("created_by"), Some(ctx.user_id.to_owned()));
        base.set(def.col("assigned_user_id"), Some(ctx.user_id.to_owned()));
        if def.name == "Document" {
            base.set(def.col("revision"), Some("1".into()));
        }
        let (mut row, uploads) = self.prepare(model, base, data, ctx, true)?;
        let table = &mut self.tables[model];
        if let Some(field) = def.number_field {
            table.next_number += 1;
            row.set(def.col(field), Some(table.next_number.to_string()));
        }
        table.push(id.clone(), row);
        self.attach(model, &id, uploads, ctx.now_unix);
        Ok(id)
    }

    /// Updates a live record in place.
    pub fn update(
        &mut self,
        model: usize,
        index: usize,
        data: &Map<String, Value>,
        ctx: &WriteContext<'_>,
    ) -> Result<(), WriteError> {
        let def = &MODELS[model];
        let base = self.tables[model].rows[index].clone();
        let (mut row, uploads) = self.prepare(model, base, data, ctx, false)?;
        if def.name == "Document" && !uploads.is_empty() {
            let revision = row.get(def.col("revision")).and_then(|r| r.parse::<u64>().ok());
            row.set(def.col("revision"), Some((revision.unwrap_or(0) + 1).to_string()));
        }
        let id = row.get(def.col("id")).unwrap_or_default().to_owned();
        self.tables[model].rows[index] = row;
        self.attach(model, &id, uploads, ctx.now_unix);
        Ok(())
    }

    /// Soft-deletes a live record.
    pub fn delete(&mut self, model: usize, index: usize, ctx: &WriteContext<'_>) {
        let def = &MODELS[model];
        let row = &mut self.tables[model].rows[index];
        row.set(def.col("deleted"), Some("1".into()));
        row.set(def.col("date_modified"), Some(ctx.now.clone()));
        row.set(def.col("modified_user_id"), Some(ctx.user_id.to_owned()));
    }

    /// Sets one id field of a live record (adding or removing a related record).
    pub fn set_link(&mut self, model: usize, index: usize, col: usize, value: Option<String>, ctx: &WriteContext<'_>) {
        let def = &MODELS[model];
        let row = &mut self.tables[model].rows[index];
        row.set(col, value);
        row.set(def.col("date_modified"), Some(ctx.now.clone()));
        row.set(def.col("modified_user_id"), Some(ctx.user_id.to_owned()));
    }

    /// `base` with `data` applied, checked as a whole: the row to store and the uploads to
    /// attach (file column, upload id). Nothing changes until the whole write is valid.
    fn prepare(
        &self,
        model: usize,
        mut row: Row,
        data: &Map<String, Value>,
        ctx: &WriteContext<'_>,
        creating: bool,
    ) -> Result<(Row, Vec<(usize, String)>), WriteError> {
        let def = &MODELS[model];
        let mut uploads = Vec::new();
        let mut changed = Vec::new();
        for (name, value) in data {
            // UNSURE (apis/onecrm.md): unknown and read-only fields are silently ignored.
            let Some((col, field)) = def.field(name) else { continue };
            if !field.editable {
                continue;
            }
            if field.kind == Kind::FileRef {
                let Some(upload) = self.upload_id(name, value, ctx.clock)? else {
                    row.set(col, None);
                    continue;
                };
                row.set(col, Some(self.uploads[&upload].file.name.clone()));
                uploads.push((col, upload));
                continue;
            }
            let text = convert(field.kind, value)
                .map_err(|why| WriteError::Invalid(format!("Invalid value for field {name} of {}: {why}", def.name)))?;
            row.set(col, text);
            changed.push(col);
        }
        self.check_references(def, &row, &changed)?;
        derive_name(def, &mut row);
        let missing: Vec<&'static str> = def
            .fields
            .iter()
            .enumerate()
            .filter(|(col, f)| f.required && row.get(*col).is_none_or(|v| v.trim().is_empty()))
            .map(|(_, f)| f.name)
            .collect();
        if !missing.is_empty() {
            return Err(WriteError::Missing(missing));
        }
        if creating || !changed.is_empty() || !uploads.is_empty() {
            row.set(def.col("date_modified"), Some(ctx.now.clone()));
            row.set(def.col("modified_user_id"), Some(ctx.user_id.to_owned()));
        }
        Ok((row, uploads))
    }

    /// The pending upload a file field names; `None` when the value clears the field.
    fn upload_id(&self, field: &str, value: &Value, clock: Duration) -> Result<Option<String>, WriteError> {
        let id = match value {
            Value::Null => return Ok(None),
            Value::String(s) if s.is_empty() => return Ok(None),
            Value::String(s) => s,
            _ => {
                return Err(WriteError::BadUpload(format!(
                    "Field {field} expects an upload id (INCOMING~…) from /files/upload"
                )));
            }
        };
        match self.uploads.get(id) {
            Some(upload) if clock.saturating_sub(upload.at) <= UPLOAD_TTL => Ok(Some(id.clone())),
            Some(_) => Err(WriteError::BadUpload(format!(
                "Upload {id} in field {field} has expired"
            ))),
            None => Err(WriteError::BadUpload(format!(
                "Unknown upload id {id} in field {field}: upload the file to /files/upload first"
            ))),
        }
    }

    /// Every id field written must name a live record of the model its `ref` field names.
    fn check_references(&self, def: &Model, row: &Row, changed: &[usize]) -> Result<(), WriteError> {
        for field in &def.fields {
            let Kind::Ref { bean, id_name } = field.kind else {
                continue;
            };
            let id_col = def.col(id_name);
            if !changed.contains(&id_col) {
                continue;
            }
            let Some(id) = row.get(id_col).filter(|id| !id.is_empty()) else {
                continue;
            };
            let bean = match bean.or_else(|| row.get(def.col("parent_type")).filter(|t| !t.is_empty())) {
                Some(bean) => bean,
                None => {
                    return Err(WriteError::Invalid(format!(
                        "{id_name} is set but parent_type is empty"
                    )));
                }
            };
            if self.ref_name(bean, id).is_none() {
                return Err(WriteError::Invalid(format!(
                    "Invalid value for field {id_name}: no {bean} with id {id}"
                )));
            }
        }
        Ok(())
    }

    /// Moves the uploads onto the record: the file store, the field's file name and mime type.
    fn attach(&mut self, model: usize, id: &str, uploads: Vec<(usize, String)>, now_unix: u64) {
        let def = &MODELS[model];
        for (_, upload_id) in uploads {
            // UNSURE (apis/onecrm.md): an upload is used up once attached (1CRM moves the
            // temporary file into place); using its id again gets 400.
            let Some(upload) = self.uploads.remove(&upload_id) else {
                continue;
            };
            let mut file = upload.file;
            file.modified = now_unix;
            if let Some(index) = self.live(model, id) {
                let mime = Some(file.mime.clone());
                self.tables[model].rows[index].set(def.col("file_mime_type"), mime);
            }
            self.files.insert((model, id.to_owned()), file);
        }
    }
}

/// `name` of models whose name is built from other fields.
pub fn derive_name(def: &Model, row: &mut Row) {
    let name = match def.name {
        "Contact" | "Lead" => {
            let first = row.get(def.col("first_name")).unwrap_or_default();
            let last = row.get(def.col("last_name")).unwrap_or_default();
            format!("{first} {last}").trim().to_owned()
        }
        "Document" => row.get(def.col("document_name")).unwrap_or_default().to_owned(),
        _ => return,
    };
    row.set(def.col("name"), Some(name));
}

/// A JSON value written to a field of this kind, as the string 1CRM stores; `Err` says why
/// it does not fit.
fn convert(kind: Kind, value: &Value) -> Result<Option<String>, String> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        Value::Array(_) | Value::Object(_) => return Err("expected a single value, not a list or object".into()),
    };
    if text.is_empty() && !matches!(kind, Kind::Bool) {
        return Ok(Some(text).filter(|_| is_textual(kind)));
    }
    let ok = match kind {
        Kind::Bool => match text.as_str() {
            "1" | "true" => "1".to_owned(),
            "0" | "false" | "" => "0".to_owned(),
            _ => return Err(format!("`{text}` is not a boolean (\"0\" or \"1\")")),
        },
        Kind::Int => text
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("`{text}` is not an integer"))?
            .to_string(),
        Kind::Currency => match text.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => format!("{n:.2}"),
            _ => return Err(format!("`{text}` is not a number")),
        },
        Kind::Enum(options) => {
            if !options.iter().any(|(key, _)| *key == text) {
                let keys: Vec<&str> = options.iter().map(|(k, _)| *k).filter(|k| !k.is_empty()).collect();
                return Err(format!("`{text}` is not one of the options: {}", keys.join(", ")));
            }
            text
        }
        Kind::Datetime if !super::datetime::is_datetime(&text) => {
            return Err(format!("`{text}` is not a datetime (YYYY-MM-DD HH:MM:SS)"));
        }
        Kind::Date if !super::datetime::is_date(&text) => return Err(format!("`{text}` is not a date (YYYY-MM-DD)")),
        Kind::Email if !is_email(&text) => return Err(format!("`{text}` is not an email address")),
        _ => text,
    };
    Ok(Some(ok))
}

fn is_textual(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Varchar | Kind::Text | Kind::Phone | Kind::Url | Kind::Email | Kind::Id
    )
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace) && !domain.contains('@')
        }
        None => false,
    }
}

/// A 36-character id in 1CRM's format (`7eba2a01-6cb6-f38c-d4c2-5a8fc2def9d2`).
pub fn new_id(rng: &mut fastrand::Rng) -> String {
    let a = rng.u64(..);
    let b = rng.u64(..);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_convert_to_1crm_strings() {
        assert_eq!(convert(Kind::Bool, &json!(true)), Ok(Some("1".into())));
        assert_eq!(convert(Kind::Currency, &json!(12.5)), Ok(Some("12.50".into())));
        assert_eq!(convert(Kind::Currency, &json!("3222.22")), Ok(Some("3222.22".into())));
        assert!(convert(Kind::Currency, &json!("lots")).is_err());
        assert!(convert(Kind::Enum(super::super::models::LEAD_STATUSES), &json!("Nope")).is_err());
        assert!(convert(Kind::Email, &json!("not-an-email")).is_err());
        assert_eq!(convert(Kind::Varchar, &json!("")), Ok(Some(String::new())));
        assert_eq!(convert(Kind::Int, &json!("")), Ok(None));
        assert!(convert(Kind::Varchar, &json!({"a": 1})).is_err());
        assert_eq!(new_id(&mut fastrand::Rng::with_seed(1)).len(), 36);
    }
}
