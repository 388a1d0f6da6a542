//! Ingest integration tests, one binary: decoder fuzzing and the on-disk
//! size of logs (submodules under `tests/ingest/`).

#[path = "ingest/fuzz.rs"]
mod fuzz;
#[path = "ingest/logs_compression.rs"]
mod logs_compression;
