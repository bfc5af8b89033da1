//! What the pipeline benchmark and the `pipeline_file` example share: the generated records,
//! the pipeline of `pipeline.yaml`, the hand-written serde_json loop that does the same work
//! in one pass, and the comparison of results.

use std::collections::HashMap;
use std::collections::HashSet;

use flowrun_engine::transform::{CompiledPipeline, compile};
use flowrun_expr::{Runtime, Scope, Value};
use flowrun_flow::model::Transform;
use flowrun_flow::yaml::Limits;
use serde_json::{Map, Value as Json, json};

/// Records in the generated input.
pub const N_RECORDS: usize = 1_000_000;
/// Customers: each has one email and one group (`country`).
const N_CUSTOMERS: u64 = 50_000;
const N_SKUS: u64 = 5_000;
/// 40 countries × 25 regions: 1,000 groups.
const COUNTRIES: [&str; 40] = [
    "NL", "BE", "DE", "FR", "GB", "IE", "ES", "PT", "IT", "AT", "CH", "DK", "SE", "NO", "FI", "PL", "CZ", "SK", "HU",
    "RO", "BG", "GR", "HR", "SI", "EE", "LV", "LT", "LU", "MT", "CY", "IS", "US", "CA", "MX", "BR", "AR", "JP", "KR",
    "AU", "NZ",
];
const REGIONS: u64 = 25;
const CHANNELS: [&str; 4] = ["web", "app", "phone", "store"];

/// The transform step as a user writes it.
pub const PIPELINE_YAML: &str = include_str!("pipeline.yaml");

/// The pipeline of `pipeline.yaml`, through the flow's YAML reader and the model's serde.
pub fn pipeline() -> CompiledPipeline {
    let (node, errors) = flowrun_flow::yaml::parse(PIPELINE_YAML, Limits::default());
    assert!(errors.is_empty(), "pipeline.yaml: {errors:?}");
    let node = node.expect("pipeline.yaml parses");
    let transform: Transform = serde_json::from_value(node.to_json()).expect("pipeline.yaml is a transform");
    compile_transform(&transform)
}

pub fn scope() -> Scope {
    Scope::new(Runtime::default())
}

/// Runs the pipeline and gives its result as JSON.
pub fn run_pipeline(pipeline: &CompiledPipeline, input: Value, scope: &Scope) -> Json {
    let output = match pipeline.run_on(input, scope) {
        Ok(output) => output,
        Err(error) => panic!("the pipeline fails: {error:?}"),
    };
    flowrun_expr::to_json(&output).expect("the result converts to JSON")
}

/// splitmix64: the same records on every machine and every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// `N_RECORDS` orders of about 220 bytes of JSON each. About 1 in 4 fails the filter (not
/// paid, or a quantity of 0); 1 in 8 repeats the customer and SKU of one of the previous
/// 1,000 orders (a resend: dedupe drops it when both pass the filter); emails are mixed case so
/// `lower` has work. Groups are the customers' `country` (1,000 of them).
pub fn records() -> Json {
    let mut rng = Rng(0x5EED_F10E_2024);
    let mut pairs: Vec<(u64, u64)> = Vec::with_capacity(N_RECORDS);
    let mut records = Vec::with_capacity(N_RECORDS);
    for index in 0..N_RECORDS {
        let (customer, sku) = if index > 0 && rng.below(8) == 0 {
            let back = 1 + rng.below((index as u64).min(1_000)) as usize;
            pairs[index - back]
        } else {
            (rng.below(N_CUSTOMERS), rng.below(N_SKUS))
        };
        pairs.push((customer, sku));
        let status = match rng.below(20) {
            0..=15 => "paid",
            16 | 17 => "pending",
            18 => "refunded",
            _ => "cancelled",
        };
        let qty = rng.below(13);
        let price = 99 + rng.below(20_000);
        let country = COUNTRIES[(customer % 40) as usize];
        let region = (customer / 40) % REGIONS;
        let seconds = rng.below(365 * 86_400);
        let (day, rest) = (seconds / 86_400, seconds % 86_400);
        let mut record = Map::new();
        record.insert("id".into(), json!(index + 1));
        record.insert(
            "customer".into(),
            json!({
                "name": format!("Customer {customer}"),
                "email": format!("Customer.{customer}@Shop-{}.Example", customer % 97),
            }),
        );
        record.insert("country".into(), json!(format!("{country}-{region:02}")));
        record.insert("sku".into(), json!(format!("SKU-{sku:05}")));
        record.insert("qty".into(), json!(qty));
        record.insert("price".into(), json!(price));
        record.insert("status".into(), json!(status));
        record.insert("channel".into(), json!(CHANNELS[index % 4]));
        record.insert(
            "created_at".into(),
            json!(format!(
                "2024-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                1 + day / 31 % 12,
                1 + day % 28,
                rest / 3600,
                rest / 60 % 60,
                rest % 60
            )),
        );
        records.push(Json::Object(record));
    }
    Json::Array(records)
}

/// The pipeline's work written by hand over serde_json, in one pass: filter, the four mapped
/// fields read (not built), dedupe on `lower(email) | sku`, and a running total and count per
/// country in order of first appearance.
pub fn serde_loop(records: &Json) -> Json {
    let records = records.as_array().expect("the input is a list");
    let mut seen: HashSet<String> = HashSet::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(String, i64, u64)> = Vec::new();
    for record in records {
        let qty = record["qty"].as_i64().unwrap_or(0);
        if record["status"].as_str() != Some("paid") || qty <= 0 {
            continue;
        }
        let price = record["price"].as_i64().expect("price is an integer");
        let sku = record["sku"].as_str().expect("sku is a string");
        let country = record["country"].as_str().expect("country is a string");
        let mut key = record["customer"]["email"]
            .as_str()
            .expect("email is a string")
            .to_lowercase();
        key.push('|');
        key.push_str(sku);
        if !seen.insert(key) {
            continue;
        }
        let slot = match index.get(country) {
            Some(&slot) => slot,
            None => {
                index.insert(country.to_owned(), groups.len());
                groups.push((country.to_owned(), 0, 0));
                groups.len() - 1
            }
        };
        groups[slot].1 += qty * price;
        groups[slot].2 += 1;
    }
    Json::Array(
        groups
            .into_iter()
            .map(|(key, total, orders)| json!({ "key": key, "total": total, "orders": orders }))
            .collect(),
    )
}

/// The groups of a result, sorted by key: jq gives them sorted, flowrun and the loop in order
/// of first appearance.
pub fn sorted_groups(result: &Json) -> Vec<(String, i64, u64)> {
    let mut groups: Vec<(String, i64, u64)> = result
        .as_array()
        .expect("a result is a list of groups")
        .iter()
        .map(|group| {
            (
                group["key"].as_str().expect("a group has a key").to_owned(),
                // jq has only doubles; the totals stay below 2^53.
                group["total"]
                    .as_i64()
                    .or_else(|| group["total"].as_f64().map(|total| total as i64))
                    .expect("a group has a total"),
                group["orders"].as_u64().expect("a group has a count"),
            )
        })
        .collect();
    groups.sort();
    groups
}

/// Summary of a result for the log: groups, orders, grand total.
pub fn summary(result: &Json) -> String {
    let groups = sorted_groups(result);
    let orders: u64 = groups.iter().map(|group| group.2).sum();
    let total: i64 = groups.iter().map(|group| group.1).sum();
    format!("{} groups, {orders} orders, total {total}", groups.len())
}

pub type Pipeline = CompiledPipeline;

pub fn compile_transform(transform: &Transform) -> CompiledPipeline {
    match compile(transform) {
        Ok(pipeline) => pipeline,
        Err(errors) => panic!("the pipeline does not compile: {errors:?}"),
    }
}

/// Runs the pipeline and gives its result as a template value (for cut pipelines, whose
/// results are large).
pub fn run_only(pipeline: &CompiledPipeline, input: Value, scope: &Scope) -> Value {
    match pipeline.run_on(input, scope) {
        Ok(output) => output,
        Err(error) => panic!("the pipeline fails: {error:?}"),
    }
}

/// One whole run from a file: read it, parse it, and run the pipeline on it (straight into a
/// template value, the faster parse) or, with `serde_loop`, the hand-written loop.
pub fn run_file(path: &std::path::Path, serde_loop: bool) -> Json {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    if serde_loop {
        let records: Json = serde_json::from_slice(&bytes).expect("the input is JSON");
        drop(bytes);
        self::serde_loop(&records)
    } else {
        let input: Value = serde_json::from_slice(&bytes).expect("the input is JSON");
        drop(bytes);
        run_pipeline(&pipeline(), input, &scope())
    }
}
