//! Every part of the Conexiom API the connector relies on that is PROPOSED rather than known:
//! paths, parameter names, the token path, the page wrapper and the error body. Conexiom
//! publishes no reference; the endpoint names and the two delta parameters come from the
//! Celonis extractor documentation, everything else from `apis/conexiom.md` (the project's
//! shared API notes). The sandbox simulator keeps its own copy of the same table
//! (`flowrun-sandbox`, `conexiom/contract.rs`): correct both when real traffic is seen.

use crate::id::Id;

/// The token endpoint below `api_url` when the connection names none. UNSURE: `oauth/token`
/// and `connect/token` are the other candidates.
pub const TOKEN_PATH: &str = "token";

/// The delta parameter of SpokeCos (confirmed spelling, camelCase).
pub const LAST_MODIFIED_FROM: &str = "lastModifiedFromDate";
/// The delta parameter of documents (confirmed spelling, PascalCase).
pub const PROCESSED_ON_FROM: &str = "ProcessedOnFromDate";

/// Paging, should a list come wrapped: `{"Items": […], "TotalCount": n, "Page": p, "PageSize": s}`
/// answering `page` (1-based) and `pageSize`. UNSURE: lists are assumed to be bare arrays.
pub const PAGE: &str = "page";
pub const PAGE_SIZE: &str = "pageSize";
pub const TOTAL_COUNT: &str = "TotalCount";

/// The error body of ASP.NET Web API: `{"Message": …, "ModelState": {param: [messages]}}`.
pub const MESSAGE: &str = "Message";
pub const MODEL_STATE: &str = "ModelState";

/// An endpoint and the ids in its path.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint<'a> {
    Alerts { hubco: &'a Id },
    Alert { alert: &'a Id },
    SpokeCos { hubco: &'a Id },
    SpokeCo { spokeco: &'a Id },
    Documents { spokeco: &'a Id },
    DocumentData { document: &'a Id },
    Files { document: &'a Id },
    Buyers { spokeco: &'a Id },
    Addresses { spokeco: &'a Id },
}

impl Endpoint<'_> {
    /// The path below `api_url`, as segments (each is percent-encoded when the URL is built).
    pub fn segments(self) -> Vec<String> {
        let path = |parts: &[&str], id: &Id| {
            let mut segments: Vec<String> = parts.iter().map(|part| (*part).to_owned()).collect();
            segments.insert(2, id.to_string());
            segments
        };
        match self {
            Endpoint::Alerts { hubco } => path(&["api", "hubcos", "alerts"], hubco),
            Endpoint::Alert { alert } => path(&["api", "alerts"], alert),
            Endpoint::SpokeCos { hubco } => path(&["api", "hubcos", "spokecos"], hubco),
            Endpoint::SpokeCo { spokeco } => path(&["api", "spokecos"], spokeco),
            Endpoint::Documents { spokeco } => path(&["api", "spokecos", "documents"], spokeco),
            Endpoint::DocumentData { document } => path(&["api", "documents"], document),
            Endpoint::Files { document } => path(&["api", "documents", "files"], document),
            Endpoint::Buyers { spokeco } => path(&["api", "spokecos", "buyers"], spokeco),
            Endpoint::Addresses { spokeco } => path(&["api", "spokecos", "addresses"], spokeco),
        }
    }

    /// What the path's id names, for "no SpokeCo with id 12": `(what, id)`.
    pub fn subject(self) -> (&'static str, String) {
        match self {
            Endpoint::Alerts { hubco } | Endpoint::SpokeCos { hubco } => ("HubCo", hubco.to_string()),
            Endpoint::Alert { alert } => ("alert", alert.to_string()),
            Endpoint::SpokeCo { spokeco }
            | Endpoint::Documents { spokeco }
            | Endpoint::Buyers { spokeco }
            | Endpoint::Addresses { spokeco } => ("SpokeCo", spokeco.to_string()),
            Endpoint::DocumentData { document } | Endpoint::Files { document } => ("document", document.to_string()),
        }
    }
}
