//! The HTTP server: the JSON API under `/api/v1` (bearer tokens), the legacy `dns.php` endpoint and
//! `/metrics` (client allow-list), and the web UI.
//!
//! [`run`] takes a bound listener and a shutdown future, so tests start it on port 0 and stop it.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::app::App;

pub mod api;
pub mod auth;
pub mod error;
pub mod events;
pub mod legacy;
pub mod metrics;
pub mod openapi;
pub mod ui;

/// Largest request body accepted (413 above).
pub const MAX_BODY: usize = 256 * 1024;

/// Every route of the server.
pub fn router(app: App) -> Router {
    let api = api::routes().route_layer(axum::middleware::from_fn_with_state(
        app.clone(),
        auth::require_token,
    ));
    Router::new()
        .nest("/api/v1", api)
        .route("/dns.php", get(legacy::dns_php))
        .route(
            "/modules/servers/puqProxmoxKVM/lib/dns/dns.php",
            get(legacy::dns_php),
        )
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(|| async { "ok" }))
        .merge(ui::routes())
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn run(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
