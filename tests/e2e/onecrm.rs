//! The 1CRM example flows (`flows/onecrm-*.yaml`) through the real binary, exactly as the
//! README's commands run them: `--sandbox` starts the built-in sandbox with its 1CRM simulator
//! and `flows/sandbox.env` holds the simulator's demo password. Each run writes to a temporary
//! state store, never to `flows/.flowrun`.

use std::path::Path;

use serde_json::Value as Json;

use crate::util::{Run, repo_root, write};

/// The README's command for `flow`, as written there.
fn readme_command(flow: &str) -> String {
    let command = format!("run flows/{flow} --sandbox --secrets flows/sandbox.env");
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("cargo run -p flowrun -- {command}")),
        "the README does not name `{command}`"
    );
    command
}

/// `flowrun run flows/FLOW --sandbox --secrets SECRETS --format json` from the repository's
/// root, with a temporary state store and `extra` arguments.
fn run_example(flow: &str, secrets: &Path, extra: &[&str]) -> Run {
    let state = tempfile::tempdir().unwrap();
    let state_url = format!("sqlite://{}", state.path().join("state.db").display());
    let flow = format!("flows/{flow}");
    let secrets = secrets.to_str().unwrap();
    let mut args = vec![
        "run",
        &flow,
        "--sandbox",
        "--secrets",
        secrets,
        "--format",
        "json",
        "--state",
        &state_url,
    ];
    args.extend_from_slice(extra);
    let output = crate::util::command(&repo_root(), &args, &[])
        .output()
        .expect("the flowrun binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The README's command for `flow` with `--format json` (and `extra`); the run must succeed.
/// Returns the flow's output.
fn output_of_example(flow: &str, extra: &[&str]) -> Json {
    let command = readme_command(flow);
    let secrets = command.rsplit(' ').next().unwrap();
    let run = run_example(flow, &repo_root().join(secrets), extra);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let envelope: Json =
        serde_json::from_str(&run.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {}", run.transcript()));
    assert_eq!(envelope["status"], "success", "{}", run.transcript());
    assert!(
        !run.stdout.contains("onecrm-admin") && !run.stderr.contains("onecrm-admin"),
        "the password shows:\n{}",
        run.transcript()
    );
    envelope["output"].clone()
}

/// A 1CRM record id: 36 characters, hex digits and dashes in the UUID layout.
fn assert_record_id(value: &Json) {
    let id = value.as_str().unwrap_or_else(|| panic!("not an id: {value}"));
    assert_eq!(id.len(), 36, "{id}");
    for (index, char) in id.chars().enumerate() {
        if [8, 13, 18, 23].contains(&index) {
            assert_eq!(char, '-', "{id}");
        } else {
            assert!(char.is_ascii_hexdigit(), "{id}");
        }
    }
}

#[test]
fn the_accounts_export_keeps_the_accounts_modified_after_since() {
    let output = output_of_example("onecrm-accounts-export.yaml", &[]);
    assert_eq!(output["since"], "2024-12-15 00:00:00", "{output:#}");
    let rows = output["rows"].as_array().unwrap();
    let count = output["count"].as_u64().unwrap();
    assert!(count > 0, "{output:#}");
    assert_eq!(rows.len() as u64, count);
    assert!(output["read"].as_u64().unwrap() > count, "{output:#}");
    assert_eq!(output["complete"], true, "{output:#}");
    let mut previous = "9999".to_owned();
    for row in rows {
        assert_record_id(&row["id"]);
        assert!(row["name"].as_str().is_some_and(|name| !name.is_empty()), "{row}");
        let modified = row["modified"].as_str().unwrap().to_owned();
        assert_eq!(modified.len(), "2024-12-15 00:00:00".len(), "{row}");
        assert!(modified.as_str() > "2024-12-15 00:00:00", "{row}");
        assert!(modified <= previous, "not newest first: {row}");
        previous = modified;
    }

    // A later `since` exports fewer accounts: the cut-off is applied, not a fixed count.
    let later = output_of_example(
        "onecrm-accounts-export.yaml",
        &["--input", "since=2024-12-28T12:00:00+01:00"],
    );
    assert_eq!(later["since"], "2024-12-28 11:00:00", "{later:#}");
    let later_count = later["count"].as_u64().unwrap();
    assert!(later_count > 0 && later_count < count, "{later_count} of {count}");
    assert!(
        later["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["modified"].as_str().unwrap() > "2024-12-28 11:00:00"),
        "{later:#}"
    );
}

#[test]
fn the_contact_gets_a_note_with_the_file_attached() {
    let text = "Grüße aus dem Sandkasten ✓\nzweite Zeile";
    let output = output_of_example(
        "onecrm-contact-with-note.yaml",
        &[
            "--input",
            &format!("file_text={text}"),
            "--input",
            "file_name=gruss.txt",
            "--input",
            "last_name=Hopper",
        ],
    );
    assert_record_id(&output["contact_id"]);
    assert_record_id(&output["note_id"]);
    assert_ne!(output["contact_id"], output["note_id"]);
    let upload = output["upload_id"].as_str().unwrap();
    assert!(upload.starts_with("INCOMING~"), "{output:#}");
    assert_record_id(&Json::from(&upload["INCOMING~".len()..]));
    // The note as 1CRM stores it: on the contact, with the file.
    let note = &output["note"];
    assert_eq!(note["name"], "Notes on the Analytical Engine");
    assert_eq!(note["parent_type"], "Contact");
    assert_eq!(note["parent_id"], output["contact_id"]);
    assert_eq!(note["contact_id"], output["contact_id"]);
    let attachment = &output["attachment"];
    assert_eq!(attachment["file_name"], "gruss.txt", "{output:#}");
    assert_eq!(attachment["mime_type"], "text/plain", "{output:#}");
    assert_eq!(attachment["content"], text, "the downloaded file differs: {output:#}");
}

#[test]
fn the_module_list_names_the_simulators_modules() {
    let output = output_of_example("onecrm-list-modules.yaml", &[]);
    let modules: Vec<&str> = output["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|module| module.as_str().unwrap())
        .collect();
    assert_eq!(
        modules,
        [
            "Account",
            "Contact",
            "Lead",
            "Opportunity",
            "Case",
            "Invoice",
            "Note",
            "Document"
        ]
    );
    assert_eq!(output["count"], 8);
    assert_eq!(output["labels"][0], "Accounts");
}

#[test]
fn a_wrong_password_fails_the_export_naming_the_connection_not_the_password() {
    let password = "not-the-demo-password-7f3a";
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "wrong.env", format!("ONECRM_SANDBOX_PASSWORD={password}\n"));
    let run = run_example("onecrm-accounts-export.yaml", &dir.path().join("wrong.env"), &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    let envelope: Json =
        serde_json::from_str(&run.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {}", run.transcript()));
    assert_eq!(envelope["status"], "failed", "{}", run.transcript());
    assert_eq!(envelope["error"]["step"], "accounts", "{}", run.transcript());
    assert_eq!(envelope["error"]["status"], 401, "{}", run.transcript());
    let message = envelope["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("connection `sandbox_crm`: 1CRM refused the credentials of user `admin`"),
        "{message}"
    );
    assert!(run.stderr.contains("connection `sandbox_crm`"), "{}", run.transcript());
    assert_eq!(envelope["steps"]["rows"]["status"], "cancelled");
    assert_eq!(envelope["steps"]["log"]["status"], "cancelled");
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(password), "the password shows:\n{}", run.transcript());
    }
}

/// Every module of the connector, from one flow run by the binary against `--sandbox`: the
/// user, the module list, the field metadata, create → update → get and search → delete (then
/// the record is gone: a 404 the flow ignores), an upload and an `api_call`.
#[test]
fn every_module_runs_from_a_flow_against_the_sandbox() {
    const FLOW: &str = r#"flow: onecrm-every-module
connections:
  crm:
    connector: onecrm
    config:
      base_url: "{{ env.FLOWRUN_SANDBOX_URL }}/onecrm/api.php"
      username: admin
      password: "{{ secrets.ONECRM_SANDBOX_PASSWORD }}"
steps:
  - id: me
    uses: onecrm.get_my_info
  - id: modules
    uses: onecrm.list_modules
  - id: fields
    uses: onecrm.list_fields
    with: { module: Account }
  - id: created
    uses: onecrm.create_record
    with: { module: Account, data: { name: "Every Module Ltd" } }
  - id: updated
    uses: onecrm.update_record
    with: { module: Account, id: "{{ steps.created.output.id }}", data: { name: "Every Module BV" } }
  - id: read
    uses: onecrm.get_record
    needs: [updated]
    with: { module: Account, id: "{{ steps.created.output.id }}" }
  - id: found
    uses: onecrm.search_records
    needs: [updated]
    with: { module: Account, filter_text: "Every Module", fields: [name] }
  - id: upload
    uses: onecrm.upload_file
    with: { file_name: hello.txt, content: "{{ 'hello, 1CRM' | b64encode }}", mime_type: text/plain }
  - id: deleted
    uses: onecrm.delete_record
    needs: [read, found]
    with: { module: Account, id: "{{ steps.created.output.id }}" }
  - id: gone
    uses: onecrm.get_record
    needs: [deleted]
    on_error: ignore
    with: { module: Account, id: "{{ steps.created.output.id }}" }
  - id: version
    uses: onecrm.api_call
    with: { path: version }
output:
  me: "{{ steps.me.output.id }}"
  modules: "{{ steps.modules.output | map(attribute='name') | list }}"
  has_name_field: "{{ 'name' in steps.fields.output.fields }}"
  id: "{{ steps.created.output.id }}"
  updated: "{{ steps.updated.output.result }}"
  read: "{{ steps.read.output.name }}"
  found: "{{ steps.found.output.records | map(attribute='name') | list }}"
  upload: "{{ steps.upload.output.id }}"
  deleted: "{{ steps.deleted.output.result }}"
  gone: "{{ steps.gone.status }}"
  gone_error: "{{ steps.gone.error.message }}"
  version_status: "{{ steps.version.output.status }}"
"#;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "every.yaml", FLOW);
    let state = format!("sqlite://{}", dir.path().join("state.db").display());
    let output = crate::util::command(
        dir.path(),
        &["run", "every.yaml", "--sandbox", "--format", "json", "--state", &state],
        &[("ONECRM_SANDBOX_PASSWORD", "onecrm-admin")],
    )
    .output()
    .unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(run.code, 0, "{}", run.transcript());
    let envelope: Json = serde_json::from_str(&run.stdout).unwrap();
    let out = &envelope["output"];
    assert_eq!(out["me"], "Users:1", "{out}");
    assert!(
        out["modules"].as_array().unwrap().iter().any(|m| m == "Account"),
        "{out}"
    );
    assert_eq!(out["has_name_field"], true, "{out}");
    assert_record_id(&out["id"]);
    assert_eq!(out["updated"], true, "{out}");
    assert_eq!(out["read"], "Every Module BV", "{out}");
    assert_eq!(out["found"], serde_json::json!(["Every Module BV"]), "{out}");
    assert!(out["upload"].as_str().unwrap().starts_with("INCOMING~"), "{out}");
    assert_eq!(out["deleted"], true, "{out}");
    assert_eq!(out["gone"], "ignored", "{out}");
    assert!(
        out["gone_error"]
            .as_str()
            .unwrap()
            .contains("no `Account` record with id"),
        "{out}"
    );
    assert_eq!(out["version_status"], 200, "{out}");
    assert!(!run.stdout.contains("onecrm-admin") && !run.stderr.contains("onecrm-admin"));
}
