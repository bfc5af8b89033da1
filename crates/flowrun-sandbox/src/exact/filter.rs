//! `$filter`: a small OData v2 expression parser, bound to an entity's properties and typed
//! at parse time, so that bad syntax, unknown properties and type mismatches answer 400
//! before any row is read (as WCF Data Services does).
//!
//! Supported: `eq ne gt ge lt le and or not`, parentheses, literals (`'text'` with `''`,
//! integers, `123L`, decimals, `true`/`false`, `null`, `guid'…'`, `datetime'…'`), and the
//! functions `substringof`, `startswith`, `endswith`, `trim`, `tolower`, `toupper`,
//! `length`. Comparing two properties is refused, as Exact refuses it.

use super::lexer::{Token, lex};
use super::model::{Entity, Kind, Val, View, cmp_val};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn name(self) -> &'static str {
        match self {
            Cmp::Eq => "eq",
            Cmp::Ne => "ne",
            Cmp::Gt => "gt",
            Cmp::Ge => "ge",
            Cmp::Lt => "lt",
            Cmp::Le => "le",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Substringof,
    StartsWith,
    EndsWith,
    Trim,
    ToLower,
    ToUpper,
    Length,
}

/// A bound expression: properties are positions in the row.
#[derive(Clone, Debug)]
pub enum Expr {
    Lit(Val),
    Field(usize),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

/// The static type of an expression; `None` for `null`.
type Ty = Option<Kind>;

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    entity: Entity,
    view: View,
}

/// Parses and binds `$filter` for `entity` as seen through `view`.
pub fn parse(text: &str, entity: Entity, view: View) -> Result<Expr, String> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        entity,
        view,
    };
    let (expr, ty) = parser.or()?;
    if parser.at < parser.tokens.len() {
        return Err(format!(
            "Syntax error at token {}: unexpected {:?}.",
            parser.at, parser.tokens[parser.at]
        ));
    }
    if ty != Some(Kind::Bool) {
        return Err("Expression of type 'Edm.Boolean' expected in $filter.".into());
    }
    Ok(expr)
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.tokens.get(self.at) {
            Some(Token::Ident(w)) => Some(w),
            _ => None,
        }
    }

    fn expect(&mut self, token: &Token, what: &str) -> Result<(), String> {
        if self.tokens.get(self.at) == Some(token) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("Syntax error: {what} expected at token {}.", self.at))
        }
    }

    fn or(&mut self) -> Result<(Expr, Ty), String> {
        let mut left = self.and()?;
        while self.peek_word() == Some("or") {
            self.at += 1;
            let right = self.and()?;
            left = (
                Expr::Or(Box::new(boolean(left, "or")?), Box::new(boolean(right, "or")?)),
                Some(Kind::Bool),
            );
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<(Expr, Ty), String> {
        let mut left = self.unary()?;
        while self.peek_word() == Some("and") {
            self.at += 1;
            let right = self.unary()?;
            left = (
                Expr::And(Box::new(boolean(left, "and")?), Box::new(boolean(right, "and")?)),
                Some(Kind::Bool),
            );
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<(Expr, Ty), String> {
        if self.peek_word() == Some("not") {
            self.at += 1;
            let inner = self.unary()?;
            return Ok((Expr::Not(Box::new(boolean(inner, "not")?)), Some(Kind::Bool)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<(Expr, Ty), String> {
        let left = self.primary()?;
        let op = match self.peek_word() {
            Some("eq") => Cmp::Eq,
            Some("ne") => Cmp::Ne,
            Some("gt") => Cmp::Gt,
            Some("ge") => Cmp::Ge,
            Some("lt") => Cmp::Lt,
            Some("le") => Cmp::Le,
            Some(w @ ("add" | "sub" | "mul" | "div" | "mod")) => {
                return Err(format!("The arithmetic operator '{w}' is not supported."));
            }
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.primary()?;
        if matches!(left.0, Expr::Field(_)) && matches!(right.0, Expr::Field(_)) {
            return Err("Comparing two properties is not supported.".into());
        }
        if let (Some(a), Some(b)) = (left.1, right.1)
            && !(a == b || (a.numeric() && b.numeric()))
        {
            return Err(format!(
                "Operator '{}' incompatible with operand types '{}' and '{}'.",
                op.name(),
                a.edm(),
                b.edm()
            ));
        }
        Ok((Expr::Cmp(op, Box::new(left.0), Box::new(right.0)), Some(Kind::Bool)))
    }

    fn primary(&mut self) -> Result<(Expr, Ty), String> {
        let token = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or_else(|| "Syntax error: expression expected at the end of $filter.".to_owned())?;
        self.at += 1;
        match token {
            Token::Open => {
                let inner = self.or()?;
                self.expect(&Token::Close, "')'")?;
                Ok(inner)
            }
            Token::Lit(v, kind) => Ok((Expr::Lit(v), Some(kind))),
            Token::Null => Ok((Expr::Lit(Val::Null), None)),
            Token::Ident(word) if self.tokens.get(self.at) == Some(&Token::Open) => self.call(&word),
            Token::Ident(word) => {
                let (pos, field) = self.entity.field(&word, self.view).ok_or_else(|| {
                    format!(
                        "No property '{word}' exists in type 'Exact.Web.Api.Models.{}'.",
                        self.entity.type_name()
                    )
                })?;
                Ok((Expr::Field(pos), Some(field.kind)))
            }
            other => Err(format!("Syntax error: unexpected {other:?}.")),
        }
    }

    fn call(&mut self, name: &str) -> Result<(Expr, Ty), String> {
        let (func, arity, result) = match name {
            "substringof" => (Func::Substringof, 2, Kind::Bool),
            "startswith" => (Func::StartsWith, 2, Kind::Bool),
            "endswith" => (Func::EndsWith, 2, Kind::Bool),
            "trim" => (Func::Trim, 1, Kind::Str),
            "tolower" => (Func::ToLower, 1, Kind::Str),
            "toupper" => (Func::ToUpper, 1, Kind::Str),
            "length" => (Func::Length, 1, Kind::Int32),
            other => return Err(format!("Unknown function '{other}'.")),
        };
        self.expect(&Token::Open, "'('")?;
        let mut args = Vec::new();
        loop {
            let (arg, ty) = self.or()?;
            if ty.is_some_and(|k| k != Kind::Str) {
                return Err(format!(
                    "No applicable function found for '{name}' with the given argument types."
                ));
            }
            args.push(arg);
            if self.tokens.get(self.at) == Some(&Token::Comma) {
                self.at += 1;
            } else {
                break;
            }
        }
        self.expect(&Token::Close, "')'")?;
        if args.len() != arity {
            return Err(format!("Function '{name}' takes {arity} argument(s)."));
        }
        Ok((Expr::Call(func, args), Some(result)))
    }
}

fn boolean((expr, ty): (Expr, Ty), op: &str) -> Result<Expr, String> {
    if ty == Some(Kind::Bool) {
        Ok(expr)
    } else {
        Err(format!("Operand of '{op}' must be of type 'Edm.Boolean'."))
    }
}

/// Whether a row passes the filter.
pub fn matches(expr: &Expr, row: &[Val]) -> bool {
    eval(expr, row) == Val::Bool(true)
}

fn eval(expr: &Expr, row: &[Val]) -> Val {
    match expr {
        Expr::Lit(v) => v.clone(),
        Expr::Field(i) => row[*i].clone(),
        Expr::And(a, b) => Val::Bool(matches(a, row) && matches(b, row)),
        Expr::Or(a, b) => Val::Bool(matches(a, row) || matches(b, row)),
        Expr::Not(a) => Val::Bool(!matches(a, row)),
        Expr::Cmp(op, a, b) => Val::Bool(compare(*op, &eval(a, row), &eval(b, row))),
        Expr::Call(func, args) => call(*func, &args.iter().map(|a| eval(a, row)).collect::<Vec<_>>()),
    }
}

fn compare(op: Cmp, a: &Val, b: &Val) -> bool {
    let null = matches!(a, Val::Null) || matches!(b, Val::Null);
    if null {
        let both = matches!(a, Val::Null) && matches!(b, Val::Null);
        return match op {
            Cmp::Eq => both,
            Cmp::Ne => !both,
            _ => false,
        };
    }
    let order = cmp_val(a, b);
    // Text equality ignores case, as SQL Server's default collation does.
    let equal = match (a, b) {
        (Val::Str(x), Val::Str(y)) => x.eq_ignore_ascii_case(y) || x.to_lowercase() == y.to_lowercase(),
        _ => order.is_eq(),
    };
    match op {
        Cmp::Eq => equal,
        Cmp::Ne => !equal,
        Cmp::Gt => !equal && order.is_gt(),
        Cmp::Ge => equal || order.is_gt(),
        Cmp::Lt => !equal && order.is_lt(),
        Cmp::Le => equal || order.is_lt(),
    }
}

fn call(func: Func, args: &[Val]) -> Val {
    let text = |i: usize| args.get(i).and_then(Val::as_str).map(str::to_lowercase);
    match func {
        Func::Substringof => Val::Bool(matches!((text(0), text(1)), (Some(n), Some(h)) if h.contains(&n))),
        Func::StartsWith => Val::Bool(matches!((text(0), text(1)), (Some(h), Some(p)) if h.starts_with(&p))),
        Func::EndsWith => Val::Bool(matches!((text(0), text(1)), (Some(h), Some(s)) if h.ends_with(&s))),
        Func::Trim | Func::ToLower | Func::ToUpper | Func::Length => {
            let Some(s) = args.first().and_then(Val::as_str) else {
                return Val::Null;
            };
            match func {
                Func::Trim => Val::str(s.trim()),
                Func::ToLower => Val::str(s.to_lowercase()),
                Func::ToUpper => Val::str(s.to_uppercase()),
                _ => Val::Int(i64::try_from(s.chars().count()).unwrap_or(0)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::model::Row;

    fn account(name: &str, code: &str) -> Row {
        let mut values = vec![Val::Null; Entity::Accounts.fields().len()];
        values[0] = Val::str("4a3b0000-0000-0000-0000-000000000001");
        values[1] = Val::str(format!("{code:>18}"));
        values[2] = Val::str(name);
        Row(values)
    }

    fn check(filter: &str, row: &Row) -> bool {
        matches(&parse(filter, Entity::Accounts, View::Regular).unwrap(), &row.0)
    }

    #[test]
    fn filters_match_and_fail_as_odata_does() {
        let row = account("Bakkerij O'Brien B.V.", "1024");
        assert!(check("Name eq 'bakkerij o''brien b.v.'", &row));
        assert!(check("trim(Code) eq '1024' and not (Email ne null)", &row));
        assert!(!check("Code eq '1024'", &row));
        assert!(check("substringof('brien', Name) or Name eq 'x'", &row));
        assert!(check("startswith(Name,'Bak') eq true", &row));
        assert!(check("ID eq guid'4A3B0000-0000-0000-0000-000000000001'", &row));
        assert!(!check("Modified ge datetime'2024-01-01T00:00:00'", &row));
        for bad in [
            "Name eq",
            "Nope eq 'x'",
            "Name eq 5",
            "Name eq Code",
            "Name eq 'x",
            "Timestamp gt 5L",
            "Modified ge datetime'2024-01-01'",
            "ID eq guid'nope'",
            "Name",
            "(Name eq 'x'",
        ] {
            assert!(parse(bad, Entity::Accounts, View::Regular).is_err(), "{bad}");
        }
        assert!(parse("Timestamp gt 5L", Entity::Accounts, View::Sync).is_ok());
    }

    proptest::proptest! {
        /// Whatever a client sends as `$filter`, the parser answers (an expression or a 400
        /// message) and never panics.
        #[test]
        fn any_filter_text_is_parsed_or_refused(text in "\\PC{0,80}") {
            let _ = parse(&text, Entity::Accounts, View::Sync);
        }

        /// The same for text made of the grammar's own pieces, which reaches deeper.
        #[test]
        fn filter_like_text_is_parsed_or_refused(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "Name", "Code", "Modified", "Timestamp", " eq ", " ne ", " gt ", " and ", " or ", "not ",
                    "(", ")", "'x'", "''", "guid'", "datetime'2024-01-01T00:00:00'", "12L", "1.5", "null",
                    "true", "substringof(", "startswith(", "trim(", ",", " ",
                ]),
                0..24,
            )
        ) {
            let _ = parse(&parts.concat(), Entity::Accounts, View::Regular);
        }
    }
}
