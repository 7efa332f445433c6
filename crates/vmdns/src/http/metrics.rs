//! `/metrics` in the Prometheus text format: jobs by kind and state, queue depth, provider requests,
//! errors and latency by provider. Readable from the same allow-list as the legacy endpoint.

use std::fmt::Write;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use vmdns_providers::{ProviderKind, ProviderStats};

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
    let header = |out: &mut String, name: &str, help: &str, kind: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    header(&mut out, "vmdns_jobs", "Jobs by kind and state.", "gauge");
    for (kind, state, n) in app.store.job_counts().await? {
        let _ = writeln!(out, "vmdns_jobs{{kind=\"{kind}\",state=\"{state}\"}} {n}");
    }
    header(
        &mut out,
        "vmdns_queue_depth",
        "Jobs queued or running.",
        "gauge",
    );
    let _ = writeln!(out, "vmdns_queue_depth {}", app.store.queue_depth().await?);
    header(
        &mut out,
        "vmdns_jobs_due",
        "Jobs a worker could take now (due, or with an expired lease).",
        "gauge",
    );
    let _ = writeln!(out, "vmdns_jobs_due {}", app.store.due_jobs().await?);
    type Stat = fn(&ProviderStats) -> f64;
    let provider_metrics: [(&str, &str, Stat); 3] = [
        (
            "vmdns_provider_requests_total",
            "HTTP requests sent to providers by this process.",
            |s| s.requests() as f64,
        ),
        (
            "vmdns_provider_errors_total",
            "Provider requests that failed (transport, 429, 5xx).",
            |s| s.errors() as f64,
        ),
        (
            "vmdns_provider_latency_seconds_total",
            "Time spent waiting for providers.",
            |s| s.latency_seconds(),
        ),
    ];
    for (name, help, stat) in provider_metrics {
        header(&mut out, name, help, "counter");
        for provider in ProviderKind::ALL {
            let _ = writeln!(
                out,
                "{name}{{provider=\"{provider}\"}} {}",
                stat(&app.providers.stats(provider))
            );
        }
    }
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
