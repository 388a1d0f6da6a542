//! `tidewater serve`: open the store, bind the listeners, serve until SIGTERM
//! or Ctrl-C, then flush and close.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tidewater_ingest::grpc::{Logs, Metrics, OtlpService};
use tidewater_ingest::Ingester;
use tidewater_query::flight_sql::FlightSqlServer;
use tidewater_query::rollup::RollupRunner;
use tidewater_query::QueryEngine;
use tidewater_storage::{Store, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;

/// Run the server with `cfg` until a shutdown signal; queries run on
/// `query_runtime` when given.
pub async fn serve(cfg: Config, query_runtime: Option<tokio::runtime::Handle>) -> Result<(), String> {
    let auth = crate::auth::authenticator(&cfg)?;
    let listen = crate::listen::Listen::from_config(&cfg)?;
    let store_cfg = cfg.store_config();
    tracing::info!(data_dir = %cfg.data_dir.display(), object_store = %cfg.storage.object_store_url, "opening store");
    let store = Store::open_async(store_cfg).await.map_err(|e| format!("opening the store: {e}"))?;
    let flusher = store.spawn_flusher();
    let ingester = Ingester::new(store.clone(), cfg.ingest_limits()).with_tenancy(cfg.tenancy.clone());
    let dashboards = crate::dashboards::load(&cfg).await?;
    let self_monitoring = crate::dashboards::start_self_monitoring(&cfg, &store, &ingester);
    let pipelines = tidewater_pipeline::Pipelines::new(&cfg.pipelines, cfg.config_file.clone())
        .map_err(|e| format!("pipelines: {e}"))?;
    let pipelines = Arc::new(pipelines);
    // The pipeline step runs on what clients send (not on self-monitoring).
    let ingester = ingester.with_preprocess(pipelines.clone());
    let engine = QueryEngine::new(store.clone(), cfg.query_config(query_runtime)).map_err(|e| e.to_string())?;
    let rollups = RollupRunner::new(engine.clone(), store.clone(), cfg.rollup_configs(), Arc::new(SystemClock))
        .spawn(tidewater_query::rollup::CHECK_INTERVAL);
    let mut alerting_cfg = cfg.alerting.clone();
    // Rules run for the default tenant; its `max_rules` bounds the rule files.
    let default_limits = cfg.tenancy.limits_of(&tidewater_tenant::Tenant::default_tenant());
    alerting_cfg.max_rules = default_limits.max_rules().map_or(0, |m| m as usize);
    let alerting = tidewater_alerting::Alerting::start(&alerting_cfg, &cfg.data_dir, engine.clone())
        .await
        .map_err(|e| format!("alerting: {e}"))?;
    for (name, table) in tidewater_alerting::system::tables(&alerting) {
        engine.register_system_table(name, table);
    }
    engine.register_system_table("pipelines", tidewater_pipeline::PipelinesTable::provider(&pipelines));
    let sighup = crate::alerting::reload_on_sighup(alerting.clone());
    let pipelines_sighup = tidewater_pipeline::reload::reload_on_sighup(pipelines.clone());
    let ready = Arc::new(AtomicBool::new(false));

    let http_listener = bind(&cfg.http_addr).await?;
    let grpc_listener = bind(&cfg.grpc_addr).await?;
    let pg_listener = bind(&cfg.pg_addr).await?;
    let http_local = local(&http_listener)?;
    let grpc_local = local(&grpc_listener)?;
    let pg_local = local(&pg_listener)?;
    let flight_sql = FlightSqlServer::new(engine.clone()).map_err(|e| format!("flight sql: {e}"))?;

    let app = tidewater_ingest::http::router(ingester.clone())
        .merge(tidewater_query::http::router(engine.clone()))
        .merge(tidewater_alerting::api::router(alerting.clone()))
        .merge(health_router(ready.clone()))
        .merge(tidewater_pipeline::reload::router(pipelines.clone()))
        .merge(tidewater_dashboards::router(dashboards))
        .fallback(not_found);
    let app = tidewater_auth::http::protect(app, auth.clone(), cfg.tls.enabled);
    let app = tidewater_auth::with_security_headers(app);

    let (stop_tx, stop_rx) = watch::channel(false);
    let http = tokio::spawn(listen.serve_http(http_listener, app, stop_rx.clone()));
    let grpc = tokio::spawn({
        let mut rx = stop_rx.clone();
        let incoming = listen.grpc_incoming(grpc_listener, stop_rx.clone());
        listen
            .grpc_server()
            .http2_max_header_list_size(GRPC_MAX_HEADER_BYTES)
            .layer(tidewater_auth::grpc::GrpcAuthLayer::new(auth.clone()))
            .add_service(OtlpService::<Metrics>::new(ingester.clone()))
            .add_service(OtlpService::<Logs>::new(ingester))
            .add_service(flight_sql.into_service())
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
    });
    let pg = tokio::spawn({
        let mut rx = stop_rx.clone();
        let tls = listen.pg_tls();
        tidewater_query::pgwire::run_with_tls(engine, pg_listener, crate::auth::pg_password(&auth), tls, async move {
            let _ = rx.wait_for(|s| *s).await;
        })
    });
    ready.store(true, Ordering::SeqCst);
    tracing::info!(http_addr = %http_local, grpc_addr = %grpc_local, pg_addr = %pg_local, "listening");
    crate::auth::warn_if_open(auth.is_some(), &[http_local, grpc_local, pg_local]);

    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight, then flushing");
    ready.store(false, Ordering::SeqCst);
    let _ = stop_tx.send(true);
    if let Ok(Err(e)) = http.await {
        tracing::warn!(error = %e, "http server ended with an error");
    }
    if let Ok(Err(e)) = grpc.await {
        tracing::warn!(error = %e, "grpc server ended with an error");
    }
    if let Ok(Err(e)) = pg.await {
        tracing::warn!(error = %e, "postgres server ended with an error");
    }
    if let Some(rollups) = rollups {
        rollups.abort();
    }
    if let Some(task) = self_monitoring {
        task.abort();
    }
    sighup.abort();
    pipelines_sighup.abort();
    // Forward queues get a bounded time to deliver what they hold.
    pipelines.shutdown(tidewater_pipeline::DRAIN_TIMEOUT).await;
    alerting.shutdown().await;
    flusher.abort();
    store.close().await.map_err(|e| format!("final flush: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// Largest header block a gRPC request may send (metadata included).
const GRPC_MAX_HEADER_BYTES: u32 = 64 * 1024;

async fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))
}

fn local(l: &TcpListener) -> Result<SocketAddr, String> {
    l.local_addr().map_err(|e| e.to_string())
}

fn health_router(ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .route("/ready", get(ready_handler))
        .with_state(ready)
}

async fn ready_handler(State(ready): State<Arc<AtomicBool>>) -> impl IntoResponse {
    if ready.load(Ordering::SeqCst) {
        (StatusCode::OK, Json(serde_json::json!({"status": "ready"})))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "not ready"})))
    }
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": format!("no route for {}", uri.path())})))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
