//! Anomaly rules: the rule's SQL returns one or more series (`time`,
//! `value`, label columns) over `history`; each is put on a grid of `step`,
//! a model says what each point should have been ([`models`]), and a point
//! is anomalous when its robust z-score passes `threshold` in the rule's
//! `direction` *and* it is at least `min_deviation` away in absolute terms.
//! A series fires when, after its warm-up, at least `trigger_fraction` of
//! its last `trigger_window` points are anomalous: a single spike or a tiny
//! absolute change does not page.

pub mod models;
pub mod stats;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::eval::alert::{chrono_dur, Labels, Sample};
use crate::eval::rows::rows;
use crate::eval::source::QuerySource;
use crate::rules::macros::expand;
use crate::rules::{AnomalySpec, Direction, Model};

/// One point's verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// What the model expected.
    pub expected: f64,
    /// Robust z-score (deviation / scale; infinite when the scale is 0).
    pub z: f64,
    /// Whether it counts as anomalous.
    pub anomalous: bool,
}

fn judge(spec: &AnomalySpec, value: f64, expected: f64, scale: f64) -> Verdict {
    let dev = value - expected;
    let z = if scale > 0.0 {
        dev / scale
    } else if dev == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(dev)
    };
    let side = match spec.direction {
        Direction::Above => dev > 0.0,
        Direction::Below => dev < 0.0,
        Direction::Both => true,
    };
    let anomalous = value.is_finite() && side && z.abs() > spec.threshold && dev.abs() >= spec.min_deviation;
    Verdict { expected, z, anomalous }
}

fn steps(d: std::time::Duration, step: std::time::Duration) -> usize {
    (d.as_nanos() / step.as_nanos().max(1)) as usize
}

/// Verdicts for every point of `x` (a series on a grid of `spec.step`); None
/// where the model has no expectation yet or the warm-up has not passed.
pub fn detect(spec: &AnomalySpec, x: &[f64]) -> Vec<Option<Verdict>> {
    let first = x.iter().position(|v| v.is_finite()).unwrap_or(x.len());
    let warm = first + steps(spec.warmup, spec.step);
    let expectations = match spec.model {
        Model::Mad { window } => models::rolling_mad(x, window),
        Model::Seasonal { season, seasons } => models::seasonal_mad(x, steps(season, spec.step), seasons),
        Model::HoltWinters { season, alpha, beta, gamma } => {
            models::holt_winters(x, steps(season, spec.step), (alpha, beta, gamma), |i, e, s, v| {
                i >= warm && judge(spec, v, e, s).anomalous
            })
        }
    };
    expectations
        .into_iter()
        .enumerate()
        .map(|(i, e)| match e {
            Some((expected, scale)) if i >= warm && x[i].is_finite() => Some(judge(spec, x[i], expected, scale)),
            _ => None,
        })
        .collect()
}

/// Whether the last `trigger_window` points hold enough anomalies; returns
/// the largest |z| among them when it does.
pub fn triggered(spec: &AnomalySpec, verdicts: &[Option<Verdict>]) -> Option<f64> {
    let tail = &verdicts[verdicts.len().saturating_sub(spec.trigger_window)..];
    let hits: Vec<f64> = tail.iter().flatten().filter(|v| v.anomalous).map(|v| v.z).collect();
    let needed = (spec.trigger_fraction * spec.trigger_window as f64).ceil().max(1.0) as usize;
    (hits.len() >= needed).then(|| hits.iter().fold(0.0f64, |m, z| if z.abs() > m.abs() { *z } else { m }))
}

/// Evaluate an anomaly rule at `now`: one sample per firing series, its value the z-score.
pub async fn evaluate(spec: &AnomalySpec, src: &dyn QuerySource, now: DateTime<Utc>) -> Result<Vec<Sample>, String> {
    let n = steps(spec.history, spec.step).max(1);
    let start = now - chrono_dur(spec.step * n as u32);
    let batches = src.query(&expand(&spec.sql, now, Some(start))).await?;
    let step_ns = spec.step.as_nanos() as i64;
    let start_ns = start.timestamp_nanos_opt().ok_or("time out of range")?;
    let mut series: BTreeMap<Labels, Vec<(f64, u32)>> = BTreeMap::new();
    for r in rows(&batches)? {
        let t = r.time.ok_or("an anomaly query must return a `time` column")?;
        // Bucket i covers (start + i*step, start + (i+1)*step].
        let i = (t - start_ns - 1).div_euclid(step_ns);
        if !(0..n as i64).contains(&i) || !r.value.is_finite() {
            continue;
        }
        let grid = series.entry(r.labels).or_insert_with(|| vec![(0.0, 0); n]);
        grid[i as usize].0 += r.value;
        grid[i as usize].1 += 1;
    }
    let mut out = Vec::new();
    for (labels, grid) in series {
        let x: Vec<f64> = grid.iter().map(|(s, c)| if *c > 0 { s / *c as f64 } else { f64::NAN }).collect();
        if let Some(z) = triggered(spec, &detect(spec, &x)) {
            out.push(Sample::new(labels, z));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
