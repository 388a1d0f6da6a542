//! The Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;

use crate::family::{FamilySnapshot, SeriesValue};

/// The `content-type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Encode `families` as Prometheus text: `# HELP`, `# TYPE`, then one line
/// per series (histograms: cumulative `_bucket` lines with `le`, `_sum`,
/// `_count`).
pub fn render(families: &[FamilySnapshot]) -> String {
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
        for s in &f.series {
            let pairs: Vec<(&str, &str)> = f.labels.iter().copied().zip(s.labels.iter().map(String::as_str)).collect();
            match &s.value {
                SeriesValue::Counter(v) => {
                    let _ = writeln!(out, "{}{} {v}", f.name, labels(&pairs, None));
                }
                SeriesValue::Gauge(v) => {
                    let _ = writeln!(out, "{}{} {}", f.name, labels(&pairs, None), number(*v));
                }
                SeriesValue::Histogram { count, sum, buckets } => {
                    let mut cumulative = 0u64;
                    for (i, n) in buckets.iter().enumerate() {
                        cumulative += n;
                        let le = f.bounds.get(i).map_or_else(|| "+Inf".to_string(), |b| number(*b));
                        let _ = writeln!(out, "{}_bucket{} {cumulative}", f.name, labels(&pairs, Some(&le)));
                    }
                    let _ = writeln!(out, "{}_sum{} {}", f.name, labels(&pairs, None), number(*sum));
                    let _ = writeln!(out, "{}_count{} {count}", f.name, labels(&pairs, None));
                }
            }
        }
    }
    out
}

fn labels(pairs: &[(&str, &str)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_value(v))).collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;

    #[test]
    fn renders_counters_gauges_and_cumulative_histogram_buckets() {
        static C: Family = Family::counter("t_rejected_total", "Refused.", &["reason"]);
        static G: Family = Family::gauge("t_bytes", "Bytes.", &[]);
        static H: Family = Family::histogram("t_seconds", "Time.", &["state"], &[0.5, 1.0]);
        C.add(&["say \"no\"\\"], 2);
        G.set(&[], 1.5);
        H.observe(&["ok"], 0.25);
        H.observe(&["ok"], 0.75);
        H.observe(&["ok"], 3.0);
        let text = render(&[C.snapshot(), G.snapshot(), H.snapshot()]);
        let expected = "\
# HELP t_rejected_total Refused.
# TYPE t_rejected_total counter
t_rejected_total{reason=\"say \\\"no\\\"\\\\\"} 2
# HELP t_bytes Bytes.
# TYPE t_bytes gauge
t_bytes 1.5
# HELP t_seconds Time.
# TYPE t_seconds histogram
t_seconds_bucket{state=\"ok\",le=\"0.5\"} 1
t_seconds_bucket{state=\"ok\",le=\"1\"} 2
t_seconds_bucket{state=\"ok\",le=\"+Inf\"} 3
t_seconds_sum{state=\"ok\"} 4
t_seconds_count{state=\"ok\"} 3
";
        assert_eq!(text, expected);
    }

    #[test]
    fn every_registered_family_is_listed_once() {
        let text = render(&crate::gather());
        for f in crate::metrics::ALL {
            assert_eq!(text.matches(&format!("# TYPE {} ", f.name)).count(), 1, "{}", f.name);
        }
    }
}
