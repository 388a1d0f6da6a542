//! The PostgreSQL wire protocol on its own port (`pg_addr`), so psql,
//! psycopg, JDBC and Grafana's PostgreSQL data source can query Tidewater.
//!
//! Protocol handling, the `pg_catalog` schema and PostgreSQL's SQL dialect
//! come from `datafusion-postgres` (on `pgwire`); what is ours:
//!
//! - every query (each simple-query message, each extended-protocol `Parse`
//!   and `Execute`) gets a fresh `SessionContext` from the engine, with
//!   `pg_catalog` and the PostgreSQL functions added (`Sessions`);
//! - each simple-query message and each `Execute` is admitted like every
//!   query ([`QueryEngine::admit`]: concurrency permit, `system.queries`,
//!   timeout, `max_result_rows`), its rows bounded while they stream;
//! - the protocol runs on the caller's runtime (so a busy query runtime
//!   never slows down handshakes, refusals and cancel requests), the queries
//!   on the query runtime (`offload`);
//! - the `pg_catalog` schema is built once and shared by every session
//!   (`pg_catalog`), so its OIDs stay the same from one query to the next
//!   (psql's `\d table` needs that) and sessions are cheap to make;
//! - the server is read-only (`read_only`);
//! - `version()`, `current_setting()` and `SHOW` answer like PostgreSQL 16
//!   (`settings`);
//! - errors get PostgreSQL SQLSTATEs in one place ([`sql_state`]).
//!
//! With a [`PasswordCheck`] ([`run_with_auth`]) the client is asked for a
//! cleartext password (`auth`); without one any user name is accepted.
//! With a [`TlsSource`] ([`run_with_tls`]) clients negotiate TLS
//! (`sslmode=require` and stronger) and plain-text start-ups are refused
//! (SQLSTATE `28000`).

mod auth;
mod offload;
mod pg_catalog;
mod read_only;
mod service;
mod settings;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::PgCatalogStaticTables;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::QueryHook;
use datafusion_postgres::pgwire::api::auth::StartupHandler;
use datafusion_postgres::pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::{ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};
use datafusion_postgres::pgwire::tokio::{process_socket, TlsAcceptor};
use datafusion_postgres::DfSessionService;
use pg_catalog::PgCatalog;
use std::collections::HashMap;
use tidewater_tenant::Tenant;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::engine::{Admission, QueryEngine};
use crate::error::Error;

pub use auth::PasswordCheck;

/// The TLS acceptor for each new connection (called once per connection,
/// so a reloaded certificate is used from the next connection on).
pub type TlsSource = Arc<dyn Fn() -> TlsAcceptor + Send + Sync>;
pub use settings::{version_string, SERVER_VERSION, SERVER_VERSION_NUM};

/// Serve the PostgreSQL protocol on `listener` until `shutdown` resolves;
/// then stop accepting and close the open connections.
pub async fn run(
    engine: QueryEngine,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    run_with_auth(engine, listener, None, shutdown).await
}

/// Like [`run`]; with `password`, every connection must pass it
/// (cleartext password) before it can query.
pub async fn run_with_auth(
    engine: QueryEngine,
    listener: TcpListener,
    password: Option<Arc<dyn PasswordCheck>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    run_with_tls(engine, listener, password, None, shutdown).await
}

/// Like [`run_with_auth`]; with `tls`, every connection must negotiate TLS.
pub async fn run_with_tls(
    engine: QueryEngine,
    listener: TcpListener,
    password: Option<Arc<dyn PasswordCheck>>,
    tls: Option<TlsSource>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let sessions = Sessions::new(engine).map_err(|e| std::io::Error::other(format!("pg_catalog: {e}")))?;
    let handlers = Arc::new(Handlers::new(sessions, password, tls.is_some()));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let handlers = handlers.clone();
                    let acceptor = tls.as_ref().map(|make| make());
                    connections.spawn(async move {
                        if let Err(e) = process_socket(socket, acceptor, handlers).await {
                            tracing::debug!(%peer, error = %e, "postgres connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a postgres connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    Ok(())
}

/// Builds the session for each query.
#[derive(Clone)]
pub(crate) struct Sessions {
    engine: QueryEngine,
    static_tables: Arc<PgCatalogStaticTables>,
    /// One `pg_catalog` per tenant seen, so `pg_class` and friends list that
    /// tenant's tables only (and keep their OIDs from query to query).
    pg_catalogs: Arc<parking_lot::Mutex<HashMap<Tenant, PgCatalog>>>,
}

/// Tenants whose `pg_catalog` is kept; past this many the map is emptied.
const MAX_PG_CATALOGS: usize = 1024;

impl Sessions {
    /// Sessions over `engine`, sharing `pg_catalog`'s static tables.
    pub(crate) fn new(engine: QueryEngine) -> crate::error::Result<Self> {
        Ok(Self { static_tables: PgCatalog::static_tables()?, engine, pg_catalogs: Arc::default() })
    }

    /// The engine (for its limits).
    pub(crate) fn engine(&self) -> &QueryEngine {
        &self.engine
    }

    /// The tenant a connection acts for (set at login; the default one when
    /// auth is off).
    pub(crate) fn tenant(client: &(impl ClientInfo + ?Sized)) -> Tenant {
        client.session_extensions().get::<Tenant>().map(|t| (*t).clone()).unwrap_or_default()
    }

    fn pg_catalog(&self, tenant: &Tenant) -> crate::error::Result<PgCatalog> {
        if let Some(c) = self.pg_catalogs.lock().get(tenant) {
            return Ok(c.clone());
        }
        let built = PgCatalog::new(&self.engine, tenant, self.static_tables.clone())?;
        let mut all = self.pg_catalogs.lock();
        if all.len() >= MAX_PG_CATALOGS {
            all.clear();
        }
        Ok(all.entry(tenant.clone()).or_insert(built).clone())
    }

    /// A session for planning only (not admitted): a fresh context from the
    /// engine for the connection's tenant with `pg_catalog`, PostgreSQL's
    /// functions, and the connection's settings.
    pub(crate) fn session(&self, client: &(impl ClientInfo + ?Sized)) -> Result<DfSessionService, PgWireError> {
        let tenant = Self::tenant(client);
        self.service(&tenant, self.engine.tenant_context(&tenant).map_err(to_pg)?, client)
    }

    /// Like [`Sessions::session`], for an admitted query (its scans are
    /// counted in `system.queries`).
    pub(crate) fn admitted_session(
        &self,
        client: &(impl ClientInfo + ?Sized),
        admission: &Admission,
    ) -> Result<DfSessionService, PgWireError> {
        self.service(admission.tenant(), admission.context().map_err(to_pg)?, client)
    }

    fn service(
        &self,
        tenant: &Tenant,
        ctx: SessionContext,
        client: &(impl ClientInfo + ?Sized),
    ) -> Result<DfSessionService, PgWireError> {
        self.pg_catalog(tenant).map_err(to_pg)?.install(&ctx).map_err(to_pg)?;
        settings::register(&ctx, client.metadata());
        Ok(DfSessionService::new_with_hooks(Arc::new(ctx), hooks()))
    }
}

fn hooks() -> Vec<Arc<dyn QueryHook>> {
    vec![
        Arc::new(read_only::ReadOnlyHook),
        Arc::new(settings::ShowHook),
        Arc::new(CursorStatementHook),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
    ]
}

/// The SQLSTATE for a query error.
pub fn sql_state(e: &Error) -> &'static str {
    match e {
        Error::Timeout(_) => "57014", // query_canceled
        Error::BadRequest(_) => "42000",
        Error::TooManyQueries(_) | Error::TenantLimit { .. } => "53000", // insufficient_resources
        Error::ResultTooLarge(_) => "54000",                             // program_limit_exceeded
        Error::Task(_) => "XX000",
        Error::DataFusion(df) => match df.find_root() {
            DataFusionError::SQL(..) => "42601",           // syntax_error
            DataFusionError::NotImplemented(_) => "0A000", // feature_not_supported
            DataFusionError::ResourcesExhausted(_) => "53000",
            _ if e.is_user_error() => "42000", // syntax_error_or_access_rule_violation
            _ => "XX000",                      // internal_error
        },
    }
}

/// A query error as the client sees it; our faults are logged here and sent
/// without detail.
pub(crate) fn to_pg(e: Error) -> PgWireError {
    let state = sql_state(&e);
    let message = if state == "XX000" {
        tracing::error!(error = %e, "postgres query failed");
        "internal error; the server log has the details".to_string()
    } else {
        e.to_string()
    };
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), state.into(), message)))
}

/// The one place errors become PostgreSQL errors: DataFusion errors that
/// `datafusion-postgres` passes up as `ApiError` get their SQLSTATE here.
struct Errors;

impl ErrorHandler for Errors {
    fn on_error<C: ClientInfo>(&self, _client: &C, error: &mut PgWireError) {
        *error = match std::mem::replace(error, PgWireError::QueryCanceled) {
            PgWireError::ApiError(inner) => match inner.downcast::<DataFusionError>() {
                Ok(df) => to_pg(Error::DataFusion(*df)),
                Err(other) => PgWireError::ApiError(other),
            },
            other => other,
        };
    }
}

struct Handlers {
    query: Arc<service::Service>,
    startup: Arc<auth::Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl Handlers {
    fn new(sessions: Sessions, password: Option<Arc<dyn PasswordCheck>>, require_tls: bool) -> Self {
        let connections = Arc::new(ConnectionManager::new());
        let keys = Default::default();
        Self {
            query: Arc::new(service::Service::new(sessions)),
            startup: Arc::new(auth::Startup { connections: connections.clone(), password, keys, require_tls }),
            cancel: Arc::new(DefaultCancelHandler::new(connections)),
        }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.query.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.query.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(Errors)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }
}
