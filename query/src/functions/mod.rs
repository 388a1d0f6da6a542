//! Time-series SQL functions, registered on every query's `SessionContext`
//! (documented with examples in `docs/sql.md`):
//!
//! | family | functions |
//! |---|---|
//! | `counter` | `rate`, `increase` (cumulative, resets handled), `delta_rate`, `delta_increase` |
//! | `histogram` | `histogram_quantile`, `histogram_quantile_agg` |
//! | `histogram_merge` | `histogram_merge_counts` (element-wise sum of bucket counts) |
//! | `histogram_increase` | `histogram_increase` (bucket-wise increase of cumulative histograms, resets handled) |
//! | `exp_histogram` | `exp_histogram_quantile` |
//! | `time_bucket` | `time_bucket` |
//! | `gapfill` | `locf`, `interpolate` (window functions) |

mod args;
mod counter;
mod exp_histogram;
mod gapfill;
mod histogram;
mod histogram_increase;
pub(crate) mod histogram_merge;
mod time_bucket;

use datafusion::prelude::SessionContext;

/// Register every Tidewater function on `ctx`.
pub fn register(ctx: &SessionContext) {
    for f in counter::functions() {
        ctx.register_udaf(f);
    }
    ctx.register_udaf(histogram::histogram_quantile_agg());
    ctx.register_udf(histogram::histogram_quantile());
    ctx.register_udaf(histogram_merge::histogram_merge_counts());
    ctx.register_udaf(histogram_increase::histogram_increase());
    ctx.register_udf(exp_histogram::exp_histogram_quantile());
    ctx.register_udf(time_bucket::time_bucket());
    ctx.register_udwf(gapfill::locf());
    ctx.register_udwf(gapfill::interpolate());
}
