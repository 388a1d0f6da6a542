//! Refuse statements that would change anything or touch the server's
//! files (`COPY ... TO`, `CREATE EXTERNAL TABLE`, DDL, DML) before they are
//! planned. Queries, `EXPLAIN` of a query, `SHOW`, `SET`, transactions and
//! cursors pass on to the other hooks.

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

/// The hook; put it first.
#[derive(Debug)]
pub struct ReadOnlyHook;

/// Whether `s` may run on a read-only server.
pub fn allowed(s: &Statement) -> bool {
    match s {
        Statement::Explain { statement, .. } => allowed(statement),
        Statement::Query(_)
        | Statement::ExplainTable { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowFunctions { .. }
        | Statement::Set(_)
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. }
        | Statement::Deallocate { .. } => true,
        _ => false,
    }
}

fn refuse(s: &Statement) -> Option<PgWireResult<()>> {
    if allowed(s) {
        return None;
    }
    let first = s.to_string().split_whitespace().next().unwrap_or("statement").to_ascii_uppercase();
    Some(Err(PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "25006".into(), // read_only_sql_transaction
        format!("Tidewater is read-only over SQL: {first} is not allowed (write with OTLP)"),
    )))))
}

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refuse(statement).map(|r| r.map(|()| Response::EmptyQuery))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        refuse(statement).map(|r| r.map(|()| LogicalPlan::default()))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refuse(statement).map(|r| r.map(|()| Response::EmptyQuery))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn check(sql: &str) -> bool {
        let stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        allowed(&stmts[0])
    }

    #[test]
    fn queries_pass_and_writes_do_not() {
        for ok in ["SELECT 1", "EXPLAIN SELECT 1", "SHOW search_path", "SET application_name = 'x'", "BEGIN", "COMMIT"]
        {
            assert!(check(ok), "{ok}");
        }
        for bad in [
            "COPY (SELECT 1) TO '/tmp/x.csv'",
            "CREATE TABLE t (a INT)",
            "INSERT INTO t VALUES (1)",
            "DROP TABLE t",
            "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
        ] {
            assert!(!check(bad), "{bad}");
        }
    }
}
