//! Every name of the Conexiom API that the simulator had to guess, in one place.
//!
//! Conexiom publishes no API reference. The endpoint *names*, the connection fields and the
//! two delta parameter spellings are confirmed (Celonis extractor documentation, see
//! `apis/conexiom.md`, "Sources"); everything else here (the API root, the token path, the
//! route paths, the paging parameters, every JSON property, the enum values and the error
//! texts) is **PROPOSED** in `apis/conexiom.md` and only as good as that proposal. When the
//! real contract (documentation or recorded traffic) is known, this file is what changes:
//! routes, handlers and seed refer to these constants rather than spelling names themselves.

/// PROPOSED: the API root under the tenant host (`https://dev65.conexiom.net/Conexiom.API`;
/// the example URL is confirmed, that every tenant has this path segment is not).
pub const API_ROOT: &str = "/Conexiom.API";

// UNSURE (apis/conexiom.md): the token path.
/// PROPOSED (UNSURE in the doc): the token endpoint, relative to [`API_ROOT`]. The default
/// of `ConexiomSettings::token_path`; `/oauth/token` and `/connect/token` are the other
/// candidates the doc names.
pub const TOKEN_PATH: &str = "/token";

/// The realm of Conexiom tokens in the shared token store (`crate::tokens`); not part of
/// the API.
pub const REALM: &str = "conexiom";

/// Route paths relative to [`API_ROOT`], in axum's `{param}` syntax. All PROPOSED (table
/// "Endpoints" of `apis/conexiom.md`; the endpoint names beside them are confirmed).
pub mod paths {
    /// 1 "Alerts".
    pub const ALERTS: &str = "/api/hubcos/{hubCoId}/alerts";
    /// 2 "Alert per Document".
    pub const ALERT: &str = "/api/alerts/{alertId}";
    /// 3 "SpokeCos per HubCo".
    pub const SPOKECOS: &str = "/api/hubcos/{hubCoId}/spokecos";
    /// 4 "Documents per SpokeCo".
    pub const DOCUMENTS: &str = "/api/spokecos/{spokeCoId}/documents";
    /// 5 "Document Data".
    pub const DOCUMENT: &str = "/api/documents/{documentId}";
    /// 6 "Filelist".
    pub const FILES: &str = "/api/documents/{documentId}/files";
    /// 7 "Buyers".
    pub const BUYERS: &str = "/api/spokecos/{spokeCoId}/buyers";
    /// 8 "Addresses".
    pub const ADDRESSES: &str = "/api/spokecos/{spokeCoId}/addresses";
    /// 9 "SpokeCos" (one).
    pub const SPOKECO: &str = "/api/spokecos/{spokeCoId}";
}

/// Query parameters. Names are matched case-insensitively, as ASP.NET binds them.
pub mod params {
    /// Confirmed spelling (camelCase): SpokeCos modified at or after this date.
    pub const LAST_MODIFIED_FROM: &str = "lastModifiedFromDate";
    /// Confirmed spelling (PascalCase): documents processed at or after this date.
    pub const PROCESSED_ON_FROM: &str = "ProcessedOnFromDate";
    /// PROPOSED: the optional paged mode (the doc knows of no paging at all).
    pub const PAGE: &str = "page";
    pub const PAGE_SIZE: &str = "pageSize";
}

/// The OAuth token endpoint: standard RFC 6749 names; the error bodies are PROPOSED as the
/// ASP.NET OWIN defaults.
pub mod token {
    pub const TOKEN_TYPE: &str = "bearer";
    pub const INVALID_GRANT_DESCRIPTION: &str = "The user name or password is incorrect.";
}

/// PROPOSED error bodies (ASP.NET Web API defaults): `{"Message": ...}`, plus `ModelState`
/// for an invalid request.
// UNSURE (apis/conexiom.md): every error text; nothing about errors is confirmed.
pub mod errors {
    pub const MESSAGE: &str = "Message";
    pub const MODEL_STATE: &str = "ModelState";
    pub const UNAUTHORIZED: &str = "Authorization has been denied for this request.";
    pub const INVALID_REQUEST: &str = "The request is invalid.";
}

// UNSURE (apis/conexiom.md): whether lists are wrapped at all.
/// PROPOSED: the wrapper of the paged mode, which the simulator offers to test a client's
/// tolerance; by default lists are bare arrays (the ASP.NET default).
pub mod page {
    pub const ITEMS: &str = "Items";
    pub const TOTAL_COUNT: &str = "TotalCount";
    pub const PAGE: &str = "Page";
    pub const PAGE_SIZE: &str = "PageSize";
}

/// PROPOSED properties of a SpokeCo.
pub mod spokeco {
    pub const SPOKE_CO_ID: &str = "SpokeCoId";
    pub const HUB_CO_ID: &str = "HubCoId";
    pub const NAME: &str = "Name";
    pub const ERP_CUSTOMER_NUMBER: &str = "ErpCustomerNumber";
    pub const IS_ACTIVE: &str = "IsActive";
    pub const CREATED_ON: &str = "CreatedOn";
    pub const LAST_MODIFIED_ON: &str = "LastModifiedOn";
}

/// PROPOSED properties of a Document (list item), and its values.
pub mod document {
    pub const DOCUMENT_ID: &str = "DocumentId";
    pub const SPOKE_CO_ID: &str = "SpokeCoId";
    pub const HUB_CO_ID: &str = "HubCoId";
    pub const DOCUMENT_TYPE: &str = "DocumentType";
    pub const DOCUMENT_NUMBER: &str = "DocumentNumber";
    pub const STATUS: &str = "Status";
    pub const SENDER_EMAIL: &str = "SenderEmail";
    pub const RECEIVED_ON: &str = "ReceivedOn";
    pub const PROCESSED_ON: &str = "ProcessedOn";
    pub const HAS_ALERTS: &str = "HasAlerts";

    pub const TYPE_PURCHASE_ORDER: &str = "PurchaseOrder";
    pub const TYPE_CHANGE_ORDER: &str = "ChangeOrder";
    /// A document Conexiom has received but not processed yet (`ProcessedOn` null).
    pub const STATUS_RECEIVED: &str = "Received";
    pub const STATUS_PROCESSED: &str = "Processed";
}

/// PROPOSED properties of DocumentData (the extracted order) and its lines.
pub mod data {
    pub const DOCUMENT_ID: &str = "DocumentId";
    pub const PO_NUMBER: &str = "PONumber";
    pub const PO_DATE: &str = "PODate";
    pub const CURRENCY: &str = "Currency";
    pub const BUYER_ID: &str = "BuyerId";
    pub const SHIP_TO_ADDRESS_ID: &str = "ShipToAddressId";
    pub const BILL_TO_ADDRESS_ID: &str = "BillToAddressId";
    pub const TOTAL_AMOUNT: &str = "TotalAmount";
    pub const LINES: &str = "Lines";

    pub const LINE_NUMBER: &str = "LineNumber";
    pub const CUSTOMER_PART_NUMBER: &str = "CustomerPartNumber";
    pub const SUPPLIER_PART_NUMBER: &str = "SupplierPartNumber";
    pub const DESCRIPTION: &str = "Description";
    pub const QUANTITY: &str = "Quantity";
    pub const UNIT_OF_MEASURE: &str = "UnitOfMeasure";
    pub const UNIT_PRICE: &str = "UnitPrice";
    pub const EXTENDED_PRICE: &str = "ExtendedPrice";
    pub const REQUESTED_DATE: &str = "RequestedDate";
}

/// PROPOSED properties of a DocumentFile, and its `FileType` values.
pub mod file {
    pub const FILE_ID: &str = "FileId";
    pub const DOCUMENT_ID: &str = "DocumentId";
    pub const FILE_NAME: &str = "FileName";
    pub const CONTENT_TYPE: &str = "ContentType";
    pub const FILE_TYPE: &str = "FileType";
    pub const SIZE_BYTES: &str = "SizeBytes";
    pub const CREATED_ON: &str = "CreatedOn";

    /// The document as the SpokeCo sent it.
    pub const TYPE_ORIGINAL: &str = "Original";
    /// A further attachment of the same e-mail.
    pub const TYPE_ATTACHMENT: &str = "Attachment";
    /// The clean order handed to the HubCo's ERP, written when the document is processed.
    pub const TYPE_OUTPUT: &str = "Output";
}

/// PROPOSED properties of an Alert; AlertDetail adds the `DETAIL_*` ones.
pub mod alert {
    pub const ALERT_ID: &str = "AlertId";
    pub const HUB_CO_ID: &str = "HubCoId";
    pub const SPOKE_CO_ID: &str = "SpokeCoId";
    pub const DOCUMENT_ID: &str = "DocumentId";
    pub const ALERT_TYPE: &str = "AlertType";
    pub const SEVERITY: &str = "Severity";
    pub const STATUS: &str = "Status";
    pub const MESSAGE: &str = "Message";
    pub const CREATED_ON: &str = "CreatedOn";
    pub const RESOLVED_ON: &str = "ResolvedOn";

    /// Detail only.
    // UNSURE (apis/conexiom.md): the doc says "same plus detail fields" and names none;
    // these are invented.
    pub const DETAIL_RULE_NAME: &str = "RuleName";
    pub const DETAIL_DETAILS: &str = "Details";
    pub const DETAIL_LINE_NUMBER: &str = "LineNumber";
    pub const DETAIL_DOCUMENT_NUMBER: &str = "DocumentNumber";
    pub const DETAIL_RESOLVED_BY: &str = "ResolvedBy";

    pub const STATUS_OPEN: &str = "Open";
    pub const STATUS_RESOLVED: &str = "Resolved";
    pub const SEVERITY_ERROR: &str = "Error";
    pub const SEVERITY_WARNING: &str = "Warning";
}

/// PROPOSED properties of a Buyer.
pub mod buyer {
    pub const BUYER_ID: &str = "BuyerId";
    pub const SPOKE_CO_ID: &str = "SpokeCoId";
    pub const NAME: &str = "Name";
    pub const EMAIL: &str = "Email";
    pub const PHONE: &str = "Phone";
}

/// PROPOSED properties of an Address, and its `AddressType` values.
pub mod address {
    pub const ADDRESS_ID: &str = "AddressId";
    pub const SPOKE_CO_ID: &str = "SpokeCoId";
    pub const ADDRESS_TYPE: &str = "AddressType";
    pub const CODE: &str = "Code";
    pub const NAME: &str = "Name";
    pub const LINE1: &str = "Line1";
    pub const LINE2: &str = "Line2";
    pub const CITY: &str = "City";
    pub const STATE: &str = "State";
    pub const POSTAL_CODE: &str = "PostalCode";
    pub const COUNTRY: &str = "Country";

    pub const TYPE_SHIP_TO: &str = "ShipTo";
    pub const TYPE_BILL_TO: &str = "BillTo";
}
