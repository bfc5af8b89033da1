//! The 1CRM models the simulator serves: their fields with types, the filters `/data` accepts
//! and the related lists (links). One table drives `/meta/fields`, validation on write, list
//! filters and rendering, so that what the metadata says and what `/data` does cannot drift.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

/// Options of an enum field: key (stored value) and label.
pub type Options = &'static [(&'static str, &'static str)];

/// A field's type, as `/meta/fields` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Id,
    Varchar,
    Text,
    Bool,
    Datetime,
    Date,
    Int,
    Currency,
    Email,
    Phone,
    Url,
    Enum(Options),
    /// The display name of a related record, read-only, computed from the id field
    /// `id_name`; `bean` is the related model (`"User"` for users), or `None` when the
    /// model is given by the `parent_type` field (a Note's parent).
    Ref {
        bean: Option<&'static str>,
        id_name: &'static str,
    },
    /// Takes an `INCOMING~…` upload id on write; reads back as the attached file's name.
    FileRef,
}

impl Kind {
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Id => "id",
            Kind::Varchar => "varchar",
            Kind::Text => "text",
            Kind::Bool => "bool",
            Kind::Datetime => "datetime",
            Kind::Date => "date",
            Kind::Int => "int",
            Kind::Currency => "currency",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Url => "url",
            Kind::Enum(_) => "enum",
            Kind::Ref { .. } => "ref",
            Kind::FileRef => "file_ref",
        }
    }

    /// Numbers sort as numbers, everything else as case-insensitive text.
    pub fn is_numeric(self) -> bool {
        matches!(self, Kind::Int | Kind::Currency)
    }
}

/// One field of a model.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: &'static str,
    pub vname: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Whether a client may write it; others (ids, timestamps, computed names) are ignored
    /// on write like unknown fields.
    pub editable: bool,
    pub len: Option<u32>,
}

fn field(name: &'static str, vname: &'static str, kind: Kind) -> Field {
    let len = match kind {
        Kind::Varchar | Kind::Phone | Kind::Url => Some(100),
        Kind::Email => Some(150),
        Kind::Id => Some(36),
        _ => None,
    };
    Field {
        name,
        vname,
        kind,
        required: false,
        editable: !matches!(kind, Kind::Ref { .. }),
        len,
    }
}

impl Field {
    fn required(mut self) -> Self {
        self.required = true;
        self
    }

    fn read_only(mut self) -> Self {
        self.editable = false;
        self
    }

    fn len(mut self, len: u32) -> Self {
        self.len = Some(len);
        self
    }

    /// The `/meta/fields` entry.
    pub fn meta(&self) -> Value {
        let mut meta = json!({
            "name": self.name,
            "vname": self.vname,
            "type": self.kind.type_name(),
            "required": self.required,
            "editable": self.editable,
            "updateable": self.editable,
            "audited": self.editable,
        });
        if let Some(len) = self.len {
            meta["len"] = json!(len);
        }
        match self.kind {
            Kind::Enum(options) => meta["options"] = options_json(options),
            Kind::Ref { bean, id_name } => {
                meta["id_name"] = json!(id_name);
                match bean {
                    Some(bean) => meta["bean_name"] = json!(bean),
                    None => meta["dynamic_module"] = json!("parent_type"),
                }
            }
            _ => {}
        }
        meta
    }
}

fn options_json(options: Options) -> Value {
    Value::Object(options.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect())
}

/// What a filter of `filters[name]=value` does.
#[derive(Clone, Debug)]
pub enum FilterKind {
    /// Case-insensitive prefix search over these fields (`filter_text`).
    Text(&'static [&'static str]),
    /// `all`, `mine`, `not_mine` or a user id, against `assigned_user_id`.
    Owner,
    /// Case-insensitive prefix match on one field (`address_city`, `first_name`, ...).
    Prefix(&'static str),
    /// Exact match on one field (enums and ids).
    Exact(&'static str),
}

#[derive(Clone, Debug)]
pub struct Filter {
    pub name: &'static str,
    pub vname: &'static str,
    pub kind: FilterKind,
}

impl Filter {
    /// The `/meta/fields` `filters` entry.
    fn meta(&self, model: &Model) -> Value {
        match &self.kind {
            FilterKind::Text(fields) => {
                json!({"name": self.name, "vname": self.vname, "type": "varchar", "fields": fields})
            }
            FilterKind::Owner => json!({
                "name": self.name, "vname": self.vname, "type": "enum",
                "options": {"all": "All", "mine": "Mine", "not_mine": "Not Mine"},
                "comment": "or a user id",
            }),
            FilterKind::Prefix(field) => {
                json!({"name": self.name, "vname": self.vname, "type": "varchar", "fields": [field]})
            }
            FilterKind::Exact(field) => {
                let mut meta = json!({"name": self.name, "vname": self.vname, "fields": [field]});
                match model.field(field).map(|(_, f)| f.kind) {
                    Some(Kind::Enum(options)) => {
                        meta["type"] = json!("enum");
                        meta["options"] = options_json(options);
                    }
                    Some(kind) => meta["type"] = json!(kind.type_name()),
                    None => {}
                }
                meta
            }
        }
    }
}

/// A related list `GET /data/{Model}/{id}/{link}`: records of `model` whose `field` holds
/// the parent's id.
#[derive(Clone, Debug)]
pub struct Link {
    pub name: &'static str,
    pub model: &'static str,
    pub field: &'static str,
}

#[derive(Debug)]
pub struct Model {
    pub name: &'static str,
    pub label: &'static str,
    pub fields: Vec<Field>,
    pub filters: Vec<Filter>,
    pub links: Vec<Link>,
    /// Whether the model has a sequential number (`case_number`, `invoice_number`).
    pub number_field: Option<&'static str>,
    /// Whether the model may hold an uploaded file (`/files/*`).
    pub has_file: bool,
}

impl Model {
    /// The field's column index and definition.
    pub fn field(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    /// Column index of a field every model has (`id`, `name`, ...).
    pub fn col(&self, name: &str) -> usize {
        self.field(name).map_or(usize::MAX, |(i, _)| i)
    }

    pub fn filter(&self, name: &str) -> Option<&Filter> {
        self.filters.iter().find(|f| f.name == name)
    }

    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    /// `GET /meta/fields/{Model}`.
    pub fn meta(&self) -> Value {
        let fields: Map<String, Value> = self.fields.iter().map(|f| (f.name.to_owned(), f.meta())).collect();
        let filters: Map<String, Value> = self.filters.iter().map(|f| (f.name.to_owned(), f.meta(self))).collect();
        json!({"fields": fields, "filters": filters})
    }
}

/// Every model, in the order of `/meta/modules`; a model's index is its table's index.
pub static MODELS: LazyLock<Vec<Model>> = LazyLock::new(|| {
    vec![
        account(),
        contact(),
        lead(),
        opportunity(),
        case(),
        invoice(),
        note(),
        document(),
    ]
});

/// A model by its exact (case-sensitive) name, with its index.
pub fn find(name: &str) -> Option<(usize, &'static Model)> {
    MODELS.iter().enumerate().find(|(_, m)| m.name == name)
}

pub const ACCOUNT_TYPES: Options = &[
    ("Customer", "Customer"),
    ("Supplier", "Supplier"),
    ("Partner", "Partner"),
    ("Prospect", "Prospect"),
    ("Competitor", "Competitor"),
    ("Other", "Other"),
];
pub const INDUSTRIES: Options = &[
    ("", ""),
    ("Apparel", "Apparel"),
    ("Banking", "Banking"),
    ("Construction", "Construction"),
    ("Education", "Education"),
    ("Electronics", "Electronics"),
    ("Energy", "Energy"),
    ("Healthcare", "Healthcare"),
    ("Manufacturing", "Manufacturing"),
    ("Retail", "Retail"),
    ("Technology", "Technology"),
    ("Transportation", "Transportation"),
];
pub const SALUTATIONS: Options = &[
    ("", ""),
    ("Mr.", "Mr."),
    ("Ms.", "Ms."),
    ("Mrs.", "Mrs."),
    ("Dr.", "Dr."),
];
pub const LEAD_SOURCES: Options = &[
    ("", ""),
    ("Cold Call", "Cold Call"),
    ("Existing Customer", "Existing Customer"),
    ("Email", "Email"),
    ("Web Site", "Web Site"),
    ("Trade Show", "Trade Show"),
    ("Partner", "Partner"),
    ("Other", "Other"),
];
pub const LEAD_STATUSES: Options = &[
    ("New", "New"),
    ("Assigned", "Assigned"),
    ("In Process", "In Process"),
    ("Converted", "Converted"),
    ("Recycled", "Recycled"),
    ("Dead", "Dead"),
];
pub const SALES_STAGES: Options = &[
    ("Prospecting", "Prospecting"),
    ("Qualification", "Qualification"),
    ("Needs Analysis", "Needs Analysis"),
    ("Value Proposition", "Value Proposition"),
    ("Proposal/Price Quote", "Proposal/Price Quote"),
    ("Negotiation/Review", "Negotiation/Review"),
    ("Closed Won", "Closed Won"),
    ("Closed Lost", "Closed Lost"),
];
pub const OPPORTUNITY_TYPES: Options = &[
    ("New Business", "New Business"),
    ("Existing Business", "Existing Business"),
];
pub const CASE_STATUSES: Options = &[
    ("Active - New", "New"),
    ("Active - Assigned", "Assigned"),
    ("Active - Pending Input", "Pending Input"),
    ("Closed - Closed", "Closed"),
    ("Closed - Rejected", "Rejected"),
];
pub const CASE_PRIORITIES: Options = &[("P1", "High"), ("P2", "Medium"), ("P3", "Low")];
pub const CASE_TYPES: Options = &[
    ("Administration", "Administration"),
    ("Product", "Product"),
    ("User", "User"),
];
pub const TERMS: Options = &[
    ("Due on Receipt", "Due on Receipt"),
    ("Net 15", "Net 15"),
    ("Net 30", "Net 30"),
    ("Net 60", "Net 60"),
];
pub const PARENT_TYPES: Options = &[
    ("", ""),
    ("Account", "Account"),
    ("Contact", "Contact"),
    ("Lead", "Lead"),
    ("Opportunity", "Opportunity"),
    ("Case", "Case"),
];
pub const DOC_CATEGORIES: Options = &[
    ("", ""),
    ("Marketing", "Marketing"),
    ("Knowledge Base", "Knowledge Base"),
    ("Sales", "Sales"),
];
pub const DOC_STATUSES: Options = &[
    ("Active", "Active"),
    ("Draft", "Draft"),
    ("Expired", "Expired"),
    ("Under Review", "Under Review"),
];

/// `id` first, then the model's own fields, then the audit fields every 1CRM model has.
fn with_common(own: Vec<Field>) -> Vec<Field> {
    let mut fields = vec![field("id", "ID", Kind::Id).read_only()];
    fields.extend(own);
    fields.extend([
        field("deleted", "Deleted", Kind::Bool).read_only(),
        field("date_entered", "Date Created", Kind::Datetime).read_only(),
        field("date_modified", "Date Modified", Kind::Datetime).read_only(),
        field("created_by", "Created By", Kind::Id).read_only(),
        field("modified_user_id", "Modified By", Kind::Id).read_only(),
        field("assigned_user_id", "Assigned User Id", Kind::Id),
        field(
            "assigned_user",
            "Assigned to",
            Kind::Ref {
                bean: Some("User"),
                id_name: "assigned_user_id",
            },
        ),
    ]);
    fields
}

fn reference(name: &'static str, vname: &'static str, bean: &'static str, id_name: &'static str) -> Field {
    field(
        name,
        vname,
        Kind::Ref {
            bean: Some(bean),
            id_name,
        },
    )
}

fn text_filter(fields: &'static [&'static str]) -> Filter {
    Filter {
        name: "filter_text",
        vname: "Search",
        kind: FilterKind::Text(fields),
    }
}

fn owner_filter() -> Filter {
    Filter {
        name: "filter_owner",
        vname: "Owner",
        kind: FilterKind::Owner,
    }
}

fn filter(name: &'static str, vname: &'static str, kind: FilterKind) -> Filter {
    Filter { name, vname, kind }
}

fn link(name: &'static str, model: &'static str, field: &'static str) -> Link {
    Link { name, model, field }
}

fn account() -> Model {
    Model {
        name: "Account",
        label: "Accounts",
        fields: with_common(vec![
            field("name", "Name", Kind::Varchar).required().len(150),
            field("account_type", "Type", Kind::Enum(ACCOUNT_TYPES)),
            field("industry", "Industry", Kind::Enum(INDUSTRIES)),
            field("phone_office", "Office Phone", Kind::Phone),
            field("phone_fax", "Fax", Kind::Phone),
            field("email1", "Email", Kind::Email),
            field("website", "Website", Kind::Url),
            field("billing_address_street", "Billing Street", Kind::Varchar).len(150),
            field("billing_address_city", "Billing City", Kind::Varchar),
            field("billing_address_state", "Billing State", Kind::Varchar),
            field("billing_address_postalcode", "Billing Postal Code", Kind::Varchar).len(20),
            field("billing_address_country", "Billing Country", Kind::Varchar),
            field("employees", "Employees", Kind::Int),
            field("balance", "Balance", Kind::Currency),
            field("is_supplier", "Is Supplier", Kind::Bool),
            field("description", "Description", Kind::Text),
        ]),
        filters: vec![
            text_filter(&["name", "email1", "phone_office"]),
            owner_filter(),
            filter("address_city", "City", FilterKind::Prefix("billing_address_city")),
            filter(
                "address_country",
                "Country",
                FilterKind::Prefix("billing_address_country"),
            ),
            filter("account_type", "Type", FilterKind::Exact("account_type")),
            filter("industry", "Industry", FilterKind::Exact("industry")),
        ],
        links: vec![
            link("contacts", "Contact", "primary_account_id"),
            link("notes", "Note", "account_id"),
            link("opportunities", "Opportunity", "account_id"),
            link("cases", "Case", "account_id"),
            link("invoices", "Invoice", "billing_account_id"),
        ],
        number_field: None,
        has_file: false,
    }
}

fn contact() -> Model {
    Model {
        name: "Contact",
        label: "Contacts",
        fields: with_common(vec![
            field("name", "Name", Kind::Varchar).read_only(),
            field("salutation", "Salutation", Kind::Enum(SALUTATIONS)),
            field("first_name", "First Name", Kind::Varchar),
            field("last_name", "Last Name", Kind::Varchar).required(),
            field("title", "Title", Kind::Varchar),
            field("email1", "Email", Kind::Email),
            field("email2", "Other Email", Kind::Email),
            field("phone_work", "Office Phone", Kind::Phone),
            field("phone_mobile", "Mobile", Kind::Phone),
            field("primary_account_id", "Account Id", Kind::Id),
            reference("primary_account", "Account", "Account", "primary_account_id"),
            field("primary_address_street", "Street", Kind::Varchar).len(150),
            field("primary_address_city", "City", Kind::Varchar),
            field("primary_address_state", "State", Kind::Varchar),
            field("primary_address_postalcode", "Postal Code", Kind::Varchar).len(20),
            field("primary_address_country", "Country", Kind::Varchar),
            field("lead_source", "Lead Source", Kind::Enum(LEAD_SOURCES)),
            field("birthdate", "Birthdate", Kind::Date),
            field("do_not_call", "Do Not Call", Kind::Bool),
            field("email_opt_out", "Email Opt Out", Kind::Bool),
            field("description", "Description", Kind::Text),
        ]),
        filters: vec![
            text_filter(&["name", "first_name", "last_name", "email1", "email2"]),
            owner_filter(),
            filter("primary_account", "Account", FilterKind::Exact("primary_account_id")),
            filter("address_city", "City", FilterKind::Prefix("primary_address_city")),
            filter("first_name", "First Name", FilterKind::Prefix("first_name")),
            filter("last_name", "Last Name", FilterKind::Prefix("last_name")),
            filter("email", "Email", FilterKind::Prefix("email1")),
            filter("lead_source", "Lead Source", FilterKind::Exact("lead_source")),
        ],
        links: vec![link("notes", "Note", "contact_id"), link("cases", "Case", "contact_id")],
        number_field: None,
        has_file: false,
    }
}

fn lead() -> Model {
    Model {
        name: "Lead",
        label: "Leads",
        fields: with_common(vec![
            field("name", "Name", Kind::Varchar).read_only(),
            field("salutation", "Salutation", Kind::Enum(SALUTATIONS)),
            field("first_name", "First Name", Kind::Varchar),
            field("last_name", "Last Name", Kind::Varchar).required(),
            field("account_name", "Company", Kind::Varchar).len(150),
            field("title", "Title", Kind::Varchar),
            field("status", "Status", Kind::Enum(LEAD_STATUSES)).required(),
            field("lead_source", "Lead Source", Kind::Enum(LEAD_SOURCES)),
            field("email1", "Email", Kind::Email),
            field("phone_work", "Office Phone", Kind::Phone),
            field("primary_address_city", "City", Kind::Varchar),
            field("primary_address_country", "Country", Kind::Varchar),
            field("do_not_call", "Do Not Call", Kind::Bool),
            field("description", "Description", Kind::Text),
        ]),
        filters: vec![
            text_filter(&["name", "first_name", "last_name", "account_name", "email1"]),
            owner_filter(),
            filter("status", "Status", FilterKind::Exact("status")),
            filter("lead_source", "Lead Source", FilterKind::Exact("lead_source")),
            filter("address_city", "City", FilterKind::Prefix("primary_address_city")),
        ],
        links: vec![link("notes", "Note", "parent_id")],
        number_field: None,
        has_file: false,
    }
}

fn opportunity() -> Model {
    Model {
        name: "Opportunity",
        label: "Opportunities",
        fields: with_common(vec![
            field("name", "Name", Kind::Varchar).required().len(150),
            field("account_id", "Account Id", Kind::Id).required(),
            reference("account", "Account", "Account", "account_id"),
            field("amount", "Amount", Kind::Currency).required(),
            field("date_closed", "Expected Close Date", Kind::Date).required(),
            field("sales_stage", "Sales Stage", Kind::Enum(SALES_STAGES)).required(),
            field("probability", "Probability (%)", Kind::Int),
            field("opportunity_type", "Type", Kind::Enum(OPPORTUNITY_TYPES)),
            field("lead_source", "Lead Source", Kind::Enum(LEAD_SOURCES)),
            field("next_step", "Next Step", Kind::Varchar),
            field("description", "Description", Kind::Text),
        ]),
        filters: vec![
            text_filter(&["name"]),
            owner_filter(),
            filter("account_id", "Account", FilterKind::Exact("account_id")),
            filter("sales_stage", "Sales Stage", FilterKind::Exact("sales_stage")),
        ],
        links: vec![link("notes", "Note", "parent_id")],
        number_field: None,
        has_file: false,
    }
}

fn case() -> Model {
    Model {
        name: "Case",
        label: "Cases",
        fields: with_common(vec![
            field("name", "Subject", Kind::Varchar).required().len(255),
            field("case_number", "Number", Kind::Int).read_only(),
            field("account_id", "Account Id", Kind::Id).required(),
            reference("account", "Account", "Account", "account_id"),
            field("contact_id", "Contact Id", Kind::Id),
            reference("contact", "Contact", "Contact", "contact_id"),
            field("status", "Status", Kind::Enum(CASE_STATUSES)),
            field("priority", "Priority", Kind::Enum(CASE_PRIORITIES)),
            field("type", "Type", Kind::Enum(CASE_TYPES)),
            field("description", "Description", Kind::Text),
            field("resolution", "Resolution", Kind::Text),
        ]),
        filters: vec![
            text_filter(&["name", "case_number"]),
            owner_filter(),
            filter("account_id", "Account", FilterKind::Exact("account_id")),
            filter("status", "Status", FilterKind::Exact("status")),
            filter("priority", "Priority", FilterKind::Exact("priority")),
        ],
        links: vec![link("notes", "Note", "parent_id")],
        number_field: Some("case_number"),
        has_file: false,
    }
}

fn invoice() -> Model {
    Model {
        name: "Invoice",
        label: "Invoices",
        fields: with_common(vec![
            field("name", "Subject", Kind::Varchar).required().len(150),
            field("invoice_number", "Invoice Number", Kind::Int).read_only(),
            field("billing_account_id", "Account Id", Kind::Id).required(),
            reference("billing_account", "Account", "Account", "billing_account_id"),
            field("billing_contact_id", "Contact Id", Kind::Id),
            reference("billing_contact", "Contact", "Contact", "billing_contact_id"),
            field("invoice_date", "Invoice Date", Kind::Date),
            field("due_date", "Due Date", Kind::Date),
            field("terms", "Terms", Kind::Enum(TERMS)),
            field("amount", "Total", Kind::Currency),
            field("amount_due", "Amount Due", Kind::Currency),
            field("currency_id", "Currency", Kind::Varchar).len(36),
            field("purchase_order_num", "Purchase Order Number", Kind::Varchar),
            field("cancelled", "Cancelled", Kind::Bool),
            field("billing_address_city", "Billing City", Kind::Varchar),
            field("billing_address_country", "Billing Country", Kind::Varchar),
            field("description", "Description", Kind::Text),
        ]),
        filters: vec![
            text_filter(&["name", "invoice_number", "purchase_order_num"]),
            owner_filter(),
            filter("account_id", "Account", FilterKind::Exact("billing_account_id")),
            filter("terms", "Terms", FilterKind::Exact("terms")),
        ],
        links: vec![],
        number_field: Some("invoice_number"),
        has_file: false,
    }
}

fn note() -> Model {
    Model {
        name: "Note",
        label: "Notes",
        fields: with_common(vec![
            field("name", "Subject", Kind::Varchar).required().len(255),
            field("description", "Note", Kind::Text),
            field("parent_type", "Parent Type", Kind::Enum(PARENT_TYPES)),
            field("parent_id", "Parent Id", Kind::Id),
            field(
                "parent",
                "Related to",
                Kind::Ref {
                    bean: None,
                    id_name: "parent_id",
                },
            ),
            field("account_id", "Account Id", Kind::Id),
            reference("account", "Account", "Account", "account_id"),
            field("contact_id", "Contact Id", Kind::Id),
            reference("contact", "Contact", "Contact", "contact_id"),
            field("filename", "Attachment", Kind::FileRef),
            field("file_mime_type", "Mime Type", Kind::Varchar).read_only(),
            field("portal_flag", "Show in Portal", Kind::Bool),
        ]),
        filters: vec![
            text_filter(&["name"]),
            owner_filter(),
            filter("account_id", "Account", FilterKind::Exact("account_id")),
            filter("contact_id", "Contact", FilterKind::Exact("contact_id")),
            filter("parent_type", "Related to", FilterKind::Exact("parent_type")),
        ],
        links: vec![],
        number_field: None,
        has_file: true,
    }
}

fn document() -> Model {
    Model {
        name: "Document",
        label: "Documents",
        fields: with_common(vec![
            field("document_name", "Document Name", Kind::Varchar)
                .required()
                .len(255),
            field("name", "Name", Kind::Varchar).read_only(),
            field("category_id", "Category", Kind::Enum(DOC_CATEGORIES)),
            field("status_id", "Status", Kind::Enum(DOC_STATUSES)),
            field("active_date", "Publish Date", Kind::Date),
            field("exp_date", "Expiration Date", Kind::Date),
            field("revision", "Revision", Kind::Varchar).read_only(),
            field("revision_filename", "File", Kind::FileRef),
            field("file_mime_type", "Mime Type", Kind::Varchar).read_only(),
            field("description", "Description", Kind::Text),
        ]),
        filters: vec![
            text_filter(&["document_name"]),
            owner_filter(),
            filter("category_id", "Category", FilterKind::Exact("category_id")),
            filter("status_id", "Status", FilterKind::Exact("status_id")),
        ],
        links: vec![],
        number_field: None,
        has_file: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_links_name_real_fields() {
        for model in MODELS.iter() {
            for name in [
                "id",
                "name",
                "deleted",
                "date_entered",
                "date_modified",
                "assigned_user_id",
            ] {
                assert!(model.field(name).is_some(), "{}.{name}", model.name);
            }
            for filter in &model.filters {
                let fields: Vec<&str> = match &filter.kind {
                    FilterKind::Text(fields) => fields.to_vec(),
                    FilterKind::Owner => vec![],
                    FilterKind::Prefix(f) | FilterKind::Exact(f) => vec![f],
                };
                for f in fields {
                    assert!(
                        model.field(f).is_some(),
                        "{}: filter {} on {f}",
                        model.name,
                        filter.name
                    );
                }
            }
            for link in &model.links {
                let (_, target) = find(link.model).expect("link target");
                assert!(target.field(link.field).is_some(), "{}.{}", model.name, link.name);
            }
            for field in &model.fields {
                if let Kind::Ref { id_name, .. } = field.kind {
                    assert!(model.field(id_name).is_some(), "{}.{}", model.name, field.name);
                }
            }
        }
    }
}
