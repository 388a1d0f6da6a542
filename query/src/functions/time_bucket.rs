//! `time_bucket(interval, time [, origin])`: DataFusion's `date_bin` under the
//! name Grafana and TimescaleDB users reach for. Buckets are aligned to the
//! Unix epoch (`1970-01-01T00:00:00Z`) unless an origin is given, so a
//! 1-minute bucket starts on the minute, like Grafana's `$__timeGroup`.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::functions::datetime::date_bin;
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature};

/// `time_bucket`, delegating everything but its name to `date_bin`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimeBucket {
    date_bin: Arc<ScalarUDF>,
}

/// The scalar `time_bucket`.
pub(crate) fn time_bucket() -> ScalarUDF {
    ScalarUDF::from(TimeBucket { date_bin: date_bin() })
}

impl ScalarUDFImpl for TimeBucket {
    fn name(&self) -> &str {
        "time_bucket"
    }

    fn signature(&self) -> &Signature {
        self.date_bin.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.date_bin.return_type(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.date_bin.invoke_with_args(args)
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.date_bin.output_ordering(inputs)
    }
}
