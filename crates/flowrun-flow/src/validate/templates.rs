//! Checks of one template string or bare expression, read once with minijinja's parser
//! (`flowrun_expr::analysis`): syntax, filters, tests and functions that do not exist, the
//! JSONPath of `jsonpath(value, "…")`, `select:` paths and `aggregate` expressions. What a
//! string reads (its references) comes out of the same reading; `refs.rs` decides which strings
//! of a flow are templates and which are expressions.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use flowrun_expr::CompileError;
use flowrun_expr::analysis::{
    Analysis, CallKind, Located, Reference, has_template_syntax, read_expression, read_template,
};

use crate::suggest::{did_you_mean, help_for_unknown};
use flowrun_expr::functions::known;

/// How a string is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Text with `{{ … }}` and `{% … %}`; a string without them is a literal.
    Template,
    /// The whole string is one expression (`if`, `filter`…); `{{ }}` around it is allowed.
    Expression,
}

/// A mistake in one string; `range` is a byte range in the string, `None` for all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub code: &'static str,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
    pub range: Option<Range<usize>>,
}

/// What reading one string found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Checked {
    /// Byte ranges in the string. Empty when the string does not parse.
    pub references: Vec<Located<Reference>>,
    pub problems: Vec<Problem>,
}

/// Reads one string of a flow: its references, or its syntax error; then the calls of names
/// that do not exist and the JSONPath constants it passes to `jsonpath`.
///
/// What a string holds depends only on its text and mode, and flows repeat the same strings
/// (`{{ item.id }}`, `{{ steps.x.output }}`, across steps and files), so each thread keeps
/// what it found for the short strings it read last ([`CACHE_ENTRIES`]).
pub(super) fn check_string(text: &str, mode: Mode) -> Checked {
    if mode == Mode::Template && !has_template_syntax(text) {
        return Checked::default();
    }
    if text.len() > CACHE_TEXT_LEN {
        return read_string(text, mode);
    }
    if let Some(checked) = CACHE.with_borrow(|cache| cache.get(mode, text).cloned()) {
        return checked;
    }
    let checked = read_string(text, mode);
    CACHE.with_borrow_mut(|cache| cache.insert(mode, text, checked.clone()));
    checked
}

/// Strings longer than this are read every time (rarely repeated, and the cache stays small).
const CACHE_TEXT_LEN: usize = 256;
/// Entries per mode and thread; a full cache is emptied and filled again.
const CACHE_ENTRIES: usize = 4096;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::default();
}

/// What [`check_string`] found, by mode and text.
#[derive(Default)]
struct Cache {
    template: HashMap<Box<str>, Checked>,
    expression: HashMap<Box<str>, Checked>,
}

impl Cache {
    fn of(&mut self, mode: Mode) -> &mut HashMap<Box<str>, Checked> {
        match mode {
            Mode::Template => &mut self.template,
            Mode::Expression => &mut self.expression,
        }
    }

    fn get(&self, mode: Mode, text: &str) -> Option<&Checked> {
        match mode {
            Mode::Template => self.template.get(text),
            Mode::Expression => self.expression.get(text),
        }
    }

    fn insert(&mut self, mode: Mode, text: &str, checked: Checked) {
        let map = self.of(mode);
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
        map.insert(text.into(), checked);
    }
}

fn read_string(text: &str, mode: Mode) -> Checked {
    let read = match mode {
        Mode::Template => read_template(text),
        Mode::Expression => read_expression(text),
    };
    match read {
        Ok(analysis) => checked(analysis),
        Err(error) => Checked {
            references: Vec::new(),
            problems: vec![syntax_problem(text, error, mode)],
        },
    }
}

fn checked(analysis: Analysis) -> Checked {
    let mut problems: Vec<Problem> = analysis
        .unknown_calls()
        .map(|(kind, name, error)| {
            let (code, label) = match kind {
                CallKind::Filter => ("unknown-filter", "no such filter"),
                CallKind::Test => ("unknown-test", "no such test"),
                CallKind::Function => ("unknown-function", "no such function"),
            };
            // The flow-wide did-you-mean (edit distance) also catches swapped letters: `nwo`.
            let help = match error.help {
                Some(help) if help.starts_with("did you mean") => Some(help),
                help => did_you_mean(name, known(kind).iter().copied())
                    .map(|close| format!("did you mean `{close}`?"))
                    .or(help),
            };
            Problem {
                code,
                message: error.message,
                label: label.into(),
                help,
                range: error.range,
            }
        })
        .collect();
    for found in &analysis.arguments {
        let argument = &found.value;
        if argument.name == "jsonpath" && argument.position == 1 {
            problems.extend(check_jsonpath(&argument.value).map(|problem| Problem {
                range: Some(within_literal(&found.range, &argument.value, problem.range)),
                ..problem
            }));
        }
    }
    Checked {
        references: analysis.references,
        problems,
    }
}

/// The range inside a string literal of `literal` (quotes included) of a range of its value:
/// exact when the literal has no escapes, else the whole literal. An empty range (the end of
/// the value) becomes the closing quote.
fn within_literal(literal: &Range<usize>, value: &str, inner: Option<Range<usize>>) -> Range<usize> {
    match inner {
        Some(inner) if literal.len() == value.len() + 2 => {
            let start = literal.start + 1 + inner.start;
            start..(literal.start + 1 + inner.end).max(start + 1)
        }
        _ => literal.clone(),
    }
}

/// A JSONPath (RFC 9535) that does not parse: `select:` and `jsonpath(value, "…")`.
pub(super) fn check_jsonpath(path: &str) -> Option<Problem> {
    let error = jsonpath_error(path)?;
    let range = error.range.filter(|range| path.get(range.clone()).is_some());
    Some(Problem {
        code: "invalid-jsonpath",
        message: error.message,
        label: "cannot be read from here".into(),
        help: error.help.or_else(|| {
            Some("JSONPath (RFC 9535): `$.d.results[*]`, `$[*].Lines[*]`, `$..id`, `$[?@.qty > 0]`".into())
        }),
        range,
    })
}

/// The one place the validator parses JSONPath: the engine's own compiler.
fn jsonpath_error(path: &str) -> Option<CompileError> {
    flowrun_expr::jsonpath::compile(path).err()
}

/// The statements a flow template may use (no `include`, `extends`, `import`, `macro`: a
/// template is one string).
const STATEMENTS: [&str; 19] = [
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "endfor",
    "set",
    "endset",
    "with",
    "endwith",
    "filter",
    "endfilter",
    "autoescape",
    "endautoescape",
    "raw",
    "endraw",
    "do",
    "break",
    "continue",
];

fn syntax_problem(text: &str, error: CompileError, mode: Mode) -> Problem {
    if let Some((at, open, close)) = unclosed_delimiter(text) {
        return Problem {
            code: "template-syntax",
            message: format!("template syntax: `{open}` is never closed by `{close}`"),
            label: "unclosed".into(),
            help: Some("close every `{{` with `}}`, every `{%` with `%}` and every `{#` with `#}`".into()),
            range: Some(at..at + open.len()),
        };
    }
    let help = match error.message.strip_prefix("unknown statement ") {
        Some(name) => help_for_unknown(name, STATEMENTS, "statements").map(|help| {
            if help.starts_with("did you mean") {
                help
            } else {
                "statements are `if`, `for`, `set`, `with`, `filter`, `raw`, `do`, `break` and `continue`; a flow template has no `include`, `extends`, `import` or `macro`".into()
            }
        }),
        None if mode == Mode::Expression => Some(
            "this key takes one bare expression, e.g. `item.qty > 0`; `{{ }}` may surround the whole of it, not parts".into(),
        ),
        None => Some("templates are minijinja (Jinja2): `{{ expression }}`, `{% if … %}…{% endif %}`, `{% for x in … %}…{% endfor %}`".into()),
    };
    let message = match error.message.strip_prefix("unknown statement ") {
        Some(name) => format!("template syntax: unknown statement `{name}`"),
        None => format!("template syntax: {}", error.message),
    };
    Problem {
        code: "template-syntax",
        message,
        label: "syntax error".into(),
        help,
        range: error.range.filter(|range| text.get(range.clone()).is_some()),
    }
}

/// The first `{{`, `{%` or `{#` that is never closed: its byte offset and both delimiters.
fn unclosed_delimiter(text: &str) -> Option<(usize, &'static str, &'static str)> {
    let mut at = 0;
    while let Some(open) = text[at..].find('{').map(|found| found + at) {
        let after = &text[open..];
        let (opening, close) = if after.starts_with("{{") {
            ("{{", "}}")
        } else if after.starts_with("{%") {
            ("{%", "%}")
        } else if after.starts_with("{#") {
            ("{#", "#}")
        } else {
            at = open + 1;
            continue;
        };
        match after[2..].find(close) {
            Some(end) => at = open + 2 + end + 2,
            None => return Some((open, opening, close)),
        }
    }
    None
}

/// The functions `aggregate` knows, and whether each takes an expression.
const AGGREGATES: [(&str, bool); 8] = [
    ("count", false),
    ("sum", true),
    ("min", true),
    ("max", true),
    ("avg", true),
    ("first", true),
    ("last", true),
    ("list", true),
];

/// An `aggregate` expression: `count()`, or `sum(e)`, `min(e)`… with `e` an expression over
/// `item`, which is read like any bare expression.
pub(super) fn check_aggregate(text: &str) -> Checked {
    match aggregate_argument(text) {
        Err((message, help)) => Checked {
            references: Vec::new(),
            problems: vec![Problem {
                code: "invalid-aggregate",
                message,
                label: "not an aggregate".into(),
                help,
                range: None,
            }],
        },
        Ok(None) => Checked::default(),
        Ok(Some(range)) => {
            let shift = |found: Range<usize>| found.start + range.start..found.end + range.start;
            let mut checked = check_string(&text[range.clone()], Mode::Expression);
            for found in &mut checked.references {
                found.range = shift(found.range.clone());
            }
            for problem in &mut checked.problems {
                problem.range = problem.range.clone().map(shift);
            }
            checked
        }
    }
}

/// The byte range of `e` in `sum(e)` (`None` for `count()`). Err holds the message and help.
fn aggregate_argument(text: &str) -> Result<Option<Range<usize>>, (String, Option<String>)> {
    let body = text.trim();
    let body = body.strip_prefix("{{").unwrap_or(body);
    let body = body.strip_suffix("}}").unwrap_or(body).trim();
    let names = AGGREGATES.iter().map(|(name, _)| *name);
    let Some((name, argument)) = body.split_once('(').filter(|_| body.ends_with(')')) else {
        return Err((
            format!("`{text}` is not an aggregate: write `count()` or `sum(item.qty)`"),
            Some(format!(
                "aggregates: {}",
                AGGREGATES.map(|(name, _)| format!("`{name}`")).join(", ")
            )),
        ));
    };
    let name = name.trim();
    let argument = &argument[..argument.len() - 1];
    let trimmed = argument.trim();
    match AGGREGATES.iter().find(|(known, _)| *known == name) {
        None => Err((
            format!("unknown aggregate function `{name}`"),
            help_for_unknown(name, names, "aggregates"),
        )),
        Some((_, true)) if trimmed.is_empty() => Err((
            format!("`{name}()` needs an expression over `item`, e.g. `{name}(item.qty)`"),
            None,
        )),
        Some((_, false)) if !trimmed.is_empty() => Err((
            format!("`count()` takes no expression, found `{trimmed}`"),
            Some("write `count()`".into()),
        )),
        Some((_, false)) => Ok(None),
        Some((_, true)) => {
            // `argument` is a slice of `text`: its offset is where it starts.
            let start = argument.as_ptr() as usize - text.as_ptr() as usize;
            Ok(Some(start..start + argument.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(checked: &Checked) -> Vec<&'static str> {
        checked.problems.iter().map(|problem| problem.code).collect()
    }

    #[test]
    fn delimiters() {
        assert_eq!(unclosed_delimiter("a {{ b }} c {% if x %}y{% endif %}"), None);
        assert_eq!(unclosed_delimiter("{{ steps.a.output }"), Some((0, "{{", "}}")));
        assert_eq!(unclosed_delimiter("x {{ a }} {% if"), Some((10, "{%", "%}")));
        assert_eq!(unclosed_delimiter("{ not a template }"), None);
    }

    #[test]
    fn syntax_and_unknown_names() {
        assert!(check_string("no template here {", Mode::Template).problems.is_empty());
        let text = "{{ steps.a.output }";
        let checked = check_string(text, Mode::Template);
        assert_eq!(codes(&checked), ["template-syntax"]);
        assert!(
            checked.references.is_empty(),
            "no references from a template that does not parse"
        );
        assert_eq!(checked.problems[0].range, Some(0..2));
        let checked = check_string("{% iff x %}{% endif %}", Mode::Template);
        assert_eq!(checked.problems[0].help.as_deref(), Some("did you mean `if`?"));
        let checked = check_string("{{ x | lenght }} {{ y is strin }}", Mode::Template);
        assert_eq!(codes(&checked), ["unknown-filter", "unknown-test"]);
        assert_eq!(checked.references.len(), 2, "references are still read");
        assert_eq!(
            codes(&check_string("{{ a }} and {{ b }}", Mode::Expression)),
            ["template-syntax"]
        );
    }

    #[test]
    fn a_string_read_again_finds_the_same() {
        let long = format!("{{{{ steps.a.output }}}}{}", " ".repeat(CACHE_TEXT_LEN));
        let strings = [
            ("{{ steps.a.output | lenght }}", Mode::Template),
            ("{{ steps.a.output }", Mode::Template),
            ("{{ steps.a.output }", Mode::Expression),
            ("item.qty > 0", Mode::Expression),
            ("item.qty > 0", Mode::Template),
            ("{{ jsonpath(item, '$.d[') }}", Mode::Template),
            (long.as_str(), Mode::Template),
        ];
        for (text, mode) in strings {
            let first = check_string(text, mode);
            assert_eq!(first, read_string(text, mode), "{text:?} as {mode:?}");
            assert_eq!(check_string(text, mode), first, "{text:?} as {mode:?}, again");
        }
        // The two modes of one string are kept apart.
        assert!(check_string("{{ a }} and {{ b }}", Mode::Template).problems.is_empty());
        assert_eq!(
            codes(&check_string("{{ a }} and {{ b }}", Mode::Expression)),
            ["template-syntax"]
        );
    }

    #[test]
    fn the_cache_stays_small() {
        for n in 0..CACHE_ENTRIES + 10 {
            check_string(&format!("item.field_{n}"), Mode::Expression);
        }
        let size = CACHE.with_borrow_mut(|cache| cache.of(Mode::Expression).len());
        assert!(size <= CACHE_ENTRIES, "{size} entries");
        assert_eq!(
            check_string("item.field_0", Mode::Expression),
            read_string("item.field_0", Mode::Expression)
        );
    }

    #[test]
    fn jsonpath_constants() {
        let text = "{{ jsonpath(steps.a.output, '$.d[') }}";
        let checked = check_string(text, Mode::Template);
        let problem = checked
            .problems
            .iter()
            .find(|problem| problem.code == "invalid-jsonpath");
        let range = problem.and_then(|problem| problem.range.clone()).unwrap();
        assert_eq!(&text[range], "[");
        assert!(check_jsonpath("$[*].Lines[*]").is_none());
        assert!(check_jsonpath("Lines").is_some());
    }

    #[test]
    fn aggregates() {
        assert!(check_aggregate("sum(item.qty)").problems.is_empty());
        assert!(check_aggregate("{{ count() }}").problems.is_empty());
        let checked = check_aggregate("summ(item.qty)");
        assert_eq!(checked.problems[0].help.as_deref(), Some("did you mean `sum`?"));
        assert_eq!(codes(&check_aggregate("count(item)")), ["invalid-aggregate"]);
        assert_eq!(codes(&check_aggregate("avg()")), ["invalid-aggregate"]);
        assert_eq!(codes(&check_aggregate("item.qty")), ["invalid-aggregate"]);
        let text = "sum(item.qty +)";
        let checked = check_aggregate(text);
        assert_eq!(codes(&checked), ["template-syntax"]);
        let text = "{{ max(item.a | lenght) }}";
        let checked = check_aggregate(text);
        assert_eq!(codes(&checked), ["unknown-filter"]);
        let text = "min(itme.a)";
        let checked = check_aggregate(text);
        assert_eq!(&text[checked.references[0].range.clone()], "itme");
    }
}
