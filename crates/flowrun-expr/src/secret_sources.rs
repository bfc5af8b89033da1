//! Where `secrets.X` comes from: the secrets files (`--secrets FILE`, the project's
//! `secrets_file`, in dotenv format), then the environment variable `X`. A secret a flow reads
//! that neither has is an error before the run starts.
//!
//! The caller reads the files (this crate does no I/O) and passes their text. Nothing here puts
//! a value, or a line of a secrets file, into an error.

use indexmap::IndexMap;

use crate::secret::Secret;

/// The text of one secrets file and the name to show for it.
#[derive(Debug, Clone, Copy)]
pub struct SecretsFile<'a> {
    /// What to call the file in errors (its path as the user gave it).
    pub label: &'a str,
    pub text: &'a str,
}

/// Why the secrets could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "missing secret{}: {}; set {} in the environment or in the secrets file (--secrets FILE, or `secrets_file` in flowrun.yaml)",
        if names.len() == 1 { "" } else { "s" },
        names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", "),
        if names.len() == 1 { "it" } else { "them" }
    )]
    Missing { names: Vec<String> },
    /// The line's text is not shown: it may hold a secret.
    #[error("{file}:{line}: not a `NAME=value` line (its text is not shown, as it may hold a secret)")]
    FileSyntax { file: String, line: usize },
}

/// The secrets named in `names`, each from the first file that defines it, else from `env`.
/// Every missing name is reported at once.
pub fn resolve_secrets<'n>(
    names: impl IntoIterator<Item = &'n str>,
    files: &[SecretsFile<'_>],
    env: impl Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, Secret>, SecretsError> {
    let mut from_files: IndexMap<String, String> = IndexMap::new();
    for file in files {
        for entry in dotenvy::from_read_iter(file.text.as_bytes()) {
            match entry {
                // The first definition wins, as in dotenv tools.
                Ok((name, value)) => {
                    from_files.entry(name).or_insert(value);
                }
                Err(error) => {
                    return Err(SecretsError::FileSyntax {
                        file: file.label.to_owned(),
                        line: error_line(&error, file.text),
                    });
                }
            }
        }
    }
    let mut resolved = IndexMap::new();
    let mut missing = Vec::new();
    for name in names {
        if resolved.contains_key(name) {
            continue;
        }
        match from_files.get(name).cloned().or_else(|| env(name)) {
            Some(value) => {
                resolved.insert(name.to_owned(), Secret::new(value));
            }
            None => missing.push(name.to_owned()),
        }
    }
    if missing.is_empty() {
        Ok(resolved)
    } else {
        missing.sort();
        missing.dedup();
        Err(SecretsError::Missing { names: missing })
    }
}

/// The 1-based line of a parse error, found without printing the line.
fn error_line(error: &dotenvy::Error, text: &str) -> usize {
    match error {
        dotenvy::Error::LineParse(line, _) => text
            .lines()
            .position(|candidate| candidate.trim() == line.trim() || candidate.contains(line.as_str()))
            .map_or(0, |index| index + 1),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn files_first_then_the_environment() {
        let file = SecretsFile {
            label: ".env",
            text: "# comment\nexport TOKEN=\"from file\"\nKEY='x y'\nTOKEN=second\n",
        };
        let env = |name: &str| (name == "OTHER" || name == "TOKEN").then(|| format!("env {name}"));
        let secrets = resolve_secrets(["TOKEN", "KEY", "OTHER"], &[file], env).unwrap();
        assert_eq!(secrets["TOKEN"].expose(), "from file");
        assert_eq!(secrets["KEY"].expose(), "x y");
        assert_eq!(secrets["OTHER"].expose(), "env OTHER");
    }

    #[test]
    fn every_missing_secret_is_named_at_once() {
        let error = resolve_secrets(["B", "A", "B"], &[], no_env).unwrap_err();
        insta::assert_snapshot!(error, @"missing secrets: `A`, `B`; set them in the environment or in the secrets file (--secrets FILE, or `secrets_file` in flowrun.yaml)");
    }

    #[test]
    fn a_bad_line_is_located_but_never_shown() {
        let file = SecretsFile {
            label: "prod.env",
            text: "A=1\nthis is hunter2-canary not a pair\n",
        };
        let error = resolve_secrets(["A"], &[file], no_env).unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
        insta::assert_snapshot!(error, @"prod.env:2: not a `NAME=value` line (its text is not shown, as it may hold a secret)");
    }
}
