//! What a template reads and calls, found by walking minijinja's syntax tree, without
//! evaluating anything: the planner derives step dependencies from it, the validator checks
//! names, filters and functions with it, and compilation rejects unknown filters early (the
//! engine would only notice them when the template runs).

use std::ops::Range;

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};
use minijinja::machinery::{Span, parse, parse_expr};

use crate::error::{CompileError, shift};
use crate::functions;

/// One name a template reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    /// `steps.<id>` and the attribute read after it (`output`, `status`, `error`), if any.
    Step {
        id: String,
        field: Option<String>,
    },
    Input(String),
    Secret(String),
    Env(String),
    /// `item`, `index`, `cursor`, `output`, `error`, `trigger`, `run`, `flow`, or `steps`,
    /// `inputs`, `secrets`, `env` read whole (without a constant name after them).
    Context(&'static str),
    /// A root name the template context never has (a typo, or a variable of another tool).
    Unknown(String),
}

/// The root names of the template context (flow-spec "Templates and expressions").
pub const CONTEXT_NAMES: [&str; 12] = [
    "steps", "inputs", "secrets", "env", "item", "index", "cursor", "output", "error", "trigger", "run", "flow",
];

/// What a filter, test or function call names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    Filter,
    Test,
    Function,
}

impl CallKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Filter => "filter",
            CallKind::Test => "test",
            CallKind::Function => "function",
        }
    }
}

/// A reference or call with the byte range where it is written in the analysed source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub range: Range<usize>,
}

/// A string constant given to a filter, test or function: `jsonpath(x, "$.a[*]")`, whose
/// content can be checked before the template runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstantArgument {
    pub kind: CallKind,
    /// The filter, test or function called.
    pub name: String,
    /// The argument's place counting the value a filter or test is applied to as 0:
    /// `jsonpath(x, "$.a")` and `x | jsonpath("$.a")` both give the path at 1.
    pub position: usize,
    /// The string's value (escapes resolved).
    pub value: String,
}

/// The result of reading a template or expression.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub references: Vec<Located<Reference>>,
    pub calls: Vec<Located<(CallKind, String)>>,
    /// The constant string arguments of positional arguments of calls the environment knows
    /// by name (not of methods of values), with the range of the string literal (quotes
    /// included).
    pub arguments: Vec<Located<ConstantArgument>>,
    /// True for a string that is exactly one `{{ expr }}`: it evaluates to a typed value.
    pub is_single_expression: bool,
}

impl Analysis {
    pub fn reads_secrets(&self) -> bool {
        self.references
            .iter()
            .any(|found| matches!(&found.value, Reference::Secret(_) | Reference::Context("secrets")))
    }

    /// The first call of a filter, test or function that does not exist, as a compile error
    /// with a did-you-mean.
    pub fn unknown_call(&self) -> Option<CompileError> {
        self.unknown_calls().next().map(|(_, _, error)| error)
    }

    /// Every call of a filter, test or function that does not exist, with its kind and name,
    /// as a compile error with a did-you-mean.
    pub fn unknown_calls(&self) -> impl Iterator<Item = (CallKind, &str, CompileError)> + '_ {
        self.calls.iter().filter_map(|call| {
            let (kind, name) = &call.value;
            let known = functions::known(*kind);
            (!known.contains(&name.as_str())).then(|| {
                let error = CompileError {
                    message: format!("unknown {} `{name}`", kind.as_str()),
                    range: Some(call.range.clone()),
                    help: Some(match did_you_mean(name, known) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("see docs/expressions.md for the {}s flowrun knows", kind.as_str()),
                    }),
                };
                (*kind, name.as_str(), error)
            })
        })
    }
}

/// True when the text holds `{{`, `{%` or `{#`: anything else is a literal string.
pub fn has_template_syntax(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// The expression inside a string that is exactly `{{ expr }}` (with optional `-` whitespace
/// control), or `None`. Only the delimiters are checked; parsing decides the rest.
pub fn single_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    Some(inner)
}

/// Reads a template string (text with `{{ }}` and `{% %}`). Syntax errors, unknown filters,
/// tests and functions, and unsupported statements are errors; ranges are byte offsets in
/// `source`.
pub fn analyse_template(source: &str) -> Result<Analysis, CompileError> {
    let analysis = read_template(source)?;
    analysis.unknown_call().map_or(Ok(analysis), Err)
}

/// As [`analyse_template`], but only syntax errors are errors: calls of unknown filters,
/// tests and functions are left in [`Analysis::calls`] (see [`Analysis::unknown_calls`]), so
/// a validator reports them and still reads the template's references.
pub fn read_template(source: &str) -> Result<Analysis, CompileError> {
    let syntax = crate::environment().syntax().clone();
    let tree = parse(source, "<template>", syntax).map_err(|error| CompileError::from_minijinja(&error, source))?;
    let mut walker = Walker::default();
    let children: &[Stmt<'_>] = match &tree {
        Stmt::Template(template) => &template.children,
        _ => &[],
    };
    walker.stmts(children)?;
    let mut analysis = walker.finish();
    analysis.is_single_expression = matches!(children, [Stmt::EmitExpr(_)]) && single_expression(source).is_some();
    Ok(analysis)
}

/// Reads a bare expression; `{{ }}` around it is allowed. Ranges are byte offsets in `source`.
pub fn analyse_expression(source: &str) -> Result<Analysis, CompileError> {
    let analysis = read_expression(source)?;
    analysis.unknown_call().map_or(Ok(analysis), Err)
}

/// As [`analyse_expression`], but only syntax errors are errors (see [`read_template`]).
pub fn read_expression(source: &str) -> Result<Analysis, CompileError> {
    let (inner, offset) = match single_expression(source) {
        Some(inner) => (inner, inner.as_ptr() as usize - source.as_ptr() as usize),
        None => (source, 0),
    };
    let expr = parse_expr(inner).map_err(|error| {
        let mut error = CompileError::from_minijinja(&error, inner);
        error.range = error.range.map(|range| shift(range, offset));
        error
    })?;
    let mut walker = Walker::default();
    walker.expr(&expr);
    let mut analysis = walker.finish();
    for found in &mut analysis.references {
        found.range = shift(found.range.clone(), offset);
    }
    for found in &mut analysis.calls {
        found.range = shift(found.range.clone(), offset);
    }
    for found in &mut analysis.arguments {
        found.range = shift(found.range.clone(), offset);
    }
    analysis.is_single_expression = true;
    Ok(analysis)
}

fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), *candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

fn range_of(span: Span) -> Range<usize> {
    span.start_offset as usize..span.end_offset as usize
}

/// Walks statements and expressions, keeping the names bound by `for`, `set` and `with` so
/// they are not taken for context names.
#[derive(Default)]
struct Walker {
    locals: Vec<String>,
    references: Vec<Located<Reference>>,
    calls: Vec<Located<(CallKind, String)>>,
    arguments: Vec<Located<ConstantArgument>>,
}

impl Walker {
    fn finish(self) -> Analysis {
        Analysis {
            references: self.references,
            calls: self.calls,
            arguments: self.arguments,
            is_single_expression: false,
        }
    }

    fn stmts(&mut self, stmts: &[Stmt<'_>]) -> Result<(), CompileError> {
        for stmt in stmts {
            self.stmt(stmt)?;
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &Stmt<'_>) -> Result<(), CompileError> {
        match stmt {
            Stmt::Template(template) => self.stmts(&template.children)?,
            Stmt::EmitExpr(emit) => self.expr(&emit.expr),
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(for_loop) => {
                self.expr(&for_loop.iter);
                let mark = self.locals.len();
                self.bind(&for_loop.target);
                self.locals.push("loop".into());
                if let Some(filter) = &for_loop.filter_expr {
                    self.expr(filter);
                }
                self.stmts(&for_loop.body)?;
                self.locals.truncate(mark);
                self.stmts(&for_loop.else_body)?;
            }
            Stmt::IfCond(cond) => {
                self.expr(&cond.expr);
                self.stmts(&cond.true_body)?;
                self.stmts(&cond.false_body)?;
            }
            Stmt::WithBlock(with) => {
                let mark = self.locals.len();
                for (target, value) in &with.assignments {
                    self.expr(value);
                    self.bind(target);
                }
                self.stmts(&with.body)?;
                self.locals.truncate(mark);
            }
            // `set` binds until the end of the template (or loop body): kept bound.
            Stmt::Set(set) => {
                self.expr(&set.expr);
                self.bind(&set.target);
            }
            Stmt::SetBlock(set) => {
                if let Some(filter) = &set.filter {
                    self.expr(filter);
                }
                self.stmts(&set.body)?;
                self.bind(&set.target);
            }
            Stmt::AutoEscape(block) => {
                self.expr(&block.enabled);
                self.stmts(&block.body)?;
            }
            Stmt::FilterBlock(block) => {
                self.expr(&block.filter);
                self.stmts(&block.body)?;
            }
            Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::Do(stmt) => self.call(&stmt.call.expr, &stmt.call.args, stmt.call.span()),
        }
        Ok(())
    }

    fn bind(&mut self, target: &Expr<'_>) {
        match target {
            Expr::Var(var) => self.locals.push(var.id.to_owned()),
            Expr::List(list) => list.items.iter().for_each(|item| self.bind(item)),
            Expr::Tuple(tuple) => tuple.items.iter().for_each(|item| self.bind(item)),
            _ => {}
        }
    }

    fn is_local(&self, name: &str) -> bool {
        self.locals.iter().any(|local| local == name)
    }

    fn expr(&mut self, expr: &Expr<'_>) {
        match expr {
            Expr::Var(_) | Expr::GetAttr(_) | Expr::GetItem(_) if self.path(expr) => {}
            Expr::Var(_) => {}
            Expr::Const(_) => {}
            Expr::Slice(slice) => {
                self.expr(&slice.expr);
                for part in [&slice.start, &slice.stop, &slice.step].into_iter().flatten() {
                    self.expr(part);
                }
            }
            Expr::UnaryOp(op) => self.expr(&op.expr),
            Expr::BinOp(op) => {
                self.expr(&op.left);
                self.expr(&op.right);
            }
            Expr::Compare(compare) => {
                self.expr(&compare.expr);
                for op in &compare.ops {
                    self.expr(&op.expr);
                }
            }
            Expr::IfExpr(if_expr) => {
                self.expr(&if_expr.test_expr);
                self.expr(&if_expr.true_expr);
                if let Some(false_expr) = &if_expr.false_expr {
                    self.expr(false_expr);
                }
            }
            Expr::Filter(filter) => {
                if let Some(inner) = &filter.expr {
                    self.expr(inner);
                }
                self.name_call(CallKind::Filter, filter.name, filter.span());
                self.constant_arguments(CallKind::Filter, filter.name, 1, &filter.args);
                self.args(&filter.args);
            }
            Expr::Test(test) => {
                self.expr(&test.expr);
                self.name_call(CallKind::Test, test.name, test.span());
                self.constant_arguments(CallKind::Test, test.name, 1, &test.args);
                self.args(&test.args);
            }
            Expr::GetAttr(attr) => self.expr(&attr.expr),
            Expr::GetItem(item) => {
                self.expr(&item.expr);
                self.expr(&item.subscript_expr);
            }
            Expr::Call(call) => self.call(&call.expr, &call.args, call.span()),
            Expr::List(list) => list.items.iter().for_each(|item| self.expr(item)),
            Expr::Tuple(tuple) => tuple.items.iter().for_each(|item| self.expr(item)),
            Expr::Map(map) => {
                for (key, value) in map.keys.iter().zip(&map.values) {
                    self.expr(key);
                    self.expr(value);
                }
            }
        }
    }

    fn args(&mut self, args: &[CallArg<'_>]) {
        for arg in args {
            match arg {
                CallArg::Pos(expr) | CallArg::Kwarg(_, expr) | CallArg::PosSplat(expr) | CallArg::KwargSplat(expr) => {
                    self.expr(expr)
                }
            }
        }
    }

    fn call(&mut self, callee: &Expr<'_>, args: &[CallArg<'_>], span: Span) {
        match callee {
            // `now()`, `jsonpath(x, "$..")`: a function of the environment, unless a local
            // of the same name is being called.
            Expr::Var(var) if !self.is_local(var.id) => {
                self.name_call(CallKind::Function, var.id, span);
                self.constant_arguments(CallKind::Function, var.id, 0, args);
            }
            // `x.items()`, `"a,b".split(",")`: methods of values, checked when they run.
            Expr::GetAttr(attr) => self.expr(&attr.expr),
            other => self.expr(other),
        }
        self.args(args);
    }

    /// Records the string constants among positional arguments; `first` is the position of
    /// the first argument in parentheses (1 for filters and tests, after the value).
    fn constant_arguments(&mut self, kind: CallKind, name: &str, first: usize, args: &[CallArg<'_>]) {
        for (at, arg) in args.iter().enumerate() {
            if let CallArg::Pos(Expr::Const(constant)) = arg
                && let Some(value) = constant.value.as_str()
            {
                self.arguments.push(Located {
                    value: ConstantArgument {
                        kind,
                        name: name.to_owned(),
                        position: first + at,
                        value: value.to_owned(),
                    },
                    range: range_of(constant.span()),
                });
            }
        }
    }

    fn name_call(&mut self, kind: CallKind, name: &str, span: Span) {
        self.calls.push(Located {
            value: (kind, name.to_owned()),
            range: range_of(span),
        });
    }

    /// Records a path rooted at a context name (`steps.a.output.x`, `inputs['since']`).
    /// Returns false when the expression is not such a path, so the caller walks it.
    fn path(&mut self, expr: &Expr<'_>) -> bool {
        let mut chain: Vec<Option<&str>> = Vec::new();
        let mut at = expr;
        let root = loop {
            match at {
                Expr::Var(var) => break var,
                Expr::GetAttr(attr) => {
                    chain.push(Some(attr.name));
                    at = &attr.expr;
                }
                Expr::GetItem(item) => {
                    let name = match &item.subscript_expr {
                        Expr::Const(constant) => constant.value.as_str(),
                        other => {
                            // A computed subscript: its own names are references too.
                            self.expr(other);
                            None
                        }
                    };
                    chain.push(name);
                    at = &item.expr;
                }
                _ => return false,
            }
        };
        if self.is_local(root.id) {
            return true;
        }
        chain.reverse();
        let member = chain.first().copied().flatten().map(str::to_owned);
        let reference = match (root.id, member) {
            ("steps", Some(id)) => Reference::Step {
                id,
                field: chain.get(1).copied().flatten().map(str::to_owned),
            },
            ("inputs", Some(name)) => Reference::Input(name),
            ("secrets", Some(name)) => Reference::Secret(name),
            ("env", Some(name)) => Reference::Env(name),
            (name, _) => match CONTEXT_NAMES.iter().find(|known| **known == name) {
                Some(known) => Reference::Context(known),
                None if functions::is_global(name) => return true,
                None => Reference::Unknown(name.to_owned()),
            },
        };
        // Only the root, the member and the step field are part of the reference's range.
        let range = reference_range(expr, root, &chain);
        self.references.push(Located {
            value: reference,
            range,
        });
        true
    }
}

fn path_span(expr: &Expr<'_>) -> Span {
    match expr {
        Expr::Var(var) => var.span(),
        Expr::GetAttr(attr) => attr.span(),
        Expr::GetItem(item) => item.span(),
        other => other.span(),
    }
}

/// The range of `steps.a.output` in `steps.a.output.records[0]`: the part a diagnostic points
/// at (root, member and, for steps, the field).
fn reference_range(expr: &Expr<'_>, root: &ast::Spanned<ast::Var<'_>>, chain: &[Option<&str>]) -> Range<usize> {
    let keep = match root.id {
        "steps" => 2,
        "inputs" | "secrets" | "env" => 1,
        _ => 0,
    }
    .min(chain.len());
    // Walk down from the outermost node to the node that has `keep` members after the root.
    let mut depth = chain.len();
    let mut at = expr;
    while depth > keep {
        at = match at {
            Expr::GetAttr(attr) => &attr.expr,
            Expr::GetItem(item) => &item.expr,
            _ => break,
        };
        depth -= 1;
    }
    range_of(root.span()).start..range_of(path_span(at)).end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_arguments_of_functions_and_filters() {
        let source = "{{ jsonpath(item, '$.a[') }}{{ x | replace('a', y) }}{{ v.get('k') }}";
        let analysis = read_template(source).unwrap();
        let found: Vec<(&str, usize, &str, &str)> = analysis
            .arguments
            .iter()
            .map(|found| {
                let argument = &found.value;
                (
                    argument.name.as_str(),
                    argument.position,
                    argument.value.as_str(),
                    &source[found.range.clone()],
                )
            })
            .collect();
        assert_eq!(found, [("jsonpath", 1, "$.a[", "'$.a['"), ("replace", 1, "a", "'a'")]);
    }

    #[test]
    fn reading_keeps_references_of_templates_calling_unknown_names() {
        let analysis = read_template("{{ steps.a.output | lenght }}").unwrap();
        assert_eq!(analysis.references.len(), 1);
        let unknown: Vec<String> = analysis.unknown_calls().map(|(_, _, error)| error.message).collect();
        assert_eq!(unknown, ["unknown filter `lenght`"]);
        assert!(analyse_template("{{ steps.a.output | lenght }}").is_err());
        let shifted = read_expression("{{ jsonpath(item, '$') }}").unwrap();
        assert_eq!(shifted.arguments[0].range, 18..21);
    }
}
