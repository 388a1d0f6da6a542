//! The query engine: a fresh `SessionContext` per query, sharing the object
//! store registry, each with its own memory pool and a timeout.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider};
use datafusion::execution::context::SQLOptions;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry, ObjectStoreUrl};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use tidewater_storage::Store;

use crate::catalog::{StoreSchema, CATALOG, SCHEMA};
use futures::StreamExt;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::query_log::{QueryLog, Tracker};
use crate::system::{SystemSchema, SYSTEM};

/// Query limits.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Memory one query may use for sorts, joins and aggregations.
    pub memory_limit_bytes: usize,
    /// Longest a query may run (a request may ask for less, never more).
    pub timeout: Duration,
    /// Queries running at once; more are refused (429).
    pub max_concurrent_queries: usize,
    /// Most rows a result may have.
    pub max_result_rows: usize,
    /// Runtime the queries execute on, apart from ingest (None: the caller's).
    pub runtime: Option<tokio::runtime::Handle>,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            memory_limit_bytes: 1 << 30,
            timeout: Duration::from_secs(60),
            max_concurrent_queries: 16,
            max_result_rows: 1_000_000,
            runtime: None,
        }
    }
}

/// Runs SQL against the store.
#[derive(Debug, Clone)]
pub struct QueryEngine {
    store: Arc<Store>,
    config: QueryConfig,
    registry: Arc<DefaultObjectStoreRegistry>,
    segments_url: ObjectStoreUrl,
    permits: Arc<Semaphore>,
    log: Arc<QueryLog>,
}

/// A query's result: its schema and batches.
#[derive(Debug)]
pub struct QueryResult {
    /// Result schema (also for zero rows).
    pub schema: SchemaRef,
    /// Result rows.
    pub batches: Vec<RecordBatch>,
}

impl QueryEngine {
    /// An engine over `store`.
    pub fn new(store: Arc<Store>, config: QueryConfig) -> Result<Self> {
        let segments_url = ObjectStoreUrl::parse("tidewater://segments/")?;
        let registry = Arc::new(DefaultObjectStoreRegistry::new());
        registry.register_store(segments_url.as_ref(), store.object_store());
        let permits = Arc::new(Semaphore::new(config.max_concurrent_queries.max(1)));
        Ok(Self { store, config, registry, segments_url, permits, log: Arc::new(QueryLog::default()) })
    }

    /// The configured limits.
    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    /// A session for one query.
    pub fn context(&self) -> Result<SessionContext> {
        let runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(self.registry.clone())
            .with_memory_pool(Arc::new(FairSpillPool::new(self.config.memory_limit_bytes)))
            .build_arc()?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            .with_create_default_catalog_and_schema(false);
        let state =
            SessionStateBuilder::new().with_config(config).with_runtime_env(runtime).with_default_features().build();
        let ctx = SessionContext::new_with_state(state);
        crate::functions::register(&ctx);
        let catalog = MemoryCatalogProvider::new();
        catalog.register_schema(SCHEMA, Arc::new(StoreSchema::new(self.store.clone(), self.segments_url.clone())))?;
        catalog.register_schema(SYSTEM, Arc::new(SystemSchema::new(self.store.clone(), self.log.clone())))?;
        ctx.register_catalog(CATALOG, Arc::new(catalog));
        Ok(ctx)
    }

    /// Plan and run `sql`, collecting the result, within the limits.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult> {
        self.execute_with(sql, None).await
    }

    /// Like [`QueryEngine::execute`] with a per-request timeout, capped by
    /// the configured one. The query runs on the query runtime; dropping the
    /// returned future (the client went away) cancels it.
    pub async fn execute_with(&self, sql: &str, timeout: Option<Duration>) -> Result<QueryResult> {
        let _permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::TooManyQueries(self.config.max_concurrent_queries))?;
        let timeout = timeout.map_or(self.config.timeout, |t| t.min(self.config.timeout));
        let tracker = Tracker::new(&self.log, sql);
        let ctx = self.context()?;
        let max_rows = self.config.max_result_rows;
        let sql_owned = sql.to_string();
        let run = async move {
            // Read-only: no COPY TO files, no CREATE EXTERNAL TABLE on local paths.
            let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false);
            let df = ctx.sql_with_options(&sql_owned, read_only).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let mut stream = df.execute_stream().await?;
            let mut batches = Vec::new();
            let mut rows = 0usize;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                if rows > max_rows {
                    return Err(Error::ResultTooLarge(max_rows));
                }
                batches.push(batch);
            }
            Ok::<_, Error>(QueryResult { schema, batches })
        };
        let task = match &self.config.runtime {
            Some(handle) => handle.spawn(run),
            None => tokio::spawn(run),
        };
        let mut task = AbortOnDrop(task);
        let result = match tokio::time::timeout(timeout, &mut task.0).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(Error::Task(e.to_string())),
            Err(_) => Err(Error::Timeout(timeout)),
        };
        match &result {
            Ok(r) => tracker.finish("ok", r.batches.iter().map(|b| b.num_rows() as u64).sum(), None),
            Err(Error::Timeout(_)) => tracker.finish("timeout", 0, Some(format!("timeout after {timeout:?}"))),
            Err(e) => tracker.finish("error", 0, Some(e.to_string())),
        }
        result
    }

    /// Running and recent queries.
    pub fn query_log(&self) -> Arc<QueryLog> {
        self.log.clone()
    }
}

/// Aborts the query task when dropped (timeout, or the caller went away).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
