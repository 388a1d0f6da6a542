//! Property tests for the decoders (bounded-time fuzzing in CI): whatever
//! bytes arrive, decoding and conversion never panic, and every point of a
//! well-formed request is either stored or counted as rejected.
//!
//! More cases: `PROPTEST_CASES=100000 cargo test -p tidewater-ingest --test ingest fuzz`.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum,
};
use proptest::prelude::*;
use prost::Message;
use tidewater_ingest::metrics::{convert, PointLimits};
use tidewater_ingest::{logs, remote_write};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_the_protobuf_path(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(req) = ExportMetricsServiceRequest::decode(bytes.as_slice()) {
            let c = convert(&req, &PointLimits::default());
            for w in &c.writes {
                prop_assert!(w.batch.num_rows() > 0);
            }
        }
        if let Ok(req) = ExportLogsServiceRequest::decode(bytes.as_slice()) {
            let _ = logs::convert(&req, 1 << 20);
        }
        let _ = remote_write::decode(&bytes, 1 << 20);
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\PC{0,512}") {
        if let Ok(req) = serde_json::from_str::<ExportMetricsServiceRequest>(&text) {
            let _ = convert(&req, &PointLimits::default());
        }
        if let Ok(req) = serde_json::from_str::<ExportLogsServiceRequest>(&text) {
            let _ = logs::convert(&req, 1 << 20);
        }
    }

    #[test]
    fn every_point_is_stored_or_rejected(req in request()) {
        let total: usize = req.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                _ => 0,
            })
            .sum();
        // Through the wire format and back, as a server sees it.
        let decoded = ExportMetricsServiceRequest::decode(req.encode_to_vec().as_slice()).expect("round trip");
        let c = convert(&decoded, &PointLimits { max_attributes: 4, ..PointLimits::default() });
        let rows: usize = c.writes.iter().map(|w| w.batch.num_rows()).sum();
        prop_assert_eq!(rows, c.points);
        prop_assert_eq!(c.points + c.rejected, total, "reasons: {:?}", c.reasons);
    }
}

fn attribute() -> impl Strategy<Value = KeyValue> {
    (
        "[a-z.]{0,6}|time|value|\\PC{1,4}",
        prop_oneof![
            "\\PC{0,8}".prop_map(any_value::Value::StringValue),
            any::<i64>().prop_map(any_value::Value::IntValue),
            any::<f64>().prop_map(any_value::Value::DoubleValue),
            any::<bool>().prop_map(any_value::Value::BoolValue),
        ],
    )
        .prop_map(|(key, v)| KeyValue { key, value: Some(AnyValue { value: Some(v) }), ..Default::default() })
}

fn number_point() -> impl Strategy<Value = NumberDataPoint> {
    (proptest::collection::vec(attribute(), 0..4), 0u64..3, any::<f64>(), any::<u32>()).prop_map(
        |(attributes, t, v, flags)| NumberDataPoint {
            attributes,
            time_unix_nano: t * 1_000,
            start_time_unix_nano: 1,
            value: Some(number_data_point::Value::AsDouble(v)),
            flags: flags & 1,
            ..Default::default()
        },
    )
}

fn histogram_point() -> impl Strategy<Value = HistogramDataPoint> {
    (proptest::collection::vec(any::<f64>(), 0..4), proptest::collection::vec(any::<u64>(), 0..5), 1u64..3).prop_map(
        |(explicit_bounds, bucket_counts, t)| HistogramDataPoint {
            explicit_bounds,
            bucket_counts,
            time_unix_nano: t,
            count: 1,
            ..Default::default()
        },
    )
}

fn metric() -> impl Strategy<Value = Metric> {
    let name = "[a-c]{0,2}|\\PC{1,3}";
    prop_oneof![
        (name, proptest::collection::vec(number_point(), 0..5)).prop_map(|(name, data_points)| Metric {
            name,
            data: Some(Data::Gauge(Gauge { data_points })),
            ..Default::default()
        }),
        (name, proptest::collection::vec(number_point(), 0..5), 0i32..3, any::<bool>()).prop_map(
            |(name, data_points, t, m)| Metric {
                name,
                data: Some(Data::Sum(Sum { data_points, aggregation_temporality: t, is_monotonic: m })),
                ..Default::default()
            }
        ),
        (name, proptest::collection::vec(histogram_point(), 0..5)).prop_map(|(name, data_points)| Metric {
            name,
            data: Some(Data::Histogram(Histogram { data_points, aggregation_temporality: 2 })),
            ..Default::default()
        }),
    ]
}

fn request() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    proptest::collection::vec(proptest::collection::vec(metric(), 0..4), 0..3).prop_map(|scopes| {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: scopes
                    .into_iter()
                    .map(|metrics| ScopeMetrics { metrics, ..Default::default() })
                    .collect(),
                ..Default::default()
            }],
        }
    })
}
