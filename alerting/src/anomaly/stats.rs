//! Robust statistics: median and MAD.

/// Scale factor that makes the MAD estimate a normal distribution's sigma.
pub const MAD_SIGMA: f64 = 1.4826;

/// Median of the finite values of `v` (None when there are none).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 })
}

/// Median and sigma-scaled median absolute deviation of `v`.
pub fn median_mad(v: &[f64]) -> Option<(f64, f64)> {
    let m = median(v)?;
    let dev: Vec<f64> = v.iter().filter(|x| x.is_finite()).map(|x| (x - m).abs()).collect();
    Some((m, median(&dev).unwrap_or(0.0) * MAD_SIGMA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
        let (m, s) = median_mad(&[1.0, 2.0, 3.0, 4.0, 100.0]).expect("some");
        assert_eq!(m, 3.0);
        assert!((s - 1.0 * MAD_SIGMA).abs() < 1e-12, "the outlier does not move the MAD: {s}");
    }
}
