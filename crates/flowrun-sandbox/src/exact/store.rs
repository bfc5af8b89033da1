//! The data of each division: one table per entity (rows keyed by their guid, so iteration
//! is the stable key order paging relies on), the division's `Timestamp` counter and its
//! `sync/Deleted` rows.

use std::collections::BTreeMap;

use super::model::{Entity, Row, Val};

/// One entity's rows, by key.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub rows: BTreeMap<String, Row>,
}

/// What one write did, for webhooks.
#[derive(Clone, Debug)]
pub struct Change {
    pub entity: Entity,
    pub action: &'static str,
    pub key: String,
}

pub struct Division {
    pub number: u64,
    tables: Vec<Table>,
    /// The last `Timestamp` handed out: every insert, update and delete raises it.
    pub timestamp: i64,
    /// Epoch ms of the last change: the next one is stamped strictly later, so that a
    /// delta read from a change's `Modified` never sees an earlier change.
    pub last_change_ms: i64,
    pub next_account_code: u64,
    pub next_order_number: i64,
    /// Ids of records made after the seed: deterministic too, from the same generator.
    pub rng: fastrand::Rng,
}

impl Division {
    pub fn new(number: u64, rng: fastrand::Rng) -> Self {
        Self {
            number,
            tables: Entity::ALL.iter().map(|_| Table::default()).collect(),
            timestamp: 0,
            last_change_ms: 0,
            next_account_code: 1,
            next_order_number: 1,
            rng,
        }
    }

    pub fn table(&self, entity: Entity) -> &Table {
        &self.tables[entity.index()]
    }

    pub fn table_mut(&mut self, entity: Entity) -> &mut Table {
        &mut self.tables[entity.index()]
    }

    pub fn row(&self, entity: Entity, key: &str) -> Option<&Row> {
        self.table(entity).rows.get(&key.to_ascii_lowercase())
    }

    pub fn exists(&self, entity: Entity, key: &str) -> bool {
        self.row(entity, key).is_some()
    }

    pub fn new_guid(&mut self) -> String {
        guid(&mut self.rng)
    }

    /// The stamp of a change made at `now_ms`: at least one millisecond after the last.
    pub fn stamp(&mut self, now_ms: i64) -> i64 {
        self.last_change_ms = now_ms.max(self.last_change_ms + 1);
        self.last_change_ms
    }

    pub fn next_timestamp(&mut self) -> i64 {
        self.timestamp += 1 + i64::from(self.rng.u8(0..4));
        self.timestamp
    }

    /// Stores a new row (its key, `Division` and `Timestamp` are set here).
    pub fn insert(&mut self, entity: Entity, mut row: Row) -> String {
        let ts = self.next_timestamp();
        row.set(entity, "Timestamp", Val::Int(ts));
        row.set(entity, "Division", Val::Int(i64::try_from(self.number).unwrap_or(0)));
        let key = row.key().to_owned();
        self.table_mut(entity).rows.insert(key.clone(), row);
        key
    }

    /// Marks a row changed at `stamp`: new `Modified` and `Timestamp`.
    pub fn touch(&mut self, entity: Entity, key: &str, stamp: i64) -> bool {
        let ts = self.next_timestamp();
        let Some(row) = self.table_mut(entity).rows.get_mut(key) else {
            return false;
        };
        row.set(entity, "Modified", Val::Date(stamp));
        row.set(entity, "Timestamp", Val::Int(ts));
        true
    }

    /// Removes a row and writes its `sync/Deleted` row.
    pub fn delete(&mut self, entity: Entity, key: &str, stamp: i64, user: &str) -> Option<Row> {
        let row = self.table_mut(entity).rows.remove(key)?;
        let d = Entity::Deleted;
        let mut deleted = blank(d);
        deleted.set(d, "ID", Val::str(self.new_guid()));
        deleted.set(d, "EntityKey", Val::str(key));
        deleted.set(d, "EntityType", Val::Int(entity.deleted_type()));
        deleted.set(d, "DeletedBy", Val::str(user));
        deleted.set(d, "DeletedDate", Val::Date(stamp));
        self.insert(d, deleted);
        Some(row)
    }

    /// Keys of the lines of a sales order, by line number.
    pub fn order_lines(&self, order: &str) -> Vec<String> {
        let lines = Entity::SalesOrderLines;
        let mut keys: Vec<(i64, String)> = self
            .table(lines)
            .rows
            .values()
            .filter(|r| r.get(lines, "OrderID").as_str() == Some(order))
            .map(|r| {
                let n = match r.get(lines, "LineNumber") {
                    Val::Int(n) => *n,
                    _ => 0,
                };
                (n, r.key().to_owned())
            })
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    /// Sets a sales order's `AmountDC` to the sum of its lines.
    pub fn recompute_order(&mut self, order: &str) {
        let lines = Entity::SalesOrderLines;
        let total: f64 = self
            .order_lines(order)
            .iter()
            .filter_map(|k| self.row(lines, k))
            .map(|r| match r.get(lines, "AmountDC") {
                Val::Num(n) => *n,
                _ => 0.0,
            })
            .sum();
        if let Some(row) = self.table_mut(Entity::SalesOrders).rows.get_mut(order) {
            row.set(Entity::SalesOrders, "AmountDC", Val::Num(round2(total)));
        }
    }

    /// The name of an account, for `AccountName`/`OrderedByName`.
    pub fn account_name(&self, key: &str) -> Val {
        self.row(Entity::Accounts, key)
            .map_or(Val::Null, |r| r.get(Entity::Accounts, "Name").clone())
    }
}

/// A random lowercase guid.
pub fn guid(rng: &mut fastrand::Rng) -> String {
    let hex = |rng: &mut fastrand::Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(rng.u32(0..16), 16).unwrap_or('0'))
            .collect()
    };
    format!(
        "{}-{}-4{}-{}{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 3),
        ['8', '9', 'a', 'b'][rng.usize(0..4)],
        hex(rng, 3),
        hex(rng, 12)
    )
}

pub fn round2(n: f64) -> f64 {
    (n * 100.0).round() / 100.0
}

/// An empty row of `entity` (every property null).
pub fn blank(entity: Entity) -> Row {
    Row(vec![Val::Null; entity.fields().len()])
}

/// Every entity's row count of a division.
pub fn count(division: &Division, entity: Entity) -> usize {
    division.table(entity).rows.len()
}
