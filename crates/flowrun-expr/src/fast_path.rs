//! Plain paths (`item.customer.email`, `item['Order No']`, `steps.a.output[0]`) evaluated
//! without the template VM.
//!
//! Most expressions of a pipeline are such paths (`sort`, `dedupe`, `group_by` keys, `map`
//! fields), and they run once per item, so they skip the VM's setup. The result is exactly what
//! the VM gives: a missing key is undefined, a lookup on an undefined value is an error.

use minijinja::machinery::ast::Expr;
use minijinja::machinery::parse_expr;

use crate::Value;
use crate::error::EvalError;
use crate::scope::Scope;

/// A root name and the constant keys or indexes read after it.
#[derive(Debug, Clone)]
pub(crate) struct FastPath {
    root: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    /// `.name`
    Attr(String),
    /// `[constant]`
    Item(Value),
}

impl FastPath {
    /// The path an expression is, or `None` for anything else (calls, filters, operators…).
    pub(crate) fn parse(expression: &str) -> Option<FastPath> {
        let expr = parse_expr(expression).ok()?;
        let mut segments = Vec::new();
        let mut at = &expr;
        let root = loop {
            match at {
                Expr::Var(var) => break var.id.to_owned(),
                Expr::GetAttr(attr) => {
                    segments.push(Segment::Attr(attr.name.to_owned()));
                    at = &attr.expr;
                }
                Expr::GetItem(item) => match &item.subscript_expr {
                    Expr::Const(constant) => {
                        segments.push(Segment::Item(constant.value.clone()));
                        at = &item.expr;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        };
        // `none`, `true`, `false` are constants, and `loop`/`self` are special: not paths.
        // Functions of the environment are values the VM finds, not the scope.
        let special = matches!(
            root.as_str(),
            "none" | "None" | "true" | "True" | "false" | "False" | "loop" | "self"
        );
        if special || crate::functions::is_global(&root) {
            return None;
        }
        segments.reverse();
        Some(FastPath { root, segments })
    }

    /// The value at the path; `source` names the expression in errors.
    pub(crate) fn eval(&self, scope: &Scope, source: &str) -> Result<Value, EvalError> {
        let mut value = scope.get(&self.root).unwrap_or(Value::UNDEFINED);
        for (index, segment) in self.segments.iter().enumerate() {
            if value.is_undefined() {
                return Err(self.undefined_parent(index, source));
            }
            value = match segment {
                Segment::Attr(name) => value.get_attr(name),
                Segment::Item(key) => value.get_item(key),
            }
            .map_err(|_| self.undefined_parent(index, source))?;
        }
        Ok(value)
    }

    fn undefined_parent(&self, index: usize, source: &str) -> EvalError {
        let parent = self.render(index);
        EvalError::new(format!(
            "cannot read `{}`: `{parent}` is undefined (in `{}`); test it first with `{parent} is defined`",
            self.render(index + 1),
            source.trim()
        ))
    }

    /// The path up to (not including) segment `end`, as written.
    fn render(&self, end: usize) -> String {
        let mut text = self.root.clone();
        for segment in &self.segments[..end.min(self.segments.len())] {
            match segment {
                Segment::Attr(name) => {
                    text.push('.');
                    text.push_str(name);
                }
                Segment::Item(key) => match key.as_str() {
                    Some(name) => text.push_str(&format!("['{name}']")),
                    None => text.push_str(&format!("[{key}]")),
                },
            }
        }
        text
    }
}
