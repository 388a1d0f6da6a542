//! Seeded random numbers: one ChaCha8 stream per entity (host, service), so
//! an entity's data depends only on the seed and its id, not on the order
//! or grouping in which entities are generated.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Streams of one workload are offset by this per workload kind, so two
/// workloads with the same seed do not share random numbers.
pub const STREAM_TSBS: u64 = 0;
/// Stream offset of the `otel-http` workload.
pub const STREAM_OTEL_HTTP: u64 = 1 << 40;
/// Stream offset of the `logs` workload.
pub const STREAM_LOGS: u64 = 2 << 40;
/// Stream offset of choices made by the peer harness (query parameters).
pub const STREAM_QUERIES: u64 = 3 << 40;

/// The random stream of entity `id` of a workload (`base` is its `STREAM_*`).
pub fn entity_rng(seed: u64, base: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(base.wrapping_add(id));
    rng
}

/// A standard normal draw (Box-Muller; one of the pair is discarded, which
/// keeps the draw a pure function of two uniforms).
pub fn normal(rng: &mut impl Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]: ln is finite
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal draw whose median is `median` and whose log has standard
/// deviation `sigma`.
pub fn log_normal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// `n` random bytes (trace and span ids).
pub fn bytes(rng: &mut impl Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.random::<u8>()).collect()
}

/// One of `choices`, uniformly.
pub fn pick<'a, T>(rng: &mut impl Rng, choices: &'a [T]) -> &'a T {
    &choices[rng.random_range(0..choices.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| entity_rng(7, STREAM_TSBS, 3).random::<u64>()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let b = entity_rng(7, STREAM_TSBS, 4).random::<u64>();
        let c = entity_rng(8, STREAM_TSBS, 3).random::<u64>();
        let d = entity_rng(7, STREAM_LOGS, 3).random::<u64>();
        assert!(a[0] != b && a[0] != c && a[0] != d);
    }

    #[test]
    fn normal_has_mean_zero_and_unit_variance() {
        let mut rng = entity_rng(1, 0, 0);
        let n = 100_000;
        let xs: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "{mean}");
        assert!((var - 1.0).abs() < 0.03, "{var}");
        assert!(xs.iter().all(|x| x.is_finite()));
    }
}
