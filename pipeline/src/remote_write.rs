//! Metric processors on Prometheus remote write: the series are turned into
//! OTLP gauges (`__name__` -> metric name, other labels -> point attributes,
//! milliseconds -> nanoseconds), run through the metrics pipeline, and turned
//! back into series; values (NaN staleness markers included) pass bit for
//! bit. A `forward` in the pipeline sends these copies as OTLP gauges.
//! Series the conversion would refuse anyway (no `__name__`, timestamps not
//! after 1970, native histograms) bypass the pipeline so they are still
//! counted as refused.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use tidewater_ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};

use crate::otlp;
use crate::pipeline::Pipeline;
use crate::processor::Report;

const NAME: &str = "__name__";
const NANOS_PER_MILLI: u64 = 1_000_000;

/// Run `pipeline` on the series of `req`.
pub fn run(pipeline: &Pipeline, req: &mut WriteRequest) -> Report {
    if pipeline.is_empty() {
        return Report::default();
    }
    let (mut otlp_req, mut aside) = to_otlp(std::mem::take(&mut req.timeseries));
    let report = pipeline.metrics(&mut otlp_req);
    req.timeseries = from_otlp(&otlp_req);
    req.timeseries.append(&mut aside);
    report
}

/// The series as one OTLP request, and what bypasses the pipeline.
fn to_otlp(series: Vec<TimeSeries>) -> (ExportMetricsServiceRequest, Vec<TimeSeries>) {
    let mut metrics = Vec::new();
    let mut aside = Vec::new();
    for s in series {
        if !s.histograms.is_empty() {
            aside.push(TimeSeries {
                labels: s.labels.clone(),
                samples: Vec::new(),
                exemplars: Vec::new(),
                histograms: s.histograms,
            });
        }
        let name = s.labels.iter().find(|l| l.name() == NAME && !l.value.is_empty()).map(|l| l.value().to_string());
        let Some(name) = name else {
            if !s.samples.is_empty() {
                aside.push(TimeSeries {
                    labels: s.labels,
                    samples: s.samples,
                    exemplars: Vec::new(),
                    histograms: Vec::new(),
                });
            }
            continue;
        };
        let (good, bad): (Vec<Sample>, Vec<Sample>) = s.samples.into_iter().partition(|x| x.timestamp > 0);
        if !bad.is_empty() {
            aside.push(TimeSeries {
                labels: s.labels.clone(),
                samples: bad,
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
        }
        if good.is_empty() {
            continue;
        }
        let attrs: Vec<KeyValue> = s
            .labels
            .into_iter()
            .filter(|l| l.name() != NAME && !l.value.is_empty())
            .map(|l| otlp::kv(l.name(), otlp::string(l.value())))
            .collect();
        let data_points = good
            .into_iter()
            .map(|x| NumberDataPoint {
                attributes: attrs.clone(),
                time_unix_nano: x.timestamp as u64 * NANOS_PER_MILLI,
                value: Some(number_data_point::Value::AsDouble(x.value)),
                ..Default::default()
            })
            .collect();
        metrics.push(Metric { name, data: Some(Data::Gauge(Gauge { data_points })), ..Default::default() });
    }
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
            ..Default::default()
        }],
    };
    (req, aside)
}

/// Labels of a point: resource, scope, then point attributes (later wins), plus `__name__`.
fn labels(name: &str, levels: [&[KeyValue]; 3]) -> Vec<Label> {
    let mut map = std::collections::BTreeMap::new();
    for kv in levels.into_iter().flatten() {
        if let Some(v) = kv.value.as_ref().and_then(otlp::text) {
            map.insert(kv.key.clone(), v.into_owned());
        }
    }
    map.insert(NAME.to_string(), name.to_string());
    map.into_iter().map(|(name, value)| Label::new(name, value)).collect()
}

fn from_otlp(req: &ExportMetricsServiceRequest) -> Vec<TimeSeries> {
    let mut out: Vec<TimeSeries> = Vec::new();
    for rm in &req.resource_metrics {
        let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
        for sm in &rm.scope_metrics {
            let scope: &[KeyValue] = sm.scope.as_ref().map_or(&[], |s| &s.attributes);
            for m in &sm.metrics {
                let points = match &m.data {
                    Some(Data::Gauge(g)) => &g.data_points,
                    Some(Data::Sum(s)) => &s.data_points,
                    _ => continue,
                };
                let mut last: Option<&[KeyValue]> = None;
                for p in points {
                    let value = match p.value {
                        Some(number_data_point::Value::AsDouble(v)) => v,
                        Some(number_data_point::Value::AsInt(v)) => v as f64,
                        None => continue,
                    };
                    let sample = Sample { value, timestamp: (p.time_unix_nano / NANOS_PER_MILLI) as i64 };
                    match (out.last_mut(), last) {
                        (Some(series), Some(prev)) if prev == p.attributes.as_slice() => series.samples.push(sample),
                        _ => out.push(TimeSeries {
                            labels: labels(&m.name, [resource, scope, &p.attributes]),
                            samples: vec![sample],
                            exemplars: Vec::new(),
                            histograms: Vec::new(),
                        }),
                    }
                    last = Some(&p.attributes);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PipelinesConfig, Signal};

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            samples: samples.iter().map(|(t, v)| Sample { timestamp: *t, value: *v }).collect(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }

    fn pipeline(text: &str) -> Pipeline {
        let c = PipelinesConfig::from_toml(text, "test").expect("config");
        Pipeline::build(Signal::Metrics, &c, None).expect("builds").0
    }

    #[test]
    fn metric_processors_apply_to_remote_write_series() {
        let p = pipeline(
            r#"
[[pipelines.metrics]]
name = "drop"
type = "filter"
metric_names = ["go_*"]
[[pipelines.metrics]]
name = "rename"
type = "rename"
names = { up = "target_up" }
[[pipelines.metrics]]
name = "pii"
type = "attributes"
actions = [{ action = "delete", key = "pod" }]
"#,
        );
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let mut req = WriteRequest {
            timeseries: vec![
                series(&[("__name__", "go_goroutines"), ("job", "a")], &[(1_000, 5.0)]),
                series(&[("__name__", "up"), ("job", "a"), ("pod", "p-1")], &[(1_000, 1.0), (2_000, stale)]),
                series(&[("job", "nameless")], &[(1_000, 1.0)]),
            ],
            metadata: Vec::new(),
        };
        let report = run(&p, &mut req);
        assert_eq!(report.refused, 0);
        assert_eq!(req.timeseries.len(), 2);
        let up = &req.timeseries[0];
        let labels: Vec<_> = up.labels.iter().map(|l| format!("{}={}", l.name(), l.value())).collect();
        assert_eq!(labels, ["__name__=target_up", "job=a"]);
        assert_eq!(up.samples.len(), 2, "one series, both samples");
        assert_eq!(up.samples[1].value.to_bits(), stale.to_bits(), "staleness marker bit for bit");
        assert_eq!(up.samples[1].timestamp, 2_000);
        assert_eq!(req.timeseries[1].labels[0].value(), "nameless", "refused later by conversion, as before");
        let converted = tidewater_ingest::remote_write::convert(&req, &Default::default());
        assert_eq!((converted.points, converted.rejected), (2, 1));
    }
}
