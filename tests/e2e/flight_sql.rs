//! Arrow Flight SQL on the gRPC port with the Rust client from `arrow-flight`:
//! statements with a time filter, prepared statements with a parameter,
//! `GetTables`, `GetSqlInfo`, errors, and the query guards (`system.queries`,
//! `max_result_rows`).

use std::sync::Arc;

use arrow::array::{Array, BinaryArray, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use arrow::util::pretty::pretty_format_batches;
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetTables, SqlInfo};
use arrow_flight::FlightInfo;
use futures::TryStreamExt;
use tonic::transport::Channel;

use crate::server::Server;

/// Gauge `cpu`: hosts a and b at 2023-11-14T22:13:20Z, a again a minute
/// later, and a an hour later (outside the tests' time filter).
pub const CPU_JSON: &str = r#"{"resourceMetrics":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},
  "scopeMetrics":[{"metrics":[{"name":"cpu","gauge":{"dataPoints":[
    {"asDouble":1.5,"timeUnixNano":"1700000000000000000","attributes":[{"key":"host","value":{"stringValue":"a"}}]},
    {"asDouble":2.5,"timeUnixNano":"1700000000000000000","attributes":[{"key":"host","value":{"stringValue":"b"}}]},
    {"asDouble":3.5,"timeUnixNano":"1700000060000000000","attributes":[{"key":"host","value":{"stringValue":"a"}}]},
    {"asDouble":9.0,"timeUnixNano":"1700003600000000000","attributes":[{"key":"host","value":{"stringValue":"a"}}]}
  ]}}]}]}]}"#;

/// The time filter that keeps the first three `cpu` points.
pub const WINDOW: &str = "time >= '2023-11-14T22:13:20Z' AND time < '2023-11-14T22:30:00Z'";

/// Push [`CPU_JSON`] over OTLP/HTTP JSON.
pub fn push_cpu(server: &Server) {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/metrics", server.url()))
        .header("content-type", "application/json")
        .body(CPU_JSON)
        .send()
        .expect("post");
    assert_eq!(resp.status().as_u16(), 200, "{:?}", resp.text());
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

async fn client(server: &Server) -> FlightSqlServiceClient<Channel> {
    let channel =
        Channel::from_shared(format!("http://{}", server.grpc)).expect("uri").connect().await.expect("connect");
    FlightSqlServiceClient::new(channel)
}

/// Every batch behind every endpoint of `info`.
pub async fn fetch(client: &mut FlightSqlServiceClient<Channel>, info: FlightInfo) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("ticket");
        let stream = client.do_get(ticket).await.expect("do_get");
        out.extend(stream.try_collect::<Vec<_>>().await.expect("batches"));
    }
    out
}

/// Like [`fetch`], but returns the first error.
async fn try_fetch(
    client: &mut FlightSqlServiceClient<Channel>,
    info: FlightInfo,
) -> Result<Vec<RecordBatch>, FlightError> {
    let mut out = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("ticket");
        out.extend(client.do_get(ticket).await?.try_collect::<Vec<_>>().await?);
    }
    Ok(out)
}

/// The gRPC status behind a client error.
fn status(e: FlightError) -> (tonic::Code, String) {
    match e {
        FlightError::Tonic(s) => (s.code(), s.message().to_string()),
        other => panic!("not a gRPC status: {other}"),
    }
}

pub fn table(batches: &[RecordBatch]) -> String {
    pretty_format_batches(batches).expect("format").to_string()
}

#[test]
fn flight_sql_statements_tables_and_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    push_cpu(&server);
    runtime().block_on(async {
        let mut c = client(&server).await;

        // A statement with a time filter: exact rows, attributes as plain strings.
        let sql = format!("SELECT time, host, service_name, value FROM cpu WHERE {WINDOW} ORDER BY time, host");
        let info = c.execute(sql, None).await.expect("execute");
        let advertised = info.clone().try_decode_schema().expect("schema in FlightInfo");
        assert_eq!(advertised.field_with_name("host").expect("host").data_type(), &DataType::Utf8);
        let batches = fetch(&mut c, info).await;
        assert_eq!(
            table(&batches),
            [
                "+----------------------+------+--------------+-------+",
                "| time                 | host | service_name | value |",
                "+----------------------+------+--------------+-------+",
                "| 2023-11-14T22:13:20Z | a    | web          | 1.5   |",
                "| 2023-11-14T22:13:20Z | b    | web          | 2.5   |",
                "| 2023-11-14T22:14:20Z | a    | web          | 3.5   |",
                "+----------------------+------+--------------+-------+",
            ]
            .join("\n")
        );
        assert_eq!(batches[0].schema().field(1).data_type(), advertised.field(1).data_type());

        // A prepared statement with a bound parameter, `?` as ADBC and JDBC write it.
        let mut stmt = c
            .prepare(format!("SELECT sum(value) AS total FROM cpu WHERE host = ? AND {WINDOW}"), None)
            .await
            .expect("prepare");
        assert_eq!(stmt.dataset_schema().expect("schema").field(0).name(), "total");
        let params = RecordBatch::try_from_iter([("$1", Arc::new(StringArray::from(vec!["a"])) as _)]).expect("params");
        stmt.set_parameters(params).expect("bind");
        let info = stmt.execute().await.expect("execute prepared");
        assert_eq!(table(&fetch(&mut c, info).await), "+-------+\n| total |\n+-------+\n| 5.0   |\n+-------+");
        stmt.close().await.expect("close");

        // GetTables with schemas, narrowed to `public`.
        let info = c
            .get_tables(CommandGetTables {
                catalog: Some("tidewater".into()),
                db_schema_filter_pattern: Some("public".into()),
                table_name_filter_pattern: Some("cp%".into()),
                table_types: vec!["TABLE".into()],
                include_schema: true,
            })
            .await
            .expect("get_tables");
        let batches = fetch(&mut c, info).await;
        let b = &batches[0];
        assert_eq!(b.num_rows(), 1, "{}", table(&batches));
        let names = b.column_by_name("table_name").expect("table_name");
        let names = names.as_any().downcast_ref::<StringArray>().expect("strings");
        assert_eq!(names.value(0), "cpu");
        let schemas = b.column_by_name("table_schema").expect("table_schema");
        let schemas = schemas.as_any().downcast_ref::<BinaryArray>().expect("binary");
        let schema = arrow::ipc::convert::try_schema_from_ipc_buffer(schemas.value(0)).expect("ipc schema");
        assert!(schema.field_with_name("host").is_ok() && schema.field_with_name("value").is_ok(), "{schema:?}");

        // All tables, as information_schema.tables lists them (views included).
        let info =
            c.get_tables(CommandGetTables { include_schema: false, ..Default::default() }).await.expect("get_tables");
        let all = table(&fetch(&mut c, info).await);
        assert!(all.contains("| public ") && all.contains("| cpu "), "{all}");
        assert!(all.contains("| information_schema | tables ") && all.contains("VIEW"), "{all}");

        // Catalogs, schemas, table types, SqlInfo.
        let info = c.get_catalogs().await.expect("catalogs");
        assert!(table(&fetch(&mut c, info).await).contains("tidewater"));
        let info = c.get_db_schemas(CommandGetDbSchemas::default()).await.expect("schemas");
        let schemas = table(&fetch(&mut c, info).await);
        assert!(schemas.contains("public") && schemas.contains("information_schema"), "{schemas}");
        let info = c.get_table_types().await.expect("table types");
        assert!(table(&fetch(&mut c, info).await).contains("TABLE"));
        let info = c
            .get_sql_info(vec![SqlInfo::FlightSqlServerName, SqlInfo::FlightSqlServerReadOnly])
            .await
            .expect("sql info");
        let rows: usize = fetch(&mut c, info).await.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 2);

        // Mistakes: INVALID_ARGUMENT with DataFusion's message.
        let (code, msg) =
            status(c.execute("SELECT * FROM no_such_table".into(), None).await.expect_err("missing table"));
        assert_eq!(code, tonic::Code::InvalidArgument);
        assert!(msg.contains("no_such_table"), "{msg}");
        let (code, _) = status(c.execute("SELEC 1".into(), None).await.expect_err("bad syntax"));
        assert_eq!(code, tonic::Code::InvalidArgument);
        // Read-only: no DDL, no COPY.
        let (code, msg) = status(c.execute("CREATE TABLE t AS SELECT 1".into(), None).await.expect_err("ddl"));
        assert_eq!(code, tonic::Code::InvalidArgument, "{msg}");
        let copy = "COPY (SELECT 1) TO '/tmp/tidewater-flight-copy.csv'";
        let (code, msg) = status(c.execute(copy.into(), None).await.expect_err("copy"));
        assert_eq!(code, tonic::Code::InvalidArgument, "{msg}");
        assert!(!std::path::Path::new("/tmp/tidewater-flight-copy.csv").exists());
    });
}

#[test]
fn flight_sql_queries_are_logged_and_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = crate::query_guards::start(dir.path(), "max_result_rows = 3");
    push_cpu(&server);
    runtime().block_on(async {
        let mut c = client(&server).await;

        // A statement runs once (DoGet), and system.queries shows it with its rows.
        let sql = format!("SELECT host, value FROM cpu WHERE {WINDOW} ORDER BY time, host");
        let info = c.execute(sql, None).await.expect("execute");
        let rows: usize = fetch(&mut c, info).await.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 3);
        let log = "SELECT state, rows, segments_scanned + segments_pruned AS segments FROM system.queries \
                   WHERE query LIKE 'SELECT host, value FROM cpu%'";
        let info = c.execute(log.into(), None).await.expect("execute");
        assert_eq!(
            table(&fetch(&mut c, info).await),
            [
                "+-------+------+----------+",
                "| state | rows | segments |",
                "+-------+------+----------+",
                "| ok    | 3    | 0        |",
                "+-------+------+----------+",
            ]
            .join("\n")
        );

        // One row more than max_result_rows: RESOURCE_EXHAUSTED naming the limit.
        let info = c.execute("SELECT * FROM cpu".into(), None).await.expect("planning passes");
        let (code, msg) = status(try_fetch(&mut c, info).await.expect_err("too many rows"));
        assert_eq!(code, tonic::Code::ResourceExhausted, "{msg}");
        assert!(msg.contains("max_result_rows = 3"), "{msg}");
        let info = c
            .execute("SELECT state, error FROM system.queries WHERE query = 'SELECT * FROM cpu'".into(), None)
            .await
            .expect("execute");
        let log = table(&fetch(&mut c, info).await);
        assert!(log.contains("| error | the result has more than max_result_rows = 3 rows"), "{log}");
    });
    // The same limit over HTTP, found in the first batch: 400 naming it.
    let (code, body) = server.sql_raw("SELECT * FROM cpu");
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("max_result_rows = 3")), "{body}");
}
