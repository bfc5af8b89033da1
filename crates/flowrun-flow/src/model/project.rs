//! The project file `flowrun.yaml`: connections, state and profiles shared by every flow of
//! a repository.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::flow::Connection;

/// The file name looked up by walking up from a flow file.
pub const PROJECT_FILE_NAME: &str = "flowrun.yaml";

/// `flowrun.yaml` at the root of a flow repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[schemars(title = "flowrun project file")]
pub struct Project {
    /// Connections every flow of the repository may use (a flow's own connection of the same name wins).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub connections: IndexMap<String, Connection>,
    /// The state store: `sqlite://.flowrun/state.db` (default) or `postgres://…` for several workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// A dotenv file that `secrets.X` is read from before the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_file: Option<String>,
    /// Named overlays chosen with `--profile NAME`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub profiles: IndexMap<String, Profile>,
}

/// A profile overlays the project's connections and state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Profile {
    /// Replaces the project's `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Overlays connections: a `config` key given here replaces the project's value.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub connections: IndexMap<String, ConnectionOverlay>,
}

/// A connection in a profile: a new connection (with `connector`) or an overlay of one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ConnectionOverlay {
    /// Required for a connection the project does not define.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// Keys that replace the project connection's `config` keys.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub config: IndexMap<String, Value>,
}

impl Project {
    /// The connection names available under a profile (None: no profile).
    pub fn connection_names<'a>(&'a self, profile: Option<&'a Profile>) -> Vec<&'a str> {
        let mut names: Vec<&str> = self.connections.keys().map(String::as_str).collect();
        if let Some(profile) = profile {
            for (name, overlay) in &profile.connections {
                if !names.contains(&name.as_str()) && overlay.connector.is_some() {
                    names.push(name);
                }
            }
        }
        names
    }
}
