//! `pg_catalog` and PostgreSQL's catalog functions for every session,
//! built once.
//!
//! `datafusion_pg_catalog::setup_pg_catalog` decodes ~30 embedded Arrow
//! files and builds a new `pg_catalog` schema each call: over 100 ms per
//! query in a debug build, and a schema whose OIDs (`pg_class.oid`) are
//! numbered afresh each time, which breaks psql's `\d table` (it looks the
//! table up in one query and its columns by OID in the next). So the schema
//! and its static tables are built once and shared; per session only the
//! functions and the type planner are installed, the same list
//! `setup_pg_catalog` installs (datafusion-pg-catalog 0.19).

use std::sync::Arc;

use datafusion::catalog::{CatalogProviderList, SchemaProvider};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::generate_series_arg_coercion::CoerceIntArgsToBigInt;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::oid_type_planner::PgOidTypePlanner;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::{
    array_bounds_udf, create_current_database_udf, create_current_schema_udf, create_current_schemas_udf,
    create_pg_backend_pid_udf, create_pg_encoding_to_char_udf, create_pg_get_constraintdef,
    create_pg_get_partition_ancestors_udf, create_pg_get_partkeydef_udf, create_pg_get_statisticsobjdef_columns_udf,
    create_pg_get_userbyid_udf, create_pg_relation_is_publishable_udf, create_pg_relation_size_udf,
    create_pg_stat_get_numscans, create_pg_table_is_visible, create_pg_total_relation_size_udf,
    create_session_user_udf, format_type, has_privilege_udf, pg_get_expr_udf, quote_ident_udf, PgCatalogSchemaProvider,
    PgCatalogStaticTables,
};

use crate::catalog::CATALOG;
use crate::engine::QueryEngine;
use crate::error::Result;
use tidewater_tenant::Tenant;

/// The shared `pg_catalog` schema and static tables.
#[derive(Clone)]
pub(crate) struct PgCatalog {
    schema: Arc<dyn SchemaProvider>,
    static_tables: Arc<PgCatalogStaticTables>,
}

impl PgCatalog {
    /// The static tables every tenant's `pg_catalog` shares (the costly part).
    pub(crate) fn static_tables() -> Result<Arc<PgCatalogStaticTables>> {
        Ok(Arc::new(PgCatalogStaticTables::try_new()?))
    }

    /// Build `tenant`'s schema over the catalogs of one long-lived context
    /// of `engine` for that tenant: its schemas read the store's current
    /// tables on every call, so the listing never goes stale, and list only
    /// that tenant's tables.
    pub(crate) fn new(
        engine: &QueryEngine,
        tenant: &Tenant,
        static_tables: Arc<PgCatalogStaticTables>,
    ) -> Result<Self> {
        let template = engine.tenant_context(tenant)?;
        let catalogs: Arc<dyn CatalogProviderList> = template.state().catalog_list().clone();
        let schema: Arc<dyn SchemaProvider> =
            Arc::new(PgCatalogSchemaProvider::try_new(catalogs, static_tables.clone(), EmptyContextProvider)?);
        // pg_catalog lists itself in pg_namespace, as in PostgreSQL.
        if let Some(catalog) = template.catalog(CATALOG) {
            catalog.register_schema("pg_catalog", schema.clone())?;
        }
        Ok(Self { schema, static_tables })
    }

    /// Add `pg_catalog`, the catalog functions and the OID type names to `ctx`.
    pub(crate) fn install(&self, ctx: &SessionContext) -> Result<()> {
        if let Some(catalog) = ctx.catalog(CATALOG) {
            catalog.register_schema("pg_catalog", self.schema.clone())?;
        }
        ctx.register_udf(create_current_database_udf(CATALOG));
        ctx.register_udf(create_current_schema_udf());
        ctx.register_udf(create_current_schemas_udf());
        ctx.register_udf(create_pg_get_userbyid_udf());
        for name in
            ["has_table_privilege", "has_schema_privilege", "has_database_privilege", "has_any_column_privilege"]
        {
            ctx.register_udf(has_privilege_udf::create_has_privilege_udf(name));
        }
        ctx.register_udf(create_pg_table_is_visible());
        ctx.register_udf(format_type::create_format_type_udf());
        ctx.register_udf(create_session_user_udf());
        ctx.register_udtf("pg_get_keywords", self.static_tables.pg_get_keywords.clone());
        ctx.register_udf(pg_get_expr_udf::create_pg_get_expr_udf());
        ctx.register_udf(create_pg_get_partkeydef_udf());
        ctx.register_udf(create_pg_relation_is_publishable_udf());
        ctx.register_udf(create_pg_get_statisticsobjdef_columns_udf());
        ctx.register_udf(create_pg_encoding_to_char_udf());
        ctx.register_udf(create_pg_backend_pid_udf());
        ctx.register_udf(create_pg_relation_size_udf());
        ctx.register_udf(create_pg_total_relation_size_udf());
        ctx.register_udf(create_pg_stat_get_numscans());
        ctx.register_udf(create_pg_get_constraintdef());
        ctx.register_udf(create_pg_get_partition_ancestors_udf());
        ctx.register_udf(quote_ident_udf::create_quote_ident_udf());
        ctx.register_udf(quote_ident_udf::create_parse_ident_udf());
        ctx.register_udf(array_bounds_udf::create_array_upper_udf());
        ctx.register_udf(array_bounds_udf::create_array_lower_udf());
        // `regclass`, `regtype`, ... as type names.
        let state = ctx.state_ref();
        let existing = state.read().clone();
        let with_oid_types =
            SessionStateBuilder::new_from_existing(existing).with_type_planner(Arc::new(PgOidTypePlanner)).build();
        *state.write() = with_oid_types;
        // generate_series/range over int4 bounds (array_lower, ...).
        CoerceIntArgsToBigInt::widen(ctx);
        Ok(())
    }
}
