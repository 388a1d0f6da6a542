//! Where rule queries run: [`QuerySource`] (and [`Planner`] for checks),
//! implemented by the server's [`QueryEngine`].

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::execution::context::SQLOptions;
use tidewater_query::QueryEngine;

use crate::rules::check::Planner;

/// Runs rule SQL.
#[async_trait]
pub trait QuerySource: Send + Sync + std::fmt::Debug {
    /// Run `sql` and collect the result.
    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String>;
}

#[async_trait]
impl QuerySource for QueryEngine {
    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        self.execute(sql).await.map(|r| r.batches).map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Planner for QueryEngine {
    async fn columns(&self, sql: &str) -> Result<Vec<(String, String)>, String> {
        let ctx = self.context().map_err(|e| e.to_string())?;
        let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        let df = ctx.sql_with_options(sql, read_only).await.map_err(|e| e.to_string())?;
        Ok(df.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().to_string())).collect())
    }
}
