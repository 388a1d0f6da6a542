//! `MetricTable`: one table as a DataFusion `TableProvider`.
//!
//! A scan is the union of a Parquet scan over the table's segments and an
//! in-memory scan over its buffered rows. Before any file is opened,
//! segments outside the time range of the query's filters are dropped, then
//! those whose recorded attribute values rule out the query's attribute
//! equalities ([`attributes`]); the filters also go to the Parquet reader
//! for row-group and page pruning.
//!
//! The counts are visible: `EXPLAIN ANALYZE` shows [`SEGMENTS_SCANNED`],
//! [`SEGMENTS_PRUNED`] and [`SEGMENTS_PRUNED_BY_ATTRIBUTES`] on the Parquet
//! scan (next to DataFusion's `row_groups_pruned_statistics` and
//! `page_index_rows_pruned`), and an admitted query adds them to its
//! [`ScanStats`] for `system.queries`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::FileSource;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{
    utils::conjunction, BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::metrics::{MetricBuilder, MetricType};
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::ExecutionPlan;
use tidewater_storage::manifest::SegmentMeta;
use tidewater_storage::schema::TIME;
use tidewater_storage::Store;

use crate::query_log::ScanStats;

pub mod attributes;

use attributes::AttrFilter;

/// `EXPLAIN ANALYZE` metric: segments the scan reads.
pub const SEGMENTS_SCANNED: &str = "segments_scanned";
/// `EXPLAIN ANALYZE` metric: segments dropped by their manifest time range
/// before any file was opened.
pub const SEGMENTS_PRUNED: &str = "segments_pruned_by_time";
/// `EXPLAIN ANALYZE` metric: segments within the time range dropped because
/// their manifest attribute statistics rule out the query's equalities.
pub const SEGMENTS_PRUNED_BY_ATTRIBUTES: &str = "segments_pruned_by_attributes";

/// One metric (or logs) table.
#[derive(Debug)]
pub struct MetricTable {
    name: String,
    schema: SchemaRef,
    store: Arc<Store>,
    segments_url: ObjectStoreUrl,
}

impl MetricTable {
    /// A provider for `name` with its current schema.
    pub fn new(name: String, schema: SchemaRef, store: Arc<Store>, segments_url: ObjectStoreUrl) -> Self {
        Self { name, schema, store, segments_url }
    }
}

#[async_trait]
impl TableProvider for MetricTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snapshot = self
            .store
            .snapshot_table(&self.name)
            .map_err(|e| DataFusionError::External(Box::new(e)))?
            .ok_or_else(|| DataFusionError::Plan(format!("table '{}' not found", self.name)))?;
        let range = TimeRange::from_filters(filters);
        let mut plans: Vec<Arc<dyn ExecutionPlan>> = Vec::new();

        let attrs = AttrFilter::from_filters(filters);
        let in_range: Vec<&SegmentMeta> =
            snapshot.segments.iter().filter(|s| range.overlaps(s.min_time, s.max_time)).collect();
        let segments: Vec<&SegmentMeta> = in_range.iter().copied().filter(|s| attrs.may_match(s)).collect();
        let scanned = segments.len() as u64;
        let pruned = (snapshot.segments.len() - in_range.len()) as u64;
        let pruned_by_attributes = (in_range.len() - segments.len()) as u64;
        tracing::debug!(table = %self.name, scanned, pruned, pruned_by_attributes, "segment pruning");
        if let Some(stats) = state.config().get_extension::<ScanStats>() {
            stats.add_segments(scanned, pruned, pruned_by_attributes);
        }
        if !segments.is_empty() {
            // Footers and page indexes come from the runtime's metadata cache
            // (shared by all queries of an engine; segments never change).
            let runtime = state.runtime_env();
            let readers = CachedParquetFileReaderFactory::new(
                runtime.object_store(&self.segments_url)?,
                runtime.cache_manager.get_file_metadata_cache(),
            );
            let mut source = ParquetSource::new(self.schema.clone())
                .with_pushdown_filters(false)
                .with_enable_page_index(true)
                .with_parquet_file_reader_factory(Arc::new(readers));
            // EXPLAIN ANALYZE lists the scan's metrics beside the Parquet
            // reader's own (row_groups_pruned_statistics, ...).
            let metrics = source.metrics();
            let count = |name: &'static str, n: u64| {
                MetricBuilder::new(metrics).with_type(MetricType::Summary).global_counter(name).add(n as usize)
            };
            count(SEGMENTS_SCANNED, scanned);
            count(SEGMENTS_PRUNED, pruned);
            count(SEGMENTS_PRUNED_BY_ATTRIBUTES, pruned_by_attributes);
            if let Some(predicate) = conjunction(filters.iter().cloned()) {
                let df_schema = DFSchema::try_from(self.schema.as_ref().clone())?;
                source = source.with_predicate(state.create_physical_expr(predicate, &df_schema)?);
            }
            let files: Vec<PartitionedFile> =
                segments.iter().map(|s| PartitionedFile::new(s.path.clone(), s.bytes)).collect();
            let config = FileScanConfigBuilder::new(self.segments_url.clone(), Arc::new(source))
                .with_file_group(FileGroup::new(files))
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .build();
            plans.push(DataSourceExec::from_data_source(config));
        }
        let batches: Vec<_> = snapshot
            .batches
            .into_iter()
            .filter(|b| {
                let (lo, hi) = tidewater_storage::memtable::time_range(b);
                range.overlaps(lo.unwrap_or(i64::MIN), hi.unwrap_or(i64::MAX))
            })
            .map(|b| b.with_schema(self.schema.clone()))
            .collect::<std::result::Result<_, _>>()?;
        if !batches.is_empty() {
            plans.push(MemorySourceConfig::try_new_exec(&[batches], self.schema.clone(), projection.cloned())?);
        }
        match plans.len() {
            0 => {
                let projected = match projection {
                    Some(p) => Arc::new(self.schema.project(p)?),
                    None => self.schema.clone(),
                };
                Ok(Arc::new(EmptyExec::new(projected)))
            }
            _ => UnionExec::try_new(plans),
        }
    }
}

/// Inclusive time bounds (ns) implied by the filters on `time`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeRange {
    /// Lowest time that can match.
    pub min: i64,
    /// Highest time that can match.
    pub max: i64,
}

impl TimeRange {
    /// Derive bounds from conjunctive filters (`time >= a`, `time < b`, `BETWEEN`, ...).
    pub fn from_filters(filters: &[Expr]) -> Self {
        let mut r = TimeRange { min: i64::MIN, max: i64::MAX };
        for f in filters {
            r.apply(f);
        }
        r
    }

    /// Whether `[lo, hi]` intersects this range.
    pub fn overlaps(&self, lo: i64, hi: i64) -> bool {
        lo <= self.max && hi >= self.min
    }

    fn apply(&mut self, e: &Expr) {
        match e {
            Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
                self.apply(left);
                self.apply(right);
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                if let (Some(()), Some(v)) = (as_time_column(left), as_nanos(right)) {
                    self.bound(*op, v);
                } else if let (Some(v), Some(()), Some(op)) = (as_nanos(left), as_time_column(right), op.swap()) {
                    self.bound(op, v);
                }
            }
            Expr::Between(b) if !b.negated => {
                if let (Some(()), Some(lo), Some(hi)) = (as_time_column(&b.expr), as_nanos(&b.low), as_nanos(&b.high)) {
                    self.min = self.min.max(lo);
                    self.max = self.max.min(hi);
                }
            }
            _ => {}
        }
    }

    fn bound(&mut self, op: Operator, v: i64) {
        match op {
            Operator::Gt => self.min = self.min.max(v.saturating_add(1)),
            Operator::GtEq => self.min = self.min.max(v),
            Operator::Lt => self.max = self.max.min(v.saturating_sub(1)),
            Operator::LtEq => self.max = self.max.min(v),
            Operator::Eq => {
                self.min = self.min.max(v);
                self.max = self.max.min(v);
            }
            _ => {}
        }
    }
}

fn as_time_column(e: &Expr) -> Option<()> {
    match e {
        Expr::Column(c) if c.name == TIME => Some(()),
        Expr::Cast(c) => as_time_column(&c.expr),
        _ => None,
    }
}

fn as_nanos(e: &Expr) -> Option<i64> {
    let Expr::Literal(v, _) = e else { return None };
    match v {
        ScalarValue::TimestampNanosecond(Some(n), _) => Some(*n),
        ScalarValue::TimestampMicrosecond(Some(n), _) => n.checked_mul(1_000),
        ScalarValue::TimestampMillisecond(Some(n), _) => n.checked_mul(1_000_000),
        ScalarValue::TimestampSecond(Some(n), _) => n.checked_mul(1_000_000_000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::physical_plan::collect;
    use tidewater_storage::schema::{attribute_type, META_KIND};
    use tidewater_storage::{StoreConfig, SyncPolicy, TableWrite};

    use super::*;
    use crate::{QueryConfig, QueryEngine};

    const DAY: i64 = 86_400 * 1_000_000_000;

    /// Three days, flushed: three segments; host `a` on every day, `b` on
    /// the first day only, `c` on the other two.
    async fn engine(dir: &std::path::Path) -> (QueryEngine, Arc<Store>) {
        let mut cfg = StoreConfig::new(dir);
        cfg.sync = SyncPolicy::Never;
        let store = tokio::task::spawn_blocking(move || Store::open(cfg)).await.expect("join").expect("open");
        let n = 3 * 24;
        let times: Vec<i64> = (0..n).flat_map(|h| [h * DAY / 24; 2]).collect();
        let hosts: Vec<&str> = (0..n).flat_map(|h| ["a", if h < 24 { "b" } else { "c" }]).collect();
        let hosts = cast(&StringArray::from(hosts), &attribute_type()).expect("dict");
        let values: Vec<f64> = (0..2 * n).map(|i| i as f64).collect();
        let fields = vec![
            Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), true),
            Field::new("value", DataType::Float64, true),
            Field::new("host", attribute_type(), true),
        ];
        let meta = HashMap::from([(META_KIND.to_string(), "gauge".to_string())]);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")),
            Arc::new(Float64Array::from(values)),
            hosts,
        ];
        let batch = RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, meta)), cols).expect("batch");
        store.write(vec![TableWrite { table: "t".into(), batch }]).await.expect("write");
        store.flush().await.expect("flush");
        assert_eq!(store.segments().len(), 3);
        (QueryEngine::new(store.clone(), QueryConfig::default()).expect("engine"), store)
    }

    /// Runs `sql` and sums a metric over the plan's nodes.
    async fn run(engine: &QueryEngine, sql: &str, metric: &str) -> usize {
        let ctx = engine.context().expect("context");
        let plan = ctx.sql(sql).await.expect("plan").create_physical_plan().await.expect("physical");
        collect(plan.clone(), ctx.task_ctx()).await.expect("run");
        fn sum(plan: &Arc<dyn ExecutionPlan>, metric: &str) -> usize {
            let own = plan.metrics().and_then(|m| m.sum_by_name(metric)).map_or(0, |v| v.as_usize());
            own + plan.children().iter().map(|c| sum(c, metric)).sum::<usize>()
        }
        sum(&plan, metric)
    }

    /// Footer loads: one cache entry per miss; the hits are the loads saved.
    fn footer_loads(engine: &QueryEngine) -> (usize, usize) {
        let ctx = engine.context().expect("context");
        let entries = ctx.runtime_env().cache_manager.get_file_metadata_cache().list_entries();
        (entries.len(), entries.values().map(|e| e.hits).sum())
    }

    #[tokio::test]
    async fn segment_footers_are_read_once_per_engine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (engine, store) = engine(dir.path()).await;
        let sql = "SELECT count(*), sum(value) FROM t WHERE host = 'a'";
        for _ in 0..5 {
            assert_eq!(run(&engine, sql, SEGMENTS_SCANNED).await, 3);
        }
        // 5 queries x 3 segments: 3 footer (and page index) loads, 12 served
        // from the cache; without it each query loads all three again.
        assert_eq!(footer_loads(&engine), (3, 12));
        let cold = QueryEngine::new(store, QueryConfig::default()).expect("engine");
        assert_eq!(footer_loads(&cold), (0, 0), "the cache belongs to its engine");
    }

    #[tokio::test]
    async fn explain_analyze_counts_segments_pruned_by_attributes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (engine, _store) = engine(dir.path()).await;
        // The time range keeps days 0 and 1; day 1 has no host `b`.
        let sql = "SELECT count(*) FROM t WHERE host = 'b' AND time < '1970-01-02T12:00:00Z'";
        assert_eq!(run(&engine, sql, SEGMENTS_SCANNED).await, 1);
        assert_eq!(run(&engine, sql, SEGMENTS_PRUNED).await, 1);
        assert_eq!(run(&engine, sql, SEGMENTS_PRUNED_BY_ATTRIBUTES).await, 1);
    }
}
