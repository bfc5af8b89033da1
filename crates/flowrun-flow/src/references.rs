//! What a template reads, found without evaluating it: `steps.a.output`, `inputs.x`,
//! `secrets.X`, `env.Y`, `item`, `cursor`…
//!
//! Read from minijinja's syntax tree by [`flowrun_expr::analysis`]: names bound by `for`,
//! `set` and `with` inside a template are not references, string literals are not read, and
//! `steps['a']` is `steps.a`. A template that does not parse has no references here (the
//! validator reports its syntax error instead).

use std::ops::Range;

use flowrun_expr::analysis::{has_template_syntax, read_expression, read_template};

pub use flowrun_expr::analysis::{CONTEXT_NAMES, Reference};

/// Byte range of a reference in the text it was found in (`steps.a.output`).
pub type Located = (Reference, Range<usize>);

/// The references of a template string: only the `{{ … }}` and `{% … %}` parts are read.
pub fn template_references(text: &str) -> Vec<Reference> {
    located_template_references(text)
        .into_iter()
        .map(|(reference, _)| reference)
        .collect()
}

/// As [`template_references`], with where each reference is written.
pub fn located_template_references(text: &str) -> Vec<Located> {
    if !has_template_syntax(text) {
        return Vec::new();
    }
    read_template(text).map(located).unwrap_or_default()
}

/// The references of a bare expression (`if`, `filter`, `dedupe`…); `{{ }}` around it is allowed.
pub fn expression_references(text: &str) -> Vec<Reference> {
    located_expression_references(text)
        .into_iter()
        .map(|(reference, _)| reference)
        .collect()
}

/// As [`expression_references`], with where each reference is written.
pub fn located_expression_references(text: &str) -> Vec<Located> {
    read_expression(text).map(located).unwrap_or_default()
}

fn located(analysis: flowrun_expr::analysis::Analysis) -> Vec<Located> {
    analysis
        .references
        .into_iter()
        .map(|found| (found.value, found.range))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, field: Option<&str>) -> Reference {
        Reference::Step {
            id: id.into(),
            field: field.map(Into::into),
        }
    }

    #[test]
    fn finds_paths_in_templates() {
        let found = template_references(
            "{{ steps.accounts.output.records | length }} of {{ inputs['since'] }} {% if item.x %}{{ secrets.KEY }}{% endif %}",
        );
        assert_eq!(
            found,
            vec![
                step("accounts", Some("output")),
                Reference::Input("since".into()),
                Reference::Context("item"),
                Reference::Secret("KEY".into())
            ]
        );
    }

    #[test]
    fn names_a_template_binds_are_not_references() {
        assert_eq!(
            template_references("{% for r in steps.a.output %}{{ r.x }}{% endfor %}{% set n = 1 %}{{ n }}"),
            vec![step("a", Some("output"))]
        );
        assert_eq!(
            template_references("{{ foo.bar }}"),
            vec![Reference::Unknown("foo".into())]
        );
        assert!(template_references("{{ steps.a.output").is_empty());
    }

    #[test]
    fn ignores_text_outside_delimiters_and_inside_string_literals() {
        assert!(template_references("steps.a.output {{ 'steps.b.output' }}").is_empty());
        assert_eq!(
            template_references("{{ steps[\"b\"].status }}"),
            vec![step("b", Some("status"))]
        );
    }

    #[test]
    fn bare_expressions_and_attributes_of_other_names() {
        assert_eq!(
            expression_references("item.email1 and env.HOME"),
            vec![Reference::Context("item"), Reference::Env("HOME".into())]
        );
        assert_eq!(expression_references("x.steps.a"), vec![Reference::Unknown("x".into())]);
        assert_eq!(expression_references("steps.a"), vec![step("a", None)]);
    }

    #[test]
    fn ranges_cover_the_reference_as_written() {
        let text = "x {{ steps.fecth.output.id }} {{ inputs['n'] }}";
        let ranges: Vec<&str> = located_template_references(text)
            .into_iter()
            .map(|(_, range)| &text[range])
            .collect();
        assert_eq!(ranges, ["steps.fecth.output", "inputs['n']"]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,120}") {
            let _ = template_references(&text);
            let _ = expression_references(&text);
        }
    }
}
