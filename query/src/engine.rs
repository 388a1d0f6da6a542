//! The query engine: a fresh `SessionContext` per query, sharing the object
//! store registry, each with its own memory pool and a timeout.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry, ObjectStoreUrl};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use tidewater_storage::Store;

use crate::catalog::{StoreSchema, CATALOG, SCHEMA};
use crate::error::{Error, Result};
use crate::system::{SystemSchema, SYSTEM};

/// Query limits.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Memory one query may use for sorts, joins and aggregations.
    pub memory_limit_bytes: usize,
    /// Longest a query may run.
    pub timeout: Duration,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self { memory_limit_bytes: 1 << 30, timeout: Duration::from_secs(60) }
    }
}

/// Runs SQL against the store.
#[derive(Debug, Clone)]
pub struct QueryEngine {
    store: Arc<Store>,
    config: QueryConfig,
    registry: Arc<DefaultObjectStoreRegistry>,
    segments_url: ObjectStoreUrl,
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
        Ok(Self { store, config, registry, segments_url })
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
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .build();
        let ctx = SessionContext::new_with_state(state);
        crate::functions::register(&ctx);
        let catalog = MemoryCatalogProvider::new();
        catalog.register_schema(SCHEMA, Arc::new(StoreSchema::new(self.store.clone(), self.segments_url.clone())))?;
        catalog.register_schema(SYSTEM, Arc::new(SystemSchema::new(self.store.clone())))?;
        ctx.register_catalog(CATALOG, Arc::new(catalog));
        Ok(ctx)
    }

    /// Plan and run `sql`, collecting the result, within the timeout.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult> {
        let ctx = self.context()?;
        let run = async {
            let df = ctx.sql(sql).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            Ok::<_, Error>(QueryResult { schema, batches })
        };
        match tokio::time::timeout(self.config.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout(self.config.timeout)),
        }
    }
}
