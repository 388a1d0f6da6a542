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
    /// Rules evaluated at once, across groups (also how many rules of one
    /// group run concurrently). Each rule query also takes one of the query
    /// engine's slots while it runs; keep this below the engine's
    /// `max_concurrent_queries` so user queries always find free slots.
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

    /// The source for one group evaluation: a session shared by its rule
    /// queries when the source has one (else, or if opening it fails, the
    /// source itself).
    pub(crate) fn session(&self) -> Arc<dyn QuerySource> {
        match self.source.session() {
            Ok(Some(s)) => s,
            Ok(None) => self.source.clone(),
            Err(e) => {
                tracing::warn!(error = %e, "no shared query session; rule queries plan one by one");
                self.source.clone()
            }
        }
    }

    /// Evaluate one rule at `now`, its queries through `src` (see
    /// [`Evaluator::session`]); at most `max_concurrent_queries` rules run
    /// at once across all groups. Also returns how long the evaluation took
    /// once it had its slot (waiting for one is not counted).
    pub(crate) async fn rule_output(
        &self,
        rule: &Rule,
        now: DateTime<Utc>,
        src: &dyn QuerySource,
    ) -> (Result<RuleOutput, String>, Duration) {
        let _permit = match self.permits.acquire().await {
            Ok(p) => p,
            Err(e) => return (Err(e.to_string()), Duration::ZERO),
        };
        let t0 = std::time::Instant::now();
        let out = self.run_rule(rule, now, src).await;
        (out, t0.elapsed())
    }

    async fn run_rule(&self, rule: &Rule, now: DateTime<Utc>, src: &dyn QuerySource) -> Result<RuleOutput, String> {
        match &rule.kind {
            RuleKind::Threshold { sql } => {
                let batches = src.query(&expand(sql, now, None)).await?;
                let samples = rows::rows(&batches)?.into_iter().map(|r| Sample::new(r.labels, r.value)).collect();
                Ok((samples, Vec::new()))
            }
            RuleKind::Slo(spec) => crate::slo::evaluate(spec, &rule.annotations, src, now).await,
            RuleKind::Anomaly(spec) => {
                let samples = crate::anomaly::evaluate(spec, src, now).await?;
                Ok((samples, Vec::new()))
            }
        }
    }
}
