//! The demo data: realistic records generated from a fixed seed, so every sandbox (and every
//! test run) sees the same accounts, contacts, ... with the same ids. Generated on the first
//! request that needs data (a sandbox starts in every test, most never call 1CRM): about
//! 150 ms in a debug build, kept low by storing rows of strings rather than JSON maps.

use std::collections::HashMap;

use super::datetime;
use super::models::{self, MODELS, Options};
use super::store::{Row, Store, Table, derive_name, new_id};

/// Records per model, in the order of [`MODELS`].
pub const COUNTS: [(&str, usize); 8] = [
    ("Account", 1500),
    ("Contact", 3000),
    ("Lead", 600),
    ("Opportunity", 800),
    ("Case", 400),
    ("Invoice", 700),
    ("Note", 1200),
    ("Document", 60),
];

const SEED: u64 = 0x1c4d_2024;
/// 2022-01-01 00:00:00 UTC: seeded records were entered during the three years after it.
const EPOCH: u64 = 1_640_995_200;
const SPAN: u64 = 3 * 365 * 86_400;

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Paul",
    "Ashley",
    "Steven",
    "Emily",
    "Andrew",
    "Donna",
    "Kenneth",
    "Michelle",
    "Joshua",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Lukas",
    "Sophie",
    "Jan",
    "Anna",
    "Pieter",
    "Emma",
    "Luca",
    "Giulia",
    "Hugo",
    "Chloé",
    "Søren",
    "Ingrid",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Müller",
    "Schmidt",
    "de Vries",
    "Jansen",
    "Rossi",
    "Dubois",
    "O'Brien",
    "Nielsen",
];
const COMPANY_A: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Cyberdyne",
    "Tyrell",
    "Soylent",
    "Massive",
    "Aperture",
    "Oscorp",
    "Gringotts",
    "Nakatomi",
    "Sirius",
    "Blue Sun",
    "Pied Piper",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Litware",
    "Tailspin",
    "Adventure",
    "Wide World",
    "Proseware",
    "Alpine",
    "Coho",
    "Lucerne",
    "Margie's",
    "Fourth Coffee",
    "Woodgrove",
    "Trey",
    "Humongous",
    "Graphic",
    "Southridge",
];
const COMPANY_B: &[&str] = &[
    "Industries",
    "Corporation",
    "Systems",
    "Holdings",
    "Logistics",
    "Trading",
    "Labs",
    "Partners",
    "Foods",
    "Manufacturing",
    "Solutions",
    "Group",
    "Supplies",
    "Services",
    "Technologies",
    "Energy",
];
const COMPANY_C: &[&str] = &["Inc.", "LLC", "Ltd.", "GmbH", "B.V.", "S.A.", "AG", "Co."];
/// City, state, country.
const PLACES: &[(&str, &str, &str)] = &[
    ("San Jose", "CA", "USA"),
    ("San Francisco", "CA", "USA"),
    ("Los Angeles", "CA", "USA"),
    ("New York", "NY", "USA"),
    ("Chicago", "IL", "USA"),
    ("Austin", "TX", "USA"),
    ("Seattle", "WA", "USA"),
    ("Boston", "MA", "USA"),
    ("Denver", "CO", "USA"),
    ("Miami", "FL", "USA"),
    ("Toronto", "ON", "Canada"),
    ("Vancouver", "BC", "Canada"),
    ("London", "", "United Kingdom"),
    ("Manchester", "", "United Kingdom"),
    ("Amsterdam", "NH", "Netherlands"),
    ("Rotterdam", "ZH", "Netherlands"),
    ("Berlin", "BE", "Germany"),
    ("München", "BY", "Germany"),
    ("Paris", "", "France"),
    ("Lyon", "", "France"),
    ("Zürich", "ZH", "Switzerland"),
    ("Milano", "MI", "Italy"),
    ("Madrid", "", "Spain"),
    ("Sydney", "NSW", "Australia"),
];
const STREETS: &[&str] = &[
    "Main Street",
    "Oak Avenue",
    "Maple Drive",
    "Park Lane",
    "Market Street",
    "Elm Street",
    "Keizersgracht",
    "Hauptstraße",
    "Rue de Rivoli",
    "High Street",
    "Broadway",
    "Sunset Boulevard",
];
const TITLES: &[&str] = &[
    "CEO",
    "CFO",
    "Purchasing Manager",
    "Sales Director",
    "Office Manager",
    "IT Manager",
    "Accountant",
    "Operations Lead",
    "Buyer",
    "Marketing Manager",
    "",
];
const SUBJECTS: &[&str] = &[
    "Follow-up call",
    "Pricing question",
    "Meeting notes",
    "Contract renewal",
    "Delivery delayed",
    "Invoice dispute",
    "Product demo",
    "Support request",
    "Onboarding",
    "Quarterly review",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example",
    "corp.example",
];

/// Every table filled.
pub fn generate() -> Store {
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut store = Store {
        tables: MODELS.iter().map(|_| Table::default()).collect(),
        ..Store::default()
    };
    let mut ids: Vec<Vec<String>> = vec![Vec::new(); MODELS.len()];
    for (model, (name, count)) in COUNTS.iter().enumerate() {
        let def = &MODELS[model];
        debug_assert_eq!(def.name, *name);
        let cols: HashMap<&'static str, usize> = def.fields.iter().enumerate().map(|(i, f)| (f.name, i)).collect();
        for n in 0..*count {
            let mut g = Gen {
                rng: &mut rng,
                out: Out {
                    cols: &cols,
                    row: Row {
                        values: vec![None; def.fields.len()],
                    },
                },
            };
            let id = g.common();
            match def.name {
                "Account" => g.account(),
                "Contact" => g.contact(&ids[0]),
                "Lead" => g.lead(),
                "Opportunity" => g.opportunity(&ids[0]),
                "Case" => g.case(&ids[0], &ids[1], n),
                "Invoice" => g.invoice(&ids[0], n),
                "Note" => g.note(&ids[0], &ids[1]),
                _ => g.document(n),
            }
            let mut row = g.out.row;
            derive_name(def, &mut row);
            ids[model].push(id.clone());
            let table = &mut store.tables[model];
            table.push(id, row);
            if def.number_field.is_some() {
                table.next_number = 1000 + n as u64 + 1;
            }
        }
    }
    store
}

/// One record being generated: the random source and the row, apart so that a value can be
/// drawn and stored in one expression.
struct Gen<'a> {
    rng: &'a mut fastrand::Rng,
    out: Out<'a>,
}

struct Out<'a> {
    /// Column of each field name: a linear search per value dominated seeding time.
    cols: &'a HashMap<&'static str, usize>,
    row: Row,
}

impl Out<'_> {
    fn set(&mut self, field: &str, value: impl Into<String>) {
        if let Some(slot) = self.cols.get(field).and_then(|&col| self.row.values.get_mut(col)) {
            *slot = Some(value.into());
        }
    }
}

fn pick<T: Clone>(rng: &mut fastrand::Rng, items: &[T]) -> T {
    items[rng.usize(..items.len())].clone()
}

fn option(rng: &mut fastrand::Rng, options: Options) -> &'static str {
    pick(rng, options).0
}

fn chance(rng: &mut fastrand::Rng, percent: u8) -> &'static str {
    if rng.u8(..100) < percent { "1" } else { "0" }
}

fn phone(rng: &mut fastrand::Rng) -> String {
    format!(
        "+1 {:03}-{:03}-{:04}",
        rng.u16(200..999),
        rng.u16(200..999),
        rng.u16(..10000)
    )
}

fn email(rng: &mut fastrand::Rng, first: &str, last: &str) -> String {
    let domain = pick(rng, DOMAINS);
    let local: String = format!("{first}.{last}")
        .to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{local}{}@{domain}", rng.u16(1..100))
}

impl Gen<'_> {
    /// id, audit fields and owner; returns the id.
    fn common(&mut self) -> String {
        let id = new_id(self.rng);
        let entered = EPOCH + self.rng.u64(..SPAN);
        let modified = entered + self.rng.u64(..(EPOCH + SPAN - entered).max(1));
        let owner = if self.rng.u8(..100) < 70 { "1" } else { "2" };
        self.out.set("id", id.clone());
        self.out.set("deleted", "0");
        self.out.set("date_entered", datetime::format(entered));
        self.out.set("date_modified", datetime::format(modified));
        self.out.set("created_by", owner);
        self.out.set("modified_user_id", owner);
        self.out.set("assigned_user_id", owner);
        id
    }

    fn person(&mut self) -> (&'static str, &'static str) {
        let first = pick(self.rng, FIRST);
        let last = pick(self.rng, LAST);
        let salutation = option(self.rng, models::SALUTATIONS);
        self.out.set("salutation", salutation);
        self.out.set("first_name", first);
        self.out.set("last_name", last);
        (first, last)
    }

    fn account(&mut self) {
        let name = format!(
            "{} {} {}",
            pick(self.rng, COMPANY_A),
            pick(self.rng, COMPANY_B),
            pick(self.rng, COMPANY_C)
        );
        let slug: String = name
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let (city, state, country) = pick(self.rng, PLACES);
        self.out.set("name", name);
        self.out.set("account_type", pick(self.rng, models::ACCOUNT_TYPES).0);
        self.out.set("industry", pick(self.rng, &models::INDUSTRIES[1..]).0);
        let phone = phone(self.rng);
        self.out.set("phone_office", phone);
        self.out.set("email1", format!("info@{slug}.example"));
        self.out.set("website", format!("https://www.{slug}.example"));
        let street = format!("{} {}", self.rng.u16(1..999), pick(self.rng, STREETS));
        self.out.set("billing_address_street", street);
        self.out.set("billing_address_city", city);
        self.out.set("billing_address_state", state);
        self.out.set(
            "billing_address_postalcode",
            format!("{:05}", self.rng.u32(1000..99999)),
        );
        self.out.set("billing_address_country", country);
        self.out.set("employees", self.rng.u32(1..5000).to_string());
        self.out.set("balance", money(self.rng.u64(..5_000_000)));
        self.out.set("is_supplier", chance(self.rng, 15));
    }

    fn contact(&mut self, accounts: &[String]) {
        let (first, last) = self.person();
        let (city, state, country) = pick(self.rng, PLACES);
        let email = email(self.rng, first, last);
        self.out.set("email1", email);
        self.out.set("title", pick(self.rng, TITLES));
        let (work, mobile) = (phone(self.rng), phone(self.rng));
        self.out.set("phone_work", work);
        self.out.set("phone_mobile", mobile);
        if self.rng.u8(..100) < 90 {
            self.out.set("primary_account_id", pick(self.rng, accounts));
        }
        let street = format!("{} {}", self.rng.u16(1..999), pick(self.rng, STREETS));
        self.out.set("primary_address_street", street);
        self.out.set("primary_address_city", city);
        self.out.set("primary_address_state", state);
        self.out.set(
            "primary_address_postalcode",
            format!("{:05}", self.rng.u32(1000..99999)),
        );
        self.out.set("primary_address_country", country);
        self.out.set("lead_source", option(self.rng, models::LEAD_SOURCES));
        let birth = 60_000_000 + self.rng.u64(..1_000_000_000);
        self.out.set("birthdate", datetime::format_date(birth));
        self.out.set("do_not_call", chance(self.rng, 5));
        self.out.set("email_opt_out", chance(self.rng, 10));
    }

    fn lead(&mut self) {
        let (first, last) = self.person();
        let email = email(self.rng, first, last);
        self.out.set("email1", email);
        let company = format!("{} {}", pick(self.rng, COMPANY_A), pick(self.rng, COMPANY_B));
        self.out.set("account_name", company);
        self.out.set("title", pick(self.rng, TITLES));
        self.out.set("status", option(self.rng, models::LEAD_STATUSES));
        self.out.set("lead_source", option(self.rng, models::LEAD_SOURCES));
        let phone = phone(self.rng);
        self.out.set("phone_work", phone);
        let (city, _, country) = pick(self.rng, PLACES);
        self.out.set("primary_address_city", city);
        self.out.set("primary_address_country", country);
        self.out.set("do_not_call", chance(self.rng, 5));
    }

    fn opportunity(&mut self, accounts: &[String]) {
        let name = format!(
            "{} - {}",
            pick(self.rng, COMPANY_A),
            pick(self.rng, &["Renewal", "Upgrade", "New licenses", "Expansion", "Pilot"])
        );
        self.out.set("name", name);
        self.out.set("account_id", pick(self.rng, accounts));
        self.out.set("amount", money(self.rng.u64(100_000..50_000_000)));
        let closed = EPOCH + self.rng.u64(..SPAN + 365 * 86_400);
        self.out.set("date_closed", datetime::format_date(closed));
        let stage = option(self.rng, models::SALES_STAGES);
        self.out.set("sales_stage", stage);
        let probability = match stage {
            "Closed Won" => 100,
            "Closed Lost" => 0,
            _ => self.rng.u8(1..10) * 10,
        };
        self.out.set("probability", probability.to_string());
        self.out
            .set("opportunity_type", option(self.rng, models::OPPORTUNITY_TYPES));
        self.out.set("lead_source", option(self.rng, models::LEAD_SOURCES));
        self.out
            .set("next_step", pick(self.rng, &["Send proposal", "Call back", "Demo", ""]));
    }

    fn case(&mut self, accounts: &[String], contacts: &[String], n: usize) {
        let subject = pick(self.rng, SUBJECTS);
        self.out.set("name", subject);
        self.out.set("case_number", (1001 + n).to_string());
        self.out.set("account_id", pick(self.rng, accounts));
        if self.rng.bool() {
            self.out.set("contact_id", pick(self.rng, contacts));
        }
        self.out.set("status", option(self.rng, models::CASE_STATUSES));
        self.out.set("priority", option(self.rng, models::CASE_PRIORITIES));
        self.out.set("type", option(self.rng, models::CASE_TYPES));
        self.out
            .set("description", format!("{subject}: reported by the customer."));
    }

    fn invoice(&mut self, accounts: &[String], n: usize) {
        let number = 1001 + n;
        self.out.set("name", format!("Invoice {number}"));
        self.out.set("invoice_number", number.to_string());
        self.out.set("billing_account_id", pick(self.rng, accounts));
        let date = EPOCH + self.rng.u64(..SPAN);
        self.out.set("invoice_date", datetime::format_date(date));
        self.out.set("due_date", datetime::format_date(date + 30 * 86_400));
        self.out.set("terms", option(self.rng, models::TERMS));
        let cents = self.rng.u64(10_000..2_000_000);
        self.out.set("amount", money(cents));
        let due = if self.rng.bool() { 0 } else { cents };
        self.out.set("amount_due", money(due));
        self.out.set("currency_id", "-99");
        self.out
            .set("purchase_order_num", format!("PO-{}", self.rng.u32(10000..99999)));
        self.out.set("cancelled", chance(self.rng, 3));
        let (city, _, country) = pick(self.rng, PLACES);
        self.out.set("billing_address_city", city);
        self.out.set("billing_address_country", country);
    }

    fn note(&mut self, accounts: &[String], contacts: &[String]) {
        let subject = pick(self.rng, SUBJECTS);
        self.out.set("name", subject);
        self.out.set("description", format!("{subject}. Discussed next steps."));
        let account = pick(self.rng, accounts);
        self.out.set("account_id", account.clone());
        if self.rng.bool() {
            self.out.set("parent_type", "Account");
            self.out.set("parent_id", account);
        } else {
            let contact = pick(self.rng, contacts);
            self.out.set("parent_type", "Contact");
            self.out.set("parent_id", contact.clone());
            self.out.set("contact_id", contact);
        }
        self.out.set("portal_flag", chance(self.rng, 10));
    }

    fn document(&mut self, n: usize) {
        let name = format!(
            "{} {}",
            pick(self.rng, &["Price list", "Brochure", "Terms", "Manual", "Datasheet"]),
            2022 + n % 4
        );
        self.out.set("document_name", name);
        self.out
            .set("category_id", option(self.rng, &models::DOC_CATEGORIES[1..]));
        self.out.set("status_id", option(self.rng, models::DOC_STATUSES));
        let active = EPOCH + self.rng.u64(..SPAN);
        self.out.set("active_date", datetime::format_date(active));
        self.out.set("revision", "1");
    }
}

/// Cents as 1CRM's decimal string.
fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_and_quick() {
        let started = std::time::Instant::now();
        let a = generate();
        let elapsed = started.elapsed();
        let b = generate();
        assert_eq!(a.tables[0].rows.len(), 1500);
        assert_eq!(a.tables[1].rows.len(), 3000);
        assert_eq!(a.tables[0].rows[7].values, b.tables[0].rows[7].values);
        assert!(elapsed.as_millis() < 2000, "seeding took {elapsed:?}");
    }
}
