//! One group at run time: its rules' alerts, health and timings; one
//! evaluation at a time; state saved after each evaluation that changed it,
//! before sending.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use parking_lot::Mutex;

use super::alert::{Alert, RuleAlerts};
use super::source::QuerySource;
use super::{Evaluator, RuleOutput};
use crate::rules::{Group, Rule};
use crate::slo::SloStatus;
use crate::state::GroupState;

/// Health of a rule after its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// Last evaluation succeeded.
    Ok,
    /// Last evaluation failed.
    Err,
}

impl Health {
    /// `unknown`, `ok` or `err` (the Prometheus API's words).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// A rule's run-time state.
#[derive(Debug, Clone)]
pub struct RuleStatus {
    /// Key in the state file (name, `#n` for repeated names).
    pub key: String,
    /// Alert instances.
    pub alerts: RuleAlerts,
    /// Health.
    pub health: Health,
    /// Last error.
    pub last_error: Option<String>,
    /// Last evaluation time.
    pub last_evaluation: Option<DateTime<Utc>>,
    /// How long the last evaluation took.
    pub evaluation_time: Duration,
    /// SLO status per label set (SLO rules only).
    pub slo: Vec<SloStatus>,
}

/// A group's run-time state.
#[derive(Debug, Clone, Default)]
pub struct GroupStatus {
    /// Per rule, in rule order.
    pub rules: Vec<RuleStatus>,
    /// Last evaluation start.
    pub last_evaluation: Option<DateTime<Utc>>,
    /// How long the last evaluation took.
    pub evaluation_time: Duration,
    /// Evaluations done.
    pub iterations: u64,
    /// Intervals skipped because an evaluation overran its interval.
    pub iterations_missed: u64,
}

/// A group being evaluated.
#[derive(Debug)]
pub struct GroupRunner {
    group: Group,
    status: Mutex<GroupStatus>,
    eval_lock: tokio::sync::Mutex<()>,
    retired: AtomicBool,
    /// The state last written to disk (nothing is written while it is unchanged).
    saved: Mutex<Option<GroupState>>,
}

fn rule_keys(rules: &[Rule]) -> Vec<String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    rules
        .iter()
        .map(|r| {
            let n = seen.entry(&r.name).or_default();
            *n += 1;
            if *n == 1 {
                r.name.clone()
            } else {
                format!("{}#{n}", r.name)
            }
        })
        .collect()
}

/// The output of rule `i`, with its index and how long it took.
async fn timed(
    ev: &Evaluator,
    rules: &[Rule],
    i: usize,
    now: DateTime<Utc>,
    src: &dyn QuerySource,
) -> (usize, Result<RuleOutput, String>, Duration) {
    let (out, took) = match rules.get(i) {
        Some(rule) => ev.rule_output(rule, now, src).await,
        None => (Err(format!("no rule {i}")), Duration::ZERO),
    };
    (i, out, took)
}

impl GroupRunner {
    /// A runner for `group`, resuming the alerts of `restored` (from disk or
    /// the previous rule set) for rules whose key is unchanged.
    pub fn new(group: Group, restored: Option<GroupState>) -> Self {
        let mut restored = restored.map(|s| s.rules).unwrap_or_default();
        let rules = rule_keys(&group.rules)
            .into_iter()
            .map(|key| RuleStatus {
                alerts: RuleAlerts::from_alerts(restored.remove(&key).unwrap_or_default()),
                key,
                health: Health::Unknown,
                last_error: None,
                last_evaluation: None,
                evaluation_time: Duration::ZERO,
                slo: Vec::new(),
            })
            .collect();
        Self {
            group,
            status: Mutex::new(GroupStatus { rules, ..Default::default() }),
            eval_lock: tokio::sync::Mutex::new(()),
            retired: AtomicBool::new(false),
            saved: Mutex::new(None),
        }
    }

    /// The group's rules.
    pub fn group(&self) -> &Group {
        &self.group
    }

    /// A copy of the run-time state.
    pub fn status(&self) -> GroupStatus {
        self.status.lock().clone()
    }

    /// The state to persist.
    pub fn state(&self) -> GroupState {
        let s = self.status.lock();
        GroupState {
            group: self.group.key(),
            rules: s.rules.iter().map(|r| (r.key.clone(), r.alerts.alerts().cloned().collect())).collect(),
        }
    }

    /// Whether a reload replaced this runner.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::SeqCst)
    }

    /// Stop evaluating (waits for a running evaluation) and hand over the state.
    pub async fn retire(&self) -> GroupState {
        let _g = self.eval_lock.lock().await;
        self.retired.store(true, Ordering::SeqCst);
        self.state()
    }

    /// Write the state to disk unless it equals what was last written.
    async fn save(&self, ev: &Evaluator) {
        let Some(dir) = ev.state_dir() else { return };
        let state = self.state();
        if self.saved.lock().as_ref() == Some(&state) {
            return;
        }
        let (dir, copy) = (dir.clone(), state.clone());
        match tokio::task::spawn_blocking(move || dir.save(&copy)).await {
            Ok(Ok(())) => *self.saved.lock() = Some(state),
            Ok(Err(e)) => tracing::error!(group = %self.group.name, error = %e, "saving alert state failed"),
            Err(e) => tracing::error!(group = %self.group.name, error = %e, "saving alert state panicked"),
        }
    }

    /// Evaluate every rule once at the evaluator's current time; save the
    /// state (when it changed); send what is due. Returns how long it took.
    ///
    /// The rules' queries share one session ([`Evaluator::session`]) and run
    /// concurrently, at most `max_concurrent_queries` at once (across all
    /// groups); their results are applied in rule order.
    pub async fn evaluate(&self, ev: &Evaluator) -> Duration {
        let _g = self.eval_lock.lock().await;
        if self.is_retired() {
            return Duration::ZERO;
        }
        let started = Instant::now();
        let now = ev.now();
        let session = ev.session();
        let src = session.as_ref();
        let width = ev.config().max_concurrent_queries.max(1);
        let rules = &self.group.rules;
        let mut outputs = futures::stream::iter(0..rules.len()).map(|i| timed(ev, rules, i, now, src)).buffered(width);
        let mut due: Vec<Alert> = Vec::new();
        while let Some((i, out, took)) = outputs.next().await {
            let Some(rule) = rules.get(i) else { continue };
            let mut st = self.status.lock();
            let Some(rs) = st.rules.get_mut(i) else { continue };
            rs.last_evaluation = Some(now);
            rs.evaluation_time = took;
            let result = out.and_then(|(samples, slo)| {
                rs.slo = slo;
                rs.alerts.apply(rule, samples, now, self.group.limit)
            });
            match result {
                Ok(changes) => {
                    rs.health = Health::Ok;
                    rs.last_error = None;
                    ev.history().record(&self.group.name, &rule.name, &changes);
                }
                Err(e) => {
                    tracing::warn!(group = %self.group.name, rule = %rule.name, error = %e, "rule evaluation failed");
                    rs.health = Health::Err;
                    rs.last_error = Some(e);
                }
            }
            due.extend(rs.alerts.due(now, self.group.interval, ev.config().resend_interval));
        }
        drop(outputs);
        self.save(ev).await;
        if let (Some(sink), false) = (ev.sink(), due.is_empty()) {
            sink.send(due);
        }
        let took = started.elapsed();
        let mut st = self.status.lock();
        st.last_evaluation = Some(now);
        st.evaluation_time = took;
        st.iterations += 1;
        if took > self.group.interval {
            let missed = (took.as_nanos() / self.group.interval.as_nanos().max(1)) as u64;
            st.iterations_missed += missed;
            tracing::warn!(
                group = %self.group.name,
                took_ms = took.as_millis() as u64,
                interval_ms = self.group.interval.as_millis() as u64,
                missed,
                "rule group evaluation overran its interval; iterations skipped"
            );
        }
        took
    }
}
