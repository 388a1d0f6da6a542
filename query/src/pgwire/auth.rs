//! Connection start-up: with a [`PasswordCheck`], the client is asked for a
//! cleartext password (the token) and refused with SQLSTATE `28P01` when
//! the check fails; without one, any user is let in.

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
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::startup::Authentication;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use futures::future::BoxFuture;
use futures::{Sink, SinkExt};

/// Decides whether a user name and password may query (implemented by the
/// server over its token authenticator).
pub trait PasswordCheck: Send + Sync + 'static {
    /// True when `password` lets `user` run queries.
    fn check<'a>(&'a self, user: &'a str, password: &'a str) -> BoxFuture<'a, bool>;
}

/// The start-up handler: password check (optional), then the usual
/// parameters, backend key and registration for cancel requests.
pub(crate) struct Startup {
    pub(crate) connections: Arc<ConnectionManager>,
    pub(crate) password: Option<Arc<dyn PasswordCheck>>,
    pub(crate) keys: RandomPidSecretKeyGenerator,
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
                let user = LoginInfo::from_client_info(client).user().unwrap_or_default().to_string();
                if check.check(&user, &pwd.password).await {
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
