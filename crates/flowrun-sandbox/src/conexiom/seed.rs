//! The demo data: an industrial distributor (HubCo 17) and its customers, generated from a
//! fixed seed so that every sandbox (and every test run) serves the same records with the
//! same ids. Generated on the first Conexiom request (or control call) of a sandbox, and
//! again when the dataset size changes or on reset.
//!
//! Documents were received through 2024 in id order, and their `ProcessedOn` increases with
//! the id too (about 5 % are still unprocessed), so that a delta read by date has a natural
//! cursor; anything a hook changes later is stamped with today's date and sorts after all
//! of it.

use std::collections::HashSet;
use std::ops::Range;

use super::contract::{address, alert, document, file};
use super::dates::{DAY, midnight};
use super::records::{Address, Alert, Buyer, Document, File, Line, SpokeCo};
use super::store::{
    FIRST_ADDRESS_ID, FIRST_ALERT_ID, FIRST_BUYER_ID, FIRST_DOCUMENT_ID, FIRST_FILE_ID, FIRST_SPOKECO_ID, Store,
};
use super::{HUBCO_ID, OTHER_HUBCO_ID};

const SEED: u64 = 0xc0_2e71_0017;
/// 2024-01-01T00:00:00 UTC, and the length of 2024 (a leap year).
const YEAR_START: i64 = 1_704_067_200;
const YEAR: i64 = 366 * DAY;
/// 2022-01-01T00:00:00 UTC: SpokeCos were created during the two years after it.
const CREATED_START: i64 = 1_640_995_200;

/// The other HubCo's SpokeCos and documents: enough to answer 403 for each kind of id.
const OTHER_SPOKECOS: usize = 2;
const OTHER_DOCUMENTS: usize = 24;

const UNPROCESSED_PERCENT: u8 = 5;
const ALERT_PERCENT: u8 = 10;
const RESOLVED_PERCENT: u8 = 60;
const CHANGE_ORDER_PERCENT: u8 = 8;
const ATTACHMENT_PERCENT: u8 = 30;

const COMPANY_FIRST: &[&str] = &[
    "Acme",
    "Summit",
    "Great Lakes",
    "Pioneer",
    "Keystone",
    "Lone Star",
    "Cascade",
    "Redwood",
    "Atlas",
    "Harbor",
    "Prairie",
    "Granite",
    "Evergreen",
    "Bluewater",
    "Frontier",
    "Northgate",
    "Ironwood",
    "Maple Leaf",
    "Riverside",
    "Heartland",
];
const COMPANY_TRADE: &[&str] = &[
    "Hardware",
    "Building Supply",
    "Industrial",
    "Fastener Supply",
    "Plumbing",
    "Electric",
    "Construction",
    "Maintenance Supply",
    "Manufacturing",
    "Tool & Die",
    "Facility Services",
    "Contractors Supply",
];
const COMPANY_SUFFIX: &[&str] = &["Inc.", "LLC", "Co.", "Corp.", "Ltd."];
const FIRST_NAMES: &[&str] = &[
    "Jane", "Michael", "Linda", "David", "Susan", "Robert", "Karen", "James", "Patricia", "Thomas", "Emily", "Daniel",
    "Maria", "Kevin", "Laura", "Brian", "Angela", "Steven", "Rachel", "Carlos", "Priya", "Wei", "Olivia", "Marcus",
];
const LAST_NAMES: &[&str] = &[
    "Miller", "Johnson", "Garcia", "Brown", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin",
    "Jackson", "Thompson", "White", "Lopez", "Lee", "Harris", "Clark", "Lewis", "Walker", "Young", "Nguyen", "Patel",
    "Kowalski", "Tremblay", "Roy",
];
/// The HubCo's order-desk staff, who resolve alerts.
const ORDER_DESK: &[&str] = &["Maria Lopez", "Tom Becker", "Aisha Khan", "Greg Olsen", "Nina Petrova"];
/// City, state or province, postal code, country.
const PLACES: &[(&str, &str, &str, &str)] = &[
    ("Springfield", "IL", "62701", "US"),
    ("Chicago", "IL", "60607", "US"),
    ("Columbus", "OH", "43215", "US"),
    ("Indianapolis", "IN", "46204", "US"),
    ("Milwaukee", "WI", "53202", "US"),
    ("Detroit", "MI", "48226", "US"),
    ("Minneapolis", "MN", "55401", "US"),
    ("St. Louis", "MO", "63101", "US"),
    ("Dallas", "TX", "75201", "US"),
    ("Houston", "TX", "77002", "US"),
    ("Denver", "CO", "80202", "US"),
    ("Phoenix", "AZ", "85004", "US"),
    ("Atlanta", "GA", "30303", "US"),
    ("Charlotte", "NC", "28202", "US"),
    ("Pittsburgh", "PA", "15222", "US"),
    ("Portland", "OR", "97204", "US"),
    ("Sacramento", "CA", "95814", "US"),
    ("Toronto", "ON", "M5V 2T6", "CA"),
    ("Mississauga", "ON", "L5B 3C2", "CA"),
    ("Calgary", "AB", "T2P 1J9", "CA"),
    ("Winnipeg", "MB", "R3C 0V8", "CA"),
];
const STREETS: &[&str] = &[
    "Main St",
    "Industrial Pkwy",
    "Commerce Dr",
    "Warehouse Rd",
    "Oak Ave",
    "Lakeshore Blvd",
    "Enterprise Way",
    "Railroad Ave",
    "Distribution Ct",
    "Harbor Rd",
];
const LINE2: &[&str] = &["Suite 200", "Dock 4", "Building B", "Unit 12"];
/// The HubCo's item master: supplier part number, description, unit of measure, list price
/// in cents.
const CATALOG: &[(&str, &str, &str, u64)] = &[
    ("100-200", "Hex bolt M8 x 40, zinc plated", "EA", 12),
    ("100-210", "Hex bolt M10 x 50, zinc plated", "EA", 21),
    ("100-340", "Hex nut M8, grade 8", "EA", 4),
    ("110-015", "Flat washer M10, stainless", "EA", 6),
    ("120-500", "Wood screw 4 x 40, box of 200", "BX", 895),
    ("130-220", "Threaded rod M12 x 1 m", "EA", 389),
    ("200-118", "Nitrile gloves, size L, box of 100", "BX", 1249),
    ("200-410", "Safety glasses, clear lens", "EA", 475),
    ("210-007", "Hi-vis vest, class 2", "EA", 899),
    ("300-050", "PVC pipe 2 in x 10 ft, schedule 40", "EA", 1195),
    ("300-120", "Copper elbow 3/4 in, 90 degree", "EA", 289),
    ("310-300", "Ball valve 1 in, brass", "EA", 1875),
    ("400-010", "Electrical tape 3/4 in x 60 ft", "RL", 199),
    ("400-220", "THHN wire 12 AWG, black, 500 ft", "RL", 8950),
    ("410-035", "Duplex receptacle 15 A, white", "EA", 165),
    ("420-100", "LED shop light 4 ft, 5000 lm", "EA", 3499),
    ("500-600", "Cordless drill 18 V, bare tool", "EA", 8900),
    ("500-640", "Drill bit set HSS, 29 pieces", "ST", 3450),
    ("510-012", "Utility knife blades, pack of 100", "PK", 1699),
    ("520-300", "Measuring tape 25 ft", "EA", 1150),
    ("600-001", "Pallet wrap 18 in x 1500 ft", "RL", 2295),
    ("600-075", "Packing tape 2 in x 110 yd, case of 36", "CS", 6480),
    ("610-220", "Corrugated box 18 x 18 x 16 in, bundle of 25", "BD", 3125),
    ("700-090", "Lubricant spray 11 oz", "EA", 649),
    ("700-310", "Hydraulic oil ISO 46, 5 gal", "PL", 5499),
    ("710-050", "Degreaser concentrate, 1 gal", "GL", 1899),
    ("800-115", "Anchor bolt 1/2 x 6 in", "EA", 145),
    ("800-400", "Concrete mix 80 lb", "BG", 695),
    ("810-020", "Lumber 2 x 4 in x 8 ft, SPF", "EA", 425),
    ("900-005", "Shop towels, box of 200", "BX", 2199),
];

/// The whole dataset: `spokecos` SpokeCos of HubCo 17 with `documents` documents between
/// them, and the other HubCo's few.
pub fn generate(spokecos: usize, documents: usize) -> Store {
    let mut store = Store {
        spokecos: Vec::new(),
        documents: Vec::new(),
        alerts: Vec::new(),
        next_file_id: FIRST_FILE_ID,
        next_buyer_id: FIRST_BUYER_ID,
        next_address_id: FIRST_ADDRESS_ID,
        last_change: 0,
        rng: fastrand::Rng::with_seed(SEED),
    };
    let mut names = HashSet::new();
    for _ in 0..spokecos {
        let spokeco = spokeco(&mut store, HUBCO_ID, &mut names);
        store.spokecos.push(spokeco);
    }
    for _ in 0..OTHER_SPOKECOS {
        let spokeco = spokeco(&mut store, OTHER_HUBCO_ID, &mut names);
        store.spokecos.push(spokeco);
    }
    spread_documents(&mut store, 0..spokecos, documents, false);
    spread_documents(&mut store, spokecos..spokecos + OTHER_SPOKECOS, OTHER_DOCUMENTS, true);
    store
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, items: &[T]) -> T {
    items[rng.usize(..items.len())]
}

fn percent(rng: &mut fastrand::Rng, percent: u8) -> bool {
    rng.u8(..100) < percent
}

/// `i64` of a length or index: the sandbox never holds more than `i64::MAX` records.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn spokeco(store: &mut Store, hubco: i64, names: &mut HashSet<String>) -> SpokeCo {
    let index = store.spokecos.len();
    let rng = &mut store.rng;
    let draw = |rng: &mut fastrand::Rng| {
        let first = pick(rng, COMPANY_FIRST);
        let trade = pick(rng, COMPANY_TRADE);
        (first, trade, format!("{first} {trade} {}", pick(rng, COMPANY_SUFFIX)))
    };
    // A few redraws keep names distinct; a large dataset numbers the rest.
    let (mut first, mut trade, mut name) = draw(rng);
    for _ in 0..20 {
        if !names.contains(&name) {
            break;
        }
        (first, trade, name) = draw(rng);
    }
    if names.contains(&name) {
        name = format!("{name} #{}", index + 1);
    }
    names.insert(name.clone());
    let prefix: String = first
        .chars()
        .filter(char::is_ascii_alphabetic)
        .take(4)
        .collect::<String>()
        .to_ascii_uppercase();
    let domain: String = format!("{first}{trade}")
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let home = pick(rng, PLACES);
    let currency = if home.3 == "CA" { "CAD" } else { "USD" };
    let created_on = CREATED_START + rng.i64(0..2 * 365 * DAY);
    let last_modified_on = YEAR_START + rng.i64(0..YEAR);
    let erp_customer_number = format!("C-{}", 10_001 + index * 13 + rng.usize(..13));
    let is_active = percent(rng, 90);
    let po_style = rng.u8(..4);
    let next_po = rng.u64(10_000..60_000);

    let mut buyers = Vec::new();
    for n in 0..rng.usize(2..=4) {
        let (given, family) = (pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES));
        buyers.push(Buyer {
            id: store.next_buyer_id,
            name: format!("{given} {family}"),
            email: format!(
                "{}.{}@{domain}.example",
                given.to_ascii_lowercase(),
                family.to_ascii_lowercase()
            ),
            phone: format!("+1 555 01{:02}", (index * 4 + n) % 100),
        });
        store.next_buyer_id += 1;
    }

    // One bill-to (the head office), then one to three ship-to locations in the same country.
    let mut addresses = Vec::new();
    let ship_tos = rng.usize(1..=3);
    for n in 0..=ship_tos {
        let place = if n == 0 {
            home
        } else {
            loop {
                let place = pick(rng, PLACES);
                if place.3 == home.3 {
                    break place;
                }
            }
        };
        let (kind, code, label) = match n {
            0 => (
                address::TYPE_BILL_TO,
                format!("{prefix}-HQ"),
                format!("{first} Head Office"),
            ),
            n => (
                address::TYPE_SHIP_TO,
                format!("{prefix}-DC{n}"),
                format!("{first} DC {n}"),
            ),
        };
        addresses.push(Address {
            id: store.next_address_id,
            kind,
            code,
            name: label,
            line1: format!("{} {}", rng.u16(1..9999), pick(rng, STREETS)),
            line2: percent(rng, 30).then(|| pick(rng, LINE2)),
            city: place.0,
            state: place.1,
            postal_code: place.2,
            country: place.3,
        });
        store.next_address_id += 1;
    }

    SpokeCo {
        id: FIRST_SPOKECO_ID + count(index),
        hubco,
        name,
        revision: 0,
        erp_customer_number,
        is_active,
        created_on,
        last_modified_on,
        prefix,
        currency,
        po_style,
        next_po,
        buyers,
        addresses,
        documents: Vec::new(),
    }
}

/// `count` documents received through 2024 in id order, over these SpokeCos (some busier
/// than others); with `force_alert`, the first processed one has an alert for sure.
fn spread_documents(store: &mut Store, spokecos: Range<usize>, count: usize, mut force_alert: bool) {
    if spokecos.is_empty() || count == 0 {
        return;
    }
    let weights: Vec<u32> = spokecos.clone().map(|_| store.rng.u32(1..=4)).collect();
    let total: u32 = weights.iter().sum();
    let step = (YEAR / self::count(count)).max(1);
    let mut last_processed = 0;
    for n in 0..count {
        let rng = &mut store.rng;
        let received = YEAR_START + self::count(n) * step + rng.i64(0..=step / 2);
        let mut ticket = rng.u32(..total);
        let mut spokeco = spokecos.start;
        for (offset, weight) in weights.iter().enumerate() {
            if ticket < *weight {
                spokeco = spokecos.start + offset;
                break;
            }
            ticket -= weight;
        }
        let processed = if percent(rng, UNPROCESSED_PERCENT) {
            None
        } else {
            // Processing takes a minute to a quarter of an hour; never out of order.
            let processed = (received + rng.i64(40..900)).max(last_processed + 1);
            last_processed = processed;
            Some(processed)
        };
        let with_alert = processed.is_some() && (force_alert || percent(rng, ALERT_PERCENT));
        let document = document(store, spokeco, received, processed);
        let index = store.documents.len();
        store.spokecos[spokeco].documents.push(index);
        store.documents.push(document);
        if with_alert {
            force_alert = false;
            add_alert(store, index);
        }
    }
}

/// A new document of the SpokeCo at `spokeco` (an index), with its lines and files; the
/// caller pushes it.
pub fn document(store: &mut Store, spokeco: usize, received: i64, processed: Option<i64>) -> Document {
    let id = FIRST_DOCUMENT_ID + count(store.documents.len());
    let Store {
        spokecos,
        documents,
        rng,
        next_file_id,
        ..
    } = store;
    let spokeco_index = spokeco;
    let spokeco = &mut spokecos[spokeco];

    let previous = spokeco.documents.last().map(|&i| documents[i].number.as_str());
    let (kind, number) = match previous {
        Some(previous) if percent(rng, CHANGE_ORDER_PERCENT) => (
            document::TYPE_CHANGE_ORDER,
            format!("{}-CO", previous.trim_end_matches("-CO")),
        ),
        _ => {
            let n = spokeco.next_po;
            spokeco.next_po += rng.u64(1..4);
            let number = match spokeco.po_style {
                0 => format!("PO-{n}"),
                1 => format!("4500{n:06}"),
                2 => format!("{}-{n}", spokeco.prefix),
                _ => n.to_string(),
            };
            (document::TYPE_PURCHASE_ORDER, number)
        }
    };
    let buyer = &spokeco.buyers[rng.usize(..spokeco.buyers.len())];
    let ship_tos: Vec<i64> = spokeco
        .addresses
        .iter()
        .filter(|a| a.kind == address::TYPE_SHIP_TO)
        .map(|a| a.id)
        .collect();
    let ship_to_id = pick(rng, &ship_tos);
    let bill_to_id = spokeco
        .addresses
        .iter()
        .find(|a| a.kind == address::TYPE_BILL_TO)
        .map_or(ship_to_id, |a| a.id);
    let po_date = midnight(received) - rng.i64(0..3) * DAY;

    let mut lines: Vec<Line> = Vec::new();
    let mut items: Vec<usize> = Vec::new();
    for _ in 0..rng.usize(1..=8) {
        let item = loop {
            let item = rng.usize(..CATALOG.len());
            if !items.contains(&item) {
                break item;
            }
        };
        items.push(item);
        let (supplier_part_number, description, unit_of_measure, list_cents) = CATALOG[item];
        // Cheap parts go by the hundred, dear ones by the piece.
        let quantity = match list_cents {
            ..50 => rng.u64(2..40) * 50,
            50..500 => rng.u64(5..200),
            _ => rng.u64(1..40),
        };
        // The SpokeCo's contract price: list price give or take a tenth.
        let unit_price_cents = (list_cents * rng.u64(90..=110)).div_ceil(100);
        lines.push(Line {
            customer_part_number: format!("{}-{}", spokeco.prefix, 1000 + (item * 211 + spokeco_index * 37) % 9000),
            supplier_part_number,
            description,
            unit_of_measure,
            quantity,
            unit_price_cents,
            requested_on: po_date + rng.i64(3..=30) * DAY,
        });
    }

    let mut files = Vec::new();
    let mut take_id = || {
        let id = *next_file_id;
        *next_file_id += 1;
        id
    };
    let (extension, content_type, size) = match rng.u8(..100) {
        ..70 => ("pdf", "application/pdf", rng.u64(20_000..400_000)),
        70..82 => (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            rng.u64(8_000..60_000),
        ),
        82..92 => ("eml", "message/rfc822", rng.u64(5_000..80_000)),
        _ => ("csv", "text/csv", rng.u64(1_000..10_000)),
    };
    files.push(File {
        id: take_id(),
        name: format!("{number}.{extension}"),
        content_type,
        kind: file::TYPE_ORIGINAL,
        size_bytes: size,
        created_on: received + 1,
    });
    if percent(rng, ATTACHMENT_PERCENT) {
        let (name, content_type) = match rng.u8(..3) {
            0 => ("Terms and Conditions.pdf".to_owned(), "application/pdf"),
            1 => (format!("Drawing {}.pdf", rng.u32(1000..9999)), "application/pdf"),
            _ => (
                "Delivery schedule.xlsx".to_owned(),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        };
        files.push(File {
            id: take_id(),
            name,
            content_type,
            kind: file::TYPE_ATTACHMENT,
            size_bytes: rng.u64(10_000..900_000),
            created_on: received + 1,
        });
    }
    if let Some(processed) = processed {
        files.push(output_file(take_id(), &number, lines.len(), processed));
    }

    Document {
        id,
        hubco: spokeco.hubco,
        spokeco_id: spokeco.id,
        kind,
        number,
        sender_email: buyer.email.clone(),
        received_on: received,
        processed_on: processed,
        po_date,
        currency: spokeco.currency,
        buyer_id: buyer.id,
        ship_to_id,
        bill_to_id,
        lines,
        files,
        alerts: Vec::new(),
    }
}

/// The order file processing hands to the ERP.
pub fn output_file(id: i64, number: &str, lines: usize, processed: i64) -> File {
    File {
        id,
        name: format!("{number}.xml"),
        content_type: "application/xml",
        kind: file::TYPE_OUTPUT,
        size_bytes: 2_000 + 600 * lines as u64,
        created_on: processed,
    }
}

/// An alert raised while the (processed) document at `index` was processed.
fn add_alert(store: &mut Store, index: usize) {
    let alert_index = store.alerts.len();
    let rng = &mut store.rng;
    let document = &store.documents[index];
    let Some(processed) = document.processed_on else {
        return;
    };
    let line_number = rng.usize(..document.lines.len());
    let line = &document.lines[line_number];
    let line_number = line_number + 1;
    let spokeco_name = store
        .spokecos
        .iter()
        .find(|s| s.id == document.spokeco_id)
        .map_or("", |s| s.name.as_str());
    let (kind, severity, rule_name, message, details, on_line) = match rng.u8(..6) {
        0 => (
            "UnknownItem",
            alert::SEVERITY_ERROR,
            "ItemMasterLookup",
            format!("Part {} not found in item master", line.customer_part_number),
            format!(
                "Line {line_number}: customer part number {} has no cross-reference to a supplier part. \
                 Add it to the cross-reference table or correct the order.",
                line.customer_part_number
            ),
            true,
        ),
        1 => {
            let contract = line.unit_price_cents * rng.u64(90..98) / 100;
            (
                "PriceMismatch",
                alert::SEVERITY_WARNING,
                "ContractPriceCheck",
                format!(
                    "Unit price {:.2} on line {line_number} differs from contract price {:.2}",
                    line.unit_price_cents as f64 / 100.0,
                    contract as f64 / 100.0
                ),
                format!(
                    "Line {line_number} ({}): the ordered price is above the price agreed with {spokeco_name}.",
                    line.supplier_part_number
                ),
                true,
            )
        }
        2 => (
            "UnknownShipTo",
            alert::SEVERITY_ERROR,
            "ShipToLookup",
            format!("Ship-to address could not be matched for {spokeco_name}"),
            "The ship-to address on the order matches none of the SpokeCo's addresses; the default \
             ship-to was used."
                .to_owned(),
            false,
        ),
        3 => (
            "DuplicatePONumber",
            alert::SEVERITY_ERROR,
            "DuplicatePOCheck",
            format!("PO number {} was already received", document.number),
            format!(
                "An earlier document of {spokeco_name} carries PO number {}; check for a resent order.",
                document.number
            ),
            false,
        ),
        4 => (
            "MissingRequestedDate",
            alert::SEVERITY_WARNING,
            "RequestedDateCheck",
            format!("Line {line_number} has no requested date; the default lead time was applied"),
            format!("Line {line_number}: no delivery date was found on the order."),
            true,
        ),
        _ => {
            let pack = pick(rng, &[6u64, 12, 24, 25]);
            (
                "QuantityNotPackMultiple",
                alert::SEVERITY_WARNING,
                "PackSizeCheck",
                format!(
                    "Quantity {} on line {line_number} is not a multiple of the pack size {pack}",
                    line.quantity
                ),
                format!(
                    "Line {line_number} ({}) is sold in packs of {pack}.",
                    line.supplier_part_number
                ),
                true,
            )
        }
    };
    let resolved = percent(rng, RESOLVED_PERCENT).then(|| (processed + rng.i64(600..2 * DAY), pick(rng, ORDER_DESK)));
    let alert = Alert {
        id: FIRST_ALERT_ID + count(alert_index),
        document: index,
        kind,
        severity,
        rule_name,
        message,
        details,
        line_number: on_line.then(|| u32::try_from(line_number).unwrap_or(u32::MAX)),
        created_on: document.received_on + (processed - document.received_on) / 2,
        resolved,
    };
    store.alerts.push(alert);
    store.documents[index].alerts.push(alert_index);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_quick_and_ordered() {
        let started = std::time::Instant::now();
        let a = generate(8, 5_000);
        let elapsed = started.elapsed();
        let b = generate(8, 5_000);
        assert!(elapsed.as_millis() < 2_000, "seeding took {elapsed:?}");
        assert_eq!(a.spokecos.len(), 10);
        assert_eq!(a.documents.len(), 5_024);
        assert_eq!(a.documents[4321].number, b.documents[4321].number);
        assert_eq!(a.documents[4321].lines.len(), b.documents[4321].lines.len());
        assert_eq!(a.alerts.len(), b.alerts.len());

        let ours: Vec<&Document> = a.documents.iter().filter(|d| d.hubco == HUBCO_ID).collect();
        assert!(ours.windows(2).all(|w| w[0].received_on < w[1].received_on));
        let processed: Vec<i64> = ours.iter().filter_map(|d| d.processed_on).collect();
        assert!(processed.windows(2).all(|w| w[0] < w[1]));
        let unprocessed = ours.len() - processed.len();
        assert!((100..400).contains(&unprocessed), "{unprocessed} unprocessed");
        assert!(
            processed
                .iter()
                .all(|&p| (YEAR_START..YEAR_START + YEAR + DAY).contains(&p))
        );
        for document in &ours {
            assert!((1..=8).contains(&document.lines.len()));
            assert!((1..=3).contains(&document.files.len()));
        }
        assert!(
            a.spokecos
                .iter()
                .all(|s| (CREATED_START..YEAR_START).contains(&s.created_on)
                    && (YEAR_START..YEAR_START + YEAR).contains(&s.last_modified_on))
        );
        let spokeco = &a.spokecos[0];
        assert!((2..=4).contains(&spokeco.buyers.len()));
        assert!((2..=4).contains(&spokeco.addresses.len()));
        assert!(
            a.alerts
                .iter()
                .any(|alert| a.documents[alert.document].hubco == OTHER_HUBCO_ID)
        );
    }

    #[test]
    fn an_empty_dataset_is_fine() {
        let store = generate(0, 400);
        assert_eq!(store.spokecos.len(), OTHER_SPOKECOS);
        assert_eq!(store.documents.len(), OTHER_DOCUMENTS);
    }
}
