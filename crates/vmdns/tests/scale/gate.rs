//! A pass-through in front of the test PowerDNS that lets one write in at a time.
//!
//! The test server keeps its zones in SQLite (`gsqlite3`), which fails concurrent API writes with HTTP
//! 500 "database is locked" (PowerDNS 4.7 takes no turns there). Production servers use a backend that
//! does (MySQL, PostgreSQL, LMDB); the gate gives the test server the same behaviour, so twenty-four jobs
//! at once test vmdns, not that backend. Reads pass straight through; nothing is changed on the way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Mutex;

#[derive(Debug)]
struct Upstream {
    url: String,
    client: reqwest::Client,
    /// Held while a write is in PowerDNS: how many so far, and how long PowerDNS was busy with them.
    writes: Mutex<(u64, Duration)>,
}

/// The running gate; stops when dropped.
#[derive(Debug)]
pub(crate) struct WriteGate {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    upstream: Arc<Upstream>,
}

impl WriteGate {
    /// Listens on a free loopback port and forwards to `upstream` (`http://127.0.0.1:PORT`).
    pub(crate) async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the gate");
        let addr = listener.local_addr().expect("gate address");
        let state = Arc::new(Upstream {
            url: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            writes: Mutex::new((0, Duration::ZERO)),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            task,
            upstream: state,
        }
    }

    /// Writes forwarded so far, and the time PowerDNS spent on them.
    pub(crate) async fn writes(&self) -> (u64, Duration) {
        *self.upstream.writes.lock().await
    }

    /// What a zone's `server_url` setting takes.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for WriteGate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(up): State<Arc<Upstream>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return (StatusCode::BAD_REQUEST, "body too large").into_response();
    };
    let mut turn = if parts.method == Method::GET {
        None
    } else {
        Some(up.writes.lock().await)
    };
    let started = std::time::Instant::now();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = up
        .client
        .request(parts.method.clone(), format!("{}{path}", up.url))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    if let Some(turn) = turn.as_mut() {
        turn.0 += 1;
        turn.1 += started.elapsed();
    }
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}
