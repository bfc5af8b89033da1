//! Inputs too big, deep or broken to commit: generated here, each answered with a clear
//! diagnostic and never a crash or a hang.

use crate::support::flowrun;

fn validate_generated(name: &str, bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    let run = flowrun(dir.path(), &["validate", name]);
    run.transcript()
}

#[test]
fn alias_bomb() {
    let mut text =
        String::from("flow: bomb\nsteps: []\nlol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let refs = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("lol{level}: &l{level} [{refs}]\n"));
    }
    insta::assert_snapshot!(validate_generated("bomb.yaml", text.as_bytes()));
}

#[test]
fn ten_thousand_deep_nesting() {
    let flow_style = format!("flow: deep\nsteps: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    insta::assert_snapshot!(
        "deep_flow_style",
        validate_generated("deep.yaml", flow_style.as_bytes())
    );
    let block: String = (0..10_000)
        .map(|level| format!("{}k{level}:\n", " ".repeat(level)))
        .collect();
    let block = format!("flow: deep\nsteps: []\n{block}");
    insta::assert_snapshot!("deep_block_style", validate_generated("deep.yaml", block.as_bytes()));
}

#[test]
fn invalid_utf8_points_at_the_bad_byte() {
    let bytes = b"flow: bytes\nsteps:\n  - id: caf\xe9\n    uses: http.request\n";
    insta::assert_snapshot!(validate_generated("bytes.yaml", bytes));
}

#[test]
fn empty_file() {
    insta::assert_snapshot!(validate_generated("empty.yaml", b""));
}

#[test]
fn tabs_for_indentation() {
    insta::assert_snapshot!(validate_generated(
        "tabs.yaml",
        b"flow: tabs\nsteps:\n\t- id: a\n\t  uses: http.request\n"
    ));
}

#[test]
fn a_bom_is_allowed() {
    let text = "\u{feff}flow: bom\nsteps:\n  - id: a\n    uses: http.request\n    with: { url: https://example.com }\n";
    let transcript = validate_generated("bom.yaml", text.as_bytes());
    assert!(transcript.starts_with("exit: 0"), "{transcript}");
}

#[test]
fn twenty_megabytes_of_steps_with_one_error_at_the_end() {
    let mut text = String::from("flow: big\nsteps:\n");
    let mut index = 0;
    while text.len() < 20 * 1024 * 1024 {
        text.push_str(&format!(
            "  - id: s{index}\n    uses: http.request\n    with: {{ url: \"https://example.com/{index}\", method: GET, headers: {{ x-padding: \"{}\" }} }}\n",
            "p".repeat(400)
        ));
        index += 1;
    }
    text.push_str("  - id: last\n    uses: http.reqest\n");
    let transcript = validate_generated("big.yaml", text.as_bytes());
    assert!(
        transcript.starts_with("exit: 2"),
        "{}",
        &transcript[..transcript.len().min(2000)]
    );
    assert!(transcript.contains("unknown-module") && transcript.contains("did you mean `request`?"));
    assert_eq!(transcript.matches("[unknown-module]").count(), 1);
}
