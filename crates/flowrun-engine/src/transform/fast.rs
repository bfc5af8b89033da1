//! A fast path for the expressions pipelines use most: lookups on `item` (`item.a.b`,
//! `item["a b"]`), constants, comparisons, `and`/`or`/`not`, `is defined`, `+ - *` on
//! numbers, `~` on scalars, and the filters `lower`, `upper`, `trim` and `default`.
//!
//! Why: minijinja sets up a machine for every evaluation (about 10 KB of frames and stacks),
//! which costs more than the work of a mapping like `{{ item.email | lower }}`; a pipeline
//! evaluates its expressions once per item.
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
    /// `+`, `-` or `*` on two numbers.
    Arithmetic(Arithmetic, Box<Fast>, Box<Fast>),
    /// `a ~ b` on two scalars.
    Concat(Box<Fast>, Box<Fast>),
    /// `s | lower`, `| upper` or `| trim` on a string.
    Text(TextFilter, Box<Fast>),
    /// `x | default(constant)`: the constant when `x` is undefined.
    Default(Box<Fast>, Value),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Arithmetic {
    Add,
    Sub,
    Mul,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum TextFilter {
    Lower,
    Upper,
    Trim,
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
            Fast::Arithmetic(op, left, right) => arithmetic(*op, &left.eval(item, index)?, &right.eval(item, index)?)?,
            Fast::Concat(left, right) => {
                let (left, right) = (plain(left.eval(item, index)?)?, plain(right.eval(item, index)?)?);
                Value::from(match (left.as_str(), right.as_str()) {
                    (Some(left), Some(right)) => [left, right].concat(),
                    // minijinja joins other scalars by their display form.
                    _ => format!("{left}{right}"),
                })
            }
            Fast::Text(filter, inner) => {
                let inner = plain(inner.eval(item, index)?)?;
                let text = inner.as_str()?;
                Value::from(match filter {
                    TextFilter::Lower => text.to_lowercase(),
                    TextFilter::Upper => text.to_uppercase(),
                    TextFilter::Trim => text.trim().to_owned(),
                })
            }
            Fast::Default(inner, fallback) => {
                let value = inner.eval(item, index)?;
                if value.is_undefined() { fallback.clone() } else { value }
            }
        })
    }
}

/// A number as minijinja's arithmetic reads it: an integer (up to `i128`) or a float. Booleans,
/// which minijinja also counts, are left to it.
enum Number {
    Int(i128),
    Float(f64),
}

fn number(value: &Value) -> Option<Number> {
    if value.kind() != ValueKind::Number {
        return None;
    }
    if value.is_integer() {
        return i128::try_from(value.clone()).ok().map(Number::Int);
    }
    f64::try_from(value.clone()).ok().map(Number::Float)
}

/// `left op right` as minijinja computes it: exact integers when the result fits an `i128`
/// (given back as an `i64` when it fits one), floats as soon as one side is a float. An
/// overflow, a non-number or anything else is left to minijinja.
fn arithmetic(op: Arithmetic, left: &Value, right: &Value) -> Option<Value> {
    Some(match (number(left)?, number(right)?) {
        (Number::Int(left), Number::Int(right)) => {
            let result = match op {
                Arithmetic::Add => left.checked_add(right),
                Arithmetic::Sub => left.checked_sub(right),
                Arithmetic::Mul => left.checked_mul(right),
            }?;
            i64::try_from(result).map_or_else(|_| Value::from(result), Value::from)
        }
        (left, right) => {
            let float = |number: Number| match number {
                Number::Int(int) => int as f64,
                Number::Float(float) => float,
            };
            let (left, right) = (float(left), float(right));
            Value::from(match op {
                Arithmetic::Add => left + right,
                Arithmetic::Sub => left - right,
                Arithmetic::Mul => left * right,
            })
        }
    })
}

/// A defined scalar that is not a "safe" (markup) string, whose safety minijinja carries
/// through concatenations and filters.
fn plain(value: Value) -> Option<Value> {
    (!value.is_safe()).then_some(scalar(value)).flatten()
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
    // Constant parts (`-1`, `'a' ~ 'b'`) are folded by minijinja's own rules.
    if let Some(constant) = expr.as_const() {
        return scalar(constant).map(Fast::Const);
    }
    Some(match expr {
        ast::Expr::Var(var) => match var.id {
            "item" => Fast::Item,
            "index" => Fast::Index,
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
                ast::BinOpKind::Add => Fast::Arithmetic(Arithmetic::Add, left, right),
                ast::BinOpKind::Sub => Fast::Arithmetic(Arithmetic::Sub, left, right),
                ast::BinOpKind::Mul => Fast::Arithmetic(Arithmetic::Mul, left, right),
                ast::BinOpKind::Concat => Fast::Concat(left, right),
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
        ast::Expr::Filter(filter) => {
            let inner = Box::new(from_ast(filter.expr.as_ref()?)?);
            match (filter.name, filter.args.as_slice()) {
                ("lower", []) => Fast::Text(TextFilter::Lower, inner),
                ("upper", []) => Fast::Text(TextFilter::Upper, inner),
                ("trim", []) => Fast::Text(TextFilter::Trim, inner),
                ("default" | "d", []) => Fast::Default(inner, Value::from("")),
                ("default" | "d", [ast::CallArg::Pos(fallback)]) => Fast::Default(inner, fallback.as_const()?),
                _ => return None,
            }
        }
        _ => return None,
    })
}
