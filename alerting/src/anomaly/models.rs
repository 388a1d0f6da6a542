//! The models: for each point of a series on a regular grid, what was
//! expected and the scale of normal deviation, from earlier points only.
//!
//! - rolling median/MAD of the previous `window` points;
//! - seasonal median/MAD of the same time (±1 step) in the previous `seasons` seasons;
//! - additive Holt-Winters one-step forecasts, scaled by the MAD of the
//!   recent forecast errors; points judged anomalous do not update the
//!   model (their forecast is used instead), so a spike does not bend it.

use super::stats::median_mad;

/// Expected value and scale (sigma) for one point.
pub type Expectation = Option<(f64, f64)>;

/// Rolling median/MAD over the previous `window` points.
pub fn rolling_mad(x: &[f64], window: usize) -> Vec<Expectation> {
    (0..x.len())
        .map(|i| {
            let from = i.saturating_sub(window);
            let prev = &x[from..i];
            if prev.iter().filter(|v| v.is_finite()).count() < window.div_ceil(2).max(3) {
                return None;
            }
            median_mad(prev)
        })
        .collect()
}

/// Seasonal median/MAD: the same position (±1 step) in the last `seasons` seasons of `period` steps.
pub fn seasonal_mad(x: &[f64], period: usize, seasons: usize) -> Vec<Expectation> {
    (0..x.len())
        .map(|i| {
            let mut refs = Vec::with_capacity(seasons * 3);
            for k in 1..=seasons {
                let Some(c) = i.checked_sub(k * period) else { break };
                let hi = (c + 1).min(i.saturating_sub(1));
                refs.extend(x[c.saturating_sub(1)..=hi].iter().copied().filter(|v| v.is_finite()));
            }
            if refs.len() < 3 {
                return None;
            }
            median_mad(&refs)
        })
        .collect()
}

/// Additive Holt-Winters with season `period` (steps); `judge(i, expected,
/// scale, value)` says whether point `i` is anomalous, in which case the
/// forecast replaces it in the update.
pub fn holt_winters(
    x: &[f64],
    period: usize,
    (alpha, beta, gamma): (f64, f64, f64),
    mut judge: impl FnMut(usize, f64, f64, f64) -> bool,
) -> Vec<Expectation> {
    let mut out = vec![None; x.len()];
    if period < 2 || x.len() < 2 * period {
        return out;
    }
    let mean = |s: &[f64]| -> Option<f64> {
        let f: Vec<f64> = s.iter().copied().filter(|v| v.is_finite()).collect();
        (!f.is_empty()).then(|| f.iter().sum::<f64>() / f.len() as f64)
    };
    let (Some(m1), Some(m2)) = (mean(&x[..period]), mean(&x[period..2 * period])) else { return out };
    let mut level = m1;
    let mut trend = (m2 - m1) / period as f64;
    let mut season: Vec<f64> = x[..period].iter().map(|v| if v.is_finite() { v - m1 } else { 0.0 }).collect();
    let mut residuals: Vec<f64> = Vec::new();
    let res_window = (2 * period).max(10);
    for (i, &v) in x.iter().enumerate().skip(period) {
        let s = season[i % period];
        let forecast = level + trend + s;
        let recent = &residuals[residuals.len().saturating_sub(res_window)..];
        let scale = (recent.len() >= period.min(10)).then(|| median_mad(recent).map_or(0.0, |(_, m)| m));
        if let Some(scale) = scale {
            out[i] = Some((forecast, scale));
        }
        let mut obs = v;
        if !v.is_finite() || scale.is_some_and(|sc| judge(i, forecast, sc, v)) {
            obs = forecast;
        } else {
            residuals.push(v - forecast);
        }
        let new_level = alpha * (obs - s) + (1.0 - alpha) * (level + trend);
        trend = beta * (new_level - level) + (1.0 - beta) * trend;
        season[i % period] = gamma * (obs - new_level) + (1.0 - gamma) * s;
        level = new_level;
    }
    out
}
