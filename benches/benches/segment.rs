//! Segment encoding and decoding: one TSBS cpu table (100 hosts x 1,000
//! samples, 10 tag columns) sorted by series and time and written as a
//! Parquet segment the way a flush writes it (integers as scaled DECIMAL,
//! delta timestamps, dictionary tags, zstd), then read back with the Parquet
//! reader (values stay DECIMAL; the query layer casts them).
//!
//! `cargo bench -p tidewater-benches --bench segment`

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

mod common;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tidewater_storage::encoding::EncodingOptions;
use tidewater_storage::segment::encode_batch_with;

fn segment(c: &mut Criterion) {
    let w = common::usage_user(100, 1_000, 10);
    let rows = w.batch.num_rows() as u64;
    let options = EncodingOptions::default();
    let file = Bytes::from(encode_batch_with(&w.batch, &options).expect("encode"));
    eprintln!("segment: {rows} rows -> {} bytes ({:.3} bytes/row)", file.len(), file.len() as f64 / rows as f64);
    let mut g = c.benchmark_group("segment");
    g.throughput(Throughput::Elements(rows));
    g.sample_size(10);
    g.bench_function("encode_100k_rows", |b| b.iter(|| encode_batch_with(&w.batch, &options).expect("encode")));
    g.bench_function("decode_100k_rows", |b| {
        b.iter(|| {
            let reader = ParquetRecordBatchReaderBuilder::try_new(file.clone()).expect("open").build().expect("reader");
            let n: usize = reader.map(|b| b.expect("batch").num_rows()).sum();
            assert_eq!(n as u64, rows);
        })
    });
    g.finish();
}

criterion_group!(benches, segment);
criterion_main!(benches);
