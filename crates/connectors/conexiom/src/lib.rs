//! The Conexiom connector: a read-only extractor of one HubCo's sales-order automation data
//! (alerts, SpokeCos, documents with their extracted data and files, buyers, addresses) for
//! process analysis.
//!
//! [`spec`] is the catalog entry (the connection schema, each module's parameter and output
//! schemas); [`connector`] the runtime, on the HTTP layer of `flowrun-connect`: password-grant
//! tokens, one GET per call, bare or wrapped lists. Conexiom publishes no API reference: endpoint
//! names and the two delta parameters are confirmed, paths and record shapes are PROPOSED in the
//! project's `apis/conexiom.md`; every guess the runtime relies on is in [`contract`].

mod connection;
pub mod contract;
mod id;
mod params;
mod records;
mod run;

use std::sync::Arc;

use flowrun_connect::module::Connector;

use flowrun_connect::schema::{NoParams, input_schema, module};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};

pub use connection::ConexiomConnection;
pub use flowrun_connect::config::ClientAuth;
pub use id::Id;
pub use params::{AlertParams, DocumentParams, DocumentsParams, SpokecoParams, SpokecosParams};
pub use records::{Address, Alert, Buyer, Document, DocumentData, DocumentFile, DocumentLine, SpokeCo};

/// The name in `uses: conexiom.<module>` and `connector: conexiom`.
pub const NAME: &str = "conexiom";

/// The runtime of the `conexiom` connector, for the registry.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(run::ConexiomConnector)
}

/// The catalog entry of the `conexiom` connector.
pub fn spec() -> ConnectorSpec {
    use ModuleKind::*;
    ConnectorSpec {
        name: NAME.to_owned(),
        description: "Conexiom sales-order automation, read only: alerts, SpokeCos (trading \
                      partners), their documents with extracted order data and files, buyers \
                      and addresses, with delta reads by modification and processing date."
            .to_owned(),
        connection_schema: input_schema::<ConexiomConnection>(),
        connection_optional: false,
        modules: vec![
            module::<NoParams, Vec<Alert>>(
                "alerts",
                List,
                "Lists the HubCo's alerts (every time in full: there is no delta).",
            ),
            module::<AlertParams, Alert>("alert", Get, "Reads one alert with its details."),
            module::<SpokecosParams, Vec<SpokeCo>>(
                "spokecos",
                List,
                "Lists the HubCo's SpokeCos, optionally only those modified since a date.",
            ),
            module::<SpokecoParams, SpokeCo>("spokeco", Get, "Reads one SpokeCo."),
            module::<DocumentsParams, Vec<Document>>(
                "documents",
                List,
                "Lists the documents of a SpokeCo, optionally only those processed since a date.",
            ),
            module::<DocumentParams, DocumentData>(
                "document_data",
                Get,
                "Reads the order extracted from a document: header and lines.",
            ),
            module::<DocumentParams, Vec<DocumentFile>>("file_list", List, "Lists the files of a document."),
            module::<SpokecoParams, Vec<Buyer>>("buyers", List, "Lists the buyers (purchasing contacts) of a SpokeCo."),
            module::<SpokecoParams, Vec<Address>>(
                "addresses",
                List,
                "Lists the ship-to and bill-to addresses of a SpokeCo.",
            ),
        ],
    }
}

#[cfg(test)]
mod tests;
