//! Column builders for the value columns of each metric kind.
//!
//! | kind | columns (besides `time`, attributes) |
//! |---|---|
//! | gauge, delta sum | `value` |
//! | cumulative sum | `start_time`, `value` |
//! | histogram | `start_time`?, `count`, `sum`, `min`, `max`, `bounds`, `counts` |
//! | exponential histogram | `start_time`?, `count`, `sum`, `min`, `max`, `scale`, `zero_count`, `zero_threshold`, `positive_offset`, `positive_counts`, `negative_offset`, `negative_counts` |
//! | summary | `start_time`, `count`, `sum`, `quantiles`, `quantile_values` |
//!
//! A point flagged "no recorded value" has NULL in every value column: a
//! stale marker, never a zero.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Float64Builder, Int32Array, ListBuilder, TimestampNanosecondArray, UInt64Array,
    UInt64Builder,
};
use arrow::datatypes::{DataType, Field};
use opentelemetry_proto::tonic::metrics::v1::{
    number_data_point, ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint, SummaryDataPoint,
};
use tidewater_storage::schema::time_type;

/// OTLP `DataPointFlags.NO_RECORDED_VALUE`.
const NO_RECORDED_VALUE: u32 = 1;

/// Which value columns a table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Gauge.
    Gauge,
    /// Sum.
    Sum {
        /// Cumulative (else delta).
        cumulative: bool,
        /// Monotonic.
        monotonic: bool,
    },
    /// Explicit-bucket histogram.
    Histogram {
        /// Cumulative (else delta).
        cumulative: bool,
    },
    /// Exponential histogram.
    ExpHistogram {
        /// Cumulative (else delta).
        cumulative: bool,
    },
    /// Summary (always cumulative).
    Summary,
}

impl Kind {
    /// The value of the `tidewater.kind` metadata.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Sum { .. } => "sum",
            Kind::Histogram { .. } => "histogram",
            Kind::ExpHistogram { .. } => "exponential_histogram",
            Kind::Summary => "summary",
        }
    }

    /// Whether points carry a `start_time` column.
    pub fn cumulative(self) -> Option<bool> {
        match self {
            Kind::Gauge => None,
            Kind::Sum { cumulative, .. } | Kind::Histogram { cumulative } | Kind::ExpHistogram { cumulative } => {
                Some(cumulative)
            }
            Kind::Summary => Some(true),
        }
    }
}

fn list_f64() -> ListBuilder<Float64Builder> {
    ListBuilder::new(Float64Builder::new())
}

fn list_u64() -> ListBuilder<UInt64Builder> {
    ListBuilder::new(UInt64Builder::new())
}

/// Growing value columns of one table.
pub enum Values {
    /// `value`.
    Number { value: Vec<Option<f64>> },
    /// Explicit histogram columns.
    Histogram {
        count: Vec<Option<u64>>,
        sum: Vec<Option<f64>>,
        min: Vec<Option<f64>>,
        max: Vec<Option<f64>>,
        bounds: ListBuilder<Float64Builder>,
        counts: ListBuilder<UInt64Builder>,
    },
    /// Exponential histogram columns.
    Exp {
        count: Vec<Option<u64>>,
        sum: Vec<Option<f64>>,
        min: Vec<Option<f64>>,
        max: Vec<Option<f64>>,
        scale: Vec<Option<i32>>,
        zero_count: Vec<Option<u64>>,
        zero_threshold: Vec<Option<f64>>,
        positive_offset: Vec<Option<i32>>,
        positive_counts: ListBuilder<UInt64Builder>,
        negative_offset: Vec<Option<i32>>,
        negative_counts: ListBuilder<UInt64Builder>,
    },
    /// Summary columns.
    Summary {
        count: Vec<Option<u64>>,
        sum: Vec<Option<f64>>,
        quantiles: ListBuilder<Float64Builder>,
        quantile_values: ListBuilder<Float64Builder>,
    },
}

impl Values {
    /// Empty columns for `kind`.
    pub fn new(kind: Kind) -> Self {
        match kind {
            Kind::Gauge | Kind::Sum { .. } => Values::Number { value: Vec::new() },
            Kind::Histogram { .. } => Values::Histogram {
                count: Vec::new(),
                sum: Vec::new(),
                min: Vec::new(),
                max: Vec::new(),
                bounds: list_f64(),
                counts: list_u64(),
            },
            Kind::ExpHistogram { .. } => Values::Exp {
                count: Vec::new(),
                sum: Vec::new(),
                min: Vec::new(),
                max: Vec::new(),
                scale: Vec::new(),
                zero_count: Vec::new(),
                zero_threshold: Vec::new(),
                positive_offset: Vec::new(),
                positive_counts: list_u64(),
                negative_offset: Vec::new(),
                negative_counts: list_u64(),
            },
            Kind::Summary => Values::Summary {
                count: Vec::new(),
                sum: Vec::new(),
                quantiles: list_f64(),
                quantile_values: list_f64(),
            },
        }
    }

    /// Append a number point. Errors name what is wrong with it.
    pub fn push_number(&mut self, p: &NumberDataPoint) -> Result<(), String> {
        let Values::Number { value } = self else { return Err("kind mismatch".into()) };
        let v = if p.flags & NO_RECORDED_VALUE != 0 {
            None
        } else {
            match p.value {
                Some(number_data_point::Value::AsDouble(v)) => Some(v),
                Some(number_data_point::Value::AsInt(v)) => Some(v as f64),
                None => return Err("data point without a value".into()),
            }
        };
        value.push(v);
        Ok(())
    }

    /// Append a histogram point.
    pub fn push_histogram(&mut self, p: &HistogramDataPoint) -> Result<(), String> {
        let Values::Histogram { count, sum, min, max, bounds, counts } = self else {
            return Err("kind mismatch".into());
        };
        // Bucket counts that do not match the bounds (the OTLP spec's own JSON
        // example has one) are stored as sent: lossless first; quantile
        // functions check the shape.
        let stale = p.flags & NO_RECORDED_VALUE != 0;
        count.push((!stale).then_some(p.count));
        sum.push(if stale { None } else { p.sum });
        min.push(if stale { None } else { p.min });
        max.push(if stale { None } else { p.max });
        bounds.values().append_slice(&p.explicit_bounds);
        bounds.append(true);
        counts.values().append_slice(&p.bucket_counts);
        counts.append(!stale);
        Ok(())
    }

    /// Append an exponential histogram point.
    pub fn push_exp(&mut self, p: &ExponentialHistogramDataPoint) -> Result<(), String> {
        let Values::Exp {
            count,
            sum,
            min,
            max,
            scale,
            zero_count,
            zero_threshold,
            positive_offset,
            positive_counts,
            negative_offset,
            negative_counts,
        } = self
        else {
            return Err("kind mismatch".into());
        };
        if !(-10..=20).contains(&p.scale) {
            return Err(format!("exponential histogram scale {} outside -10..=20", p.scale));
        }
        let stale = p.flags & NO_RECORDED_VALUE != 0;
        let live = |v| (!stale).then_some(v);
        count.push(live(p.count));
        sum.push(if stale { None } else { p.sum });
        min.push(if stale { None } else { p.min });
        max.push(if stale { None } else { p.max });
        scale.push(Some(p.scale));
        zero_count.push(live(p.zero_count));
        zero_threshold.push(Some(p.zero_threshold));
        let pos = p.positive.as_ref();
        positive_offset.push(Some(pos.map_or(0, |b| b.offset)));
        positive_counts.values().append_slice(pos.map_or(&[][..], |b| &b.bucket_counts));
        positive_counts.append(!stale);
        let neg = p.negative.as_ref();
        negative_offset.push(Some(neg.map_or(0, |b| b.offset)));
        negative_counts.values().append_slice(neg.map_or(&[][..], |b| &b.bucket_counts));
        negative_counts.append(!stale);
        Ok(())
    }

    /// Append a summary point.
    pub fn push_summary(&mut self, p: &SummaryDataPoint) -> Result<(), String> {
        let Values::Summary { count, sum, quantiles, quantile_values } = self else {
            return Err("kind mismatch".into());
        };
        let stale = p.flags & NO_RECORDED_VALUE != 0;
        count.push((!stale).then_some(p.count));
        sum.push((!stale).then_some(p.sum));
        for q in &p.quantile_values {
            quantiles.values().append_value(q.quantile);
            quantile_values.values().append_value(q.value);
        }
        quantiles.append(!stale);
        quantile_values.append(!stale);
        Ok(())
    }

    /// Finished columns with their fields.
    pub fn finish(self) -> Vec<(Field, ArrayRef)> {
        let f64s = |name: &str, v: Vec<Option<f64>>| {
            (Field::new(name, DataType::Float64, true), Arc::new(Float64Array::from(v)) as ArrayRef)
        };
        let u64s = |name: &str, v: Vec<Option<u64>>| {
            (Field::new(name, DataType::UInt64, true), Arc::new(UInt64Array::from(v)) as ArrayRef)
        };
        let i32s = |name: &str, v: Vec<Option<i32>>| {
            (Field::new(name, DataType::Int32, true), Arc::new(Int32Array::from(v)) as ArrayRef)
        };
        let list = |name: &str, a: ArrayRef| (Field::new(name, a.data_type().clone(), true), a);
        match self {
            Values::Number { value } => vec![f64s("value", value)],
            Values::Histogram { count, sum, min, max, mut bounds, mut counts } => vec![
                u64s("count", count),
                f64s("sum", sum),
                f64s("min", min),
                f64s("max", max),
                list("bounds", Arc::new(bounds.finish())),
                list("counts", Arc::new(counts.finish())),
            ],
            Values::Exp {
                count,
                sum,
                min,
                max,
                scale,
                zero_count,
                zero_threshold,
                positive_offset,
                mut positive_counts,
                negative_offset,
                mut negative_counts,
            } => vec![
                u64s("count", count),
                f64s("sum", sum),
                f64s("min", min),
                f64s("max", max),
                i32s("scale", scale),
                u64s("zero_count", zero_count),
                f64s("zero_threshold", zero_threshold),
                i32s("positive_offset", positive_offset),
                list("positive_counts", Arc::new(positive_counts.finish())),
                i32s("negative_offset", negative_offset),
                list("negative_counts", Arc::new(negative_counts.finish())),
            ],
            Values::Summary { count, sum, mut quantiles, mut quantile_values } => vec![
                u64s("count", count),
                f64s("sum", sum),
                list("quantiles", Arc::new(quantiles.finish())),
                list("quantile_values", Arc::new(quantile_values.finish())),
            ],
        }
    }
}

/// The `start_time` column.
pub fn start_time_column(v: Vec<Option<i64>>) -> (Field, ArrayRef) {
    (Field::new("start_time", time_type(), true), Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC")))
}
