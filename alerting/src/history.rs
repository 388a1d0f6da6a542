//! `system.alert_history`: the last state changes, in a bounded ring.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::eval::alert::{AlertState, Labels, Transition};

/// One state change of one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Group name.
    pub group: String,
    /// Rule (alert) name.
    pub rule: String,
    /// The alert's labels.
    pub labels: Labels,
    /// Previous state.
    pub from: AlertState,
    /// New state.
    pub to: AlertState,
    /// Value at the change.
    pub value: f64,
}

/// The last `capacity` state changes.
#[derive(Debug)]
pub struct History {
    capacity: usize,
    entries: Mutex<VecDeque<HistoryEntry>>,
}

impl History {
    /// A ring of `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), entries: Mutex::new(VecDeque::new()) }
    }

    /// Record the changes of one rule evaluation.
    pub fn record(&self, group: &str, rule: &str, changes: &[Transition]) {
        if changes.is_empty() {
            return;
        }
        let mut e = self.entries.lock();
        for c in changes {
            if e.len() == self.capacity {
                e.pop_front();
            }
            e.push_back(HistoryEntry {
                at: c.at,
                group: group.to_string(),
                rule: rule.to_string(),
                labels: c.labels.clone(),
                from: c.from,
                to: c.to,
                value: c.value,
            });
            tracing::info!(group, rule, labels = ?c.labels, from = c.from.as_str(), to = c.to.as_str(), "alert state change");
        }
    }

    /// Every kept entry, oldest first.
    pub fn entries(&self) -> Vec<HistoryEntry> {
        self.entries.lock().iter().cloned().collect()
    }
}
