//! The PostgreSQL wire protocol with real clients: `psql` (simple protocol,
//! `\dt`), psycopg 3 (extended protocol with parameters), the queries
//! Grafana's PostgreSQL data source sends to fill its editor, and the query
//! guards (`system.queries`, `max_result_rows`).

use std::process::Command;

use serde_json::{json, Value};

use crate::flight_sql::{push_cpu, WINDOW};
use crate::server::Server;

/// Run `psql -At -c sql`; returns stdout, panics on failure.
fn psql(server: &Server, sql: &str) -> String {
    let (ok, out, err) = psql_raw(server, sql);
    assert!(ok, "psql {sql:?} failed: {err}");
    out
}

/// Run `psql -At -c sql`: (success, stdout, stderr).
pub fn psql_raw(server: &Server, sql: &str) -> (bool, String, String) {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &server.pg.port().to_string(), "-U", "tidewater", "-d", "tidewater"])
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGSSLMODE", "disable")
        .output()
        .expect("run psql (Debian package postgresql-client; ./scripts/test installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn psql_runs_queries_and_lists_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    push_cpu(&server);

    let rows = psql(&server, &format!("SELECT time, host, value FROM cpu WHERE {WINDOW} ORDER BY time, host"));
    assert_eq!(
        rows,
        "2023-11-14 22:13:20.000000+00|a|1.5\n2023-11-14 22:13:20.000000+00|b|2.5\n2023-11-14 22:14:20.000000+00|a|3.5\n"
    );
    assert_eq!(psql(&server, "SELECT current_setting('server_version_num')"), "160006\n");
    assert!(psql(&server, "SELECT version()").starts_with("PostgreSQL 16.6 (Tidewater "));
    assert_eq!(psql(&server, "SHOW search_path"), "public\n");
    assert_eq!(psql(&server, "SHOW server_version"), "16.6\n");
    assert_eq!(psql(&server, "SHOW TimeZone"), "UTC\n");
    assert_eq!(psql(&server, "SELECT current_setting('search_path')"), "public\n");
    assert_eq!(
        psql(&server, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"),
        "cpu\n"
    );
    // psql's own catalog queries.
    let dt = psql(&server, "\\dt");
    assert!(dt.contains("public|cpu|table"), "{dt}");
    let d = psql(&server, "\\d cpu");
    assert!(d.contains("host") && d.contains("value"), "{d}");

    // Errors carry a SQLSTATE and DataFusion's message; the session survives.
    let (ok, _, err) = psql_raw(&server, "SELECT * FROM no_such_table");
    assert!(!ok && err.contains("no_such_table"), "{err}");
    // Read-only: no DDL, no COPY to the server's disk.
    let (ok, _, err) = psql_raw(&server, "CREATE TABLE t AS SELECT 1");
    assert!(!ok && err.contains("read-only"), "{err}");
    let (ok, _, err) = psql_raw(&server, "COPY (SELECT 1) TO '/tmp/tidewater-pg-copy.csv'");
    assert!(!ok && err.contains("read-only"), "{err}");
    assert!(!std::path::Path::new("/tmp/tidewater-pg-copy.csv").exists());
}

#[test]
fn postgres_queries_are_logged_and_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = crate::query_guards::start(dir.path(), "max_result_rows = 3");
    push_cpu(&server);

    // psql (simple protocol): the query and its rows are in system.queries.
    let rows = psql(&server, &format!("SELECT host, value FROM cpu WHERE {WINDOW} ORDER BY time, host"));
    assert_eq!(rows, "a|1.5\nb|2.5\na|3.5\n");
    let log = psql(&server, "SELECT state, rows FROM system.queries WHERE query LIKE 'SELECT host, value FROM cpu%'");
    assert_eq!(log, "ok|3\n");

    // One row more than max_result_rows: an error naming the limit.
    let (ok, _, err) = psql_raw(&server, "SELECT * FROM cpu");
    assert!(!ok && err.contains("max_result_rows = 3"), "{err}");
    let log = psql(&server, "SELECT state, error FROM system.queries WHERE query = 'SELECT * FROM cpu'");
    assert!(log.starts_with("error|the result has more than max_result_rows = 3 rows"), "{log}");

    // psycopg (extended protocol): the same limit, and its query logged too.
    let script = r#"
import json, sys
import psycopg
out = {}
with psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="tidewater", dbname="tidewater") as conn:
    cur = conn.cursor()
    out["rows"] = cur.execute("SELECT value FROM cpu WHERE host = %s ORDER BY time", ("a",)).fetchall()
    try:
        cur.execute("SELECT value FROM cpu WHERE value > %s", (0,))
        out["too_many"] = cur.fetchall()
    except psycopg.Error as e:
        out["too_many"] = [e.sqlstate, str(e)]
        conn.rollback()
    out["log"] = cur.execute(
        "SELECT state, CAST(rows AS BIGINT) FROM system.queries WHERE query LIKE %s ORDER BY id", ("SELECT value FROM cpu WHERE%",)
    ).fetchall()
print(json.dumps(out))
"#;
    let out = Command::new(python()).args(["-c", script, &server.pg.port().to_string()]).output().expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("script prints JSON");
    assert_eq!(v["rows"], json!([[1.5], [3.5], [9.0]]), "{v}");
    assert_eq!(v["too_many"][0], json!("54000"), "{v}");
    assert!(v["too_many"][1].as_str().is_some_and(|m| m.contains("max_result_rows = 3")), "{v}");
    assert_eq!(v["log"], json!([["ok", 3], ["error", 3]]), "{v}");
}

/// psycopg 3 with server-side parameters (`%s` becomes `$n`: Parse, Bind,
/// Describe, Execute), Grafana's introspection queries, errors and a cancel.
const PSYCOPG_SCRIPT: &str = r#"
import datetime, json, sys, threading
import psycopg

port = int(sys.argv[1])
utc = datetime.timezone.utc
out = {}
with psycopg.connect(host="127.0.0.1", port=port, user="tidewater", dbname="tidewater", connect_timeout=10) as conn:
    cur = conn.cursor()
    cur.execute(
        "SELECT host, value FROM cpu WHERE host = %s AND time >= %s AND time < %s ORDER BY time",
        ("a", datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=utc), datetime.datetime(2023, 11, 14, 22, 30, tzinfo=utc)),
    )
    out["rows"] = cur.fetchall()
    cur.execute("SELECT count(*) FROM cpu WHERE value > %s", (2,))
    out["count"] = cur.fetchone()[0]
    cur.execute("SELECT time FROM cpu WHERE host = %s ORDER BY time LIMIT 1", ("b",))
    out["time"] = cur.fetchone()[0].isoformat()
    out["version"] = cur.execute("SELECT version()").fetchone()[0]
    out["version_num"] = cur.execute("SELECT current_setting('server_version_num')::int/100 AS version").fetchone()[0]
    out["public_tables"] = [r[0] for r in cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")]
    # Grafana's PostgreSQL data source: table list, column list, TimescaleDB probe.
    out["grafana_tables"] = [r[0] for r in cur.execute("""
        SELECT quote_ident(table_name) AS "table" FROM information_schema.tables
        WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog', '_timescaledb_cache',
            '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config',
            'timescaledb_information', 'timescaledb_experimental')
          AND table_type = 'BASE TABLE' AND quote_ident(table_schema) = 'public'
        ORDER BY 1""")]
    out["grafana_columns"] = cur.execute(
        "SELECT quote_ident(column_name) AS \"column\", data_type AS \"type\" FROM information_schema.columns "
        "WHERE quote_ident(table_name) = %s ORDER BY 1", ("cpu",)).fetchall()
    out["timescaledb"] = cur.execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'timescaledb'").fetchall()
    # A Grafana time-series panel: $__timeGroupAlias(time, 1m) and $__timeFilter(time), expanded.
    out["panel"] = cur.execute("""
        SELECT floor(extract(epoch from time)/60)*60 AS "time", avg(value) AS "avg"
        FROM cpu WHERE time BETWEEN '2023-11-14T22:13:20Z' AND '2023-11-14T22:30:00Z'
        GROUP BY 1 ORDER BY 1""").fetchall()
    try:
        cur.execute("SELECT * FROM no_such_table WHERE x = %s", (1,))
    except psycopg.Error as e:
        out["error"] = [e.sqlstate, str(e)]
        conn.rollback()
    out["after_error"] = cur.execute("SELECT 1 + %s", (1,)).fetchone()[0]
    # A cancel request stops a query whose rows are still being computed.
    threading.Timer(1.0, conn.cancel).start()
    try:
        cur.execute("SELECT count(*) FROM generate_series(1, 100000000000) WHERE value > %s", (0,))
    except psycopg.Error as e:
        out["canceled"] = e.sqlstate
        conn.rollback()
    out["after_cancel"] = cur.execute("SELECT 2 + %s", (1,)).fetchone()[0]
print(json.dumps(out, default=str))
"#;

fn python() -> String {
    std::env::var("TIDEWATER_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-venv/bin/python");
        assert!(
            std::path::Path::new(venv).exists(),
            "no Python with psycopg: run ./scripts/test or set TIDEWATER_TEST_PYTHON"
        );
        venv.to_string()
    })
}

#[test]
fn psycopg_runs_parameterized_queries_and_grafana_introspection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    push_cpu(&server);
    let out = Command::new(python())
        .args(["-c", PSYCOPG_SCRIPT, &server.pg.port().to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "psycopg script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("script prints JSON");
    assert_eq!(v["rows"], json!([["a", 1.5], ["a", 3.5]]));
    assert_eq!(v["count"], json!(3));
    assert_eq!(v["time"], json!("2023-11-14T22:13:20+00:00"));
    assert!(v["version"].as_str().is_some_and(|s| s.starts_with("PostgreSQL 16.6")), "{v}");
    assert_eq!(v["version_num"], json!(1600));
    assert_eq!(v["public_tables"], json!(["cpu"]));
    assert_eq!(v["grafana_tables"], json!(["cpu"]));
    let columns: Vec<&str> =
        v["grafana_columns"].as_array().expect("columns").iter().filter_map(|c| c[0].as_str()).collect();
    assert_eq!(columns, ["host", "service_name", "time", "value"], "{v}");
    assert_eq!(v["timescaledb"], json!([]));
    assert_eq!(v["panel"], json!([[1699999980.0, 2.0], [1700000040.0, 3.5]]), "{v}");
    assert_eq!(v["error"][0], json!("42000"), "{v}");
    assert!(v["error"][1].as_str().is_some_and(|s| s.contains("no_such_table")), "{v}");
    assert_eq!(v["after_error"], json!(2));
    assert_eq!(v["canceled"], json!("57014"), "{v}");
    assert_eq!(v["after_cancel"], json!(3));
}
