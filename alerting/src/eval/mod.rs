//! The evaluator: runs each group's rules every interval against the query
//! engine, at the time an injected [`Clock`] gives, and drives each alert
//! through its states ([`alert`]).

pub mod alert;
pub mod group;
pub mod rows;
pub mod source;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::history::History;
use crate::rules::macros::expand;
use crate::rules::{Rule, RuleKind};
use crate::slo::SloStatus;
use crate::state::StateDir;
use alert::{Alert, Sample};
use source::QuerySource;

pub use group::GroupRunner;

/// Receives alerts due to be sent. Must not block.
pub trait AlertSink: Send + Sync + std::fmt::Debug {
    /// Queue `alerts` for delivery.
    fn send(&self, alerts: Vec<Alert>);
}

/// Evaluation settings.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// Firing alerts are sent again after this long.
    pub resend_interval: Duration,
    /// Rule queries running at once, across groups.
    pub max_concurrent_queries: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self { resend_interval: Duration::from_secs(60), max_concurrent_queries: 4 }
    }
}

/// What every group evaluation shares.
#[derive(Debug)]
pub struct Evaluator {
    source: Arc<dyn QuerySource>,
    clock: Arc<dyn Clock>,
    state_dir: Option<StateDir>,
    history: Arc<History>,
    sink: Option<Arc<dyn AlertSink>>,
    config: EvalConfig,
    permits: Semaphore,
}

/// One rule's evaluation: its samples, and for SLOs their status.
pub(crate) type RuleOutput = (Vec<Sample>, Vec<SloStatus>);

impl Evaluator {
    /// An evaluator over `source`, reading time from `clock`; alert state is
    /// saved under `state_dir` when given, due alerts go to `sink`.
    pub fn new(
        source: Arc<dyn QuerySource>,
        clock: Arc<dyn Clock>,
        state_dir: Option<StateDir>,
        history: Arc<History>,
        sink: Option<Arc<dyn AlertSink>>,
        config: EvalConfig,
    ) -> Self {
        let permits = Semaphore::new(config.max_concurrent_queries.max(1));
        Self { source, clock, state_dir, history, sink, config, permits }
    }

    /// The clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The state directory.
    pub fn state_dir(&self) -> Option<&StateDir> {
        self.state_dir.as_ref()
    }

    /// The history ring.
    pub fn history(&self) -> &Arc<History> {
        &self.history
    }

    /// The settings.
    pub fn config(&self) -> &EvalConfig {
        &self.config
    }

    pub(crate) fn sink(&self) -> Option<&Arc<dyn AlertSink>> {
        self.sink.as_ref()
    }

    /// Evaluate one rule at `now`.
    pub(crate) async fn rule_output(&self, rule: &Rule, now: DateTime<Utc>) -> Result<RuleOutput, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        match &rule.kind {
            RuleKind::Threshold { sql } => {
                let batches = self.source.query(&expand(sql, now, None)).await?;
                let samples = rows::rows(&batches)?.into_iter().map(|r| Sample::new(r.labels, r.value)).collect();
                Ok((samples, Vec::new()))
            }
            RuleKind::Slo(spec) => crate::slo::evaluate(spec, &rule.annotations, self.source.as_ref(), now).await,
            RuleKind::Anomaly(spec) => {
                let samples = crate::anomaly::evaluate(spec, self.source.as_ref(), now).await?;
                Ok((samples, Vec::new()))
            }
        }
    }
}
