//! Write-ahead log file format.
//!
//! A WAL file is named `{id:020}.wal` and holds:
//!
//! ```text
//! header:  magic "TWWAL\0\r\n" (8 bytes) | version u32 LE | reserved u32
//! record:  payload length u32 LE | CRC32C of payload u32 LE | payload
//! payload: zstd( table count u32 | per table: name len u16 | name | ipc len u32 | Arrow IPC stream )
//! ```
//!
//! Replay maps the file into memory and stops at the first record that is
//! short, fails its checksum or does not decode: such a tail can only hold
//! bytes that were never acknowledged (acknowledgement follows the fsync of
//! the whole record). The caller truncates the file there.
//!
//! One exception: a complete record that fails its checksum (or does not
//! decode) but is followed by a good record was damaged after it was
//! written (bit rot, a bad sector) — appends are sequential, so a crash
//! cannot tear a record in the middle. Such a record is skipped and
//! reported, and replay goes on: truncating there would throw away the
//! acknowledged records behind it.

use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::error::{Error, Result};

/// Magic bytes at the start of every WAL file.
pub const MAGIC: &[u8; 8] = b"TWWAL\0\r\n";
/// Current WAL format version.
pub const VERSION: u32 = 1;
/// Size of the file header.
pub const HEADER_LEN: usize = 16;
/// Size of a record header (length + checksum).
pub const RECORD_HEADER_LEN: usize = 8;
/// Largest payload accepted on replay; anything larger is treated as corruption.
pub const MAX_RECORD_LEN: usize = 1 << 30;
/// zstd level for WAL payloads: fast, the WAL is short-lived.
const ZSTD_LEVEL: i32 = 1;

/// The file header bytes.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// The path of WAL file `id` in `dir`.
pub fn file_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.wal"))
}

/// List the WAL file ids in `dir`, ascending.
pub fn list_files(dir: &Path) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".wal") {
            if let Ok(id) = stem.parse::<u64>() {
                ids.push(id);
            }
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Encode one record (header + payload) for the given table batches.
pub fn encode_record(tables: &[(String, RecordBatch)]) -> Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(4096);
    raw.extend_from_slice(&(tables.len() as u32).to_le_bytes());
    for (name, batch) in tables {
        let name_len = u16::try_from(name.len()).map_err(|_| Error::SchemaClash {
            table: name.clone(),
            reason: "table name longer than 65535 bytes".into(),
        })?;
        raw.extend_from_slice(&name_len.to_le_bytes());
        raw.extend_from_slice(name.as_bytes());
        let mut ipc = Vec::new();
        {
            let mut w = StreamWriter::try_new(&mut ipc, &batch.schema())?;
            w.write(batch)?;
            w.finish()?;
        }
        raw.extend_from_slice(&(ipc.len() as u32).to_le_bytes());
        raw.extend_from_slice(&ipc);
    }
    let payload = zstd::bulk::compress(&raw, ZSTD_LEVEL).map_err(|e| Error::io("<wal encode>", e))?;
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decode a record payload (already checksum-verified) into table batches.
pub fn decode_payload(payload: &[u8]) -> std::result::Result<Vec<(String, RecordBatch)>, String> {
    let raw = zstd::stream::decode_all(payload).map_err(|e| format!("zstd: {e}"))?;
    let mut pos = 0usize;
    let take = |pos: &mut usize, n: usize| -> std::result::Result<&[u8], String> {
        let end = pos.checked_add(n).filter(|e| *e <= raw.len()).ok_or("payload truncated")?;
        let s = &raw[*pos..end];
        *pos = end;
        Ok(s)
    };
    let count = u32::from_le_bytes(take(&mut pos, 4)?.try_into().map_err(|_| "count")?) as usize;
    let mut out = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let name_len = u16::from_le_bytes(take(&mut pos, 2)?.try_into().map_err(|_| "name len")?) as usize;
        let name = std::str::from_utf8(take(&mut pos, name_len)?).map_err(|e| format!("table name: {e}"))?.to_string();
        let ipc_len = u32::from_le_bytes(take(&mut pos, 4)?.try_into().map_err(|_| "ipc len")?) as usize;
        let ipc = take(&mut pos, ipc_len)?;
        let reader = StreamReader::try_new(Cursor::new(ipc), None).map_err(|e| format!("ipc: {e}"))?;
        for batch in reader {
            out.push((name.clone(), batch.map_err(|e| format!("ipc batch: {e}"))?));
        }
    }
    if pos != raw.len() {
        return Err(format!("{} trailing bytes in payload", raw.len() - pos));
    }
    Ok(out)
}

/// What replaying one WAL file found.
#[derive(Debug)]
pub struct Replay {
    /// Every complete record, in order, as table batches.
    pub records: Vec<Vec<(String, RecordBatch)>>,
    /// Offset just past the last good record.
    pub valid_len: u64,
    /// Bytes after `valid_len` that were not a good record (torn tail), with the reason.
    pub dropped: Option<(u64, String)>,
    /// Damaged records in the middle of the file that were skipped: offset,
    /// length in bytes and reason.
    pub skipped: Vec<(u64, u64, String)>,
}

/// Read a WAL file through a memory map, stopping at the first bad record.
///
/// A file whose header is wrong is an error: it was never written by us, or
/// is of a future version, and must not be truncated silently.
pub fn replay_file(path: &Path) -> Result<Replay> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        // Created but the header never reached disk: nothing was acknowledged.
        return Ok(Replay { records: Vec::new(), valid_len: 0, dropped: None, skipped: Vec::new() });
    }
    // SAFETY-free: memmap2's map is `unsafe` because another process could
    // change the file; the WAL directory is ours alone, and we only read.
    let map = map_readonly(&file, path)?;
    replay_bytes(&map).map_err(|reason| Error::Corrupt { what: "WAL", path: path.to_path_buf(), reason })
}

#[allow(unsafe_code)]
fn map_readonly(file: &File, path: &Path) -> Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and the WAL files are only written by
    // this process's writer thread, which never writes to a file being replayed
    // (replay runs before the writer starts).
    unsafe { memmap2::Mmap::map(file) }.map_err(|e| Error::io(path, e))
}

/// Replay records from an in-memory copy of a WAL file. Errors only on a bad header.
pub fn replay_bytes(data: &[u8]) -> std::result::Result<Replay, String> {
    if data.len() < HEADER_LEN {
        return Ok(Replay {
            records: Vec::new(),
            valid_len: 0,
            dropped: Some((data.len() as u64, "file shorter than its header".into())),
            skipped: Vec::new(),
        });
    }
    if &data[..8] != MAGIC {
        return Err("bad magic".into());
    }
    let version = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
    if version != VERSION {
        return Err(format!("unsupported WAL version {version}"));
    }
    let mut pos = HEADER_LEN;
    let mut records = Vec::new();
    let mut dropped = None;
    let mut skipped = Vec::new();
    while pos < data.len() {
        match next_record(&data[pos..]) {
            Ok((tables, used)) => {
                records.push(tables);
                pos += used;
            }
            Err(reason) => match complete_len(&data[pos..]) {
                // Damaged in place, with a good record behind it: skip it.
                Some(len) if next_record(&data[pos + len..]).is_ok() => {
                    skipped.push((pos as u64, len as u64, reason));
                    pos += len;
                }
                _ => {
                    dropped = Some(((data.len() - pos) as u64, reason));
                    break;
                }
            },
        }
    }
    Ok(Replay { records, valid_len: pos as u64, dropped, skipped })
}

/// The length (header included) of the record at the start of `data` if its
/// header is plausible and all its bytes are there.
fn complete_len(data: &[u8]) -> Option<usize> {
    if data.len() < RECORD_HEADER_LEN {
        return None;
    }
    let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    (len <= MAX_RECORD_LEN && data.len() >= RECORD_HEADER_LEN + len).then_some(RECORD_HEADER_LEN + len)
}

fn next_record(data: &[u8]) -> std::result::Result<(Vec<(String, RecordBatch)>, usize), String> {
    if data.len() < RECORD_HEADER_LEN {
        return Err(format!("{} bytes, shorter than a record header", data.len()));
    }
    let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    let crc = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
    if len > MAX_RECORD_LEN {
        return Err(format!("record length {len} over the limit"));
    }
    let end = RECORD_HEADER_LEN + len;
    if data.len() < end {
        return Err(format!("record of {len} bytes cut short at {}", data.len() - RECORD_HEADER_LEN));
    }
    let payload = &data[RECORD_HEADER_LEN..end];
    let actual = crc32c::crc32c(payload);
    if actual != crc {
        return Err(format!("checksum mismatch (stored {crc:08x}, computed {actual:08x})"));
    }
    Ok((decode_payload(payload)?, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(v: f64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("t", DataType::Int64, false),
            Field::new("value", DataType::Float64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from(vec![1, 2])), Arc::new(Float64Array::from(vec![v, v + 1.0]))],
        )
        .expect("batch")
    }

    fn file_with(records: &[Vec<(String, RecordBatch)>]) -> Vec<u8> {
        let mut data = header().to_vec();
        for r in records {
            data.extend(encode_record(r).expect("encode"));
        }
        data
    }

    #[test]
    fn round_trip() {
        let recs = vec![
            vec![("a".to_string(), batch(1.0)), ("b".to_string(), batch(2.0))],
            vec![("a".to_string(), batch(3.0))],
        ];
        let data = file_with(&recs);
        let r = replay_bytes(&data).expect("replay");
        assert!(r.dropped.is_none());
        assert_eq!(r.valid_len as usize, data.len());
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.records[0][1].0, "b");
        assert_eq!(r.records[0][1].1, batch(2.0));
        assert_eq!(r.records[1][0].1, batch(3.0));
    }

    #[test]
    fn torn_tail_stops_at_last_good_record() {
        let recs = vec![vec![("a".to_string(), batch(1.0))], vec![("a".to_string(), batch(2.0))]];
        let data = file_with(&recs);
        let first_end = HEADER_LEN + encode_record(&recs[0]).expect("encode").len();
        for cut in [first_end + 1, first_end + 7, data.len() - 1] {
            let r = replay_bytes(&data[..cut]).expect("replay");
            assert_eq!(r.records.len(), 1, "cut at {cut}");
            assert_eq!(r.valid_len as usize, first_end);
            let (n, reason) = r.dropped.expect("dropped");
            assert_eq!(n as usize, cut - first_end);
            assert!(!reason.is_empty());
        }
    }

    #[test]
    fn corrupted_record_is_detected_by_checksum() {
        let recs = vec![vec![("a".to_string(), batch(1.0))], vec![("a".to_string(), batch(2.0))]];
        let mut data = file_with(&recs);
        let last = data.len() - 3;
        data[last] ^= 0xff;
        let r = replay_bytes(&data).expect("replay");
        assert_eq!(r.records.len(), 1);
        assert!(r.dropped.expect("dropped").1.contains("checksum"));
    }

    #[test]
    fn damaged_middle_record_is_skipped_and_later_records_kept() {
        let recs: Vec<_> = (0..3).map(|i| vec![("a".to_string(), batch(i as f64))]).collect();
        let mut data = file_with(&recs);
        let first_len = encode_record(&recs[0]).expect("encode").len();
        let second_len = encode_record(&recs[1]).expect("encode").len();
        // A payload byte of the second record flips on disk.
        data[HEADER_LEN + first_len + second_len - 2] ^= 0x40;
        let r = replay_bytes(&data).expect("replay");
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.records[0][0].1, batch(0.0));
        assert_eq!(r.records[1][0].1, batch(2.0));
        assert_eq!(r.valid_len as usize, data.len(), "nothing to truncate");
        assert!(r.dropped.is_none());
        assert_eq!(r.skipped.len(), 1);
        let (at, len, reason) = &r.skipped[0];
        assert_eq!((*at as usize, *len as usize), (HEADER_LEN + first_len, second_len));
        assert!(reason.contains("checksum"), "{reason}");
    }

    #[test]
    fn bad_header_is_an_error() {
        let mut data = file_with(&[]);
        data[0] = b'X';
        assert!(replay_bytes(&data).is_err());
        let mut data = file_with(&[]);
        data[8] = 9;
        assert!(replay_bytes(&data).unwrap_err().contains("version"));
    }

    #[test]
    fn header_only_and_short_files() {
        let r = replay_bytes(&header()).expect("replay");
        assert!(r.records.is_empty() && r.dropped.is_none());
        let r = replay_bytes(&header()[..5]).expect("replay");
        assert_eq!(r.valid_len, 0);
        assert!(r.dropped.is_some());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// Fuzz the WAL reader: any bytes after a valid header replay
        /// without panicking, and never yield more than was written.
        #[test]
        fn arbitrary_tails_never_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            let mut data = header().to_vec();
            data.extend_from_slice(&tail);
            let r = replay_bytes(&data).expect("valid header");
            proptest::prop_assert!(r.valid_len as usize <= data.len());
        }

        /// A valid file cut anywhere replays a prefix of its records.
        #[test]
        fn any_cut_replays_a_prefix(cut in 0usize..100_000, flip in proptest::prelude::any::<Option<(usize, u8)>>()) {
            let recs: Vec<_> = (0..4).map(|i| vec![("t".to_string(), batch(i as f64))]).collect();
            let mut data = file_with(&recs);
            if let Some((at, bits)) = flip {
                let at = HEADER_LEN + at % (data.len() - HEADER_LEN);
                data[at] ^= bits | 1;
            }
            let cut = HEADER_LEN + cut % (data.len() - HEADER_LEN + 1);
            let r = replay_bytes(&data[..cut]).expect("valid header");
            proptest::prop_assert!(r.records.len() <= recs.len());
            if flip.is_none() {
                for (got, want) in r.records.iter().zip(&recs) {
                    proptest::prop_assert_eq!(&got[0].1, &want[0].1);
                }
            } else {
                // A damaged record may be skipped: what is replayed is still
                // written records, in order, each at most once.
                let mut next = 0;
                for got in &r.records {
                    let at = recs[next..].iter().position(|w| w[0].1 == got[0].1);
                    proptest::prop_assert!(at.is_some(), "replayed a record that was not written");
                    next += at.unwrap_or(0) + 1;
                }
            }
        }
    }
}
