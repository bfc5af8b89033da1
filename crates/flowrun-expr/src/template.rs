//! One string of a flow, compiled once: a literal, a typed `{{ expr }}`, or a text template;
//! and bare expressions (`if`, `filter`, `sort.by`…).

use std::fmt;
use std::sync::Arc;

use crate::Value;
use crate::analysis;
use crate::environment::environment;
use crate::error::{CompileError, EvalError};
use crate::fast_path::FastPath;
use crate::scope::Scope;

/// A compiled string value of a flow.
pub struct Template {
    source: Arc<str>,
    kind: Kind,
    reads_secrets: bool,
}

enum Kind {
    /// No `{{`, `{%` or `{#`: the string as written.
    Literal(Value),
    /// Exactly one `{{ expr }}` and nothing around it: the expression's value, typed. The
    /// string is the expression without its delimiters (error positions refer to it).
    Typed(minijinja::Expression<'static, 'static>, Arc<str>, Option<FastPath>),
    /// Anything else: rendered to a string.
    Text(minijinja::Template<'static, 'static>),
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl Template {
    /// Compiles one string of a flow. Syntax errors, unknown filters, tests and functions are
    /// compile errors, with the byte range of the mistake.
    pub fn compile(source: &str) -> Result<Template, CompileError> {
        if !analysis::has_template_syntax(source) {
            return Ok(Template {
                source: Arc::from(source),
                kind: Kind::Literal(Value::from(source)),
                reads_secrets: false,
            });
        }
        let analysed = analysis::analyse_template(source)?;
        let kind = match analysis::single_expression(source) {
            Some(inner) if analysed.is_single_expression => {
                Kind::Typed(compile_expression(inner)?, Arc::from(inner), FastPath::parse(inner))
            }
            _ => Kind::Text(
                environment()
                    .get_template(source)
                    .map_err(|error| CompileError::from_minijinja(&error, source))?,
            ),
        };
        Ok(Template {
            source: Arc::from(source),
            kind,
            reads_secrets: analysed.reads_secrets(),
        })
    }

    /// The string as written in the flow.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the template reads `secrets`: what it renders is marked secret.
    pub fn reads_secrets(&self) -> bool {
        self.reads_secrets
    }

    /// True for a string with no template syntax.
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, Kind::Literal(_))
    }

    /// The template's value: typed for a lone `{{ expr }}`, a string otherwise. An undefined
    /// result is an error naming the expression.
    pub fn eval(&self, scope: &Scope) -> Result<Value, EvalError> {
        let value = self.eval_or_undefined(scope)?;
        if value.is_undefined() {
            return Err(undefined_result(&self.source));
        }
        Ok(value)
    }

    /// As [`eval`](Self::eval), but a lone `{{ expr }}` whose value is undefined gives the
    /// undefined value: for callers to whom "nothing" is an answer (`incremental.cursor` over
    /// an empty read: `max` of no rows).
    pub fn eval_or_undefined(&self, scope: &Scope) -> Result<Value, EvalError> {
        match &self.kind {
            Kind::Literal(value) => Ok(value.clone()),
            Kind::Typed(expression, inner, fast_path) => match fast_path {
                Some(path) => path.eval(scope, inner),
                None => expression
                    .eval(scope.to_value())
                    .map_err(|error| EvalError::from_minijinja(&error, inner)),
            },
            Kind::Text(template) => template
                .render(scope.to_value())
                .map(Value::from)
                .map_err(|error| EvalError::from_minijinja(&error, &self.source)),
        }
    }

    /// The template's value as JSON; an undefined value anywhere in it is an error.
    pub fn eval_json(&self, scope: &Scope) -> Result<serde_json::Value, EvalError> {
        let value = self.eval(scope)?;
        crate::to_json(&value).map_err(|error| in_source(error, &self.source))
    }
}

/// A bare expression: `item.Quantity > 0`, `item.email1`, `sum(item.qty)`. `{{ }}` around it
/// is allowed.
pub struct Expression {
    source: Arc<str>,
    /// The expression without `{{ }}` (error positions refer to it).
    inner: Arc<str>,
    compiled: minijinja::Expression<'static, 'static>,
    /// Set when the expression is a plain path: evaluated without the VM.
    fast_path: Option<FastPath>,
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

impl Expression {
    /// Compiles a bare expression, checking its syntax and the filters, tests and functions
    /// it names.
    pub fn compile(source: &str) -> Result<Expression, CompileError> {
        let inner = analysis::single_expression(source).unwrap_or(source);
        analysis::analyse_expression(inner)?;
        Ok(Expression {
            source: Arc::from(source),
            inner: Arc::from(inner),
            compiled: compile_expression(inner)?,
            fast_path: FastPath::parse(inner),
        })
    }

    /// The expression as written in the flow.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The expression's value; undefined stays undefined (for `default` and tests).
    pub fn eval(&self, scope: &Scope) -> Result<Value, EvalError> {
        if let Some(path) = &self.fast_path {
            return path.eval(scope, &self.inner);
        }
        self.compiled
            .eval(scope.to_value())
            .map_err(|error| EvalError::from_minijinja(&error, &self.inner))
    }

    /// The expression as a condition: undefined is false (`filter: "item.email1"` drops the
    /// records without one). A lookup on an undefined value is still an error.
    pub fn is_true(&self, scope: &Scope) -> Result<bool, EvalError> {
        Ok(self.eval(scope)?.is_true())
    }

    /// The expression's value, which must be defined (sort, dedupe and group keys).
    pub fn eval_defined(&self, scope: &Scope) -> Result<Value, EvalError> {
        let value = self.eval(scope)?;
        if value.is_undefined() {
            return Err(undefined_result(&self.source));
        }
        Ok(value)
    }
}

fn compile_expression(inner: &str) -> Result<minijinja::Expression<'static, 'static>, CompileError> {
    environment()
        .compile_expression_owned(inner.to_owned())
        .map_err(|error| CompileError::from_minijinja(&error, inner))
}

fn undefined_result(source: &str) -> EvalError {
    let inner = analysis::single_expression(source).unwrap_or(source).trim();
    EvalError::new(format!(
        "`{inner}` is undefined: the data has no such value (use `{inner} | default(...)` for a fallback, or `{inner} is defined` to test)"
    ))
}

fn in_source(error: EvalError, source: &str) -> EvalError {
    EvalError::new(format!("{} (in `{}`)", error.message, source.trim()))
}

// Compiled templates are shared by the tasks of a run.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
    assert_send_sync::<Expression>();
};
