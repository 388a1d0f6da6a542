//! The process-wide list of families and of collectors (gauges sampled when
//! someone reads the metrics).

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::family::FamilySnapshot;
use crate::metrics::ALL;

type Collector = Box<dyn Fn() + Send + Sync>;

static COLLECTORS: Mutex<Vec<Collector>> = Mutex::new(Vec::new());
static START: OnceLock<i64> = OnceLock::new();

/// Register `f` to run before every [`gather`], to set gauges that are
/// sampled rather than recorded (bytes buffered, resident memory). It may do
/// small blocking reads (such as `/proc/self/statm`).
pub fn add_collector(f: impl Fn() + Send + Sync + 'static) {
    COLLECTORS.lock().unwrap_or_else(PoisonError::into_inner).push(Box::new(f));
}

/// Run the collectors, then snapshot every family of [`crate::metrics`]. Call
/// from a blocking context (collectors may read files).
pub fn gather() -> Vec<FamilySnapshot> {
    for c in COLLECTORS.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        c();
    }
    ALL.iter().map(|f| f.snapshot()).collect()
}

/// When the process started recording (the first call of this function or
/// of [`gather`]'s users), in Unix nanoseconds: the start time of every
/// counter.
pub fn process_start_unix_nanos() -> i64 {
    *START.get_or_init(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64))
}
