//! Counter aggregates: `rate` and `increase` for cumulative counters (resets
//! detected), `delta_rate` and `delta_increase` for delta temporality (deltas
//! are summed, never differenced).
//!
//! The cumulative functions (and `delta_rate`) keep the group's samples,
//! because partitions deliver rows in any order; they are sorted by time when
//! the group is evaluated. A partial state is the samples as lists, so merging
//! partial aggregates is concatenation (see [`accumulator`]). All four also
//! run as sliding window functions (`OVER (... RANGE BETWEEN ...)`).

mod accumulator;

use std::ops::RangeInclusive;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use self::accumulator::{SamplesAccumulator, SumAccumulator};
use super::args;

/// Nanoseconds per second.
const NANOS: f64 = 1e9;

/// Which counter aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Rate,
    Increase,
    DeltaRate,
    DeltaIncrease,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Rate => "rate",
            Kind::Increase => "increase",
            Kind::DeltaRate => "delta_rate",
            Kind::DeltaIncrease => "delta_increase",
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Kind::Rate => "rate(value, time [, start_time])",
            Kind::Increase => "increase(value, time [, start_time])",
            Kind::DeltaRate => "delta_rate(value, time)",
            Kind::DeltaIncrease => "delta_increase(value)",
        }
    }

    fn arity(self) -> RangeInclusive<usize> {
        match self {
            Kind::Rate | Kind::Increase => 2..=3,
            Kind::DeltaRate => 2..=2,
            Kind::DeltaIncrease => 1..=1,
        }
    }
}

/// One of the counter aggregates.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CounterFunction {
    kind: Kind,
    signature: Signature,
}

/// `rate`, `increase`, `delta_rate` and `delta_increase`.
pub(crate) fn functions() -> Vec<AggregateUDF> {
    [Kind::Rate, Kind::Increase, Kind::DeltaRate, Kind::DeltaIncrease]
        .into_iter()
        .map(|kind| {
            AggregateUDF::from(CounterFunction { kind, signature: Signature::user_defined(Volatility::Immutable) })
        })
        .collect()
}

impl AggregateUDFImpl for CounterFunction {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_arity(self.kind.usage(), arg_types.len(), self.kind.arity())?;
        let name = self.name();
        arg_types
            .iter()
            .zip(["value", "time", "start_time"])
            .map(|(t, arg)| if arg == "value" { args::float(name, arg, t) } else { args::timestamp(name, arg, t) })
            .collect()
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if self.kind == Kind::DeltaIncrease {
            return Ok(vec![Arc::new(Field::new(format_state_name(args.name, "sum"), DataType::Float64, true))]);
        }
        let list = |state: &str, item: DataType| {
            Arc::new(Field::new(format_state_name(args.name, state), args::list_type(item), true))
        };
        let mut fields = vec![list("times", DataType::Int64), list("values", DataType::Float64)];
        if args.input_fields.len() == 3 {
            fields.push(list("start_times", DataType::Int64));
        }
        Ok(fields)
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let with_start = acc_args.exprs.len() == 3;
        let output: fn(&[Sample]) -> Option<f64> = match self.kind {
            Kind::DeltaIncrease => return Ok(Box::new(SumAccumulator::default())),
            Kind::Rate => rate,
            Kind::Increase => increase,
            Kind::DeltaRate => delta_rate,
        };
        Ok(Box::new(SamplesAccumulator::new(output, with_start)))
    }
}

/// One sample of a counter series.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    time: i64,
    value: f64,
    start: Option<i64>,
}

/// Whether `cur` starts a new counter after `prev`: the value dropped, or the
/// (known) start time changed.
fn is_reset(prev: &Sample, cur: &Sample) -> bool {
    cur.value < prev.value || matches!((prev.start, cur.start), (Some(a), Some(b)) if a != b)
}

/// Sum of the positive steps between time-sorted samples; after a reset the
/// new value counts in full. `None` below two samples.
fn increase(samples: &[Sample]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let steps = samples.windows(2).map(|w| if is_reset(&w[0], &w[1]) { w[1].value } else { w[1].value - w[0].value });
    Some(steps.sum())
}

/// `amount` per second between the first and last sample; `None` if they
/// share a timestamp.
fn per_second(amount: f64, samples: &[Sample]) -> Option<f64> {
    let (first, last) = (samples.first()?, samples.last()?);
    let seconds = (last.time - first.time) as f64 / NANOS;
    (seconds > 0.0).then(|| amount / seconds)
}

fn rate(samples: &[Sample]) -> Option<f64> {
    per_second(increase(samples)?, samples)
}

/// Deltas after the first sample (the first one covers time before it) per
/// second: what `rate` gives on the same counter sent as cumulative.
fn delta_rate(samples: &[Sample]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    per_second(samples[1..].iter().map(|s| s.value).sum(), samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(time: i64, value: f64, start: Option<i64>) -> Sample {
        Sample { time: time * 1_000_000_000, value, start }
    }

    #[test]
    fn increase_counts_the_new_value_after_a_reset() {
        let by_drop = [s(0, 10.0, None), s(10, 20.0, None), s(20, 5.0, None), s(30, 15.0, None)];
        assert_eq!(increase(&by_drop), Some(10.0 + 5.0 + 10.0));
        assert_eq!(rate(&by_drop), Some(25.0 / 30.0));
        let by_start = [s(0, 100.0, Some(1)), s(10, 110.0, Some(1)), s(20, 130.0, Some(15))];
        assert_eq!(increase(&by_start), Some(10.0 + 130.0));
        assert_eq!(increase(&[s(0, 1.0, None)]), None);
        assert_eq!(rate(&[s(5, 1.0, None), s(5, 2.0, None)]), None);
        assert_eq!(delta_rate(&[s(0, 5.0, None), s(10, 3.0, None), s(20, 7.0, None)]), Some(0.5));
    }
}
