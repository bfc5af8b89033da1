//! What a run needs before the engine starts, from the command line and the project file:
//! typed inputs ([`parse_inputs`]), connections, state store and secrets file ([`prepare`]),
//! and the secrets themselves ([`secrets`]). Every function returns data and errors to print;
//! none prints, and no error shows a secret's value.
//!
//! `flowrun run` calls them in this order:
//! ```text
//! parse_inputs(&flow, &args.inputs)                          -> inputs (defaults applied)
//! prepare(&file, &flow, Overrides { profile, state, secrets_file }) -> Prepared
//! names_read(&flow, &prepared.connections)                   (flowrun-engine)
//! secrets(&names.secrets, prepared.secrets_file.as_deref())  -> IndexMap<String, Secret>
//! ```
//! `flowrun runs` finds its store with [`state_url_for_folder`]; `flowrun auth login` its
//! connection, store and secrets file with [`project_connection`].

mod inputs;
mod project;
mod secrets;
#[cfg(test)]
mod tests;

pub use inputs::parse_inputs;
pub use project::{Overrides, prepare, project_connection, state_url_for_folder};
pub use secrets::secrets;
