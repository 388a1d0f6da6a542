//! The query handlers: each simple query and each extended-protocol
//! `Parse`/`Execute` builds a fresh session ([`Sessions`]) and hands
//! the work to `datafusion-postgres`'s `DfSessionService`. Simple queries
//! and `Execute`s are admitted ([`Admission`]): a concurrency permit, an
//! entry in `system.queries`, the timeout and `max_result_rows` (result rows
//! included, as they stream), and run on the query runtime (`offload`).
//! `Parse` only plans, within the timeout.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{FieldInfo, Response};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, ConnectionHandle, Type};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::data::DataRow;
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::{DfSessionService, Parser};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, Sink, Stream, StreamExt};

use tokio::runtime::Handle;

use super::offload::{offload, InRuntime};
use super::{to_pg, Sessions};
use crate::engine::{Admission, GuardItem, ItemOutcome};
use crate::error::Error;

/// A parsed statement: the SQL and, unless empty, the statement and its plan
/// (the shape `datafusion-postgres` keeps in the portal store).
pub(crate) type PgStatement = (String, Option<(Statement, LogicalPlan)>);

/// Simple and extended query handling over the engine.
pub(crate) struct Service {
    sessions: Sessions,
    parser: Arc<PgParser>,
}

impl Service {
    pub(crate) fn new(sessions: Sessions) -> Self {
        // Describing a parsed statement (parameter and result types) reads
        // only the statement's plan, so one long-lived parser does it.
        let describe = DfSessionService::new(Arc::new(SessionContext::new())).query_parser();
        Self { parser: Arc::new(PgParser { sessions: sessions.clone(), describe }), sessions }
    }

    /// Admit `sql` for the connection's tenant (concurrency permit,
    /// `system.queries`, deadline).
    fn admit(&self, client: &(impl ClientInfo + ?Sized), sql: &str) -> PgWireResult<Admission> {
        self.sessions.engine().admit_as(&Sessions::tenant(client), sql, None).map_err(to_pg)
    }

    /// The query runtime (None: the connection's).
    fn runtime(&self) -> Option<Handle> {
        self.sessions.engine().config().runtime.clone()
    }

    /// A query response's rows produced on the query runtime, bounded by
    /// the admission (deadline, `max_result_rows`, counted for
    /// `system.queries`) and ended by a cancel request.
    fn bounded(&self, response: Response, admission: &Admission, cancel: &Option<Cancel>) -> Response {
        match response {
            Response::Query(mut q) => {
                let mut rows = std::mem::replace(&mut q.data_rows, Box::pin(futures::stream::empty()));
                if let Some(runtime) = self.runtime() {
                    rows = offload(rows, &runtime);
                }
                q.data_rows = match cancel {
                    Some(cancel) => Box::pin(admission.guard(cancellable(rows, cancel.clone()))),
                    None => Box::pin(admission.guard(rows)),
                };
                Response::Query(q)
            }
            other => other,
        }
    }
}

/// Run `work` (pgwire's handling of the query up to its row stream) within
/// the admission's deadline, recording a failure.
async fn within_deadline<T>(
    admission: &Admission,
    work: impl std::future::Future<Output = PgWireResult<T>>,
) -> PgWireResult<T> {
    match tokio::time::timeout_at(admission.deadline(), work).await {
        Ok(Ok(r)) => {
            admission.settle();
            Ok(r)
        }
        Ok(Err(e)) => {
            admission.record_error(e.to_string());
            Err(e)
        }
        Err(_) => {
            let e = Error::Timeout(admission.timeout());
            admission.fail(&e);
            Err(to_pg(e))
        }
    }
}

impl GuardItem for PgWireResult<DataRow> {
    fn outcome(&self) -> ItemOutcome {
        match self {
            Ok(_) => ItemOutcome::Rows(1),
            Err(PgWireError::QueryCanceled) => ItemOutcome::Cancelled,
            Err(e) => ItemOutcome::Failed(e.to_string()),
        }
    }

    fn from_error(e: Error) -> Self {
        Err(to_pg(e))
    }
}

/// Resolves `true` when the client's cancel request arrives (`false` when
/// the next query takes over the connection's cancel slot).
type Cancel = Shared<BoxFuture<'static, bool>>;

/// A cancel signal for the rows of the query being answered.
///
/// pgwire watches for a cancel request only until `do_query` returns, but
/// DataFusion computes the rows while they stream after that. So, as the
/// last step of `do_query` (nothing may be awaited after it: pgwire's own
/// receiver now resolves, and its `select` must see `do_query` finish
/// first), this takes the connection's cancel slot for the streaming rows.
async fn cancel_signal<C: ClientInfo + ?Sized>(client: &C) -> Option<Cancel> {
    let handle = client.session_extensions().get::<Arc<ConnectionHandle>>()?;
    // Unconstrained: an uncontended lock must not yield for the task budget.
    let rx = tokio::task::unconstrained(handle.start_query()).await;
    Some(rx.map(|r| r.is_ok()).boxed().shared())
}

/// `rows` until `cancel` says the client canceled; then a 57014 error and the end.
fn cancellable<S>(rows: S, cancel: Cancel) -> impl Stream<Item = PgWireResult<DataRow>> + Send + 'static
where
    S: Stream<Item = PgWireResult<DataRow>> + Send + 'static,
{
    futures::stream::unfold(Some((Box::pin(rows), Some(cancel))), |state| async move {
        let (mut rows, cancel) = state?;
        let Some(watch) = cancel.clone() else {
            return rows.next().await.map(|row| (row, Some((rows, None))));
        };
        tokio::select! {
            biased;
            canceled = watch => {
                if canceled {
                    Some((Err(PgWireError::QueryCanceled), None))
                } else {
                    // Superseded by the next query: no cancel can reach these rows.
                    rows.next().await.map(|row| (row, Some((rows, None))))
                }
            }
            row = rows.next() => row.map(|row| (row, Some((rows, cancel)))),
        }
    })
}

#[async_trait]
impl SimpleQueryHandler for Service {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        tracing::debug!(query, "postgres simple query");
        let admission = self.admit(client, query)?;
        let service = self.sessions.admitted_session(client, &admission)?;
        let run = InRuntime::new(self.runtime(), SimpleQueryHandler::do_query(&service, client, query));
        let responses = within_deadline(&admission, run).await?;
        let cancel = cancel_signal(client).await;
        Ok(responses.into_iter().map(|r| self.bounded(r, &admission, &cancel)).collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Service {
    type Statement = PgStatement;
    type QueryParser = PgParser;

    fn query_parser(&self) -> Arc<PgParser> {
        self.parser.clone()
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<PgStatement>, max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = PgStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        tracing::debug!(query = %portal.statement.statement.0, "postgres extended query");
        let admission = self.admit(client, &portal.statement.statement.0)?;
        let service = self.sessions.admitted_session(client, &admission)?;
        let run = InRuntime::new(self.runtime(), ExtendedQueryHandler::do_query(&service, client, portal, max_rows));
        let response = within_deadline(&admission, run).await?;
        let cancel = cancel_signal(client).await;
        Ok(self.bounded(response, &admission, &cancel))
    }
}

/// Parses (and plans) each statement in a fresh session.
pub(crate) struct PgParser {
    sessions: Sessions,
    describe: Arc<Parser>,
}

#[async_trait]
impl QueryParser for PgParser {
    type Statement = PgStatement;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<PgStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        tracing::debug!(sql, "postgres parse");
        let service = self.sessions.session(client)?;
        let parser = ExtendedQueryHandler::query_parser(&service);
        let run = parser.parse_sql(client, sql, types);
        let timeout = self.sessions.engine().config().timeout;
        tokio::time::timeout(timeout, run).await.map_err(|_| to_pg(Error::Timeout(timeout)))?
    }

    fn get_parameter_types(&self, stmt: &PgStatement) -> PgWireResult<Vec<Type>> {
        self.describe.get_parameter_types(stmt)
    }

    fn get_result_schema(&self, stmt: &PgStatement, column_format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        self.describe.get_result_schema(stmt, column_format)
    }
}
