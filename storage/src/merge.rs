//! Streaming k-way merge of sorted batch streams.
//!
//! Every input yields batches shaped to one table schema and sorted by the
//! same key (attribute columns, then `time`). The merge holds one batch per
//! input, compares rows in Arrow's row format and emits output batches of at
//! most `batch_size` rows, so memory does not grow with the input size.
//! Equal keys keep input order (the earlier input first).

use arrow::array::RecordBatch;
use arrow::compute::interleave_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, Rows, SortField};

use crate::error::Result;

/// A source of sorted, table-shaped batches.
pub type BatchSource = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

struct Cursor {
    source: BatchSource,
    batch: Option<RecordBatch>,
    rows: Option<Rows>,
    pos: usize,
}

/// Merges sorted sources into one sorted stream of batches.
pub struct SortedMerge {
    key: Vec<usize>,
    converter: Option<RowConverter>,
    cursors: Vec<Cursor>,
    batch_size: usize,
}

impl std::fmt::Debug for SortedMerge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SortedMerge").field("inputs", &self.cursors.len()).field("key", &self.key).finish()
    }
}

impl SortedMerge {
    /// Merge `sources` (all shaped to `schema`) by the columns `key` (indices into `schema`).
    pub fn new(schema: &SchemaRef, key: Vec<usize>, sources: Vec<BatchSource>, batch_size: usize) -> Result<Self> {
        let converter = if key.is_empty() {
            None
        } else {
            let fields = key.iter().map(|i| SortField::new(schema.field(*i).data_type().clone())).collect();
            Some(RowConverter::new(fields)?)
        };
        let cursors = sources.into_iter().map(|source| Cursor { source, batch: None, rows: None, pos: 0 }).collect();
        let mut merge = Self { key, converter, cursors, batch_size: batch_size.max(1) };
        for i in 0..merge.cursors.len() {
            merge.advance(i)?;
        }
        Ok(merge)
    }

    /// Load the next non-empty batch of cursor `i` (or mark it exhausted).
    fn advance(&mut self, i: usize) -> Result<()> {
        let cursor = &mut self.cursors[i];
        cursor.batch = None;
        cursor.rows = None;
        cursor.pos = 0;
        for next in cursor.source.by_ref() {
            let batch = next?;
            if batch.num_rows() == 0 {
                continue;
            }
            if let Some(conv) = &self.converter {
                let cols: Vec<_> = self.key.iter().map(|k| batch.column(*k).clone()).collect();
                cursor.rows = Some(conv.convert_columns(&cols)?);
            }
            cursor.batch = Some(batch);
            break;
        }
        Ok(())
    }

    /// The live cursor whose current row sorts first.
    fn smallest(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, c) in self.cursors.iter().enumerate() {
            if c.batch.is_none() {
                continue;
            }
            best = match best {
                None => Some(i),
                Some(b) => {
                    let cb = &self.cursors[b];
                    match (&c.rows, &cb.rows) {
                        (Some(r), Some(rb)) if r.row(c.pos) < rb.row(cb.pos) => Some(i),
                        _ => Some(b),
                    }
                }
            };
        }
        best
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(self.batch_size);
        let mut exhausted = None;
        while picks.len() < self.batch_size {
            let Some(b) = self.smallest() else { break };
            let c = &mut self.cursors[b];
            picks.push((b, c.pos));
            c.pos += 1;
            if c.batch.as_ref().is_some_and(|batch| c.pos >= batch.num_rows()) {
                // Emit before this cursor's batch is replaced.
                exhausted = Some(b);
                break;
            }
        }
        if picks.is_empty() {
            return Ok(None);
        }
        // Map cursor indices to positions in the list of referenced batches.
        let mut slot = vec![usize::MAX; self.cursors.len()];
        let mut batches = Vec::new();
        for (i, c) in self.cursors.iter().enumerate() {
            if let Some(b) = &c.batch {
                slot[i] = batches.len();
                batches.push(b);
            }
        }
        let indices: Vec<(usize, usize)> = picks.iter().map(|(c, r)| (slot[*c], *r)).collect();
        let out = interleave_record_batch(&batches, &indices)?;
        if let Some(b) = exhausted {
            self.advance(b)?;
        }
        Ok(Some(out))
    }
}

impl Iterator for SortedMerge {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, DictionaryArray, Int64Array, TimestampNanosecondArray};
    use arrow::datatypes::{DataType, Field, Int32Type, Schema};

    use super::*;
    use crate::schema::{attribute_type, time_type};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("time", time_type(), true),
            Field::new("v", DataType::Int64, true),
            Field::new("host", attribute_type(), true),
        ]))
    }

    fn batch(rows: &[(&str, i64)], tag: i64) -> RecordBatch {
        let hosts: DictionaryArray<Int32Type> = rows.iter().map(|(h, _)| Some(*h)).collect();
        let times = TimestampNanosecondArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>()).with_timezone("UTC");
        let tags = Int64Array::from(vec![tag; rows.len()]);
        RecordBatch::try_new(schema(), vec![Arc::new(times), Arc::new(tags), Arc::new(hosts)]).expect("batch")
    }

    fn source(batches: Vec<RecordBatch>) -> BatchSource {
        Box::new(batches.into_iter().map(Ok))
    }

    #[test]
    fn merges_by_attributes_then_time_in_small_batches() {
        let a = source(vec![batch(&[("a", 1), ("a", 5)], 0), batch(&[("b", 2)], 0)]);
        let b = source(vec![batch(&[("a", 3), ("b", 1), ("c", 0)], 1)]);
        let c = source(vec![]);
        let merge = SortedMerge::new(&schema(), vec![2, 0], vec![a, b, c], 2).expect("merge");
        let out: Vec<RecordBatch> = merge.map(|b| b.expect("batch")).collect();
        assert!(out.iter().all(|b| b.num_rows() <= 2));
        let all = arrow::compute::concat_batches(&schema(), &out).expect("concat");
        let times = all.column(0).as_any().downcast_ref::<TimestampNanosecondArray>().expect("ts");
        assert_eq!(times.values().to_vec(), vec![1, 3, 5, 1, 2, 0]);
        let hosts = arrow::compute::cast(all.column(2), &DataType::Utf8).expect("cast");
        let hosts = hosts.as_any().downcast_ref::<arrow::array::StringArray>().expect("str");
        assert_eq!(hosts.iter().flatten().collect::<Vec<_>>(), vec!["a", "a", "a", "b", "b", "c"]);
    }

    #[test]
    fn without_a_key_inputs_are_concatenated() {
        let s = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        let mk = |v: Vec<i64>| RecordBatch::try_new(s.clone(), vec![Arc::new(Int64Array::from(v))]).expect("batch");
        let merge = SortedMerge::new(&s, vec![], vec![source(vec![mk(vec![3, 1])]), source(vec![mk(vec![2])])], 10)
            .expect("merge");
        let out: Vec<i64> = merge
            .flat_map(|b| {
                b.expect("batch").column(0).as_any().downcast_ref::<Int64Array>().expect("i64").values().to_vec()
            })
            .collect();
        assert_eq!(out, vec![3, 1, 2]);
    }
}
