//! `/metrics` in the Prometheus text format: jobs by kind and state, queue depth, provider requests,
//! errors and latency by provider. Readable from the same allow-list as the legacy endpoint.

use std::fmt::Write;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use vmdns_providers::ProviderKind;

use super::error::{ApiError, ApiResult};
use crate::app::App;

pub async fn metrics(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if !super::legacy::allowed(&app, peer, &headers) {
        return Ok(ApiError::new(
            StatusCode::FORBIDDEN,
            "your address is not allowed to read metrics",
        )
        .into_response());
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP vmdns_jobs Jobs by kind and state.\n# TYPE vmdns_jobs gauge"
    );
    for (kind, state, n) in app.store.job_counts().await? {
        let _ = writeln!(out, "vmdns_jobs{{kind=\"{kind}\",state=\"{state}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP vmdns_queue_depth Jobs queued or running.\n# TYPE vmdns_queue_depth gauge"
    );
    let _ = writeln!(out, "vmdns_queue_depth {}", app.store.queue_depth().await?);
    let _ = writeln!(
        out,
        "# HELP vmdns_provider_requests_total HTTP requests sent to providers by this process.\n# TYPE vmdns_provider_requests_total counter"
    );
    for kind in ProviderKind::ALL {
        let _ = writeln!(
            out,
            "vmdns_provider_requests_total{{provider=\"{kind}\"}} {}",
            app.providers.stats(kind).requests()
        );
    }
    let _ = writeln!(
        out,
        "# HELP vmdns_provider_errors_total Provider requests that failed (transport, 429, 5xx).\n# TYPE vmdns_provider_errors_total counter"
    );
    for kind in ProviderKind::ALL {
        let _ = writeln!(
            out,
            "vmdns_provider_errors_total{{provider=\"{kind}\"}} {}",
            app.providers.stats(kind).errors()
        );
    }
    let _ = writeln!(
        out,
        "# HELP vmdns_provider_latency_seconds_total Time spent waiting for providers.\n# TYPE vmdns_provider_latency_seconds_total counter"
    );
    for kind in ProviderKind::ALL {
        let _ = writeln!(
            out,
            "vmdns_provider_latency_seconds_total{{provider=\"{kind}\"}} {:.6}",
            app.providers.stats(kind).latency_seconds()
        );
    }
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
