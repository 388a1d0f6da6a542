//! Connection start-up: with a [`PasswordCheck`], the client is asked for a
//! cleartext password (the token) and refused with SQLSTATE `28P01` when
//! the check fails; without one, any user is let in. When TLS is required,
//! a start-up over plain text is refused with `28000`.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata, DefaultServerParameterProvider,
    LoginInfo, StartupHandler,
};
use datafusion_postgres::pgwire::api::{
    ClientInfo, ConnectionManager, PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::startup::Authentication;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use futures::future::BoxFuture;
use futures::{Sink, SinkExt};
use tidewater_tenant::Tenant;

/// Decides whether a user name and password may query, and for which
/// tenant (implemented by the server over its token authenticator).
pub trait PasswordCheck: Send + Sync + 'static {
    /// The tenant `user` acts for when `password` lets it query (`database`:
    /// the database the client asked for, which may name a tenant); None
    /// when it may not.
    fn check<'a>(
        &'a self,
        user: &'a str,
        database: Option<&'a str>,
        password: &'a str,
    ) -> BoxFuture<'a, Option<Tenant>>;
}

/// The start-up handler: password check (optional), then the usual
/// parameters, backend key and registration for cancel requests.
pub(crate) struct Startup {
    pub(crate) connections: Arc<ConnectionManager>,
    pub(crate) password: Option<Arc<dyn PasswordCheck>>,
    pub(crate) keys: RandomPidSecretKeyGenerator,
    /// Refuse start-ups that did not negotiate TLS.
    pub(crate) require_tls: bool,
}

impl Startup {
    async fn finish<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (pid, secret_key) = self.keys.generate(&*client);
        client.set_pid_and_secret_key(pid, secret_key.clone());
        let (handle, guard) = self.connections.register(pid, secret_key);
        client.session_extensions().insert(handle);
        client.session_extensions().insert(guard);
        finish_authentication(client, &DefaultServerParameterProvider::default()).await
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                if self.require_tls && !client.is_secure() {
                    tracing::debug!("postgres start-up without TLS refused");
                    let message = "this server requires TLS (sslmode=require or stronger)";
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".into(),
                        "28000".into(),
                        message.into(),
                    ))));
                }
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                if self.password.is_some() {
                    client.set_state(PgWireConnectionState::AuthenticationInProgress);
                    client.send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword)).await?;
                } else {
                    self.finish(client).await?;
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let Some(check) = &self.password else {
                    return Ok(());
                };
                let pwd = pwd.into_password()?;
                let login = LoginInfo::from_client_info(client);
                let user = login.user().unwrap_or_default().to_string();
                let database = login.database().map(str::to_string);
                if let Some(tenant) = check.check(&user, database.as_deref(), &pwd.password).await {
                    client.session_extensions().insert(tenant);
                    self.finish(client).await?;
                } else {
                    tracing::info!(%user, "postgres login refused");
                    return Err(PgWireError::InvalidPassword(user));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
