//! Yielding inside row-multiplying operators.
//!
//! DataFusion's own `EnsureCooperative` rule makes leaves and exchanges
//! spend tokio's task budget, one unit per batch. That is not enough for
//! an operator that turns one input batch into thousands of output
//! batches: a cross join of two `generate_series` keeps its parent polling
//! it for seconds without touching a leaf, so its task never yields and a
//! small query of another client waits on the same query thread until the
//! join's query times out. [`YieldAfterMultiplying`] puts a
//! `CooperativeExec` above every join, union and unnest, so such a query
//! gives its thread up every 128 batches like any scan does.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::unnest::UnnestExec;
use datafusion::physical_plan::ExecutionPlan;

/// Wraps joins (any node with two or more inputs) and unnests in a
/// `CooperativeExec` (see the module docs). Runs after DataFusion's rules.
#[derive(Debug, Default)]
pub struct YieldAfterMultiplying;

impl YieldAfterMultiplying {
    fn multiplies(plan: &Arc<dyn ExecutionPlan>) -> bool {
        plan.children().len() >= 2 || plan.is::<UnnestExec>()
    }
}

impl PhysicalOptimizerRule for YieldAfterMultiplying {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if Self::multiplies(&node) {
                Ok(Transformed::yes(Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "YieldAfterMultiplying"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn a_cross_join_is_wrapped_once() {
        let ctx = SessionContext::new();
        let df = ctx
            .sql("SELECT count(*) FROM generate_series(1, 10) a CROSS JOIN generate_series(1, 10) b")
            .await
            .expect("plan");
        let plan = df.create_physical_plan().await.expect("physical plan");
        let plan = YieldAfterMultiplying.optimize(plan, &ConfigOptions::default()).expect("optimize");
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        let lines: Vec<&str> = shown.lines().map(str::trim).collect();
        let join = lines.iter().position(|l| l.starts_with("CrossJoinExec")).expect("a cross join");
        assert!(join > 0 && lines[join - 1].starts_with("CooperativeExec"), "{shown}");
    }
}
