//! Every record of the simulator, looked up by id, and the changes the test hooks make.
//!
//! Ids are dense: the record with id `FIRST_*_ID + n` sits at index `n` of its vector, so a
//! lookup is an index, whatever the dataset size (the benchmark reads 5,000 documents one
//! by one).

use super::records::{Alert, Document, SpokeCo};
use super::{ConexiomCounts, HUBCO_ID, OTHER_HUBCO_ID, seed};

pub const FIRST_SPOKECO_ID: i64 = 1201;
pub const FIRST_DOCUMENT_ID: i64 = 884_001;
pub const FIRST_ALERT_ID: i64 = 7701;
pub const FIRST_FILE_ID: i64 = 99_001;
pub const FIRST_BUYER_ID: i64 = 3301;
pub const FIRST_ADDRESS_ID: i64 = 4401;

/// The HubCos that exist: the user may read the first only.
pub const HUBCOS: [i64; 2] = [HUBCO_ID, OTHER_HUBCO_ID];

pub struct Store {
    pub spokecos: Vec<SpokeCo>,
    pub documents: Vec<Document>,
    pub alerts: Vec<Alert>,
    pub next_file_id: i64,
    pub next_buyer_id: i64,
    pub next_address_id: i64,
    /// Unix seconds of the latest change a hook made (0 before any).
    pub last_change: i64,
    /// Continues the seed's random sequence, so that documents added by a hook are the same
    /// in every sandbox that makes the same calls.
    pub rng: fastrand::Rng,
}

/// The vector index of a dense id, if in range.
fn index(id: i64, first: i64, len: usize) -> Option<usize> {
    let index = usize::try_from(id.checked_sub(first)?).ok()?;
    (index < len).then_some(index)
}

impl Store {
    pub fn spokeco_index(&self, id: i64) -> Option<usize> {
        index(id, FIRST_SPOKECO_ID, self.spokecos.len())
    }

    pub fn spokeco(&self, id: i64) -> Option<&SpokeCo> {
        self.spokeco_index(id).map(|i| &self.spokecos[i])
    }

    pub fn document_index(&self, id: i64) -> Option<usize> {
        index(id, FIRST_DOCUMENT_ID, self.documents.len())
    }

    pub fn document(&self, id: i64) -> Option<&Document> {
        self.document_index(id).map(|i| &self.documents[i])
    }

    pub fn alert(&self, id: i64) -> Option<&Alert> {
        index(id, FIRST_ALERT_ID, self.alerts.len()).map(|i| &self.alerts[i])
    }

    /// The stamp the next change gets: `now_unix`, but at least a second after the previous
    /// change, so that every change sorts after every earlier one.
    pub fn next_stamp(&self, now_unix: i64) -> i64 {
        now_unix.max(self.last_change + 1)
    }

    /// Takes the stamp of a change.
    fn stamp(&mut self, now_unix: i64) -> i64 {
        let stamp = self.next_stamp(now_unix);
        self.last_change = stamp;
        stamp
    }

    /// Re-processes these documents (unknown ids are skipped), all with one stamp: each gets
    /// `ProcessedOn` = now, and its first line one more unit, so its data reads differently.
    /// A document never processed is processed now. Returns the ids changed, ascending.
    pub fn reprocess(&mut self, ids: &[i64], now_unix: i64) -> Vec<i64> {
        let mut indices: Vec<usize> = ids.iter().filter_map(|&id| self.document_index(id)).collect();
        indices.sort_unstable();
        indices.dedup();
        if indices.is_empty() {
            return Vec::new();
        }
        let stamp = self.stamp(now_unix);
        for &index in &indices {
            self.process(index, stamp);
            if let Some(line) = self.documents[index].lines.first_mut() {
                line.quantity += 1;
            }
        }
        indices.iter().map(|&i| self.documents[i].id).collect()
    }

    /// Processes every document still unprocessed (late processing), all with one stamp;
    /// returns their ids, ascending.
    pub fn process_pending(&mut self, now_unix: i64) -> Vec<i64> {
        let pending: Vec<usize> = (0..self.documents.len())
            .filter(|&i| self.documents[i].processed_on.is_none())
            .collect();
        if pending.is_empty() {
            return Vec::new();
        }
        let stamp = self.stamp(now_unix);
        for &index in &pending {
            self.process(index, stamp);
        }
        pending.iter().map(|&i| self.documents[i].id).collect()
    }

    /// `ProcessedOn` = `stamp`; a document processed for the first time also gets the output
    /// file that processing writes.
    fn process(&mut self, index: usize, stamp: i64) {
        let first_time = self.documents[index].processed_on.is_none();
        self.documents[index].processed_on = Some(stamp);
        if first_time {
            let id = self.take_file_id();
            let document = &mut self.documents[index];
            let file = seed::output_file(id, &document.number, document.lines.len(), stamp);
            document.files.push(file);
        }
    }

    /// A new processed document of this SpokeCo, stamped now; `None` when the SpokeCo does
    /// not exist.
    pub fn add_document(&mut self, spokeco_id: i64, now_unix: i64) -> Option<i64> {
        let spokeco = self.spokeco_index(spokeco_id)?;
        let stamp = self.stamp(now_unix);
        // Received a little before it was processed, as every document is.
        let received = stamp - 45;
        let document = seed::document(self, spokeco, received, Some(stamp));
        let id = document.id;
        self.spokecos[spokeco].documents.push(self.documents.len());
        self.documents.push(document);
        Some(id)
    }

    /// `LastModifiedOn` = now and a visibly changed name; `false` when the SpokeCo does not
    /// exist.
    pub fn touch_spokeco(&mut self, id: i64, now_unix: i64) -> bool {
        let Some(index) = self.spokeco_index(id) else {
            return false;
        };
        let stamp = self.stamp(now_unix);
        let spokeco = &mut self.spokecos[index];
        spokeco.revision += 1;
        spokeco.last_modified_on = stamp;
        true
    }

    /// What a full extraction of `hubco` reads.
    pub fn counts(&self, hubco: i64) -> ConexiomCounts {
        let mut counts = ConexiomCounts::default();
        for spokeco in self.spokecos.iter().filter(|s| s.hubco == hubco) {
            counts.spokecos += 1;
            counts.buyers += spokeco.buyers.len();
            counts.addresses += spokeco.addresses.len();
            for &index in &spokeco.documents {
                let document = &self.documents[index];
                counts.documents += 1;
                counts.files += document.files.len();
                counts.alerts += document.alerts.len();
                if document.processed_on.is_some() {
                    counts.processed_documents += 1;
                    counts.document_lines += document.lines.len();
                    counts.processed_files += document.files.len();
                }
            }
        }
        counts
    }

    pub fn document_ids(&self, hubco: i64) -> Vec<i64> {
        self.documents
            .iter()
            .filter(|d| d.hubco == hubco)
            .map(|d| d.id)
            .collect()
    }

    pub fn spokeco_ids(&self, hubco: i64) -> Vec<i64> {
        self.spokecos
            .iter()
            .filter(|s| s.hubco == hubco)
            .map(|s| s.id)
            .collect()
    }

    /// The next id of a new file.
    pub fn take_file_id(&mut self) -> i64 {
        let id = self.next_file_id;
        self.next_file_id += 1;
        id
    }
}
