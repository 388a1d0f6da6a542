//! SLOs -> multiwindow multi-burn-rate alerts (Google SRE workbook, Sloth).
//!
//! For every window the SLO needs (each alert's long and short windows, and
//! the SLO window for the budget) the evaluator runs the SLI queries with
//! `$__timeFilter` set to `(now - window, now]`. The error ratio is
//! `errors / total` (or `(total - good) / total`); the burn rate is the error
//! ratio divided by the budget `1 - objective`. A page or ticket alert fires
//! for a label set when, for any of its window pairs, the burn rate over
//! both the long and the short window is above the pair's factor and each
//! window saw at least `min_events` events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::eval::alert::{chrono_dur, Labels, Sample};
use crate::eval::rows::rows;
use crate::eval::source::QuerySource;
use crate::rules::macros::expand;
use crate::rules::template::{Template, Templates};
use crate::rules::{BurnWindow, Sli, SloSpec};

/// Relative tolerance of the threshold comparison, so an error ratio exactly
/// at the threshold does not fire through float rounding.
const TOLERANCE: f64 = 1e-9;

/// The burn rate of one window pair at the last evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnRate {
    /// `page` or `ticket`.
    pub severity: &'static str,
    /// Long window, seconds.
    pub long_window_s: u64,
    /// Short window, seconds.
    pub short_window_s: u64,
    /// Threshold.
    pub factor: f64,
    /// Burn rate over the long window (None: not enough events).
    pub long: Option<f64>,
    /// Burn rate over the short window (None: not enough events).
    pub short: Option<f64>,
    /// Whether this pair fires.
    pub firing: bool,
}

/// An SLO's status for one label set (most SLIs have one, with no labels).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloStatus {
    /// SLO name.
    pub slo: String,
    /// Service.
    pub service: String,
    /// Labels of the SLI rows.
    pub labels: Labels,
    /// Objective, percent.
    pub objective: f64,
    /// Compliance window, seconds.
    pub window_s: u64,
    /// Events in the window.
    pub total_events: f64,
    /// Bad events in the window.
    pub bad_events: f64,
    /// Error ratio over the window (None without events).
    pub error_ratio: Option<f64>,
    /// Share of the error budget left (1: untouched, 0: spent, below 0: overspent).
    pub error_budget_remaining: f64,
    /// Each window pair's burn rates.
    pub burn_rates: Vec<BurnRate>,
    /// When it was computed.
    pub evaluated_at: DateTime<Utc>,
}

/// Bad and total event counts over one window, per label set.
type Counts = BTreeMap<Labels, (f64, f64)>;

/// Whether `burn` is above `factor` (strictly, with a tiny relative tolerance).
pub fn exceeds(burn: f64, factor: f64) -> bool {
    burn > factor * (1.0 + TOLERANCE)
}

async fn counts(spec: &SloSpec, src: &dyn QuerySource, now: DateTime<Utc>, window: Duration) -> Result<Counts, String> {
    let from = Some(now - chrono_dur(window));
    let run = |sql: &str| {
        let sql = expand(sql, now, from);
        async move { rows(&src.query(&sql).await?) }
    };
    let total = run(spec.sli.total()).await?;
    let (other, is_good) = match &spec.sli {
        Sli::Errors { errors, .. } => (run(errors).await?, false),
        Sli::Good { good, .. } => (run(good).await?, true),
    };
    let other: BTreeMap<Labels, f64> = other.into_iter().map(|r| (r.labels, r.value)).collect();
    let mut out = Counts::new();
    for r in total {
        let o = other.get(&r.labels).copied().unwrap_or(0.0);
        let bad = if is_good { (r.value - o).max(0.0) } else { o };
        out.insert(r.labels, (bad, r.value));
    }
    Ok(out)
}

/// Evaluate `spec` at `now`: the alerts' samples and the status per label set.
pub async fn evaluate(
    spec: &SloSpec,
    rule_annotations: &Templates,
    src: &dyn QuerySource,
    now: DateTime<Utc>,
) -> Result<(Vec<Sample>, Vec<SloStatus>), String> {
    let alerts: Vec<_> = spec.page.iter().chain(spec.ticket.iter()).collect();
    let mut windows: BTreeSet<Duration> = BTreeSet::from([spec.window]);
    for a in &alerts {
        for w in &a.windows {
            windows.insert(w.long);
            windows.insert(w.short);
        }
    }
    let mut by_window = BTreeMap::new();
    for w in windows {
        by_window.insert(w, counts(spec, src, now, w).await?);
    }
    let budget = spec.budget();
    let burn = |w: Duration, labels: &Labels| -> Option<f64> {
        let (bad, total) = by_window.get(&w)?.get(labels).copied()?;
        (total > 0.0 && total >= spec.min_events).then(|| bad / total / budget)
    };
    let label_sets: BTreeSet<Labels> = by_window.values().flat_map(|c| c.keys().cloned()).collect();
    let mut samples = Vec::new();
    let mut statuses = Vec::new();
    for labels in label_sets {
        let mut rates = Vec::new();
        for a in &alerts {
            let mut worst: Option<f64> = None;
            for w in &a.windows {
                let (long, short) = (burn(w.long, &labels), burn(w.short, &labels));
                let firing =
                    matches!((long, short), (Some(l), Some(s)) if exceeds(l, w.factor) && exceeds(s, w.factor));
                if firing {
                    worst = Some(worst.map_or(long.unwrap_or(0.0), |x: f64| x.max(long.unwrap_or(0.0))));
                }
                rates.push(rate(a.severity, w, long, short, firing));
            }
            if let Some(value) = worst {
                let mut l = labels.clone();
                l.insert("slo".into(), spec.slo.clone());
                l.insert("service".into(), spec.service.clone());
                l.insert("slo_severity".into(), a.severity.into());
                let mut annotations = default_annotations(spec);
                annotations.extend(rule_annotations.clone());
                annotations.extend(a.annotations.clone());
                samples.push(Sample {
                    labels: l,
                    value,
                    extra_labels: Some(a.labels.clone()),
                    annotations: Some(annotations),
                });
            }
        }
        let (bad, total) = by_window.get(&spec.window).and_then(|c| c.get(&labels)).copied().unwrap_or((0.0, 0.0));
        let error_ratio = (total > 0.0).then(|| bad / total);
        statuses.push(SloStatus {
            slo: spec.slo.clone(),
            service: spec.service.clone(),
            labels,
            objective: spec.objective,
            window_s: spec.window.as_secs(),
            total_events: total,
            bad_events: bad,
            error_ratio,
            error_budget_remaining: 1.0 - error_ratio.unwrap_or(0.0) / budget,
            burn_rates: rates,
            evaluated_at: now,
        });
    }
    Ok((samples, statuses))
}

fn rate(severity: &'static str, w: &BurnWindow, long: Option<f64>, short: Option<f64>, firing: bool) -> BurnRate {
    BurnRate {
        severity,
        long_window_s: w.long.as_secs(),
        short_window_s: w.short.as_secs(),
        factor: w.factor,
        long,
        short,
        firing,
    }
}

fn default_annotations(spec: &SloSpec) -> Templates {
    let text = format!(
        "{{{{ labels.service }}}} SLO {{{{ labels.slo }}}} ({}% over {}) is burning its error budget {{{{ value }}}}x too fast",
        spec.objective,
        crate::duration::format(spec.window)
    );
    let mut t = Templates::new();
    if let Ok(s) = Template::parse(&text) {
        t.insert("summary".into(), s);
    }
    t
}
