//! One rule's alert instances and their life, with Prometheus semantics:
//! inactive -> pending -> firing -> inactive (resolved), `for`,
//! `keep_firing_for`, resend interval, `endsAt`, resolved alerts kept (and
//! re-sent) for 15 minutes.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rules::template::{render_all, Templates};
use crate::rules::Rule;

/// Label set of an alert (sorted by name).
pub type Labels = BTreeMap<String, String>;

/// How long a resolved alert is kept and re-sent (Prometheus: 15 minutes).
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// State of an alert instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Resolved (or never active).
    Inactive,
    /// Condition true, `for` not yet elapsed.
    Pending,
    /// Firing.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert instance (a rule and a label set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// All labels, `alertname` included.
    pub labels: Labels,
    /// Rendered annotations.
    pub annotations: Labels,
    /// Current state.
    pub state: AlertState,
    /// Value at the last evaluation.
    pub value: f64,
    /// When the condition first held (pending since).
    pub active_at: DateTime<Utc>,
    /// When it started firing.
    pub fired_at: Option<DateTime<Utc>>,
    /// When it resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was last sent to the notifiers.
    pub last_sent_at: Option<DateTime<Utc>>,
    /// `endsAt` sent with a firing alert.
    pub valid_until: Option<DateTime<Utc>>,
    /// When the condition cleared while `keep_firing_for` holds it firing.
    pub keep_firing_since: Option<DateTime<Utc>>,
}

impl Alert {
    /// `endsAt` for the notifiers: the resolution time, else `valid_until`.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.resolved_at.or(self.valid_until)
    }

    fn needs_sending(&self, now: DateTime<Utc>, resend: Duration) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        match (self.resolved_at, self.last_sent_at) {
            (_, None) => true,
            (Some(r), Some(s)) if r > s => true,
            (_, Some(s)) => s + chrono_dur(resend) < now,
        }
    }
}

/// One row of a rule's result: a label set and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels from the query (or the SLO/anomaly evaluation).
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// Labels added on top of the rule's (SLO page/ticket labels).
    pub extra_labels: Option<Templates>,
    /// Annotations replacing the rule's (SLO page/ticket annotations).
    pub annotations: Option<Templates>,
}

impl Sample {
    /// A sample with only labels and a value.
    pub fn new(labels: Labels, value: f64) -> Self {
        Self { labels, value, extra_labels: None, annotations: None }
    }
}

/// A state change, for `system.alert_history`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// When.
    pub at: DateTime<Utc>,
    /// The alert's labels.
    pub labels: Labels,
    /// Previous state.
    pub from: AlertState,
    /// New state.
    pub to: AlertState,
    /// Value at the change.
    pub value: f64,
}

/// The alert instances of one rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleAlerts {
    alerts: BTreeMap<Labels, Alert>,
}

pub(crate) fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl RuleAlerts {
    /// From persisted alerts.
    pub fn from_alerts(alerts: Vec<Alert>) -> Self {
        Self { alerts: alerts.into_iter().map(|a| (a.labels.clone(), a)).collect() }
    }

    /// Every instance (pending, firing, and resolved ones still kept).
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// Apply one evaluation's `samples` at `now`. More than `limit` active
    /// alerts is an error that clears the rule's alerts (as Prometheus does).
    pub fn apply(
        &mut self,
        rule: &Rule,
        samples: Vec<Sample>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Transition>, String> {
        let mut changes = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for s in samples {
            let mut labels = s.labels.clone();
            for (k, v) in render_all(&rule.labels, &s.labels, s.value) {
                labels.insert(k, v);
            }
            if let Some(extra) = &s.extra_labels {
                for (k, v) in render_all(extra, &s.labels, s.value) {
                    labels.insert(k, v);
                }
            }
            labels.retain(|_, v| !v.is_empty());
            labels.insert("alertname".into(), rule.name.clone());
            let annotations = render_all(s.annotations.as_ref().unwrap_or(&rule.annotations), &labels, s.value);
            seen.insert(labels.clone());
            match self.alerts.get_mut(&labels) {
                Some(a) if a.state != AlertState::Inactive => {
                    a.value = s.value;
                    a.annotations = annotations;
                    a.keep_firing_since = None;
                }
                _ => {
                    changes.push(Transition {
                        at: now,
                        labels: labels.clone(),
                        from: AlertState::Inactive,
                        to: AlertState::Pending,
                        value: s.value,
                    });
                    self.alerts.insert(
                        labels.clone(),
                        Alert {
                            labels,
                            annotations,
                            state: AlertState::Pending,
                            value: s.value,
                            active_at: now,
                            fired_at: None,
                            resolved_at: None,
                            last_sent_at: None,
                            valid_until: None,
                            keep_firing_since: None,
                        },
                    );
                }
            }
        }
        let mut active = 0usize;
        let mut remove = Vec::new();
        for (key, a) in self.alerts.iter_mut() {
            if !seen.contains(key) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && !rule.keep_firing_for.is_zero() {
                    let since = *a.keep_firing_since.get_or_insert(now);
                    keep_firing = now - since < chrono_dur(rule.keep_firing_for);
                }
                let expired = a.resolved_at.is_some_and(|r| now - r > chrono_dur(RESOLVED_RETENTION));
                if a.state == AlertState::Pending || expired {
                    if a.state == AlertState::Pending {
                        changes.push(Transition {
                            at: now,
                            labels: key.clone(),
                            from: AlertState::Pending,
                            to: AlertState::Inactive,
                            value: a.value,
                        });
                    }
                    remove.push(key.clone());
                    continue;
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    changes.push(Transition {
                        at: now,
                        labels: key.clone(),
                        from: a.state,
                        to: AlertState::Inactive,
                        value: a.value,
                    });
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(now);
                }
                if !keep_firing {
                    continue;
                }
            }
            active += 1;
            if a.state == AlertState::Pending && now - a.active_at >= chrono_dur(rule.for_) {
                a.state = AlertState::Firing;
                a.fired_at = Some(now);
                changes.push(Transition {
                    at: now,
                    labels: key.clone(),
                    from: AlertState::Pending,
                    to: AlertState::Firing,
                    value: a.value,
                });
            }
        }
        for k in remove {
            self.alerts.remove(&k);
        }
        if active > limit {
            self.alerts.clear();
            return Err(format!("rule {} produced {active} alerts, more than its limit of {limit}", rule.name));
        }
        Ok(changes)
    }

    /// The alerts due to be sent at `now` (first firing, resolved, or not sent
    /// for `resend`); marks them sent and sets `endsAt` to
    /// `now + 4 * max(interval, resend)`.
    pub fn due(&mut self, now: DateTime<Utc>, interval: Duration, resend: Duration) -> Vec<Alert> {
        let delta = interval.max(resend);
        let mut out = Vec::new();
        for a in self.alerts.values_mut() {
            if a.needs_sending(now, resend) {
                a.last_sent_at = Some(now);
                a.valid_until = Some(now + chrono_dur(delta * 4));
                out.push(a.clone());
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "alert_tests.rs"]
mod tests;
