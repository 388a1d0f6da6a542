//! One signal's pipeline: its stages in order, each with its counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use tidewater_telemetry::metrics::PIPELINE_ITEMS;

use crate::config::{PipelinesConfig, ProcessorConfig, Signal};
use crate::error::Result;
use crate::otlp;
use crate::processor::{Delivery, Processor, Report};
use crate::processors;

/// Per-processor counters (points for metrics, records for logs).
#[derive(Debug, Default)]
pub struct Counters {
    /// Items that reached the processor.
    pub items_in: AtomicU64,
    /// Items it passed on.
    pub items_out: AtomicU64,
    /// Items it dropped (filtered, sampled out, over a limit).
    pub dropped: AtomicU64,
    /// Dropped items reported to the sender as refused (partial success).
    pub refused: AtomicU64,
    /// Items it could not process (passed on unchanged).
    pub errors: AtomicU64,
}

/// One processor in a pipeline.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Its configuration.
    pub config: ProcessorConfig,
    /// The processor.
    pub processor: Arc<dyn Processor>,
    /// Its counters (kept across reloads while its config is unchanged).
    pub counters: Arc<Counters>,
}

/// A snapshot of one stage, for `system.pipelines`.
#[derive(Debug, Clone, PartialEq)]
pub struct StageStats {
    /// `metrics` or `logs`.
    pub signal: &'static str,
    /// Position in the pipeline, from 1.
    pub position: usize,
    /// Processor name.
    pub name: String,
    /// Processor type.
    pub kind: &'static str,
    /// Items in.
    pub items_in: u64,
    /// Items out.
    pub items_out: u64,
    /// Items dropped.
    pub dropped: u64,
    /// Items refused (part of `dropped`, reported in partial success).
    pub refused: u64,
    /// Items not processed.
    pub errors: u64,
    /// Delivery figures (`forward` only).
    pub delivery: Option<Delivery>,
}

/// The stages of one signal, in order.
#[derive(Debug, Clone)]
pub struct Pipeline {
    signal: Signal,
    stages: Vec<Stage>,
}

impl Pipeline {
    /// A pipeline of `stages`.
    pub fn new(signal: Signal, stages: Vec<Stage>) -> Self {
        Self { signal, stages }
    }

    /// Build `signal`'s pipeline of `config`. A stage of `previous` whose
    /// config is unchanged is carried over as it is (processor state and
    /// counters); the others are built new. Returns the pipeline and how many
    /// stages were carried over.
    pub fn build(signal: Signal, config: &PipelinesConfig, previous: Option<&Pipeline>) -> Result<(Self, usize)> {
        let mut stages = Vec::new();
        let mut unchanged = 0;
        for c in config.processors(signal) {
            match previous.and_then(|p| p.stages.iter().find(|s| &s.config == c)) {
                Some(s) => {
                    unchanged += 1;
                    stages.push(s.clone());
                }
                None => stages.push(Stage {
                    config: c.clone(),
                    processor: processors::build(c, signal)?,
                    counters: Default::default(),
                }),
            }
        }
        Ok((Self::new(signal, stages), unchanged))
    }

    /// The stages.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Whether there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    fn run<R>(
        &self,
        req: &mut R,
        count: impl Fn(&R) -> usize,
        step: impl Fn(&dyn Processor, &mut R, &mut Report),
    ) -> Report {
        let mut total = Report::default();
        let mut n = count(req);
        for s in &self.stages {
            if n == 0 {
                break;
            }
            let mut r = Report::default();
            step(s.processor.as_ref(), req, &mut r);
            let after = n.saturating_sub(r.dropped + r.refused);
            debug_assert_eq!(after, count(req), "stage {:?} miscounted what it removed", s.config.name());
            let c = &s.counters;
            let (name, kind) = (s.config.name(), s.config.kind());
            let outcomes = [("in", n as u64), ("out", after as u64), ("dropped", n.saturating_sub(after) as u64)];
            for (outcome, v) in outcomes.into_iter().chain([("refused", r.refused as u64), ("errors", r.errors)]) {
                PIPELINE_ITEMS.add(&[self.signal.as_str(), name, kind, outcome], v);
            }
            c.items_in.fetch_add(n as u64, Ordering::Relaxed);
            c.items_out.fetch_add(after as u64, Ordering::Relaxed);
            c.dropped.fetch_add(n.saturating_sub(after) as u64, Ordering::Relaxed);
            c.refused.fetch_add(r.refused as u64, Ordering::Relaxed);
            c.errors.fetch_add(r.errors, Ordering::Relaxed);
            total.errors += r.errors;
            for reason in r.reasons {
                if total.reasons.len() < 5 && !total.reasons.contains(&reason) {
                    total.reasons.push(reason);
                }
            }
            total.refused += r.refused;
            n = after;
        }
        total
    }

    /// Run on a metrics request.
    pub fn metrics(&self, req: &mut ExportMetricsServiceRequest) -> Report {
        self.run(req, otlp::metric_points, |p, r, rep| p.metrics(r, rep))
    }

    /// Run on a logs request.
    pub fn logs(&self, req: &mut ExportLogsServiceRequest) -> Report {
        self.run(req, otlp::log_records, |p, r, rep| p.logs(r, rep))
    }

    /// Counters of every stage.
    pub fn stats(&self) -> Vec<StageStats> {
        self.stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let c = &s.counters;
                StageStats {
                    signal: self.signal.as_str(),
                    position: i + 1,
                    name: s.config.name().to_string(),
                    kind: s.config.kind(),
                    items_in: c.items_in.load(Ordering::Relaxed),
                    items_out: c.items_out.load(Ordering::Relaxed),
                    dropped: c.dropped.load(Ordering::Relaxed),
                    refused: c.refused.load(Ordering::Relaxed),
                    errors: c.errors.load(Ordering::Relaxed),
                    delivery: s.processor.delivery(),
                }
            })
            .collect()
    }
}
