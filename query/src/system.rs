//! `system.*` tables: what the store holds, computed at query time.
//!
//! - `system.tables`: one row per table with its metadata (kind,
//!   temporality, monotonicity, unit, description, original OTel name) and
//!   its size (rows, segments, bytes on disk, first and last time).
//! - `system.segments`: one row per segment file (table, partition, time
//!   range, rows, bytes, path).
//! - `system.queries`: running and recent queries from every protocol
//!   (state, duration, rows, segments scanned and pruned, error).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampNanosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use tidewater_storage::schema::{
    time_type, META_DESCRIPTION, META_KIND, META_MONOTONIC, META_ORIGINAL_NAME, META_TEMPORALITY, META_UNIT,
};
use tidewater_storage::Store;
use tidewater_tenant::Tenant;

use crate::query_log::QueryLog;

/// Schema name of the system tables.
pub const SYSTEM: &str = "system";

type Builder = fn(&Store, &QueryLog, &Tenant) -> Result<RecordBatch>;

/// The `system` schema, showing one tenant's tables, segments and queries.
#[derive(Debug)]
pub struct SystemSchema {
    store: Arc<Store>,
    log: Arc<QueryLog>,
    tenant: Tenant,
    extra: ExtraTables,
}

/// Tables other crates add to the `system` schema (e.g. `system.alerts`
/// from alerting), by name; see `QueryEngine::register_system_table`.
pub type ExtraTables = Arc<parking_lot::RwLock<std::collections::BTreeMap<String, Arc<dyn TableProvider>>>>;

impl SystemSchema {
    /// System tables over `store`, filtered to `tenant`.
    pub fn new(store: Arc<Store>, log: Arc<QueryLog>, tenant: Tenant) -> Self {
        Self { store, log, tenant, extra: ExtraTables::default() }
    }

    /// With the registered `extra` tables as well.
    pub fn with_extra(mut self, extra: ExtraTables) -> Self {
        self.extra = extra;
        self
    }

    fn lookup(name: &str) -> Option<(SchemaRef, Builder)> {
        match name {
            "tables" => Some((tables_schema(), build_tables as Builder)),
            "segments" => Some((segments_schema(), build_segments as Builder)),
            "queries" => Some((queries_schema(), build_queries as Builder)),
            _ => None,
        }
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = vec!["queries".into(), "segments".into(), "tables".into()];
        names.extend(self.extra.read().keys().cloned());
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(Self::lookup(name)
            .map(|(schema, build)| {
                let (store, log, tenant) = (self.store.clone(), self.log.clone(), self.tenant.clone());
                BatchTable::provider(schema, move || build(&store, &log, &tenant))
            })
            .or_else(|| self.extra.read().get(name).cloned()))
    }

    fn table_exist(&self, name: &str) -> bool {
        Self::lookup(name).is_some() || self.extra.read().contains_key(name)
    }
}

/// A read-only table whose one batch is built when it is scanned: the
/// shape of every `system` table (this crate's, and those other crates
/// register, e.g. `system.alerts`, `system.pipelines`).
pub struct BatchTable {
    schema: SchemaRef,
    build: Box<dyn Fn() -> Result<RecordBatch> + Send + Sync>,
}

impl std::fmt::Debug for BatchTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchTable").field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl BatchTable {
    /// A table of `schema` whose rows `build` makes at each scan.
    pub fn new(schema: SchemaRef, build: impl Fn() -> Result<RecordBatch> + Send + Sync + 'static) -> Self {
        Self { schema, build: Box::new(build) }
    }

    /// Like [`BatchTable::new`], as a provider to register.
    pub fn provider(
        schema: SchemaRef,
        build: impl Fn() -> Result<RecordBatch> + Send + Sync + 'static,
    ) -> Arc<dyn TableProvider> {
        Arc::new(Self::new(schema, build))
    }
}

#[async_trait]
impl TableProvider for BatchTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = (self.build)()?;
        Ok(MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema.clone(), projection.cloned())?)
    }
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn u64s(name: &str) -> Field {
    Field::new(name, DataType::UInt64, false)
}

fn tables_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        utf8("kind"),
        utf8("temporality"),
        Field::new("monotonic", DataType::Boolean, true),
        utf8("unit"),
        utf8("description"),
        utf8("original_name"),
        u64s("columns"),
        u64s("rows"),
        u64s("segments"),
        u64s("bytes_on_disk"),
        Field::new("min_time", time_type(), true),
        Field::new("max_time", time_type(), true),
    ]))
}

fn build_tables(store: &Store, _: &QueryLog, tenant: &Tenant) -> Result<RecordBatch> {
    let stats: Vec<_> = store.table_stats().into_iter().filter(|s| tenant.local_name(&s.table).is_some()).collect();
    let meta = |key: &str| -> ArrayRef {
        Arc::new(StringArray::from(
            stats
                .iter()
                .map(|s| store.table_schema(&s.table).and_then(|sc| sc.metadata().get(key).cloned()))
                .collect::<Vec<_>>(),
        ))
    };
    let monotonic: BooleanArray = stats
        .iter()
        .map(|s| store.table_schema(&s.table).and_then(|sc| sc.metadata().get(META_MONOTONIC).map(|v| v == "true")))
        .collect();
    let columns: UInt64Array =
        stats.iter().map(|s| store.table_schema(&s.table).map_or(0, |sc| sc.fields().len() as u64)).collect();
    let ts = |v: Vec<Option<i64>>| Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC")) as ArrayRef;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(stats.iter().map(|s| tenant.local_name(&s.table)).collect::<Vec<_>>())),
        meta(META_KIND),
        meta(META_TEMPORALITY),
        Arc::new(monotonic),
        meta(META_UNIT),
        meta(META_DESCRIPTION),
        meta(META_ORIGINAL_NAME),
        Arc::new(columns),
        Arc::new(UInt64Array::from(stats.iter().map(|s| s.rows).collect::<Vec<_>>())),
        Arc::new(UInt64Array::from(stats.iter().map(|s| s.segments).collect::<Vec<_>>())),
        Arc::new(UInt64Array::from(stats.iter().map(|s| s.bytes_on_disk).collect::<Vec<_>>())),
        ts(stats.iter().map(|s| s.min_time).collect()),
        ts(stats.iter().map(|s| s.max_time).collect()),
    ];
    Ok(RecordBatch::try_new(tables_schema(), cols)?)
}

fn segments_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        u64s("id"),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("partition", DataType::Utf8, false),
        Field::new("min_time", time_type(), false),
        Field::new("max_time", time_type(), false),
        u64s("rows"),
        u64s("bytes"),
        Field::new("path", DataType::Utf8, false),
    ]))
}

fn build_segments(store: &Store, _: &QueryLog, tenant: &Tenant) -> Result<RecordBatch> {
    let segs: Vec<_> = store.segments().into_iter().filter(|s| tenant.local_name(&s.table).is_some()).collect();
    let ts = |v: Vec<i64>| Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC")) as ArrayRef;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(segs.iter().map(|s| s.id).collect::<Vec<_>>())),
        Arc::new(StringArray::from(segs.iter().map(|s| tenant.local_name(&s.table)).collect::<Vec<_>>())),
        Arc::new(StringArray::from(segs.iter().map(|s| s.partition.clone()).collect::<Vec<_>>())),
        ts(segs.iter().map(|s| s.min_time).collect()),
        ts(segs.iter().map(|s| s.max_time).collect()),
        Arc::new(UInt64Array::from(segs.iter().map(|s| s.rows).collect::<Vec<_>>())),
        Arc::new(UInt64Array::from(segs.iter().map(|s| s.bytes).collect::<Vec<_>>())),
        Arc::new(StringArray::from(segs.iter().map(|s| s.path.clone()).collect::<Vec<_>>())),
    ];
    Ok(RecordBatch::try_new(segments_schema(), cols)?)
}

fn queries_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        u64s("id"),
        Field::new("query", DataType::Utf8, false),
        Field::new("state", DataType::Utf8, false),
        Field::new("started", time_type(), false),
        u64s("duration_ms"),
        u64s("rows"),
        u64s("segments_scanned"),
        u64s("segments_pruned"),
        utf8("error"),
        u64s("segments_pruned_by_attributes"),
    ]))
}

fn build_queries(_: &Store, log: &QueryLog, tenant: &Tenant) -> Result<RecordBatch> {
    let q: Vec<_> = log.entries().into_iter().filter(|e| &e.tenant == tenant).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(q.iter().map(|e| e.id).collect::<Vec<_>>())),
        Arc::new(StringArray::from(q.iter().map(|e| e.sql.clone()).collect::<Vec<_>>())),
        Arc::new(StringArray::from(q.iter().map(|e| e.state).collect::<Vec<_>>())),
        Arc::new(
            TimestampNanosecondArray::from(q.iter().map(|e| e.started_ns).collect::<Vec<_>>()).with_timezone("UTC"),
        ),
        Arc::new(UInt64Array::from(q.iter().map(|e| e.duration_ms).collect::<Vec<_>>())),
        Arc::new(UInt64Array::from(q.iter().map(|e| e.rows).collect::<Vec<_>>())),
        Arc::new(UInt64Array::from(q.iter().map(|e| e.segments_scanned).collect::<Vec<_>>())),
        Arc::new(UInt64Array::from(q.iter().map(|e| e.segments_pruned).collect::<Vec<_>>())),
        Arc::new(StringArray::from(q.iter().map(|e| e.error.clone()).collect::<Vec<_>>())),
        Arc::new(UInt64Array::from(q.iter().map(|e| e.segments_pruned_by_attributes).collect::<Vec<_>>())),
    ];
    Ok(RecordBatch::try_new(queries_schema(), cols)?)
}
