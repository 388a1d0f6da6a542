//! Where rule queries run: [`QuerySource`] (and [`Planner`] for checks),
//! implemented by the server's [`QueryEngine`].
//!
//! A group evaluation asks its source for a [`QuerySource::session`]: with
//! the engine, one DataFusion `SessionContext` shared by the group's rule
//! queries (building a session registers every function and the catalog,
//! which costs more than planning a small rule query). Each query is still
//! admitted by the engine on its own ([`QueryEngine::admit`]: concurrency
//! permit, `system.queries`, deadline, `max_result_rows`) and runs on the
//! engine's query runtime, with one partition (rules run side by side, so
//! a query gains nothing from splitting). The queries of one group
//! evaluation share the
//! session's memory pool (`query.memory_limit_bytes`), and their
//! `system.queries` entries show no segment counts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use tidewater_query::engine::Admission;
use tidewater_query::{Error as QueryError, QueryEngine};

use crate::rules::check::Planner;

/// Runs rule SQL.
#[async_trait]
pub trait QuerySource: Send + Sync + std::fmt::Debug {
    /// Run `sql` and collect the result.
    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String>;

    /// A source for the queries of one group evaluation, sharing what can
    /// be shared among them (the engine: one planning session). `None`:
    /// run them through this source.
    fn session(&self) -> Result<Option<Arc<dyn QuerySource>>, String> {
        Ok(None)
    }
}

fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Longest wait between two admission attempts while the engine is full.
const MAX_ADMIT_BACKOFF: Duration = Duration::from_millis(250);

/// Admit `sql`; while the engine runs its most queries at once, wait and
/// try again (rule queries only take free slots, so they never refuse a
/// user query), up to the engine's query timeout.
async fn admit(engine: &QueryEngine, sql: &str) -> Result<Admission, String> {
    let give_up = tokio::time::Instant::now() + engine.config().timeout;
    let mut backoff = Duration::from_millis(5);
    loop {
        match engine.admit(sql, None) {
            Ok(a) => return Ok(a),
            Err(QueryError::TooManyQueries(_)) if tokio::time::Instant::now() + backoff < give_up => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_ADMIT_BACKOFF);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The engine's queries of one group evaluation: one session, each query
/// admitted on its own.
#[derive(Clone)]
struct EngineSession {
    engine: QueryEngine,
    ctx: SessionContext,
}

impl std::fmt::Debug for EngineSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSession").finish_non_exhaustive()
    }
}

/// Plan and run `sql` in `ctx` under `admission` (deadline, result rows).
async fn run(ctx: SessionContext, admission: Admission, sql: String) -> Result<Vec<RecordBatch>, QueryError> {
    let planned = admission
        .within_deadline(async {
            let df = ctx.sql_with_options(&sql, read_only()).await?;
            Ok::<_, QueryError>(df.execute_stream().await?)
        })
        .await;
    let stream = match planned {
        Ok(s) => s,
        Err(e) => {
            admission.fail(&e);
            return Err(e);
        }
    };
    // The guard records the outcome (and the rows) in `system.queries`.
    admission.guard(stream.map(|b| b.map_err(QueryError::from))).try_collect().await
}

/// Aborts a spawned query when the evaluation stops waiting for it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait]
impl QuerySource for EngineSession {
    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        let admission = admit(&self.engine, sql).await?;
        let work = run(self.ctx.clone(), admission, sql.to_string());
        let out = match &self.engine.config().runtime {
            Some(handle) => {
                let mut task = AbortOnDrop(handle.spawn(work));
                (&mut task.0).await.map_err(|e| format!("rule query task failed: {e}"))?
            }
            None => work.await,
        };
        out.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl QuerySource for QueryEngine {
    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        self.execute(sql).await.map(|r| r.batches).map_err(|e| e.to_string())
    }

    fn session(&self) -> Result<Option<Arc<dyn QuerySource>>, String> {
        let ctx = self.context().map_err(|e| e.to_string())?;
        // Rules run side by side and each reads little: one partition per
        // query saves the repartitioning operators and their tasks.
        ctx.state_ref().write().config_mut().options_mut().execution.target_partitions = 1;
        Ok(Some(Arc::new(EngineSession { engine: self.clone(), ctx })))
    }
}

#[async_trait]
impl Planner for QueryEngine {
    async fn columns(&self, sql: &str) -> Result<Vec<(String, String)>, String> {
        let ctx = self.context().map_err(|e| e.to_string())?;
        let df = ctx.sql_with_options(sql, read_only()).await.map_err(|e| e.to_string())?;
        Ok(df.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().to_string())).collect())
    }
}
