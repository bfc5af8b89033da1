//! A fast path for the expressions pipelines use most: lookups on `item` (`item.a.b`,
//! `item["a b"]`), constants, comparisons, `and`/`or`/`not` and `is defined`.
//!
//! It evaluates without building an item scope or running minijinja's machine. It is exact
//! by construction: it gives a value only where minijinja would give the same one (both
//! operands of a comparison defined scalars, lookups on objects), and otherwise answers
//! `None`, so the caller evaluates the compiled expression, which also words any error.

use flowrun_expr::Value;
use minijinja::machinery::ast;
use minijinja::value::ValueKind;

#[derive(Debug)]
pub(crate) enum Fast {
    Item,
    Index,
    Const(Value),
    /// `base.name` or `base["name"]`.
    Field(Box<Fast>, String),
    Compare(Compare, Box<Fast>, Box<Fast>),
    And(Box<Fast>, Box<Fast>),
    Or(Box<Fast>, Box<Fast>),
    Not(Box<Fast>),
    /// `x is defined` (false) or `x is undefined` (true).
    IsUndefined(Box<Fast>, bool),
    /// `x is none`.
    IsNone(Box<Fast>),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Compare {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Fast {
    /// The fast form of an expression (without `{{ }}`), when it has one.
    pub(crate) fn compile(source: &str) -> Option<Fast> {
        let expr = minijinja::machinery::parse_expr(source).ok()?;
        from_ast(&expr)
    }

    /// The expression's value for this item, or `None` to evaluate it the full way.
    pub(crate) fn eval(&self, item: &Value, index: usize) -> Option<Value> {
        Some(match self {
            Fast::Item => item.clone(),
            Fast::Index => Value::from(index),
            Fast::Const(value) => value.clone(),
            Fast::Field(base, name) => {
                let base = base.eval(item, index)?;
                if base.kind() != ValueKind::Map {
                    return None;
                }
                super::item::lookup(&base, name)?
            }
            Fast::Compare(op, left, right) => {
                let left = scalar(left.eval(item, index)?)?;
                let right = scalar(right.eval(item, index)?)?;
                Value::from(match op {
                    Compare::Eq => left == right,
                    Compare::Ne => left != right,
                    Compare::Lt => left < right,
                    Compare::Lte => left <= right,
                    Compare::Gt => left > right,
                    Compare::Gte => left >= right,
                })
            }
            Fast::And(left, right) => {
                let left = defined(left.eval(item, index)?)?;
                if left.is_true() { right.eval(item, index)? } else { left }
            }
            Fast::Or(left, right) => {
                let left = defined(left.eval(item, index)?)?;
                if left.is_true() { left } else { right.eval(item, index)? }
            }
            Fast::Not(inner) => Value::from(!defined(inner.eval(item, index)?)?.is_true()),
            Fast::IsUndefined(inner, undefined) => Value::from(inner.eval(item, index)?.is_undefined() == *undefined),
            Fast::IsNone(inner) => Value::from(defined(inner.eval(item, index)?)?.is_none()),
        })
    }
}

/// A defined value that is not a list or an object (minijinja charges fuel to compare those).
fn scalar(value: Value) -> Option<Value> {
    matches!(
        value.kind(),
        ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::String
    )
    .then_some(value)
}

fn defined(value: Value) -> Option<Value> {
    (!value.is_undefined()).then_some(value)
}

fn from_ast(expr: &ast::Expr<'_>) -> Option<Fast> {
    Some(match expr {
        ast::Expr::Var(var) => match var.id {
            "item" => Fast::Item,
            "index" => Fast::Index,
            _ => return None,
        },
        ast::Expr::Const(constant) => match constant.value.kind() {
            ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::String => {
                Fast::Const(constant.value.clone())
            }
            _ => return None,
        },
        ast::Expr::GetAttr(get) => Fast::Field(Box::new(from_ast(&get.expr)?), get.name.to_owned()),
        ast::Expr::GetItem(get) => match &get.subscript_expr {
            ast::Expr::Const(constant) => {
                Fast::Field(Box::new(from_ast(&get.expr)?), constant.value.as_str()?.to_owned())
            }
            _ => return None,
        },
        ast::Expr::UnaryOp(unary) => match unary.op {
            ast::UnaryOpKind::Not => Fast::Not(Box::new(from_ast(&unary.expr)?)),
            ast::UnaryOpKind::Neg => return None,
        },
        ast::Expr::BinOp(binary) => {
            let left = Box::new(from_ast(&binary.left)?);
            let right = Box::new(from_ast(&binary.right)?);
            match binary.op {
                ast::BinOpKind::Eq => Fast::Compare(Compare::Eq, left, right),
                ast::BinOpKind::Ne => Fast::Compare(Compare::Ne, left, right),
                ast::BinOpKind::Lt => Fast::Compare(Compare::Lt, left, right),
                ast::BinOpKind::Lte => Fast::Compare(Compare::Lte, left, right),
                ast::BinOpKind::Gt => Fast::Compare(Compare::Gt, left, right),
                ast::BinOpKind::Gte => Fast::Compare(Compare::Gte, left, right),
                ast::BinOpKind::ScAnd => Fast::And(left, right),
                ast::BinOpKind::ScOr => Fast::Or(left, right),
                _ => return None,
            }
        }
        ast::Expr::Compare(compare) => {
            let [only] = compare.ops.as_slice() else {
                return None;
            };
            let op = match only.op {
                ast::CompareOpKind::Eq => Compare::Eq,
                ast::CompareOpKind::Ne => Compare::Ne,
                ast::CompareOpKind::Lt => Compare::Lt,
                ast::CompareOpKind::Lte => Compare::Lte,
                ast::CompareOpKind::Gt => Compare::Gt,
                ast::CompareOpKind::Gte => Compare::Gte,
                _ => return None,
            };
            Fast::Compare(op, Box::new(from_ast(&compare.expr)?), Box::new(from_ast(&only.expr)?))
        }
        ast::Expr::Test(test) if test.args.is_empty() => {
            let inner = Box::new(from_ast(&test.expr)?);
            match test.name {
                "defined" => Fast::IsUndefined(inner, false),
                "undefined" => Fast::IsUndefined(inner, true),
                "none" => Fast::IsNone(inner),
                _ => return None,
            }
        }
        _ => return None,
    })
}
