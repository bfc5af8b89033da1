//! The project file that applies to a flow, `--profile`, and what they decide for a run: its
//! connections, its state store and its secrets file.

use std::path::{Path, PathBuf};

use flowrun_flow::model::{Connection, Flow, Profile, Project, Trigger};
use flowrun_flow::suggest::did_you_mean;
use indexmap::IndexMap;

use crate::{catalog, discover};

/// What the command line chose besides the flow file; `None` leaves each to the project file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    /// `--profile NAME`: a profile of the project file.
    pub profile: Option<&'a str>,
    /// `--state URL`: relative `sqlite://` paths are relative to the current folder.
    pub state: Option<&'a str>,
    /// `--secrets FILE`: read instead of the project's `secrets_file`; must exist.
    pub secrets_file: Option<&'a Path>,
}

/// What a run takes from the project file, the profile and the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The connections the flow uses (those its steps and trigger name, or take as the only
    /// connection of their connector): the flow's own, else the project's with the profile's
    /// overlay.
    pub connections: IndexMap<String, Connection>,
    /// The state store: `--state` > the profile's `state` > the project's `state` >
    /// `sqlite://.flowrun/state.db`, relative `sqlite://` paths resolved against the project
    /// file's folder (the flow file's folder when there is no project file).
    pub state_url: String,
    /// `--secrets FILE`, else the project's `secrets_file` (relative to its folder). The
    /// project's file may not exist (secrets then come from the environment).
    pub secrets_file: Option<PathBuf>,
    /// The folder of the project file, when there is one.
    pub project_dir: Option<PathBuf>,
    /// The folder relative file paths of module calls resolve against (a `sql` connection's
    /// `sqlite://warehouse.db`): the project file's, else the flow file's, as for `state_url`.
    pub files_dir: PathBuf,
}

/// Why a run cannot be prepared (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    #[error("cannot read the project file {}: {reason}", path.display())]
    ProjectUnreadable { path: PathBuf, reason: String },
    #[error("the project file {} is not valid; `flowrun validate {}` shows why", path.display(), path.display())]
    ProjectInvalid { path: PathBuf },
    /// `help` names a close profile, or the known ones.
    #[error("unknown profile `{name}`; {help}")]
    UnknownProfile { name: String, help: String },
    #[error(
        "profile `{profile}` overlays connection `{name}`, which the project does not define; add `connector:` to define it in the profile"
    )]
    OverlayWithoutConnection { profile: String, name: String },
    #[error(
        "profile `{profile}` changes the connector of `{name}` from `{from}` to `{to}`; use another connection name"
    )]
    ConnectorChanged {
        profile: String,
        name: String,
        from: String,
        to: String,
    },
    #[error("the state store URL `{url}` is not valid: {reason}")]
    StateUrl { url: String, reason: String },
    #[error("--secrets {}: no such file", path.display())]
    SecretsFileMissing { path: PathBuf },
    /// `flowrun auth login` outside a project.
    #[error(
        "there is no project file ({}) in this folder or above it; `flowrun auth login` logs in a connection defined under its `connections:`",
        flowrun_flow::model::PROJECT_FILE_NAME
    )]
    NoProject,
    /// `help` names a close connection, or the known ones.
    #[error("{} has no connection `{name}`{}; {help}", path.display(), profile.as_ref().map(|profile| format!(" (with profile `{profile}`)")).unwrap_or_default())]
    UnknownConnection {
        path: PathBuf,
        name: String,
        profile: Option<String>,
        help: String,
    },
}

/// What `flowrun auth login` takes from the project of a folder: one of its connections, with
/// the profile's overlay, and where its tokens and secrets are.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectConnection {
    pub connection: Connection,
    /// As [`Prepared::state_url`], the project file's folder standing for the flow's.
    pub state_url: String,
    /// As [`Prepared::secrets_file`].
    pub secrets_file: Option<PathBuf>,
}

/// The project file that applies to `flow_file` (the first `flowrun.yaml` walking up from its
/// folder), merged with `--profile`, `--state` and `--secrets`.
pub fn prepare(flow_file: &Path, flow: &Flow, overrides: Overrides<'_>) -> Result<Prepared, PrepareError> {
    let project_file = discover::project_for(flow_file);
    let project = project_file.as_deref().map(load_project).transpose()?;
    let profile = select_profile(project.as_ref(), project_file.as_deref(), overrides.profile)?;
    let project_dir = project_file.as_deref().map(folder_of);
    let base_dir = project_dir.clone().unwrap_or_else(|| folder_of(flow_file));

    let mut all = flow.connections.clone();
    if let Some(project) = &project {
        for (name, connection) in project_connections(project, profile)? {
            all.entry(name).or_insert(connection);
        }
    }
    let connections = used_connections(flow, all);
    let state_url = state_url(
        project.as_ref(),
        profile.map(|(_, profile)| profile),
        overrides.state,
        &base_dir,
    )?;
    let secrets_file = secrets_file(project.as_ref(), overrides.secrets_file, &base_dir)?;
    Ok(Prepared {
        connections,
        state_url,
        secrets_file,
        project_dir: project_dir.map(|dir| shown_folder(&dir)),
        files_dir: shown_folder(&base_dir),
    })
}

/// The state store of the project that applies to `folder` (for `flowrun runs`): the same
/// order as [`Prepared::state_url`], relative URLs resolved against the project file's folder,
/// or `folder` when there is no project file.
pub fn state_url_for_folder(folder: &Path, profile: Option<&str>, state: Option<&str>) -> Result<String, PrepareError> {
    // The project file of a folder is the one of any file in it.
    let project_file = discover::project_for(&folder.join(flowrun_flow::model::PROJECT_FILE_NAME));
    let project = project_file.as_deref().map(load_project).transpose()?;
    let profile = select_profile(project.as_ref(), project_file.as_deref(), profile)?;
    let base_dir = project_file.as_deref().map_or_else(|| folder.to_path_buf(), folder_of);
    state_url(project.as_ref(), profile.map(|(_, profile)| profile), state, &base_dir)
}

/// The connection `name` of the project that applies to `folder` (the first `flowrun.yaml`
/// from it up), with `--profile`'s overlay, and the state store and secrets file chosen as for
/// a run.
pub fn project_connection(
    folder: &Path,
    name: &str,
    overrides: Overrides<'_>,
) -> Result<ProjectConnection, PrepareError> {
    let project_file =
        discover::project_for(&folder.join(flowrun_flow::model::PROJECT_FILE_NAME)).ok_or(PrepareError::NoProject)?;
    let project = load_project(&project_file)?;
    let profile = select_profile(Some(&project), Some(&project_file), overrides.profile)?;
    let base_dir = folder_of(&project_file);
    let mut connections = project_connections(&project, profile)?;
    let Some(connection) = connections.shift_remove(name) else {
        let known = || connections.keys().map(String::as_str);
        let help = match did_you_mean(name, known()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if connections.is_empty() => "it defines no connections".to_owned(),
            None => format!(
                "it defines {}",
                known().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        return Err(PrepareError::UnknownConnection {
            path: project_file,
            name: name.to_owned(),
            profile: overrides.profile.map(str::to_owned),
            help,
        });
    };
    let state_url = state_url(
        Some(&project),
        profile.map(|(_, profile)| profile),
        overrides.state,
        &base_dir,
    )?;
    let secrets_file = secrets_file(Some(&project), overrides.secrets_file, &base_dir)?;
    Ok(ProjectConnection {
        connection,
        state_url,
        secrets_file,
    })
}

/// `--secrets FILE` (which must exist), else the project's `secrets_file` relative to
/// `base_dir` (which may not).
fn secrets_file(
    project: Option<&Project>,
    flag: Option<&Path>,
    base_dir: &Path,
) -> Result<Option<PathBuf>, PrepareError> {
    match flag {
        Some(path) if !path.is_file() => Err(PrepareError::SecretsFileMissing {
            path: path.to_path_buf(),
        }),
        Some(path) => Ok(Some(path.to_path_buf())),
        None => Ok(project
            .and_then(|project| project.secrets_file.as_ref())
            .map(|file| base_dir.join(file))),
    }
}

/// Reads and parses the project file; one with errors the validator reports but that still
/// gives a model is used as it is (`flowrun run` validated it before, and `flowrun runs` only
/// needs its state URL).
fn load_project(path: &Path) -> Result<Project, PrepareError> {
    let bytes = std::fs::read(path).map_err(|error| PrepareError::ProjectUnreadable {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    flowrun_flow::validate_project(path, &bytes, catalog::builtin())
        .project
        .ok_or_else(|| PrepareError::ProjectInvalid {
            path: path.to_path_buf(),
        })
}

fn select_profile<'p>(
    project: Option<&'p Project>,
    project_file: Option<&Path>,
    name: Option<&'p str>,
) -> Result<Option<(&'p str, &'p Profile)>, PrepareError> {
    let Some(name) = name else { return Ok(None) };
    let unknown = |help: String| PrepareError::UnknownProfile {
        name: name.to_owned(),
        help,
    };
    let (Some(project), Some(project_file)) = (project, project_file) else {
        return Err(unknown(format!(
            "there is no project file ({}) in this folder or above it to define profiles",
            flowrun_flow::model::PROJECT_FILE_NAME
        )));
    };
    if let Some(profile) = project.profiles.get(name) {
        return Ok(Some((name, profile)));
    }
    let known = || project.profiles.keys().map(String::as_str);
    let help = match did_you_mean(name, known()) {
        Some(close) => format!("did you mean `{close}`?"),
        None if project.profiles.is_empty() => format!("{} defines no profiles", project_file.display()),
        None => format!(
            "{} defines {}",
            project_file.display(),
            known().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
        ),
    };
    Err(unknown(help))
}

/// The project's connections with the profile's overlay: `config` keys of the overlay replace
/// the project's (top-level keys, not deep), and an overlay with `connector` may define a new
/// connection.
fn project_connections(
    project: &Project,
    profile: Option<(&str, &Profile)>,
) -> Result<IndexMap<String, Connection>, PrepareError> {
    let mut connections = project.connections.clone();
    let Some((profile_name, profile)) = profile else {
        return Ok(connections);
    };
    for (name, overlay) in &profile.connections {
        match (connections.get_mut(name), &overlay.connector) {
            (Some(base), Some(connector)) if *connector != base.connector => {
                return Err(PrepareError::ConnectorChanged {
                    profile: profile_name.to_owned(),
                    name: name.clone(),
                    from: base.connector.clone(),
                    to: connector.clone(),
                });
            }
            (Some(base), _) => {
                for (key, value) in &overlay.config {
                    base.config.insert(key.clone(), value.clone());
                }
            }
            (None, Some(connector)) => {
                connections.insert(
                    name.clone(),
                    Connection {
                        connector: connector.clone(),
                        config: overlay.config.clone(),
                    },
                );
            }
            (None, None) => {
                return Err(PrepareError::OverlayWithoutConnection {
                    profile: profile_name.to_owned(),
                    name: name.clone(),
                });
            }
        }
    }
    Ok(connections)
}

/// Only the connections the flow uses, so a run needs the secrets of those alone: the ones
/// steps (and `on_failure` steps) or a connector trigger name, and, for a step or trigger
/// without `connection:`, the only connection of its connector (the engine's plan picks the
/// same one).
fn used_connections(flow: &Flow, mut all: IndexMap<String, Connection>) -> IndexMap<String, Connection> {
    let mut users: Vec<(Option<&str>, Option<&str>)> = flow
        .steps
        .iter()
        .chain(&flow.on_failure)
        .map(|step| (step.connection.as_deref(), step.uses.as_deref()))
        .collect();
    if let Some(Trigger::Connector(trigger)) = &flow.trigger {
        users.push((trigger.connection(), Some(trigger.uses.as_str())));
    }
    let mut used: Vec<String> = Vec::new();
    for (connection, uses) in users {
        let name = match (connection, uses) {
            (Some(name), _) => Some(name.to_owned()),
            (None, Some(uses)) => {
                let connector = uses.split_once('.').map_or(uses, |(connector, _)| connector);
                let mut of_connector = all.iter().filter(|(_, connection)| connection.connector == connector);
                match (of_connector.next(), of_connector.next()) {
                    (Some((name, _)), None) => Some(name.clone()),
                    _ => None,
                }
            }
            (None, None) => None,
        };
        if let Some(name) = name.filter(|name| all.contains_key(name) && !used.contains(name)) {
            used.push(name);
        }
    }
    all.retain(|name, _| used.contains(name));
    all
}

fn state_url(
    project: Option<&Project>,
    profile: Option<&Profile>,
    flag: Option<&str>,
    base_dir: &Path,
) -> Result<String, PrepareError> {
    if let Some(url) = flag {
        // Relative to the current folder, like any path on the command line.
        return Ok(url.to_owned());
    }
    let url = profile
        .and_then(|profile| profile.state.as_deref())
        .or_else(|| project.and_then(|project| project.state.as_deref()))
        .unwrap_or(flowrun_state::DEFAULT_URL);
    if !url.starts_with("sqlite:") {
        // Other schemes name a server, not a path; `open` says which it supports.
        return Ok(url.to_owned());
    }
    flowrun_state::resolve_sqlite_url(url, base_dir).map_err(|error| PrepareError::StateUrl {
        url: url.to_owned(),
        reason: match error {
            flowrun_state::StateError::InvalidUrl { reason, .. } => reason,
            other => other.to_string(),
        },
    })
}

/// The folder of a file, `""` for a bare file name (so joined paths stay relative).
fn folder_of(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `.` instead of the empty path, for a folder shown or handed on.
fn shown_folder(folder: &Path) -> PathBuf {
    if folder.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        folder.to_path_buf()
    }
}
