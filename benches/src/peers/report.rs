//! The run's figures as a Markdown section of `benches/RESULTS.md`:
//! machine, dataset, one table per figure with every system side by side
//! and the ratio to Tidewater, the goals of issue 6, the exact commands.

use std::fmt::Write as _;

use super::procfs::Machine;
use super::queries::{Dataset, Eval, QueryCase};
use super::stats::LatencyStats;
use super::systems::System;
use crate::loadgen::stats::human;
use crate::time::format_duration;

/// The line below which runs are inserted, newest first.
pub const MARKER: &str = "<!-- peer runs, newest first: benches/peers/run inserts each new run below this line -->";

/// What one ingest run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestFigures {
    /// Row label (`Tidewater, remote write`).
    pub label: String,
    /// The system.
    pub system: System,
    /// Samples acknowledged.
    pub samples: u64,
    /// Load generator wall seconds.
    pub wall_secs: f64,
    /// Requests retried after 429/503.
    pub retries: u64,
    /// Requests that failed for good.
    pub failed_requests: u64,
    /// Load generator request latency, median and p99, ms.
    pub request_p50_ms: f64,
    /// 99th percentile.
    pub request_p99_ms: f64,
    /// Server CPU seconds from the first write to its exit.
    pub cpu_secs: f64,
    /// Peak RSS over ingest and shutdown, bytes.
    pub peak_rss_bytes: u64,
    /// Seconds the clean shutdown took.
    pub shutdown_secs: f64,
    /// Data directory size after flush and shutdown, bytes.
    pub disk_bytes: u64,
    /// Files in the data directory.
    pub disk_files: u64,
    /// Peak RSS after the restart, over the queries, bytes (if queried).
    pub query_peak_rss_bytes: Option<u64>,
    /// The load generator's command.
    pub loadgen_command: String,
    /// The server's command.
    pub server_command: String,
    /// Remarks (e.g. what `system.tables` says).
    pub notes: Vec<String>,
}

impl IngestFigures {
    /// Samples per second of wall time.
    pub fn rate(&self) -> f64 {
        self.samples as f64 / self.wall_secs.max(1e-9)
    }

    /// CPU seconds per million samples.
    pub fn cpu_per_million(&self) -> f64 {
        self.cpu_secs / (self.samples as f64 / 1e6).max(1e-9)
    }

    /// Bytes on disk per sample.
    pub fn bytes_per_sample(&self) -> f64 {
        self.disk_bytes as f64 / (self.samples as f64).max(1.0)
    }
}

/// One query type's results.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryFigures {
    /// The case (texts included).
    pub case: QueryCase,
    /// Latency per queried system (`None`: failed).
    pub latency: Vec<(System, Option<LatencyStats>)>,
    /// Agreement with Tidewater's answer, per other answer (label, summary).
    pub agreement: Vec<(String, String)>,
}

/// Everything a run section shows.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// `YYYY-MM-DD HH:MM UTC` of the start.
    pub started: String,
    /// Minutes the whole run took.
    pub minutes: f64,
    /// The machine.
    pub machine: Machine,
    /// (system, version).
    pub versions: Vec<(String, String)>,
    /// The dataset.
    pub dataset: Dataset,
    /// Load generator senders.
    pub concurrency: usize,
    /// Samples per request.
    pub batch_size: usize,
    /// Timed runs per query.
    pub query_runs: usize,
    /// The harness command.
    pub command: String,
    /// Ingest runs, Tidewater remote write first.
    pub ingest: Vec<IngestFigures>,
    /// Query results.
    pub queries: Vec<QueryFigures>,
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        format!("{:.2}", a / b)
    } else {
        "n/a".into()
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn figure_table(
    out: &mut String,
    title: &str,
    unit: &str,
    rows: &[IngestFigures],
    value: impl Fn(&IngestFigures) -> f64,
    show: impl Fn(f64) -> String,
) {
    let _ = writeln!(out, "\n### {title}\n\n| system | {unit} | Tidewater (remote write) ÷ system |\n|---|---:|---:|");
    let reference = rows.first().map(&value).unwrap_or(f64::NAN);
    for r in rows {
        let v = value(r);
        let _ = writeln!(out, "| {} | {} | {} |", r.label, show(v), ratio(reference, v));
    }
}

impl RunReport {
    fn ingest_of(&self, system: System) -> Option<&IngestFigures> {
        self.ingest.iter().find(|i| i.system == system)
    }

    /// The Markdown section for this run.
    pub fn render(&self) -> String {
        let ds = &self.dataset;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## Run {} — TSBS cpu-only, {} hosts × {}, {} samples\n",
            self.started,
            ds.hosts,
            format_duration(std::time::Duration::from_millis(ds.duration_ms.max(0) as u64)),
            group_digits(ds.samples())
        );
        let m = &self.machine;
        let _ = writeln!(
            out,
            "Machine: {} CPUs ({}), {:.1} GiB memory, {}, Linux {}; shared with other work, so compare within a run.  ",
            m.cpus,
            m.cpu_model,
            m.memory_bytes as f64 / (1u64 << 30) as f64,
            m.os,
            m.kernel
        );
        let versions: Vec<String> = self.versions.iter().map(|(s, v)| format!("{s}: `{v}`")).collect();
        let _ = writeln!(out, "Versions: {}.  ", versions.join(", "));
        let _ = writeln!(
            out,
            "Dataset: {} hosts × 10 fields = {} series, one sample per {} s for {} from `{}` (seed {}), {} samples; \
             sent by `tidewater-loadgen --pregenerate` with {} concurrent senders, {} samples per request. \
             Whole run: {:.1} min.",
            ds.hosts,
            ds.hosts * 10,
            ds.interval_ms / 1_000,
            format_duration(std::time::Duration::from_millis(ds.duration_ms.max(0) as u64)),
            crate::time::rfc3339((ds.base_ms + Dataset::OFFSET_MS) / 1_000),
            ds.seed,
            group_digits(ds.samples()),
            self.concurrency,
            self.batch_size,
            self.minutes
        );
        let _ = writeln!(out, "\nCommand: `{}`", self.command);

        let rows = &self.ingest;
        figure_table(
            &mut out,
            "Ingest rate (acknowledged samples/s, wall clock; higher is better)",
            "samples/s",
            rows,
            IngestFigures::rate,
            human,
        );
        figure_table(
            &mut out,
            "Server CPU per million samples (utime+stime from first write to exit; lower is better)",
            "CPU s / 1M samples",
            rows,
            IngestFigures::cpu_per_million,
            |v| format!("{v:.3}"),
        );
        figure_table(
            &mut out,
            "Peak RSS over ingest and shutdown (VmHWM; lower is better)",
            "peak RSS",
            rows,
            |r| r.peak_rss_bytes as f64,
            |v| mb(v as u64),
        );
        figure_table(
            &mut out,
            "Bytes on disk per sample (data directory after flush + clean shutdown; lower is better)",
            "bytes/sample",
            rows,
            IngestFigures::bytes_per_sample,
            |v| format!("{v:.3}"),
        );

        let _ = writeln!(out, "\nLoad generator view and what is on disk:\n\n| system | request p50 / p99 | retries | failed requests | shutdown | files on disk | peak RSS after restart, over queries |\n|---|---:|---:|---:|---:|---:|---:|");
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {:.1} / {:.1} ms | {} | {} | {:.1} s | {} | {} |",
                r.label,
                r.request_p50_ms,
                r.request_p99_ms,
                r.retries,
                r.failed_requests,
                r.shutdown_secs,
                r.disk_files,
                r.query_peak_rss_bytes.map_or("—".into(), mb)
            );
        }
        for r in rows {
            for n in &r.notes {
                let _ = writeln!(out, "\n{}: {n}", r.label);
            }
        }
        self.render_queries(&mut out);
        self.render_goals(&mut out);
        self.render_commands(&mut out);
        out
    }

    fn render_queries(&self, out: &mut String) {
        let systems: Vec<System> =
            self.queries.first().map(|q| q.latency.iter().map(|(s, _)| *s).collect()).unwrap_or_default();
        let _ = writeln!(
            out,
            "\n### Query latency (median / p95 of {} runs after one warm-up, ms; lower is better)\n",
            self.query_runs
        );
        let mut header = String::from("| query |");
        let mut rule = String::from("|---|");
        for s in &systems {
            let _ = write!(header, " {} |", s.name());
            rule.push_str("---:|");
        }
        for s in systems.iter().skip(1) {
            let _ = write!(header, " Tidewater ÷ {} |", s.name());
            rule.push_str("---:|");
        }
        header.push_str(" answers vs Tidewater |");
        rule.push_str("---|");
        let _ = writeln!(out, "{header}\n{rule}");
        for q in &self.queries {
            let mut line = format!("| {} |", q.case.name);
            for (_, l) in &q.latency {
                let _ = write!(
                    line,
                    " {} |",
                    l.map_or("failed".into(), |l| format!("{:.1} / {:.1}", l.median_ms, l.p95_ms))
                );
            }
            let tw = q.latency.first().and_then(|(_, l)| *l).map_or(f64::NAN, |l| l.median_ms);
            for (_, l) in q.latency.iter().skip(1) {
                let _ = write!(line, " {} |", ratio(tw, l.map_or(f64::NAN, |l| l.median_ms)));
            }
            let answers: Vec<String> = q.agreement.iter().map(|(who, s)| format!("{who}: {s}")).collect();
            let _ = writeln!(line, " {} |", answers.join("; "));
            out.push_str(&line);
        }
        let _ = writeln!(out, "\nWhat each query asks:\n");
        for q in &self.queries {
            let _ = writeln!(out, "- `{}`: {}", q.case.name, q.case.description);
        }
    }

    fn render_goals(&self, out: &mut String) {
        let (Some(tw), Some(vm)) = (self.ingest_of(System::Tidewater), self.ingest_of(System::VictoriaMetrics)) else {
            return;
        };
        let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
        let _ = writeln!(out, "\n### Goals of issue 6 (Tidewater over remote write vs VictoriaMetrics, this run)\n");
        let r = tw.rate() / vm.rate().max(1e-9);
        let _ = writeln!(out, "- ingest ≥ 1.5× VictoriaMetrics: {:.2}× — {}", r, verdict(r >= 1.5));
        if let Some(otlp) = self.ingest.iter().find(|i| i.system == System::Tidewater && i.label != tw.label) {
            let _ = writeln!(out, "  (over OTLP/gRPC: {:.2}×)", otlp.rate() / vm.rate().max(1e-9));
        }
        let b = tw.bytes_per_sample() / vm.bytes_per_sample().max(1e-12);
        let _ = writeln!(out, "- bytes per sample ≤ VictoriaMetrics: {:.2}× — {}", b, verdict(b <= 1.0));
        let m = tw.peak_rss_bytes as f64 / (vm.peak_rss_bytes as f64).max(1.0);
        let _ = writeln!(out, "- peak RSS ≤ VictoriaMetrics: {:.2}× — {}", m, verdict(m <= 1.0));
        let mut behind = Vec::new();
        for q in &self.queries {
            let lat = |s: System| q.latency.iter().find(|(x, _)| *x == s).and_then(|(_, l)| *l).map(|l| l.median_ms);
            if let (Some(t), Some(v)) = (lat(System::Tidewater), lat(System::VictoriaMetrics)) {
                if t > v {
                    behind.push(format!("{} ({:.2}×)", q.case.name, t / v));
                }
            }
        }
        let _ = writeln!(
            out,
            "- query latency ≤ VictoriaMetrics on every type: {}",
            if behind.is_empty() { "met".to_string() } else { format!("**not met** on {}", behind.join(", ")) }
        );
    }

    fn render_commands(&self, out: &mut String) {
        let _ = writeln!(out, "\n<details><summary>Exact commands and queries</summary>\n");
        for r in &self.ingest {
            let _ = writeln!(out, "- {} server: `{}`", r.label, r.server_command);
            let _ = writeln!(out, "- {} load: `{}`", r.label, r.loadgen_command);
        }
        for q in &self.queries {
            let _ = writeln!(out, "\n`{}`\n\n```sql\n{}\n```\n", q.case.name, q.case.sql);
            let _ = writeln!(
                out,
                "```promql\n# Prometheus, {}\n{}\n```\n",
                eval_text(q.case.promql.eval),
                q.case.promql.expr
            );
            if q.case.metricsql.expr != q.case.promql.expr {
                let _ = writeln!(out, "```promql\n# VictoriaMetrics\n{}\n```\n", q.case.metricsql.expr);
            }
        }
        let _ = writeln!(out, "</details>\n");
    }
}

/// `query_range 2026-11-29T10:01:00Z .. 2026-11-29T11:00:00Z step 60s` or `query at ...`.
fn eval_text(eval: Eval) -> String {
    let t = |ms: i64| crate::time::rfc3339(ms.div_euclid(1_000));
    match eval {
        Eval::Range { start_ms, end_ms, step_ms } => {
            format!("query_range {} .. {} step {}s", t(start_ms), t(end_ms), step_ms / 1_000)
        }
        Eval::Instant { time_ms } => format!("query at {}", t(time_ms)),
    }
}

/// `4,320,000`.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Insert a run section below [`MARKER`] (newest first). Without a marker
/// the section, preceded by one, goes after the document's title line.
pub fn insert_run(existing: &str, section: &str) -> String {
    if let Some(pos) = existing.find(MARKER) {
        let after = pos + MARKER.len();
        return format!("{}\n\n{}\n{}", &existing[..after], section.trim_end(), &existing[after..]);
    }
    let (title, rest) = match existing.split_once('\n') {
        Some((t, r)) if t.starts_with("# ") => (t, r),
        _ => ("# Benchmark results", existing),
    };
    format!("{title}\n\n{MARKER}\n\n{}\n\n{}", section.trim_end(), rest.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_newest_first() {
        let doc = format!("# Results\n\nintro\n\n{MARKER}\n\n## Run old\n\nold figures\n");
        let once = insert_run(&doc, "## Run new\n\nnew figures\n");
        let new = once.find("## Run new").expect("new");
        let old = once.find("## Run old").expect("old");
        assert!(once.find(MARKER).expect("marker") < new && new < old, "{once}");
        assert!(once.contains("intro") && once.contains("old figures"));
        let fresh = insert_run("# Results\n\nmicro-benches\n", "## Run a\n");
        assert!(fresh.starts_with(&format!("# Results\n\n{MARKER}\n\n## Run a\n\nmicro-benches")), "{fresh}");
    }

    #[test]
    fn digits_and_ratios() {
        assert_eq!(group_digits(4_320_000), "4,320,000");
        assert_eq!(group_digits(999), "999");
        assert_eq!(ratio(3.0, 2.0), "1.50");
        assert_eq!(ratio(1.0, 0.0), "n/a");
    }
}
