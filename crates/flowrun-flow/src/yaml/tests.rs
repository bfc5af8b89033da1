use super::*;

fn tree(text: &str) -> Node {
    let (root, errors) = parse(text, Limits::default());
    assert!(errors.is_empty(), "{errors:?}");
    root.unwrap()
}

fn errors(text: &str) -> Vec<YamlError> {
    parse(text, Limits::default()).1
}

#[test]
fn core_schema_scalars() {
    let root =
        tree("a: on\nb: yes\nc: ~\nd: 0x1F\ne: 1.5e3\nf: TRUE\ng: '1'\nh: 12345678901234567890\ni: .inf\nj: 1.\n");
    let json = root.to_json();
    assert_eq!(json["a"], "on");
    assert_eq!(json["b"], "yes");
    assert!(json["c"].is_null());
    assert_eq!(json["d"], 31);
    assert_eq!(json["e"], 1500.0);
    assert_eq!(json["f"], true);
    assert_eq!(json["g"], "1");
    assert_eq!(json["h"], 12345678901234567890.0);
    assert!(json["i"].is_null(), "infinity has no JSON form");
    assert_eq!(json["j"], 1.0);
}

#[test]
fn positions_are_one_based_characters() {
    let root = tree("name: é\nsteps:\n  - id: ü\n");
    let (key, value) = root.pointer("/steps/0/id").unwrap();
    assert_eq!(
        key.unwrap().span.start,
        Pos {
            line: 3,
            column: 5,
            offset: 19
        }
    );
    assert_eq!(value.span.start.column, 9);
}

#[test]
fn bom_is_skipped_and_not_counted() {
    let root = tree("\u{feff}flow: x\n");
    assert_eq!(root.entry("flow").unwrap().0.span.start.column, 1);
}

#[test]
fn duplicate_keys_are_reported_and_the_first_kept() {
    let (root, errors) = parse("a: 1\nb: 2\na: 3\n", Limits::default());
    assert_eq!(root.unwrap().to_json()["a"], 1);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].kind,
        YamlErrorKind::DuplicateKey {
            key: "a".into(),
            first_line: 1
        }
    );
    assert_eq!(errors[0].span.start.line, 3);
}

#[test]
fn depth_limit_stops_deep_nesting() {
    for depth in [65, 10_000] {
        let deep = "[".repeat(depth) + &"]".repeat(depth);
        let (root, errors) = parse(&deep, Limits::default());
        assert!(root.is_none());
        assert_eq!(errors[0].kind, YamlErrorKind::TooDeep { limit: 64 });
    }
    let block: String = (0..70)
        .map(|level| format!("{}k{level}:\n", "  ".repeat(level)))
        .collect();
    assert!(matches!(
        parse(&block, Limits::default()).1[0].kind,
        YamlErrorKind::TooDeep { .. }
    ));
    let ok = "[".repeat(64) + &"]".repeat(64);
    assert!(parse(&ok, Limits::default()).1.is_empty());
}

#[test]
fn alias_bomb_hits_the_budget() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    let (root, errors) = parse(&text, Limits::default());
    assert!(root.is_none());
    assert!(matches!(errors[0].kind, YamlErrorKind::AliasBudget { .. }));
}

#[test]
fn aliases_and_merge_keys_expand() {
    let root = tree("base: &base {a: 1, b: 2}\nuse:\n  <<: *base\n  b: 3\nlist: *base\n");
    let json = root.to_json();
    assert_eq!(json["use"], serde_json::json!({"b": 3, "a": 1}));
    assert_eq!(json["list"], serde_json::json!({"a": 1, "b": 2}));
}

#[test]
fn unquoted_template_becomes_its_text_with_an_error() {
    let (root, errors) = parse("payload: {{ item | lower }}\n", Limits::default());
    assert_eq!(root.unwrap().to_json()["payload"], "{{ item | lower }}");
    assert_eq!(
        errors[0].kind,
        YamlErrorKind::UnquotedTemplate {
            text: "{{ item | lower }}".into()
        }
    );
    assert_eq!(errors[0].span.start.column, 10);
}

#[test]
fn syntax_errors_have_positions() {
    let errors = errors("a: [1, 2\nb: 3\n");
    assert!(matches!(errors[0].kind, YamlErrorKind::Syntax(_)));
    assert!(errors[0].span.start.line >= 1);
}

#[test]
fn tabs_are_a_syntax_error() {
    let errors = errors("steps:\n\t- id: a\n");
    assert!(matches!(errors[0].kind, YamlErrorKind::Syntax(_)), "{errors:?}");
    assert_eq!(errors[0].span.start.line, 2);
}

#[test]
fn invalid_utf8_reports_the_line_of_the_bad_byte() {
    let error = build::decode(b"flow: a\nsteps: \xff\n").unwrap_err();
    assert_eq!((error.span.start.line, error.span.start.column), (2, 8));
}

#[test]
fn second_document_is_reported() {
    assert_eq!(errors("a: 1\n---\nb: 2\n")[0].kind, YamlErrorKind::MultipleDocuments);
}

#[test]
fn empty_text_has_no_root() {
    let (root, errors) = parse("", Limits::default());
    assert!(root.is_none() && errors.is_empty());
}

proptest::proptest! {
    #[test]
    fn never_panics_on_any_text(text in "\\PC{0,200}") {
        let _ = parse(&text, Limits::default());
    }

    #[test]
    fn never_panics_on_yaml_like_text(text in "[a-z:{}\\[\\],&*!|>'\" \\n\\t#-]{0,200}") {
        let _ = parse(&text, Limits::default());
    }
}

#[test]
fn keys_are_their_text() {
    let root = tree("1: a\ntrue: b\n~: c\non: d\n\"x y\": e\n");
    let keys: Vec<&str> = root
        .as_map()
        .unwrap()
        .iter()
        .map(|(key, _)| key.name.as_str())
        .collect();
    assert_eq!(keys, ["1", "true", "~", "on", "x y"]);
}

#[test]
fn many_unquoted_templates_each_keep_their_text() {
    let text: String = (0..2_000)
        .map(|index| format!("k{index}: {{{{ v{index} }}}}\n"))
        .collect();
    let (root, errors) = parse(&text, Limits::default());
    assert_eq!(errors.len(), 2_000);
    assert_eq!(root.unwrap().to_json()["k1999"], "{{ v1999 }}");
}
