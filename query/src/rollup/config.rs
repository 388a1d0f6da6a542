//! One rollup's settings and their checks.

use std::time::Duration;

use tidewater_storage::StoreConfig;

use super::SCHEMA_PREFIX;

/// The longest bucket a rollup may have (one week).
const MAX_INTERVAL: Duration = Duration::from_secs(7 * 86_400);

/// One rollup level: every gauge, sum and histogram table gets a downsampled
/// copy with buckets of `interval`, queried as `rollup_<name>.<table>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupConfig {
    /// Name (`[a-z0-9_]+`); the SQL schema is `rollup_<name>`.
    pub name: String,
    /// Bucket length; buckets are aligned to the Unix epoch (UTC).
    pub interval: Duration,
    /// How long after a bucket ends it is rolled up; points arriving later
    /// for a rolled-up bucket stay in the source table only.
    pub lag: Duration,
    /// Retention of the rollup tables (`None`: keep forever).
    pub retention: Option<Duration>,
    /// Most buckets computed per table in one step (bounds the memory and the
    /// time of one step while a backlog is caught up).
    pub max_buckets_per_step: u32,
}

impl RollupConfig {
    /// A rollup named `name` with `interval` buckets, a one-minute lag, no
    /// retention and 60 buckets per step.
    pub fn new(name: impl Into<String>, interval: Duration) -> Self {
        Self { name: name.into(), interval, lag: Duration::from_secs(60), retention: None, max_buckets_per_step: 60 }
    }

    /// The SQL schema (and storage namespace) of this rollup's tables.
    pub fn schema(&self) -> String {
        format!("{SCHEMA_PREFIX}{}", self.name)
    }

    /// The bucket length in nanoseconds.
    pub fn interval_nanos(&self) -> i64 {
        i64::try_from(self.interval.as_nanos()).unwrap_or(i64::MAX)
    }

    /// Check the settings; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(format!("rollup name {name:?} must be non-empty and made of a-z, 0-9 and _"));
        }
        if self.interval < Duration::from_secs(1) || self.interval > MAX_INTERVAL {
            return Err(format!("rollup {name}: the interval must be between 1 second and 7 days"));
        }
        if self.interval.subsec_nanos() != 0 {
            return Err(format!("rollup {name}: the interval must be whole seconds"));
        }
        if self.max_buckets_per_step == 0 {
            return Err(format!("rollup {name}: max_buckets_per_step must be at least 1"));
        }
        Ok(())
    }
}

/// Check a set of rollups: each valid, names distinct.
pub fn validate_all(rollups: &[RollupConfig]) -> Result<(), String> {
    for (i, r) in rollups.iter().enumerate() {
        r.validate()?;
        if rollups[..i].iter().any(|o| o.name == r.name) {
            return Err(format!("rollup name {:?} is used twice", r.name));
        }
    }
    Ok(())
}

/// Give every rollup's tables its own retention in the store settings.
pub fn set_retention(rollups: &[RollupConfig], store: &mut StoreConfig) {
    for r in rollups {
        store.namespace_retention.insert(r.schema(), r.retention);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_intervals_and_duplicates_are_checked() {
        let ok = RollupConfig::new("1m", Duration::from_secs(60));
        assert_eq!(ok.schema(), "rollup_1m");
        assert!(ok.validate().is_ok());
        for bad in ["", "1M", "a.b", "x-y"] {
            let r = RollupConfig { name: bad.into(), ..ok.clone() };
            assert!(r.validate().unwrap_err().contains("name"), "{bad}");
        }
        for secs in [0, 8 * 86_400] {
            let r = RollupConfig::new("x", Duration::from_secs(secs));
            assert!(r.validate().unwrap_err().contains("interval"));
        }
        assert!(RollupConfig::new("x", Duration::from_millis(1500)).validate().is_err());
        let r = RollupConfig { max_buckets_per_step: 0, ..ok.clone() };
        assert!(r.validate().is_err());
        let hour = RollupConfig::new("1h", Duration::from_secs(3600));
        assert!(validate_all(&[ok.clone(), hour]).is_ok());
        assert!(validate_all(&[ok.clone(), ok]).unwrap_err().contains("twice"));
    }

    #[test]
    fn rollup_tables_get_their_own_retention() {
        let day = Duration::from_secs(86_400);
        let mut store = StoreConfig::new("/nonexistent");
        store.retention = Some(day);
        let forever = RollupConfig::new("1m", Duration::from_secs(60));
        let month = RollupConfig { retention: Some(30 * day), ..RollupConfig::new("1h", Duration::from_secs(3600)) };
        set_retention(&[forever, month], &mut store);
        assert_eq!(store.retention_of("cpu"), Some(day));
        assert_eq!(store.retention_of("rollup_1m.cpu"), None);
        assert_eq!(store.retention_of("rollup_1h.cpu"), Some(30 * day));
        store.table_retention.insert("rollup_1h.cpu".into(), 2 * day);
        assert_eq!(store.retention_of("rollup_1h.cpu"), Some(2 * day));
        assert!(store.has_retention());
    }
}
