//! The secrets a run reads, from the secrets file then the environment. No error shows a
//! value, or a line of the file.

use std::path::Path;

use flowrun_expr::{Secret, SecretsError, SecretsFile, resolve_secrets};
use indexmap::IndexMap;

/// Why the secrets of a run cannot be read (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsProblem {
    #[error("cannot read the secrets file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    /// Its bytes are not shown: they may be a secret.
    #[error("the secrets file {path} is not UTF-8 text")]
    NotText { path: String },
    /// Missing names, or a line that is not `NAME=value`; `note` says when the project's
    /// secrets file does not exist.
    #[error("{error}{}", note.as_ref().map(|note| format!(" ({note})")).unwrap_or_default())]
    Resolve { error: SecretsError, note: Option<String> },
}

/// Each secret in `names` (the ones the flow and its connections read: the engine's
/// `names_read`), from `secrets_file` (dotenv) first, then the environment variable of the
/// same name. With no names, the file is not read. A secrets file that does not exist is
/// skipped (the project's `secrets_file` is often absent where the environment has the
/// secrets); it is named when a secret is then missing.
pub fn secrets<I>(names: I, secrets_file: Option<&Path>) -> Result<IndexMap<String, Secret>, Vec<SecretsProblem>>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    secrets_with_env(names, secrets_file, |name| std::env::var(name).ok())
}

/// [`secrets`] with the environment given.
pub(super) fn secrets_with_env<I>(
    names: I,
    secrets_file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, Secret>, Vec<SecretsProblem>>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let names: Vec<String> = names.into_iter().map(|name| name.as_ref().to_owned()).collect();
    if names.is_empty() {
        return Ok(IndexMap::new());
    }
    let mut problems = Vec::new();
    let mut text = None;
    let mut note = None;
    let label = secrets_file.map(|path| path.display().to_string()).unwrap_or_default();
    if let Some(path) = secrets_file {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(read) => text = Some(read),
                Err(_) => problems.push(SecretsProblem::NotText { path: label.clone() }),
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                note = Some(format!("the secrets file {label} does not exist"));
            }
            Err(error) => problems.push(SecretsProblem::Unreadable {
                path: label.clone(),
                reason: error.to_string(),
            }),
        }
    }
    let files: Vec<SecretsFile<'_>> = text
        .as_deref()
        .map(|text| SecretsFile { label: &label, text })
        .into_iter()
        .collect();
    match resolve_secrets(names.iter().map(String::as_str), &files, env) {
        Ok(resolved) if problems.is_empty() => Ok(resolved),
        Ok(_) => Err(problems),
        Err(error) => {
            let note = note.filter(|_| matches!(error, SecretsError::Missing { .. }));
            problems.push(SecretsProblem::Resolve { error, note });
            Err(problems)
        }
    }
}
