//! Generated seed data of a division, from a fixed seed (the same ids and values in every
//! sandbox): Dutch-ish companies, contacts, items, GL accounts and sales orders dated
//! 2019–2024, with `Timestamp`s handed out in `Modified` order as a live database would
//! have them.

use super::model::{Entity, Row, Val, date_ms};
use super::store::{Division, blank, guid, round2};

/// How many rows of each kind to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    pub accounts: usize,
    pub contacts: usize,
    pub items: usize,
    pub sales_orders: usize,
    pub gl_accounts: usize,
}

const FAMILY: &[&str] = &[
    "Van der Berg",
    "De Vries",
    "Jansen",
    "Visser",
    "Smit",
    "Meijer",
    "De Boer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "De Wit",
    "Van Leeuwen",
    "Kok",
    "Verhoeven",
    "Willems",
    "Van Dam",
];
const TRADE: &[&str] = &[
    "Techniek",
    "Installatietechniek",
    "Logistiek",
    "Groothandel",
    "Bouw",
    "Transport",
    "Handelsonderneming",
    "Advies",
    "Metaalbewerking",
    "Kunststoffen",
    "Elektro",
    "Automatisering",
    "Bakkerij",
    "Hoveniers",
    "Drukkerij",
];
const LEGAL: &[&str] = &["B.V.", "B.V.", "B.V.", "V.O.F.", "N.V.", "& Zn."];
const CITIES: &[(&str, &str, &str)] = &[
    ("Amsterdam", "1012", "NL"),
    ("Rotterdam", "3011", "NL"),
    ("Utrecht", "3511", "NL"),
    ("Eindhoven", "5611", "NL"),
    ("Groningen", "9711", "NL"),
    ("Tilburg", "5038", "NL"),
    ("Breda", "4811", "NL"),
    ("Nijmegen", "6511", "NL"),
    ("Zwolle", "8011", "NL"),
    ("Haarlem", "2011", "NL"),
    ("Arnhem", "6811", "NL"),
    ("Leiden", "2311", "NL"),
    ("Maastricht", "6211", "NL"),
    ("Delft", "2611", "NL"),
    ("Amersfoort", "3811", "NL"),
    ("Antwerpen", "2000", "BE"),
    ("Gent", "9000", "BE"),
];
const STREETS: &[&str] = &[
    "Hoofdstraat",
    "Kerkstraat",
    "Industrieweg",
    "Stationsweg",
    "Dorpsstraat",
    "Marktplein",
    "Havenweg",
    "Molenweg",
];
const FIRST: &[&str] = &[
    "Jan", "Pieter", "Sanne", "Emma", "Lotte", "Daan", "Sem", "Lucas", "Julia", "Eva", "Thijs", "Ruben", "Fleur",
    "Anouk", "Bram", "Noah", "Femke", "Joris",
];
const LAST: &[&str] = &[
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
];
const JOBS: &[&str] = &[
    "Inkoper",
    "Directeur",
    "Administratie",
    "Verkoop",
    "Magazijnbeheerder",
    "Planner",
];
const PARTS: &[&str] = &[
    "Kogellager",
    "Zeskantbout",
    "Borgmoer",
    "Hydraulische slang",
    "Pakkingset",
    "Drukveer",
    "Kogelkraan",
    "Installatiekabel",
    "Drukschakelaar",
    "Centrifugaalpomp",
    "Luchtfilter",
    "Temperatuursensor",
    "Koppeling",
    "Aandrijfriem",
    "Tandwiel",
];
const SIZES: &[&str] = &[
    "M6", "M8", "M10", "12 mm", "20 mm", "1/2\"", "3/4\"", "DN25", "DN50", "XL",
];
const UNITS: &[&str] = &["pc", "pc", "pc", "box", "m", "kg"];
/// (type, description, balance type) of GL accounts.
const GL: &[(i64, &str, &str)] = &[
    (10, "Kas", "B"),
    (12, "Bank", "B"),
    (20, "Debiteuren", "B"),
    (22, "Crediteuren", "B"),
    (30, "Vaste activa", "B"),
    (32, "Voorraden", "B"),
    (40, "Te betalen btw", "B"),
    (90, "Overige activa", "B"),
    (110, "Omzet", "W"),
    (111, "Kostprijs van de omzet", "W"),
    (120, "Personeelskosten", "W"),
    (121, "Huisvestingskosten", "W"),
    (122, "Verkoopkosten", "W"),
    (123, "Algemene kosten", "W"),
];

/// Roughly 2019-01-01 to 2024-12-31, in milliseconds.
fn start() -> i64 {
    date_ms(2019, 1, 1)
}
const SPAN_MS: i64 = 6 * 365 * 86_400_000;

/// A division filled with generated data.
pub fn generate(number: u64, sizes: Sizes) -> Division {
    let mut rng = fastrand::Rng::with_seed(0x00E8_AC70 ^ number);
    let mut division = Division::new(number, fastrand::Rng::with_seed(number.wrapping_mul(7919)));
    let mut rows: Vec<(Entity, Row)> = Vec::new();
    let accounts: Vec<String> = (0..sizes.accounts)
        .map(|i| {
            let row = account(&mut rng, i, sizes.accounts);
            let key = row.key().to_owned();
            rows.push((Entity::Accounts, row));
            key
        })
        .collect();
    division.next_account_code = 1000 + sizes.accounts as u64;
    for _ in 0..sizes.contacts {
        if accounts.is_empty() {
            break;
        }
        let owner = &rows[rng.usize(0..accounts.len())].1;
        rows.push((Entity::Contacts, contact(&mut rng, owner)));
    }
    let items: Vec<Row> = (0..sizes.items).map(|i| item(&mut rng, i)).collect();
    for i in 0..sizes.gl_accounts {
        rows.push((Entity::GLAccounts, gl_account(&mut rng, i)));
    }
    for n in 0..sizes.sales_orders {
        if accounts.is_empty() || items.is_empty() {
            break;
        }
        let customer = &rows[rng.usize(0..accounts.len())].1;
        let (order, lines) = sales_order(&mut rng, n, sizes.sales_orders, customer, &items);
        rows.push((Entity::SalesOrders, order));
        rows.extend(lines.into_iter().map(|l| (Entity::SalesOrderLines, l)));
    }
    division.next_order_number = sizes.sales_orders as i64 + 1;
    rows.extend(items.into_iter().map(|r| (Entity::Items, r)));
    // Timestamps follow the order of modification, as a row-versioned database hands them out.
    rows.sort_by_key(|(entity, row)| match row.get(*entity, "Modified") {
        Val::Date(ms) => *ms,
        _ => 0,
    });
    division.timestamp = 1_000_000 + i64::try_from(number % 1000).unwrap_or(0) * 1000;
    for (entity, row) in rows {
        division.insert(entity, row);
    }
    division
}

fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
    from[rng.usize(0..from.len())]
}

/// `Created` spread over the span in the order of `i`, `Modified` up to a year later.
fn dates(rng: &mut fastrand::Rng, i: usize, n: usize) -> (i64, i64) {
    let step = SPAN_MS / i64::try_from(n.max(1)).unwrap_or(1);
    let created = start() + step * i64::try_from(i).unwrap_or(0) + rng.i64(0..step.max(1));
    let end = start() + SPAN_MS;
    let modified = (created + rng.i64(0..365 * 86_400_000)).min(end);
    (created, modified.max(created))
}

fn stamp(row: &mut Row, entity: Entity, (created, modified): (i64, i64)) {
    row.set(entity, "Created", Val::Date(created));
    row.set(entity, "Modified", Val::Date(modified));
}

fn account(rng: &mut fastrand::Rng, i: usize, n: usize) -> Row {
    let e = Entity::Accounts;
    let mut row = blank(e);
    let name = format!("{} {} {}", pick(rng, FAMILY), pick(rng, TRADE), pick(rng, LEGAL));
    let slug: String = name
        .to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    let (city, postcode, country) = CITIES[rng.usize(0..CITIES.len())];
    row.set(e, "ID", Val::str(guid(rng)));
    row.set(e, "Code", Val::str(format!("{:>18}", 1000 + i)));
    let tld = if country == "BE" { "be" } else { "nl" };
    row.set(e, "Name", Val::str(&name));
    if rng.u8(0..10) > 0 {
        row.set(e, "Email", Val::str(format!("info@{slug}.{tld}")));
    }
    row.set(
        e,
        "Phone",
        Val::str(format!("+31 {} {:07}", rng.u8(10..80), rng.u32(0..10_000_000))),
    );
    row.set(e, "Website", Val::str(format!("www.{slug}.{tld}")));
    row.set(
        e,
        "AddressLine1",
        Val::str(format!("{} {}", pick(rng, STREETS), rng.u8(1..200))),
    );
    let letters: String = (0..2).map(|_| rng.char('A'..='Z')).collect();
    row.set(e, "Postcode", Val::str(format!("{postcode} {letters}")));
    row.set(e, "City", Val::str(city));
    row.set(e, "Country", Val::str(country));
    let status = match rng.u8(0..20) {
        0..=12 => "C",
        13..=16 => "P",
        _ => "S",
    };
    row.set(e, "Status", Val::str(status));
    row.set(e, "IsSupplier", Val::Bool(rng.u8(0..7) == 0));
    row.set(
        e,
        "VATNumber",
        Val::str(format!("{country}{:09}B01", rng.u32(0..1_000_000_000))),
    );
    stamp(&mut row, e, dates(rng, i, n));
    row
}

fn contact(rng: &mut fastrand::Rng, owner: &Row) -> Row {
    let e = Entity::Contacts;
    let mut row = blank(e);
    let (first, last) = (pick(rng, FIRST), pick(rng, LAST));
    row.set(e, "ID", Val::str(guid(rng)));
    row.set(e, "Account", Val::str(owner.key()));
    row.set(e, "AccountName", owner.get(Entity::Accounts, "Name").clone());
    row.set(e, "FirstName", Val::str(first));
    row.set(e, "LastName", Val::str(last));
    row.set(e, "FullName", Val::str(format!("{first} {last}")));
    let domain = owner
        .get(Entity::Accounts, "Website")
        .as_str()
        .and_then(|w| w.strip_prefix("www."))
        .unwrap_or("example.nl")
        .to_owned();
    let local: String = format!("{}.{}", first, last.replace(' ', "")).to_lowercase();
    row.set(e, "Email", Val::str(format!("{local}@{domain}")));
    row.set(e, "Phone", Val::str(format!("+31 6 {:08}", rng.u32(0..100_000_000))));
    row.set(e, "JobTitleDescription", Val::str(pick(rng, JOBS)));
    let created = match owner.get(Entity::Accounts, "Created") {
        Val::Date(ms) => *ms,
        _ => start(),
    };
    let modified = (created + rng.i64(0..400 * 86_400_000)).min(start() + SPAN_MS);
    stamp(&mut row, e, (created, modified.max(created)));
    row
}

fn item(rng: &mut fastrand::Rng, i: usize) -> Row {
    let e = Entity::Items;
    let mut row = blank(e);
    row.set(e, "ID", Val::str(guid(rng)));
    row.set(e, "Code", Val::str(format!("ART-{:04}", 1001 + i)));
    row.set(
        e,
        "Description",
        Val::str(format!("{} {}", pick(rng, PARTS), pick(rng, SIZES))),
    );
    let cost = round2(f64::from(rng.u32(50..50_000)) / 100.0);
    row.set(e, "CostPriceStandard", Val::Num(cost));
    row.set(e, "StandardSalesPrice", Val::Num(round2(cost * 1.4)));
    row.set(e, "Unit", Val::str(pick(rng, UNITS)));
    row.set(e, "IsSalesItem", Val::Bool(rng.u8(0..10) > 0));
    row.set(e, "IsStockItem", Val::Bool(rng.bool()));
    row.set(e, "Barcode", Val::str(format!("87{:011}", rng.u64(0..100_000_000_000))));
    stamp(&mut row, e, dates(rng, i, 400));
    row
}

fn gl_account(rng: &mut fastrand::Rng, i: usize) -> Row {
    let e = Entity::GLAccounts;
    let mut row = blank(e);
    let (kind, description, balance) = GL[i % GL.len()];
    let round = i / GL.len();
    row.set(e, "ID", Val::str(guid(rng)));
    row.set(e, "Code", Val::str(format!("{}", 1000 + i * 10)));
    let description = if round == 0 {
        description.to_owned()
    } else {
        format!("{description} {}", round + 1)
    };
    row.set(e, "Description", Val::str(description));
    row.set(e, "Type", Val::Int(kind));
    row.set(e, "TypeDescription", Val::str(GL[i % GL.len()].1));
    row.set(e, "BalanceType", Val::str(balance));
    stamp(&mut row, e, dates(rng, i, 2000));
    row
}

fn sales_order(rng: &mut fastrand::Rng, n: usize, total: usize, customer: &Row, items: &[Row]) -> (Row, Vec<Row>) {
    let e = Entity::SalesOrders;
    let mut order = blank(e);
    let id = guid(rng);
    let (created, modified) = dates(rng, n, total);
    order.set(e, "OrderID", Val::str(&id));
    order.set(e, "OrderNumber", Val::Int(i64::try_from(n).unwrap_or(0) + 1));
    order.set(e, "OrderedBy", Val::str(customer.key()));
    order.set(e, "OrderedByName", customer.get(Entity::Accounts, "Name").clone());
    order.set(e, "OrderDate", Val::Date(created - created % 86_400_000));
    order.set(e, "Description", Val::str(format!("Bestelling {}", 20_000 + n)));
    order.set(e, "YourRef", Val::str(format!("PO-{:05}", rng.u32(0..100_000))));
    order.set(e, "Currency", Val::str("EUR"));
    order.set(e, "Status", Val::Int([12, 12, 20, 21, 21, 21][rng.usize(0..6)]));
    let mut lines = Vec::new();
    let mut total_amount = 0.0;
    for number in 1..=rng.usize(1..=5) {
        let l = Entity::SalesOrderLines;
        let item = &items[rng.usize(0..items.len())];
        let mut line = blank(l);
        let quantity = f64::from(rng.u32(1..=50));
        let price = match item.get(Entity::Items, "StandardSalesPrice") {
            Val::Num(p) => *p,
            _ => 0.0,
        };
        let amount = round2(quantity * price);
        total_amount += amount;
        line.set(l, "ID", Val::str(guid(rng)));
        line.set(l, "OrderID", Val::str(&id));
        line.set(l, "LineNumber", Val::Int(i64::try_from(number).unwrap_or(0)));
        line.set(l, "Item", Val::str(item.key()));
        line.set(l, "ItemCode", item.get(Entity::Items, "Code").clone());
        line.set(l, "Description", item.get(Entity::Items, "Description").clone());
        line.set(l, "Quantity", Val::Num(quantity));
        line.set(l, "UnitPrice", Val::Num(price));
        line.set(l, "AmountDC", Val::Num(amount));
        stamp(&mut line, l, (created, modified));
        lines.push(line);
    }
    order.set(e, "AmountDC", Val::Num(round2(total_amount)));
    stamp(&mut order, e, (created, modified));
    (order, lines)
}

/// One more account for [`crate::Control::exact_generate_accounts`], stamped `now`.
pub fn extra_account(division: &mut Division, now: i64) -> String {
    let code = division.next_account_code;
    division.next_account_code += 1;
    let mut row = account(&mut division.rng, 0, 1);
    row.set(Entity::Accounts, "Code", Val::str(format!("{code:>18}")));
    stamp(&mut row, Entity::Accounts, (now, now));
    division.insert(Entity::Accounts, row)
}
