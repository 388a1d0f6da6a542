//! Arrow Flight SQL on the gRPC port, over the same [`QueryEngine`] as
//! `/api/v1/sql`: one `SessionContext` per request, read-only SQL.
//!
//! - Statements: `GetFlightInfo(CommandStatementQuery)` plans the query (so
//!   mistakes fail there with `INVALID_ARGUMENT`) and answers a ticket that
//!   carries the SQL; `DoGet` runs it, admitted like every query
//!   ([`QueryEngine::admit`]: concurrency permit, `system.queries`, timeout,
//!   `max_result_rows`), on the query runtime, and streams the batches.
//! - Prepared statements are stateless: the handle *is* the SQL (plus the
//!   bound parameter row after `DoPut`), so any server can run it and closing
//!   is a no-op (`handle`). `?` placeholders (ADBC, JDBC) work like `$1`.
//! - Metadata: `GetCatalogs`, `GetDbSchemas`, `GetTables` (with schemas),
//!   `GetTableTypes`, `GetSqlInfo`.
//!
//! Dictionary columns (the attributes) are sent hydrated (`Utf8`), and the
//! advertised schemas say so.

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandPreparedStatementQuery, CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage, SchemaAsIpc,
    Ticket,
};
use bytes::Bytes;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{DataFrame, SessionContext};
use futures::{Stream, TryStreamExt};
use prost::Message;
use tidewater_tenant::Tenant;
use tonic::{Request, Response, Status, Streaming};

use crate::engine::QueryEngine;
use crate::error::{Error, Result};

mod handle;
use handle::{numbered_placeholders, param_values, Handle};

/// What `DoGet` answers with.
type DoGetStream = <FlightSqlServer as FlightService>::DoGetStream;

/// The Flight SQL service; mount it with [`FlightSqlServer::into_service`].
#[derive(Clone)]
pub struct FlightSqlServer {
    engine: QueryEngine,
    sql_info: Arc<SqlInfoData>,
}

impl std::fmt::Debug for FlightSqlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightSqlServer").field("engine", &self.engine).finish_non_exhaustive()
    }
}

impl FlightSqlServer {
    /// A Flight SQL service over `engine`.
    pub fn new(engine: QueryEngine) -> Result<Self> {
        let mut b = SqlInfoDataBuilder::new();
        b.append(SqlInfo::FlightSqlServerName, "Tidewater");
        b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        // The Arrow IPC format version (Schema.fbs MetadataVersion V5).
        b.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        b.append(SqlInfo::FlightSqlServerReadOnly, true);
        b.append(SqlInfo::FlightSqlServerSql, true);
        b.append(SqlInfo::FlightSqlServerSubstrait, false);
        b.append(SqlInfo::FlightSqlServerTransaction, 0i32); // SQL_SUPPORTED_TRANSACTION_NONE
        b.append(SqlInfo::FlightSqlServerCancel, false);
        b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        let sql_info = b.build().map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(Self { engine, sql_info: Arc::new(sql_info) })
    }

    /// The tonic service to add to a `tonic::transport::Server`.
    pub fn into_service(self) -> FlightServiceServer<Self> {
        FlightServiceServer::new(self)
    }

    /// A session over the tables of the tenant `request` acts for.
    fn context<T>(&self, request: &Request<T>) -> Result<SessionContext, Status> {
        self.engine.tenant_context(&tenant_of(request)).map_err(|e| status(&e))
    }

    /// Plan `handle` for its schema only (no execution, so not admitted),
    /// within the query timeout.
    async fn plan_only(&self, ctx: &SessionContext, handle: &Handle) -> Result<DataFrame, Status> {
        let timeout = self.engine.config().timeout;
        match tokio::time::timeout(timeout, plan(ctx, handle)).await {
            Ok(r) => r.map_err(|e| status(&e)),
            Err(_) => Err(status(&Error::Timeout(timeout))),
        }
    }

    /// `FlightInfo` for a query: its (hydrated) schema and a ticket for `DoGet`.
    async fn query_info(
        &self,
        handle: &Handle,
        ticket: Bytes,
        request: Request<FlightDescriptor>,
    ) -> Result<FlightInfo, Status> {
        let ctx = self.context(&request)?;
        let descriptor = request.into_inner();
        let df = self.plan_only(&ctx, handle).await?;
        let schema = flight_schema(df.schema().as_arrow());
        let endpoint = FlightEndpoint::new().with_ticket(Ticket::new(ticket));
        Ok(FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(arrow_status)?
            .with_endpoint(endpoint)
            .with_descriptor(descriptor))
    }

    /// Run a query and stream its batches, admitted like every query
    /// (concurrency permit, `system.queries`, timeout, `max_result_rows`).
    async fn run(&self, tenant: &Tenant, handle: Handle) -> Result<Response<DoGetStream>, Status> {
        let admission = self.engine.admit_as(tenant, &handle.sql, None).map_err(|e| status(&e))?;
        let stream = self
            .engine
            .run(admission, move |ctx| async move { plan(&ctx, &handle).await })
            .await
            .map_err(|e| status(&e))?;
        let schema = stream.schema();
        let batches = stream.map_err(|e| FlightError::Tonic(Box::new(status(&e))));
        let data = FlightDataEncoderBuilder::new().with_schema(schema).build(batches).map_err(Status::from);
        Ok(Response::new(Box::pin(data)))
    }

    /// Every table the session knows, as `information_schema.tables` lists
    /// them (so `information_schema` itself is included).
    async fn tables(&self, ctx: SessionContext, with_schema: bool) -> Result<Vec<TableEntry>, Status> {
        let sql = "SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables";
        let batches =
            ctx.sql(sql).await.map_err(|e| status(&e.into()))?.collect().await.map_err(|e| status(&e.into()))?;
        let mut out = Vec::new();
        for batch in &batches {
            let cols = (0..4).map(|i| cast(batch.column(i), &DataType::Utf8)).collect::<Result<Vec<_>, _>>();
            let cols = cols.map_err(arrow_status)?;
            let text: Vec<&StringArray> =
                cols.iter().filter_map(|c| c.as_any().downcast_ref::<StringArray>()).collect();
            let [catalog, schema, table, kind] = text.as_slice() else {
                return Err(status(
                    &DataFusionError::Internal("information_schema.tables changed shape".into()).into(),
                ));
            };
            for row in 0..batch.num_rows() {
                let arrow_schema = if with_schema {
                    let name = TableReference::full(catalog.value(row), schema.value(row), table.value(row));
                    let provider = ctx.table_provider(name).await.map_err(|e| status(&e.into()))?;
                    flight_schema(&provider.schema())
                } else {
                    Schema::empty()
                };
                out.push(TableEntry {
                    catalog: catalog.value(row).to_string(),
                    schema: schema.value(row).to_string(),
                    table: table.value(row).to_string(),
                    // Flight SQL says TABLE where SQL says BASE TABLE.
                    kind: match kind.value(row) {
                        "BASE TABLE" => "TABLE".to_string(),
                        other => other.to_string(),
                    },
                    arrow_schema,
                });
            }
        }
        Ok(out)
    }
}

/// Plan `handle` read-only: no DDL, no DML, no other statements.
/// The tenant the auth layer put on `request`; the default one when auth is off.
fn tenant_of<T>(request: &Request<T>) -> Tenant {
    request.extensions().get::<Tenant>().cloned().unwrap_or_default()
}

async fn plan(ctx: &SessionContext, handle: &Handle) -> Result<DataFrame> {
    let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let df = ctx.sql_with_options(&numbered_placeholders(&handle.sql), options).await?;
    match &handle.params {
        Some(batch) => Ok(df.with_param_values(param_values(batch)?)?),
        None => Ok(df),
    }
}

struct TableEntry {
    catalog: String,
    schema: String,
    table: String,
    kind: String,
    arrow_schema: Schema,
}

#[tonic::async_trait]
impl FlightSqlService for FlightSqlServer {
    type FlightService = FlightSqlServer;

    async fn do_handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>, Status> {
        // Credentials are checked before this, by the gRPC auth layer
        // (`tidewater_auth::grpc`), which also answers with the bearer token.
        let reply = HandshakeResponse { protocol_version: 0, payload: Bytes::new() };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(reply)]))))
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let handle = Handle { sql: query.query, params: None };
        let ticket = TicketStatementQuery { statement_handle: handle.encode()? }.as_any().encode_to_vec();
        Ok(Response::new(self.query_info(&handle, ticket.into(), request).await?))
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let handle = Handle::decode(&cmd.prepared_statement_handle)?;
        let ticket = cmd.as_any().encode_to_vec();
        Ok(Response::new(self.query_info(&handle, ticket.into(), request).await?))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        metadata_info(&query, &schema, request)
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        metadata_info(&query, &schema, request)
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        metadata_info(&query, &schema, request)
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        metadata_info(&query, &schema, request)
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&self.sql_info).schema();
        metadata_info(&query, &schema, request)
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.run(&tenant_of(&request), Handle::decode(&ticket.statement_handle)?).await
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.run(&tenant_of(&request), Handle::decode(&query.prepared_statement_handle)?).await
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        for name in self.context(&request)?.catalog_names() {
            builder.append(name);
        }
        batch_response(builder.schema(), builder.build())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let ctx = self.context(&request)?;
        let mut builder = query.into_builder();
        for catalog_name in ctx.catalog_names() {
            if let Some(catalog) = ctx.catalog(&catalog_name) {
                for schema_name in catalog.schema_names() {
                    builder.append(&catalog_name, schema_name);
                }
                if ctx.state().config().information_schema() {
                    builder.append(&catalog_name, "information_schema");
                }
            }
        }
        batch_response(builder.schema(), builder.build())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        for t in self.tables(self.context(&request)?, builder.include_schema()).await? {
            builder.append(t.catalog, t.schema, t.table, t.kind, &t.arrow_schema).map_err(flight_status)?;
        }
        batch_response(builder.schema(), builder.build())
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        for kind in ["TABLE", "VIEW"] {
            builder.append(kind);
        }
        batch_response(builder.schema(), builder.build())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let builder = query.into_builder(&self.sql_info);
        batch_response(builder.schema(), builder.build())
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let handle = Handle::decode(&query.prepared_statement_handle)?;
        // The peekable stream itself: its first message (schema + descriptor) was peeked, not consumed.
        let data = request.into_inner().map_err(FlightError::from);
        let batches: Vec<RecordBatch> =
            FlightRecordBatchStream::new_from_flight_data(data).try_collect().await.map_err(Status::from)?;
        let params = match batches.first() {
            Some(first) => concat_batches(&first.schema(), &batches).map_err(arrow_status)?,
            None => return Err(Status::invalid_argument("DoPut carried no parameter batch")),
        };
        let bound = Handle { sql: handle.sql, params: Some(params) };
        Ok(DoPutPreparedStatementResult { prepared_statement_handle: Some(bound.encode()?) })
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let handle = Handle { sql: query.query, params: None };
        let ctx = self.context(&request)?;
        let df = self.plan_only(&ctx, &handle).await?;
        let mut params: Vec<(String, Option<DataType>)> =
            df.logical_plan().get_parameter_types().map_err(|e| status(&e.into()))?.into_iter().collect();
        params.sort_by_key(|(name, _)| (name.len(), name.clone()));
        let param_schema = Schema::new(
            params.into_iter().map(|(name, t)| Field::new(name, t.unwrap_or(DataType::Null), true)).collect::<Vec<_>>(),
        );
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.encode()?,
            dataset_schema: schema_bytes(&flight_schema(df.schema().as_arrow()))?,
            parameter_schema: schema_bytes(&param_schema)?,
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        // Handles are self-contained: nothing to release.
        Ok(())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// The one place query errors become gRPC statuses: the user's mistakes are
/// `INVALID_ARGUMENT` with the message, timeouts `DEADLINE_EXCEEDED`, the
/// concurrency and result-size limits `RESOURCE_EXHAUSTED` (naming the
/// limit), our faults `INTERNAL` (detail logged, not sent).
pub fn status(e: &Error) -> Status {
    match e {
        Error::Timeout(_) => Status::deadline_exceeded(e.to_string()),
        Error::TooManyQueries(_) | Error::TenantLimit { .. } | Error::ResultTooLarge(_) => {
            Status::resource_exhausted(e.to_string())
        }
        e if e.is_user_error() => Status::invalid_argument(e.to_string()),
        e => {
            tracing::error!(error = %e, "flight sql request failed");
            Status::internal("internal error; the server log has the details")
        }
    }
}

fn arrow_status(e: ArrowError) -> Status {
    status(&Error::DataFusion(e.into()))
}

fn flight_status(e: FlightError) -> Status {
    status(&Error::DataFusion(DataFusionError::External(Box::new(e))))
}

/// The schema as sent: dictionary columns hydrated to their value type.
fn flight_schema(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, value) => f.as_ref().clone().with_data_type(value.as_ref().clone()),
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new(fields).with_metadata(schema.metadata().clone())
}

fn schema_bytes(schema: &Schema) -> Result<Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default()).try_into().map_err(arrow_status)?;
    Ok(bytes)
}

fn metadata_info<M: ProstMessageExt>(
    cmd: &M,
    schema: &Schema,
    request: Request<FlightDescriptor>,
) -> Result<Response<FlightInfo>, Status> {
    let endpoint = FlightEndpoint::new().with_ticket(Ticket::new(cmd.as_any().encode_to_vec()));
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(arrow_status)?
        .with_endpoint(endpoint)
        .with_descriptor(request.into_inner());
    Ok(Response::new(info))
}

fn batch_response(schema: SchemaRef, batch: Result<RecordBatch, FlightError>) -> Result<Response<DoGetStream>, Status> {
    let batch = batch.map_err(flight_status)?;
    let data = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::iter([Ok(batch)]))
        .map_err(Status::from);
    Ok(Response::new(Box::pin(data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_columns_are_advertised_hydrated() {
        let schema = Schema::new(vec![Field::new(
            "host",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        )]);
        assert_eq!(flight_schema(&schema).field(0).data_type(), &DataType::Utf8);
    }
}
