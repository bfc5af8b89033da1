//! YAML problems as diagnostics: the wording and the fix for each kind.

use crate::diagnostic::Diagnostic;
use crate::yaml::{Pos, Span, YamlError, YamlErrorKind};

pub(super) fn yaml_diagnostic(error: &YamlError, text: &str) -> Diagnostic {
    let span = error.span;
    let message = error.kind.to_string();
    match &error.kind {
        YamlErrorKind::Syntax(info) => {
            let line = text.lines().nth(span.start.line.saturating_sub(1)).unwrap_or_default();
            let mut span = span;
            let help = if info.contains("tab") || line.starts_with('\t') {
                if line.starts_with('\t') {
                    // The parser stops after the tab; the tab itself is the problem.
                    let start = Pos {
                        column: 1,
                        offset: span.start.offset.saturating_sub(span.start.column - 1),
                        ..span.start
                    };
                    span = Span {
                        start,
                        end: Pos {
                            column: 2,
                            offset: start.offset + 1,
                            ..start
                        },
                    };
                }
                "YAML indents with spaces, never tabs: replace the tabs at the start of the line".to_owned()
            } else if line.contains("{{") {
                "a value holding a template must be quoted: `key: \"{{ … }}\"`".to_owned()
            } else {
                "check the indentation and quoting on this line or the one before it".to_owned()
            };
            Diagnostic::error("yaml-syntax", span, message)
                .with_label("here")
                .with_help(help)
        }
        YamlErrorKind::InvalidUtf8 => Diagnostic::error("invalid-utf8", span, message)
            .with_label("not UTF-8")
            .with_help("save the file as UTF-8"),
        YamlErrorKind::DuplicateKey { first_line, .. } => Diagnostic::error("duplicate-key", span, message)
            .with_label("defined again here")
            .with_help(format!(
                "remove one of the two, or merge them (the first is on line {first_line})"
            )),
        YamlErrorKind::TooDeep { .. } => Diagnostic::error("yaml-too-deep", span, message)
            .with_label("too deep")
            .with_help("flatten the structure; flow files never need this depth"),
        YamlErrorKind::AliasBudget { .. } => Diagnostic::error("yaml-alias-budget", span, message)
            .with_label("expansion stops here")
            .with_help("aliases that reference aliases grow exponentially; write the values out or use fewer levels"),
        YamlErrorKind::UnknownAlias => Diagnostic::error("yaml-syntax", span, message)
            .with_help("define the anchor (`&name`) before using it (`*name`)"),
        YamlErrorKind::MultipleDocuments => Diagnostic::error("yaml-multiple-documents", span, message)
            .with_label("second document")
            .with_help("put each flow in its own file; remove this `---`"),
        YamlErrorKind::ComplexKey { .. } => {
            Diagnostic::error("yaml-complex-key", span, message).with_help("quote the key: write it as a string")
        }
        YamlErrorKind::UnsupportedTag { .. } => {
            Diagnostic::error("yaml-tag", span, message).with_help("flow files use plain YAML; remove the tag")
        }
        YamlErrorKind::UnquotedTemplate { text: template } => {
            let value = whole_value(text, span, template);
            Diagnostic::error("unquoted-template", span, message)
                .with_label("read as a mapping")
                .with_help(format!("quote the whole value: \"{value}\""))
        }
    }
}

/// The value an unquoted template starts: the rest of its line (`{{ env.BASE }}/orders`), or
/// the template alone inside a flow collection (`{ a: {{ x }}, b: 1 }`).
fn whole_value(text: &str, span: Span, template: &str) -> String {
    let line = text.lines().nth(span.start.line.saturating_sub(1)).unwrap_or_default();
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let rest: String = line.chars().skip(span.start.column.saturating_sub(1)).collect();
    let rest = rest.split(" #").next().unwrap_or_default().trim_end();
    let after = rest.strip_prefix(template).unwrap_or_default();
    if after.is_empty() || after.starts_with([',', '}', ']']) {
        template.to_owned()
    } else {
        rest.to_owned()
    }
}
