//! Conexiom ids, integer or string.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Conexiom id. UNSURE: the API doc shows integers but they may be GUIDs, so an id is kept
/// as given (integer or string) and only ever put into a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    Integer(i64),
    Text(String),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Integer(id) => write!(f, "{id}"),
            Id::Text(id) => f.write_str(id),
        }
    }
}

impl JsonSchema for Id {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Id".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["integer", "string"] })
    }
}
