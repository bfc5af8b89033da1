use std::io::{self, Write};

use crate::cli::{SchemaArgs, SchemaKind};
use crate::{catalog, exit_code};

pub fn run(args: &SchemaArgs) -> io::Result<u8> {
    let schema = match args.kind {
        SchemaKind::Flow => flowrun_flow::schema::editor_flow_schema(catalog::builtin()),
        SchemaKind::Project => flowrun_flow::schema::project_schema(),
        SchemaKind::Test => flowrun_flow::schema::test_schema(),
    };
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &schema)?;
    writeln!(stdout)?;
    Ok(exit_code::SUCCESS)
}
