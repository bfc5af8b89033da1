//! The one minijinja environment of the process, built once.
//!
//! Settings that make templates safe to run on hostile input and honest about missing data:
//! - undefined values are semi-strict: falsy in a test, taken by `default`, an error when
//!   printed, iterated or returned, and a lookup on an undefined value is an error;
//! - fuel bounds the instructions (and so the time and memory) of one evaluation, and the
//!   recursion limit bounds nesting;
//! - no loader reaches the file system: a text template's name is its own source (see
//!   [`crate::Template`]), so `get_template` compiles each distinct template once and keeps it
//!   for the life of the process;
//! - no auto-escaping (flows build JSON and text, not HTML);
//! - `debug()`, which dumps the whole context (secrets included), is removed, and debug info
//!   (which shows referenced values in errors) is off.

use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

/// Instructions one evaluation may run: about 64 bytes of memory each, so this bounds a
/// template to ~64 MB. Honest pipelines over a single item use a few dozen.
pub const FUEL: u64 = 1_000_000;

/// Nesting depth of one evaluation (loops, conditions, nested calls).
pub const RECURSION_LIMIT: usize = 100;

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(build);

/// The environment every template and expression of the process is compiled with.
pub fn environment() -> &'static Environment<'static> {
    &ENVIRONMENT
}

fn build() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_debug(false);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // A string value is rendered as written: a trailing newline (YAML `|`) is kept.
    let syntax = SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    env.set_loader(|name| Ok(Some(name.to_owned())));
    env.remove_global("debug");
    crate::functions::register(&mut env);
    env
}
