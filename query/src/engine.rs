//! The query engine: a fresh `SessionContext` per query, sharing the object
//! store registry, each with its own memory pool; every query admitted
//! ([`QueryEngine::admit`]: concurrency permit, `system.queries`, deadline,
//! `max_result_rows`) and run on the query runtime ([`QueryEngine::run`]).

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider};
use datafusion::execution::cache::cache_manager::{CacheManagerConfig, FileMetadataCache};
use datafusion::execution::cache::default_cache::DefaultCache;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry, ObjectStoreUrl};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::collections::HashMap;
use tidewater_storage::Store;
use tidewater_tenant::{TenancyConfig, Tenant};

use futures::TryStreamExt;
use tokio::sync::Semaphore;

use crate::catalog::{StoreSchema, CATALOG, SCHEMA};
use crate::error::{Error, Result};
use crate::query_log::{QueryLog, ScanStats};
use crate::system::{SystemSchema, SYSTEM};

mod admission;
mod coop;
mod stream;

pub use admission::{Admission, GuardItem, Guarded, ItemOutcome};
pub use stream::QueryStream;

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
    /// Per-tenant limits (concurrency, memory, timeout) within the above.
    pub tenancy: TenancyConfig,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            memory_limit_bytes: 1 << 30,
            timeout: Duration::from_secs(60),
            max_concurrent_queries: 16,
            max_result_rows: 1_000_000,
            runtime: None,
            tenancy: TenancyConfig::default(),
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
    /// Per-tenant concurrency permits, for tenants with a limit.
    tenant_permits: Arc<parking_lot::Mutex<HashMap<Tenant, Arc<Semaphore>>>>,
    log: Arc<QueryLog>,
    system_tables: crate::system::ExtraTables,
    /// Parquet footers and page indexes of segments, shared by all queries
    /// (segments are immutable; least recently used entries leave first).
    metadata_cache: Arc<FileMetadataCache>,
}

/// Memory for cached segment footers and page indexes.
const METADATA_CACHE_BYTES: usize = 64 << 20;

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
        Ok(Self {
            store,
            config,
            registry,
            segments_url,
            permits,
            tenant_permits: Arc::default(),
            log: Arc::new(QueryLog::default()),
            system_tables: Default::default(),
            metadata_cache: Arc::new(DefaultCache::new(METADATA_CACHE_BYTES).with_name("tidewater_segment_metadata")),
        })
    }

    /// The configured limits.
    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    /// A session for one query (not admitted: no permit, not in
    /// `system.queries`; for planning and metadata).
    pub fn context(&self) -> Result<SessionContext> {
        self.build_context(&Tenant::default_tenant(), None)
    }

    /// Like [`QueryEngine::context`], for `tenant`'s tables.
    pub fn tenant_context(&self, tenant: &Tenant) -> Result<SessionContext> {
        self.build_context(tenant, None)
    }

    /// A session over `tenant`'s tables, with `stats` attached for the
    /// table scans to count into. The default tenant's catalog also holds
    /// the rollup and self-monitoring schemas and the other crates'
    /// system tables (alerts, pipelines); another tenant's holds its own
    /// tables, and `system` tables filtered to it.
    fn build_context(&self, tenant: &Tenant, stats: Option<Arc<ScanStats>>) -> Result<SessionContext> {
        let limits = self.config.tenancy.limits_of(tenant);
        let memory = limits
            .query_memory_bytes()
            .map_or(self.config.memory_limit_bytes, |m| (m as usize).min(self.config.memory_limit_bytes));
        let runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(self.registry.clone())
            .with_memory_pool(Arc::new(FairSpillPool::new(memory)))
            .with_cache_manager(
                CacheManagerConfig::default()
                    .with_file_metadata_cache(Some(self.metadata_cache.clone()))
                    .with_metadata_cache_limit(METADATA_CACHE_BYTES),
            )
            .build_arc()?;
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            .with_create_default_catalog_and_schema(false);
        if let Some(stats) = stats {
            config = config.with_extension(stats);
        }
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(coop::YieldAfterMultiplying))
            .build();
        let ctx = SessionContext::new_with_state(state);
        crate::functions::register(&ctx);
        let catalog = MemoryCatalogProvider::new();
        let tables = StoreSchema::new(self.store.clone(), self.segments_url.clone(), tenant.clone());
        catalog.register_schema(SCHEMA, Arc::new(tables))?;
        let system = SystemSchema::new(self.store.clone(), self.log.clone(), tenant.clone());
        if tenant.is_default() {
            catalog.register_schema(SYSTEM, Arc::new(system.with_extra(self.system_tables.clone())))?;
            crate::catalog::register_rollup_schemas(&catalog, &self.store, &self.segments_url)?;
        } else {
            catalog.register_schema(SYSTEM, Arc::new(system))?;
        }
        ctx.register_catalog(CATALOG, Arc::new(catalog));
        Ok(ctx)
    }

    /// Admit one query: take a concurrency permit (else
    /// [`Error::TooManyQueries`]), register `sql` in `system.queries`, and
    /// fix its deadline (`timeout`, capped by the configured one). Every
    /// protocol runs its queries through an admission; see [`Admission`].
    pub fn admit(&self, sql: &str, timeout: Option<Duration>) -> Result<Admission> {
        self.admit_as(&Tenant::default_tenant(), sql, timeout)
    }

    /// Like [`QueryEngine::admit`], for a query acting for `tenant`: it
    /// sees only that tenant's tables, and the tenant's limits (concurrent
    /// queries, memory, timeout) apply besides the engine's.
    pub fn admit_as(&self, tenant: &Tenant, sql: &str, timeout: Option<Duration>) -> Result<Admission> {
        let limits = self.config.tenancy.limits_of(tenant);
        let tenant_permit = match limits.max_concurrent_queries() {
            None => None,
            Some(max) => {
                let semaphore = self
                    .tenant_permits
                    .lock()
                    .entry(tenant.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(max as usize)))
                    .clone();
                let permit = semaphore.try_acquire_owned().map_err(|_| Error::TenantLimit {
                    tenant: tenant.to_string(),
                    limit: format!("max_concurrent_queries = {max}"),
                })?;
                Some(permit)
            }
        };
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::TooManyQueries(self.config.max_concurrent_queries))?;
        let mut cap = self.config.timeout;
        if let Some(t) = limits.query_timeout() {
            cap = cap.min(t);
        }
        let timeout = timeout.map_or(cap, |t| t.min(cap));
        Ok(Admission::new(self.clone(), tenant.clone(), (permit, tenant_permit), self.log.clone(), sql, timeout))
    }

    /// Run `sql` (read-only: no DDL, no DML, so no `COPY TO` files and no
    /// external tables on local paths) under `admission`.
    pub async fn run_sql(&self, admission: Admission, sql: &str) -> Result<QueryStream> {
        let sql = sql.to_string();
        self.run(admission, move |ctx| async move {
            let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false);
            Ok(ctx.sql_with_options(&sql, read_only).await?)
        })
        .await
    }

    /// Plan and run `sql`, collecting the result, within the limits.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult> {
        self.execute_with(sql, None).await
    }

    /// Like [`QueryEngine::execute`] with a per-request timeout, capped by
    /// the configured one. The query runs on the query runtime; dropping the
    /// returned future (the client went away) cancels it.
    pub async fn execute_with(&self, sql: &str, timeout: Option<Duration>) -> Result<QueryResult> {
        let admission = self.admit(sql, timeout)?;
        let stream = self.run_sql(admission, sql).await?;
        let schema = stream.schema();
        let batches = stream.try_collect().await?;
        Ok(QueryResult { schema, batches })
    }

    /// Add a table to the `system` schema of every later query (other
    /// crates' state, e.g. `system.alerts`); a table with that name is replaced.
    pub fn register_system_table(&self, name: &str, table: Arc<dyn datafusion::catalog::TableProvider>) {
        self.system_tables.write().insert(name.to_string(), table);
    }

    /// Running and recent queries.
    pub fn query_log(&self) -> Arc<QueryLog> {
        self.log.clone()
    }
}
