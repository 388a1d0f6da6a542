//! The dataset: `hosts` hosts in 5 regions, four gauges (`cpu`, `mem`,
//! `disk` in percent, `load`), one point per host every 10 s over one hour.
//! Everything but the last 5 minutes is flushed to segments; the rest stays
//! in the memtable, as on a live server. Every tenth host runs hot, so a
//! share of the rules fire.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, Float64Array, RecordBatch, StringDictionaryBuilder, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tidewater_storage::schema::META_KIND;
use tidewater_storage::{Store, TableWrite};

/// The metric tables and the typical level of each.
pub const TABLES: [(&str, f64); 4] = [("cpu", 45.0), ("mem", 60.0), ("disk", 55.0), ("load", 4.0)];

/// Seconds between two points of a series.
pub const STEP_S: i64 = 10;

/// Data covered, seconds.
pub const SPAN_S: i64 = 3600;

/// Name of host `h`.
pub fn host(h: usize) -> String {
    format!("host-{h:03}")
}

/// Region of host `h`.
pub fn region(h: usize) -> String {
    format!("region-{}", h % 5)
}

/// Value of `table` (typical level `base`) for host `h` at step `i`.
fn value(rng: &mut ChaCha8Rng, base: f64, h: usize, i: i64) -> f64 {
    let hot = if h.is_multiple_of(10) { 1.6 } else { 1.0 };
    let wave = (i as f64 / 60.0 + h as f64).sin() * 0.2 * base;
    (base * hot + wave + rng.random_range(-0.05..0.05) * base).max(0.0)
}

fn batch(
    table: &str,
    base: f64,
    hosts: usize,
    steps: std::ops::Range<i64>,
    end: DateTime<Utc>,
) -> Result<RecordBatch, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(base.to_bits() ^ steps.start as u64);
    let start_ns = end.timestamp_nanos_opt().ok_or("time out of range")? - SPAN_S * 1_000_000_000;
    let (mut times, mut values) = (Vec::new(), Vec::new());
    let (mut host_col, mut region_col) =
        (StringDictionaryBuilder::<Int32Type>::new(), StringDictionaryBuilder::<Int32Type>::new());
    for i in steps {
        for h in 0..hosts {
            times.push(start_ns + (i + 1) * STEP_S * 1_000_000_000);
            values.push(value(&mut rng, base, h, i));
            host_col.append_value(host(h));
            region_col.append_value(region(h));
        }
    }
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("time", Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC"))),
        ("value", Arc::new(Float64Array::from(values))),
        ("host", Arc::new(host_col.finish())),
        ("region", Arc::new(region_col.finish())),
    ];
    let fields: Vec<Field> = cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
    let meta = HashMap::from([(META_KIND.to_string(), "gauge".to_string())]);
    RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, meta)), cols.into_iter().map(|(_, a)| a).collect())
        .map_err(|e| format!("{table}: {e}"))
}

async fn write(store: &Store, hosts: usize, steps: std::ops::Range<i64>, end: DateTime<Utc>) -> Result<(), String> {
    let mut writes = Vec::new();
    for (table, base) in TABLES {
        writes.push(TableWrite { table: table.into(), batch: batch(table, base, hosts, steps.clone(), end)? });
    }
    let out = store.write(writes).await.map_err(|e| e.to_string())?;
    match out.rejected.is_empty() {
        true => Ok(()),
        false => Err(format!("rejected writes: {:?}", out.rejected)),
    }
}

/// Write the hour ending at `end`; returns the number of points.
pub async fn ingest(store: &Store, hosts: usize, end: DateTime<Utc>) -> Result<usize, String> {
    let steps = SPAN_S / STEP_S;
    let recent = 300 / STEP_S;
    for chunk in (0..steps - recent).step_by(30) {
        write(store, hosts, chunk..(chunk + 30).min(steps - recent), end).await?;
    }
    store.flush().await.map_err(|e| e.to_string())?;
    write(store, hosts, steps - recent..steps, end).await?;
    Ok(steps as usize * hosts * TABLES.len())
}
