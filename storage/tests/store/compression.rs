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
    let (mut times, mut values, mut hosts) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..series {
        let host = format!("host_{s}");
        let mut v = (rng.next() % 101) as i64;
        for p in 0..POINTS {
            v = (v + (rng.next() % 7) as i64 - 3).clamp(0, 100);
            times.push(START + p as i64 * 10_000_000_000);
            values.push(v as f64 / scale);
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
