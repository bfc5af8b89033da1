//! The names in a dotenv secrets file, with where each is written. Values are never kept.

use crate::yaml::{Pos, Span};

/// `NAME=value` lines (optionally `export NAME=value`); comments and blank lines skipped.
pub fn names(text: &str) -> Vec<(String, Span)> {
    let mut found = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split('\n').enumerate() {
        let trimmed = line.trim_start();
        let indent = line.chars().count() - trimmed.chars().count();
        let (declaration, skipped) = match trimmed.strip_prefix("export ") {
            Some(rest) => (
                rest.trim_start(),
                indent + trimmed.chars().count() - rest.trim_start().chars().count(),
            ),
            None => (trimmed, indent),
        };
        if let Some((name, _)) = declaration.split_once('=') {
            let name = name.trim_end();
            let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if is_name && !declaration.starts_with('#') {
                let start = Pos {
                    line: index + 1,
                    column: skipped + 1,
                    offset: offset + skipped,
                };
                let width = name.chars().count();
                let end = Pos {
                    column: start.column + width,
                    offset: start.offset + width,
                    ..start
                };
                found.push((name.to_owned(), Span { start, end }));
            }
        }
        offset += line.chars().count() + 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_names_and_their_columns_only() {
        let found = names("# comment\nA=1\n  export B_2 = \"x=y\"\n\nnot a line\nC=\n");
        let summary: Vec<(String, usize, usize)> = found
            .into_iter()
            .map(|(name, span)| (name, span.start.line, span.start.column))
            .collect();
        assert_eq!(summary, [("A".into(), 2, 1), ("B_2".into(), 3, 10), ("C".into(), 6, 1)]);
    }
}
