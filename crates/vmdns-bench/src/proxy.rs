//! A counting HTTP proxy on 127.0.0.1 in front of PowerDNS: every contender talks to PowerDNS through it,
//! so requests are counted at the server's side of the wire, the same way for vmdns, the floor, the naive
//! client and octoDNS (and each pays the same small relay cost).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request that went through.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) body_bytes: usize,
    /// When the request arrived, and when its answer was ready (`None`: failed or still running).
    pub(crate) at: Instant,
    pub(crate) done: Option<Instant>,
}

impl Logged {
    pub(crate) fn is_write(&self) -> bool {
        self.method != Method::GET && self.method != Method::HEAD
    }

    /// The zone a `/api/v1/servers/{id}/zones/{zone}` request is about (`bench.example.`).
    pub(crate) fn zone(&self) -> Option<&str> {
        let rest = self.path.split("/zones/").nth(1)?;
        Some(rest.split('/').next().unwrap_or(rest))
    }
}

/// Requests counted over a span of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) total: usize,
    pub(crate) reads: usize,
    pub(crate) writes: usize,
    /// Request body bytes sent.
    pub(crate) bytes: usize,
}

impl Counts {
    pub(crate) fn of(log: &[Logged]) -> Self {
        let mut c = Self::default();
        for l in log {
            c.total += 1;
            if l.is_write() {
                c.writes += 1;
            } else {
                c.reads += 1;
            }
            c.bytes += l.body_bytes;
        }
        c
    }
}

#[derive(Debug)]
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    log: Mutex<Vec<Logged>>,
}

impl ProxyState {
    fn log(&self) -> MutexGuard<'_, Vec<Logged>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running proxy; stops when dropped.
#[derive(Debug)]
pub(crate) struct Proxy {
    url: String,
    port: u16,
    state: Arc<ProxyState>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on `127.0.0.1:0` and relays every request to `upstream` (`http://127.0.0.1:PORT`).
    pub(crate) async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(600))
                .build()?,
            log: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(relay).with_state(state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("vmdns-bench: counting proxy stopped: {e}");
            }
        });
        Ok(Self {
            url: format!("http://{addr}"),
            port: addr.port(),
            state,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, for the `server_url` setting.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// A position in the request log, for [`Self::since`].
    pub(crate) fn mark(&self) -> usize {
        self.state.log().len()
    }

    /// The requests after `mark`.
    pub(crate) fn since(&self, mark: usize) -> Vec<Logged> {
        self.state
            .log()
            .get(mark..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }
}

async fn relay(State(state): State<Arc<ProxyState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
    };
    let index = {
        let mut log = state.log();
        log.push(Logged {
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
            body_bytes: body.len(),
            at: Instant::now(),
            done: None,
        });
        log.len() - 1
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut out = state
        .client
        .request(parts.method, format!("{}{path}", state.upstream));
    for (name, value) in &parts.headers {
        if !matches!(
            *name,
            header::HOST | header::CONTENT_LENGTH | header::CONNECTION | header::TRANSFER_ENCODING
        ) {
            out = out.header(name, value);
        }
    }
    let answer = match out.body(body).send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
    };
    if let Some(entry) = state.log().get_mut(index) {
        entry.done = Some(Instant::now());
    }
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    if let Some(ct) = content_type {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp
}
