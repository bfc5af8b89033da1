//! Diagnostics as people read them (miette, on stderr), as JSON Lines, or as GitHub workflow
//! annotations (both on stdout: they are the command's data).
//!
//! JSON Lines contract: one object per diagnostic, keys `file`, `line`, `column`, `end_line`,
//! `end_column` (1-based, columns in characters), `severity` (`error`|`warning`), `code`,
//! `message`, `help` (string or null). Nothing else is printed on stdout.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use flowrun_flow::yaml::Span;
use flowrun_flow::{Diagnostic, Severity};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan,
    SpanContents,
};

use crate::cli::DiagnosticFormat;

/// The text of every file a diagnostic shows lines of, read when rendering: validation keeps
/// no file's text, and files with hidden sources (secrets) are never read here.
#[derive(Default)]
struct Sources {
    texts: HashMap<PathBuf, String>,
}

impl Sources {
    fn read_for(diagnostics: &[Diagnostic]) -> Sources {
        let mut texts = HashMap::new();
        for diagnostic in diagnostics.iter().filter(|diagnostic| !diagnostic.source_hidden) {
            if !texts.contains_key(&diagnostic.file) {
                let bytes = std::fs::read(&diagnostic.file).unwrap_or_default();
                let text = String::from_utf8(bytes)
                    .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
                texts.insert(diagnostic.file.clone(), text);
            }
        }
        Sources { texts }
    }

    fn text(&self, path: &Path) -> &str {
        self.texts.get(path).map_or("", String::as_str)
    }
}

pub fn render(format: DiagnosticFormat, diagnostics: &[Diagnostic], n_files: usize) -> io::Result<()> {
    match format {
        DiagnosticFormat::Human => {
            let color = io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut stderr = io::stderr().lock();
            write!(stderr, "{}", human(diagnostics, n_files, color))
        }
        DiagnosticFormat::Json => {
            let mut stdout = io::stdout().lock();
            for diagnostic in diagnostics {
                writeln!(stdout, "{}", json_line(diagnostic))?;
            }
            Ok(())
        }
        DiagnosticFormat::Github => {
            let mut stdout = io::stdout().lock();
            for diagnostic in diagnostics {
                writeln!(stdout, "{}", github_line(diagnostic))?;
            }
            Ok(())
        }
    }
}

/// The human report: each diagnostic with its source lines, then a summary line.
pub fn human(diagnostics: &[Diagnostic], n_files: usize, color: bool) -> String {
    let sources = Sources::read_for(diagnostics);
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_wrap_lines(false) // A terminal wraps; wrapping here would split codes like `[wrong-type]`.
        .with_context_lines(1);
    let mut out = String::new();
    let mut offsets: HashMap<&Path, ByteOffsets> = HashMap::new();
    for diagnostic in diagnostics {
        if diagnostic.source_hidden {
            out.push_str(&without_source(diagnostic));
            continue;
        }
        let text = sources.text(&diagnostic.file);
        let offsets = offsets
            .entry(&diagnostic.file)
            .or_insert_with(|| ByteOffsets::new(text));
        let report = Report::new(diagnostic, text, offsets);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("{}: {}\n", location(diagnostic), diagnostic.message));
        }
        out.push('\n');
    }
    out.push_str(&summary(diagnostics, n_files));
    out.push('\n');
    out
}

/// A diagnostic in a file whose lines must not be shown (a secrets file): where and what only.
fn without_source(diagnostic: &Diagnostic) -> String {
    let icon = if diagnostic.is_error() { "×" } else { "⚠" };
    let mut out = format!(
        "  {icon} {} [{}]\n    at {}\n",
        diagnostic.message,
        diagnostic.code,
        location(diagnostic)
    );
    if let Some(help) = &diagnostic.help {
        out.push_str(&format!("  help: {help}\n"));
    }
    out.push('\n');
    out
}

fn summary(diagnostics: &[Diagnostic], n_files: usize) -> String {
    let errors = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let files = plural(n_files, "file");
    match (errors, warnings) {
        (0, 0) => format!("{files} checked: no problems"),
        _ => format!(
            "{files} checked: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn location(diagnostic: &Diagnostic) -> String {
    format!(
        "{}:{}:{}",
        diagnostic.file.display(),
        diagnostic.span.start.line,
        diagnostic.span.start.column
    )
}

pub fn json_line(diagnostic: &Diagnostic) -> String {
    serde_json::json!({
        "file": diagnostic.file,
        "line": diagnostic.span.start.line,
        "column": diagnostic.span.start.column,
        "end_line": diagnostic.span.end.line,
        "end_column": diagnostic.span.end.column,
        "severity": diagnostic.severity.as_str(),
        "code": diagnostic.code,
        "message": diagnostic.message,
        "help": diagnostic.help,
    })
    .to_string()
}

/// `::error file=…,line=…,col=…::message`, escaped as GitHub's workflow commands require.
pub fn github_line(diagnostic: &Diagnostic) -> String {
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        diagnostic.severity.as_str(),
        escape_property(&diagnostic.file.display().to_string()),
        diagnostic.span.start.line,
        diagnostic.span.start.column,
        diagnostic.span.end.line,
        diagnostic.span.end.column,
        escape_property(&format!("flowrun {}", diagnostic.code)),
        escape_data(&message),
    )
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Converts the character offsets of spans into the byte offsets miette wants.
struct ByteOffsets {
    /// The byte index of every character, and the text's length at the end.
    starts: Vec<usize>,
}

impl ByteOffsets {
    fn new(text: &str) -> ByteOffsets {
        // A BOM is not counted in positions; it is in the bytes miette slices.
        let bom = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        let mut starts: Vec<usize> = text[bom..].char_indices().map(|(at, _)| at + bom).collect();
        starts.push(text.len());
        ByteOffsets { starts }
    }

    fn span(&self, span: Span) -> SourceSpan {
        let byte = |offset: usize| {
            self.starts
                .get(offset)
                .or(self.starts.last())
                .copied()
                .unwrap_or_default()
        };
        let start = byte(span.start.offset);
        let end = byte(span.end.offset).max(start);
        SourceSpan::new(start.into(), end - start)
    }
}

/// A flowrun diagnostic in miette's shape.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedText<'a>,
    labels: Vec<LabeledSpan>,
}

impl<'a> Report<'a> {
    fn new(diagnostic: &'a Diagnostic, text: &'a str, offsets: &ByteOffsets) -> Report<'a> {
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            diagnostic.label.clone(),
            offsets.span(diagnostic.span),
        )];
        labels.extend(
            diagnostic
                .related
                .iter()
                .map(|related| LabeledSpan::new_with_span(Some(related.message.clone()), offsets.span(related.span))),
        );
        let source = NamedText {
            name: diagnostic.file.display().to_string(),
            text,
        };
        Report {
            diagnostic,
            source,
            labels,
        }
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

/// `message [code]`: miette prints the severity icon before it.
impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.diagnostic.message, self.diagnostic.code)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.clone().into_iter()))
    }
}

/// A file's text with its name, borrowed (miette's `NamedSource` wants to own it).
struct NamedText<'a> {
    name: String,
    text: &'a str,
}

impl SourceCode for NamedText<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let contents = self.text.read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(
            MietteSpanContents::new_named(
                self.name.clone(),
                contents.data(),
                *contents.span(),
                contents.line(),
                contents.column(),
                contents.line_count(),
            )
            .with_language("yaml"),
        ))
    }
}
