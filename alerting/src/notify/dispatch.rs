//! Grouping for the direct receivers (webhook, PagerDuty, Slack), as
//! Alertmanager routes do: alerts matching a receiver are grouped by
//! `group_by` labels; a new group waits `group_wait`, changes are sent at
//! most every `group_interval`, an unchanged group is repeated after
//! `repeat_interval`; identical notifications are not sent twice, and
//! resolved alerts are sent once (the evaluator's re-sends are dropped).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::payload::{fingerprint, is_resolved, GroupNotice};
use crate::eval::alert::{chrono_dur, Alert, AlertState, Labels};

/// Group timing.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Labels that make a group; `...` groups by every label.
    pub group_by: Vec<String>,
    /// First wait of a new group.
    pub group_wait: Duration,
    /// Least time between two notifications of a group.
    pub group_interval: Duration,
    /// An unchanged group is notified again after this long.
    pub repeat_interval: Duration,
}

/// Which alerts a receiver takes.
#[derive(Debug, Clone)]
pub struct Route {
    /// Receiver name.
    pub receiver: String,
    /// Label values an alert must have.
    pub matchers: BTreeMap<String, String>,
    /// Whether resolved alerts are notified.
    pub send_resolved: bool,
}

#[derive(Debug)]
struct Group {
    labels: Labels,
    alerts: BTreeMap<Labels, Alert>,
    next_flush: DateTime<Utc>,
    last_hash: Option<BTreeSet<(String, bool)>>,
    last_sent: Option<DateTime<Utc>>,
}

/// Grouping state of every receiver.
#[derive(Debug)]
pub struct Dispatcher {
    timing: Timing,
    routes: Vec<Route>,
    groups: Vec<BTreeMap<String, Group>>,
    /// Resolved alerts already notified, per receiver, with when (forgotten after 30 minutes).
    resolved_sent: Vec<BTreeMap<String, DateTime<Utc>>>,
}

const RESOLVED_MEMORY: Duration = Duration::from_secs(30 * 60);

impl Dispatcher {
    /// Grouping for `routes` with `timing`.
    pub fn new(timing: Timing, routes: Vec<Route>) -> Self {
        let n = routes.len();
        Self {
            timing,
            routes,
            groups: (0..n).map(|_| BTreeMap::new()).collect(),
            resolved_sent: vec![BTreeMap::new(); n],
        }
    }

    fn group_labels(&self, a: &Alert) -> Labels {
        if self.timing.group_by.iter().any(|g| g == "...") {
            return a.labels.clone();
        }
        self.timing.group_by.iter().filter_map(|k| a.labels.get(k).map(|v| (k.clone(), v.clone()))).collect()
    }

    /// Take alerts from the evaluator at `now`.
    pub fn ingest(&mut self, alerts: &[Alert], now: DateTime<Utc>) {
        for (r, route) in self.routes.iter().enumerate() {
            for a in alerts {
                if !route.matchers.iter().all(|(k, v)| a.labels.get(k) == Some(v)) {
                    continue;
                }
                let fp = fingerprint(&a.labels);
                if is_resolved(a) && self.resolved_sent[r].contains_key(&fp) {
                    continue;
                }
                if !is_resolved(a) {
                    self.resolved_sent[r].remove(&fp);
                }
                let labels = self.group_labels(a);
                let key = format!("{}:{}", route.receiver, fingerprint(&labels));
                let groups = &mut self.groups[r];
                if is_resolved(a) && !groups.get(&key).is_some_and(|g| g.alerts.contains_key(&a.labels)) {
                    // Resolved before this receiver ever saw it firing: nothing to say.
                    continue;
                }
                let g = groups.entry(key).or_insert_with(|| Group {
                    labels,
                    alerts: BTreeMap::new(),
                    next_flush: now + chrono_dur(self.timing.group_wait),
                    last_hash: None,
                    last_sent: None,
                });
                g.alerts.insert(a.labels.clone(), a.clone());
            }
        }
    }

    /// The earliest time a group may need a notification.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.groups.iter().flat_map(|g| g.values().map(|g| g.next_flush)).min()
    }

    /// Notifications due at `now`, each with its receiver's index.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<(usize, GroupNotice)> {
        let mut out = Vec::new();
        for (r, route) in self.routes.iter().enumerate() {
            self.resolved_sent[r].retain(|_, t| now - *t < chrono_dur(RESOLVED_MEMORY));
            let mut empty = Vec::new();
            for (key, g) in self.groups[r].iter_mut() {
                if g.next_flush > now {
                    continue;
                }
                // A firing alert no longer refreshed by the evaluator ends at its endsAt.
                for a in g.alerts.values_mut() {
                    if a.state != AlertState::Inactive && a.valid_until.is_some_and(|v| v < now) {
                        a.state = AlertState::Inactive;
                        a.resolved_at = a.valid_until;
                    }
                }
                let firing = g.alerts.values().any(|a| !is_resolved(a));
                let alerts: Vec<Alert> =
                    g.alerts.values().filter(|a| route.send_resolved || !is_resolved(a)).cloned().collect();
                let hash: BTreeSet<(String, bool)> =
                    alerts.iter().map(|a| (fingerprint(&a.labels), is_resolved(a))).collect();
                let repeat = g.last_sent.is_some_and(|t| now - t >= chrono_dur(self.timing.repeat_interval));
                let changed = g.last_hash.as_ref() != Some(&hash);
                let worth = firing || g.last_sent.is_some();
                let send = !alerts.is_empty() && worth && (changed || repeat);
                if send {
                    out.push((
                        r,
                        GroupNotice {
                            receiver: route.receiver.clone(),
                            group_key: key.clone(),
                            group_labels: g.labels.clone(),
                            alerts,
                        },
                    ));
                    g.last_sent = Some(now);
                }
                for (labels, a) in std::mem::take(&mut g.alerts) {
                    if is_resolved(&a) {
                        self.resolved_sent[r].insert(fingerprint(&labels), now);
                    } else {
                        g.alerts.insert(labels, a);
                    }
                }
                if send || g.last_hash.is_none() {
                    // What the receiver now knows: the alerts still open.
                    g.last_hash = Some(g.alerts.values().map(|a| (fingerprint(&a.labels), false)).collect());
                }
                g.next_flush = now + chrono_dur(self.timing.group_interval);
                if g.alerts.is_empty() {
                    empty.push(key.clone());
                }
            }
            for k in empty {
                self.groups[r].remove(&k);
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
