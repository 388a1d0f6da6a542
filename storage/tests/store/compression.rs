//! Value encoding: bytes per sample on a TSBS-like data set, and exact
//! round trips of scaled-integer columns.
//!
//! Run `cargo test -p tidewater-storage --test store bytes_per_sample -- --nocapture`
//! to see the figures.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, DictionaryArray, Float64Array, RecordBatch, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use parquet::basic::Type as PhysicalType;
use parquet::file::reader::{FileReader, SerializedFileReader};
use tidewater_storage::encoding::{EncodingOptions, ScaledIntEncoding};
use tidewater_storage::schema::{attribute_type, time_type, META_KIND};
use tidewater_storage::segment::encode_batch_with;

const SERIES: usize = 100;
const POINTS: usize = 8640; // one day at 10 s
const START: i64 = 1_700_000_000_000_000_000;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// `series` hosts x 8640 points, an integer random walk clamped to [0, 100],
/// divided by `scale`.
fn tsbs_like(series: usize, scale: f64) -> RecordBatch {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    gauge_batch(series, |_| {
        let mut v = (rng.next() % 101) as i64;
        (0..POINTS)
            .map(|_| {
                v = (v + (rng.next() % 7) as i64 - 3).clamp(0, 100);
                v as f64 / scale
            })
            .collect()
    })
}

/// Two-decimal gauges (percentages): a random walk in hundredths, steps of
/// up to +-1.00, clamped to [0.00, 100.00].
fn two_decimal_walk(series: usize) -> RecordBatch {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    gauge_batch(series, |_| {
        let mut v = (rng.next() % 10_001) as i64;
        (0..POINTS)
            .map(|_| {
                v = (v + (rng.next() % 201) as i64 - 100).clamp(0, 10_000);
                v as f64 / 100.0
            })
            .collect()
    })
}

/// Full-precision doubles: a random walk with uniform steps in [-1, 1).
fn random_double_walk(series: usize) -> RecordBatch {
    let mut rng = Rng(0x51_7CC1_B727_220A);
    gauge_batch(series, |_| {
        let mut v = 50.0 + (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        (0..POINTS)
            .map(|_| {
                v += (rng.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
                v
            })
            .collect()
    })
}

/// A gauge batch of `series` hosts x [`POINTS`] points at 10 s; `values(s)`
/// gives host `s`'s points.
fn gauge_batch(series: usize, mut values_of: impl FnMut(usize) -> Vec<f64>) -> RecordBatch {
    let (mut times, mut values, mut hosts) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..series {
        let host = format!("host_{s}");
        let vs = values_of(s);
        for (p, v) in vs.into_iter().enumerate() {
            times.push(START + p as i64 * 10_000_000_000);
            values.push(v);
            hosts.push(host.clone());
        }
    }
    let schema = Schema::new_with_metadata(
        vec![
            Field::new("time", time_type(), true),
            Field::new("value", DataType::Float64, true),
            Field::new("host", attribute_type(), true),
        ],
        HashMap::from([(META_KIND.to_string(), "gauge".to_string())]),
    );
    let hosts: DictionaryArray<Int32Type> = hosts.iter().map(|h| Some(h.as_str())).collect();
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")),
            Arc::new(Float64Array::from(values)),
            Arc::new(hosts),
        ],
    )
    .expect("batch")
}

/// Compressed bytes of each column, by name.
fn column_bytes(file: &[u8]) -> HashMap<String, i64> {
    let reader = SerializedFileReader::new(bytes::Bytes::copy_from_slice(file)).expect("parquet");
    let mut out = HashMap::new();
    for rg in reader.metadata().row_groups() {
        for c in rg.columns() {
            *out.entry(c.column_path().string()).or_default() += c.compressed_size();
        }
    }
    out
}

#[test]
fn bytes_per_sample_on_a_tsbs_like_day() {
    let batch = tsbs_like(SERIES, 1.0);
    let samples = batch.num_rows() as f64;
    let variants = [
        ("float64 byte-stream-split", EncodingOptions { scaled_floats: false, ..EncodingOptions::default() }),
        (
            "scaled int64 delta-binary-packed",
            EncodingOptions { scaled_floats: true, scaled_int_encoding: ScaledIntEncoding::DeltaBinaryPacked },
        ),
        (
            "scaled int64 byte-stream-split",
            EncodingOptions { scaled_floats: true, scaled_int_encoding: ScaledIntEncoding::ByteStreamSplit },
        ),
    ];
    let mut sizes = Vec::new();
    for (name, options) in variants {
        let file = encode_batch_with(&batch, &options).expect("encode");
        let cols = column_bytes(&file);
        println!(
            "{SERIES} series x {POINTS} points, {name}: {:.3} bytes/sample total ({} bytes), value column {:.3} bytes/sample, time {:.3}, host {:.3}",
            file.len() as f64 / samples,
            file.len(),
            cols["value"] as f64 / samples,
            cols["time"] as f64 / samples,
            cols["host"] as f64 / samples,
        );
        sizes.push(file.len());
    }
    assert!(sizes[1] < sizes[0], "scaled integers beat float byte-stream-split: {sizes:?}");
    assert!(sizes[1] <= sizes[2], "the default (delta) is the smaller scaled encoding: {sizes:?}");
}

/// The `value` column's bits, sorted, of a batch or of a file read back.
fn value_bits(batches: impl IntoIterator<Item = RecordBatch>) -> Vec<u64> {
    let mut out = Vec::new();
    for b in batches {
        let v = b.column_by_name("value").expect("value");
        let v = arrow::compute::cast(v, &DataType::Float64).expect("cast");
        out.extend(v.as_any().downcast_ref::<Float64Array>().expect("f64").values().iter().map(|x| x.to_bits()));
    }
    out.sort_unstable();
    out
}

/// Encode `batch` as one segment (what compaction leaves for a day), check
/// the values read back bit for bit, and return bytes per sample.
fn lossless_bytes_per_sample(name: &str, batch: &RecordBatch) -> f64 {
    let file = encode_batch_with(batch, &EncodingOptions::default()).expect("encode");
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file.clone()))
            .expect("parquet")
            .build()
            .expect("reader");
    let got = value_bits(reader.map(|b| b.expect("batch")));
    assert_eq!(got, value_bits([batch.clone()]), "{name}: values read back bit for bit");
    let per_sample = file.len() as f64 / batch.num_rows() as f64;
    let value = column_bytes(&file)["value"] as f64 / batch.num_rows() as f64;
    println!("{name}: {per_sample:.3} bytes/sample total ({} bytes, value column {value:.3}), lossless", file.len());
    per_sample
}

/// Issue 4's compression targets, on one compacted day of 100 series.
/// Run with `-- --nocapture` for the figures in `benches/RESULTS.md`.
#[test]
fn compression_targets_on_integer_two_decimal_and_random_double_gauges() {
    let ints = lossless_bytes_per_sample("(a) TSBS-like integer gauges", &tsbs_like(SERIES, 1.0));
    let two = lossless_bytes_per_sample("(b) two-decimal float gauges", &two_decimal_walk(SERIES));
    let doubles = lossless_bytes_per_sample("(c) full-precision random-walk doubles", &random_double_walk(SERIES));
    assert!(ints <= 0.45, "(a) at most 0.45 bytes/sample, got {ints:.3}");
    assert!(two <= 1.5, "(b) at most 1.5 bytes/sample, got {two:.3}");
    // Doubles are reported as they are; the mantissa's entropy is the floor.
    assert!(doubles < 8.5, "(c) no worse than raw 8-byte floats plus time and host, got {doubles:.3}");
}

#[test]
fn scaled_segment_is_int64_decimal_and_reads_back_bit_identical() {
    for (scale, k) in [(1.0, 0), (10.0, 1), (1000.0, 3)] {
        let batch = tsbs_like(10, scale);
        let file = encode_batch_with(&batch, &EncodingOptions::default()).expect("encode");
        let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).expect("parquet");
        let descr = reader.metadata().file_metadata().schema_descr();
        let value = (0..descr.num_columns()).map(|i| descr.column(i)).find(|c| c.name() == "value").expect("value");
        assert_eq!(value.physical_type(), PhysicalType::INT64);
        assert_eq!((value.type_precision(), value.type_scale()), (18, k));

        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))
            .expect("parquet")
            .build()
            .expect("reader");
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for b in reader {
            let b = b.expect("batch");
            let v = b.column_by_name("value").expect("value");
            assert_eq!(v.data_type(), &DataType::Decimal128(18, k as i8));
            let v = arrow::compute::cast(v, &DataType::Float64).expect("cast");
            got.extend(v.as_any().downcast_ref::<Float64Array>().expect("f64").values().iter().map(|x| x.to_bits()));
        }
        let v = batch.column_by_name("value").expect("value");
        want.extend(v.as_any().downcast_ref::<Float64Array>().expect("f64").values().iter().map(|x| x.to_bits()));
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "scale {k}: bit-identical after Decimal128 -> Float64");
    }
}
