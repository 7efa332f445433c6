//! A stateful fake of the Cloudflare API v4, for tests: zones and API tokens, DNS records with Cloudflare's
//! validation and error codes, pagination, the batch endpoint as one transaction, a request budget that
//! answers 429, and fault injection (5xx, hangs, connection resets, 429, malformed bodies).
//!
//! It listens on `127.0.0.1:0`; put [`CloudflareFake::url`] into the `api_url` setting. Request and
//! response shapes follow the official OpenAPI schema (api-schemas, 2024-08) and answers seen from the real
//! API; error codes are Cloudflare's where they are known (7003, 9005, 9006, 9109, 10000, 1000, 81044,
//! 81053, 81054, 81057, 81058, 971). Codes marked "fake" in the source are the fake's own choice.
//!
//! ```no_run
//! # async fn demo() {
//! use vmdns_providers::testing::cloudflare_fake::CloudflareFake;
//! let fake = CloudflareFake::start().await;
//! let zone = fake.create_zone("example.com", "acc1");
//! // settings: api_url = fake.url(), zone_id = zone.id, account_id = zone.account_id, api_token = zone.token
//! # }
//! ```

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::{IncomingStream, Listener};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use vmdns_core::{DnsName, RecordType};

/// The default number of records per batch (Cloudflare Free plan).
pub const DEFAULT_BATCH_LIMIT: usize = 200;
/// The default and the largest `per_page` of record lists.
pub const DEFAULT_PER_PAGE: usize = 100;
pub const DEFAULT_MAX_PER_PAGE: usize = 5000;
/// How long a [`Fault::Hang`] waits before answering (longer than any client timeout).
pub const HANG: Duration = Duration::from_secs(3600);

/// A zone created with [`CloudflareFake::create_zone`], with a user token that may edit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeZone {
    pub id: String,
    pub name: String,
    pub account_id: String,
    /// A user-owned token scoped to this zone.
    pub token: String,
}

/// A DNS record as the fake stores it (names lower case without the trailing dot, addresses canonical).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRecord {
    pub id: String,
    pub name: String,
    pub rtype: String,
    pub content: String,
    pub ttl: u32,
    pub proxied: bool,
    pub comment: Option<String>,
    pub created_on: String,
    pub modified_on: String,
}

/// One request the fake received (faulted and rate-limited ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRequest {
    pub method: String,
    /// Path without the `/client/v4` prefix, e.g. `/zones/{id}/dns_records/batch`.
    pub path: String,
    pub query: Option<String>,
    /// The zone id when the path is under `/zones/{id}`.
    pub zone_id: Option<String>,
}

/// What the next request(s) get instead of a normal answer. See [`CloudflareFake::inject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This 5xx status with an HTML page, like Cloudflare's edge.
    ServerError(u16),
    /// No answer for [`HANG`] (the client's timeout fires first).
    Hang,
    /// The connection is reset (TCP RST) instead of answered.
    Reset,
    /// `429` with `retry-after: secs` and error 971.
    RateLimited { retry_after_secs: u64 },
    /// `200` with a truncated JSON body.
    Malformed,
}

/// The fake server. Stops when dropped.
#[derive(Debug)]
pub struct CloudflareFake {
    url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<FakeState>,
}

#[derive(Debug)]
struct FakeState {
    zones: Vec<Zone>,
    tokens: HashMap<String, Token>,
    faults: VecDeque<Fault>,
    log: Vec<FakeRequest>,
    batch_available: bool,
    batch_limit: usize,
    max_per_page: usize,
    rate: Option<Budget>,
    serial: u64,
}

#[derive(Debug, Clone)]
struct Zone {
    id: String,
    name: String,
    account_id: String,
    created_on: String,
    records: Vec<FakeRecord>,
}

#[derive(Debug, Clone)]
enum Owner {
    /// A user token that may edit these zones.
    User(BTreeSet<String>),
    /// An account-owned token: every zone of the account.
    Account(String),
}

#[derive(Debug, Clone)]
struct Token {
    id: String,
    owner: Owner,
}

#[derive(Debug)]
struct Budget {
    limit: u32,
    window: Duration,
    started: Instant,
    used: u32,
}

impl CloudflareFake {
    /// Starts the fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for the Cloudflare fake");
        let addr = tcp.local_addr().expect("local address of a bound listener");
        let shared = Arc::new(Shared {
            state: Mutex::new(FakeState {
                zones: Vec::new(),
                tokens: HashMap::new(),
                faults: VecDeque::new(),
                log: Vec::new(),
                batch_available: true,
                batch_limit: DEFAULT_BATCH_LIMIT,
                max_per_page: DEFAULT_MAX_PER_PAGE,
                rate: None,
                serial: 0,
            }),
        });
        let app = router(shared.clone());
        let listener = FaultListener { inner: tcp };
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<ConnHandle>(),
            )
            .await;
        });
        Self {
            url: format!("http://{addr}/client/v4"),
            shared,
            task,
        }
    }

    /// The API base URL, e.g. `http://127.0.0.1:PORT/client/v4` (the `api_url` setting).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Creates a zone (empty: Cloudflare lists no SOA/NS records) in `account_id`, and a user token for it.
    /// Several zones may share a name (in real life: in different accounts).
    pub fn create_zone(&self, name: &str, account_id: &str) -> FakeZone {
        let name = normalize_name(name);
        let mut st = self.lock();
        let id = st.new_id();
        let created_on = st.timestamp();
        st.zones.push(Zone {
            id: id.clone(),
            name: name.clone(),
            account_id: account_id.to_string(),
            created_on,
            records: Vec::new(),
        });
        let token = st.new_token(Owner::User(BTreeSet::from([id.clone()])));
        FakeZone {
            id,
            name,
            account_id: account_id.to_string(),
            token,
        }
    }

    /// A new user-owned token that may edit the given zones.
    pub fn user_token(&self, zone_ids: &[&str]) -> String {
        let zones = zone_ids.iter().map(|z| z.to_string()).collect();
        self.lock().new_token(Owner::User(zones))
    }

    /// A new account-owned token: valid for every zone of the account; `/user/tokens/verify` refuses it
    /// with code 1000, `/accounts/{account_id}/tokens/verify` accepts it.
    pub fn account_token(&self, account_id: &str) -> String {
        self.lock()
            .new_token(Owner::Account(account_id.to_string()))
    }

    /// Makes a token unknown (as if rolled or deleted).
    pub fn revoke_token(&self, token: &str) {
        self.lock().tokens.remove(token);
    }

    /// The id of the most recently created zone called `name`.
    pub fn zone_id(&self, name: &str) -> Option<String> {
        let name = normalize_name(name);
        self.lock()
            .zones
            .iter()
            .rev()
            .find(|z| z.name == name)
            .map(|z| z.id.clone())
    }

    /// Adds a record directly (validated and conflict-checked as a POST is). Returns its id, or
    /// `"CODE: message"` when Cloudflare would refuse it.
    pub fn insert_record(
        &self,
        zone_id: &str,
        name: &str,
        rtype: &str,
        content: &str,
        ttl: u32,
    ) -> Result<String, String> {
        let mut st = self.lock();
        let now = st.timestamp();
        let id = st.new_id();
        let zone = st
            .zones
            .iter_mut()
            .find(|z| z.id == zone_id)
            .ok_or_else(|| format!("no zone {zone_id}"))?;
        let input = json!({"name": name, "type": rtype, "content": content, "ttl": ttl});
        let rec =
            op_post(zone, &input, id, &now).map_err(|e| format!("{}: {}", e.code, e.message))?;
        Ok(rec.id)
    }

    /// Every record of a zone, in creation order.
    pub fn records(&self, zone_id: &str) -> Vec<FakeRecord> {
        self.lock()
            .zones
            .iter()
            .find(|z| z.id == zone_id)
            .map(|z| z.records.clone())
            .unwrap_or_default()
    }

    /// The contents at `name`/`rtype`, normalised as [`RecordType::normalize_content`] does.
    pub fn contents(&self, zone_id: &str, name: &str, rtype: RecordType) -> BTreeSet<String> {
        let name = normalize_name(name);
        self.records(zone_id)
            .into_iter()
            .filter(|r| r.name == name && r.rtype == rtype.as_str())
            .map(|r| rtype.normalize_content(&r.content))
            .collect()
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.lock().log.len()
    }

    /// Requests received so far under `/zones/{zone_id}`.
    pub fn requests_for_zone(&self, zone_id: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|r| r.zone_id.as_deref() == Some(zone_id))
            .count()
    }

    /// Every request received so far, in order.
    pub fn request_log(&self) -> Vec<FakeRequest> {
        self.lock().log.clone()
    }

    pub fn reset_requests(&self) {
        self.lock().log.clear();
    }

    /// When false, `POST /dns_records/batch` answers 404 "No route for that URI" (code 7000).
    pub fn set_batch_available(&self, available: bool) {
        self.lock().batch_available = available;
    }

    /// Records per batch request (deletes + patches + puts + posts); more is refused.
    pub fn set_batch_limit(&self, limit: usize) {
        self.lock().batch_limit = limit;
    }

    /// The largest `per_page` honoured; larger requests are clamped (to test pagination).
    pub fn set_max_per_page(&self, max: usize) {
        self.lock().max_per_page = max.max(1);
    }

    /// At most `requests` per `window` (counted from the first request of a window); past it every request
    /// gets 429 with `retry-after` (seconds to the end of the window) and code 971. `None` = unlimited.
    pub fn set_rate_limit(&self, budget: Option<(u32, Duration)>) {
        self.lock().rate = budget.map(|(limit, window)| Budget {
            limit,
            window,
            started: Instant::now(),
            used: 0,
        });
    }

    /// The next `times` requests get `fault` (queued after faults already pending).
    pub fn inject(&self, fault: Fault, times: usize) {
        let mut st = self.lock();
        st.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Faults not yet consumed.
    pub fn pending_faults(&self) -> usize {
        self.lock().faults.len()
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.shared.lock()
    }
}

impl Drop for CloudflareFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl FakeState {
    fn new_id(&mut self) -> String {
        format!("{:032x}", rand::random::<u128>())
    }

    fn new_token(&mut self, owner: Owner) -> String {
        let value = format!("cf{:038x}", rand::random::<u128>());
        let id = self.new_id();
        self.tokens.insert(value.clone(), Token { id, owner });
        value
    }

    /// Distinct, increasing timestamps (the fake has no wall clock of its own).
    fn timestamp(&mut self) -> String {
        self.serial += 1;
        let s = self.serial;
        format!(
            "2024-08-06T{:02}:{:02}:{:02}.{:06}Z",
            (s / 3600) % 24,
            (s / 60) % 60,
            s % 60,
            s % 1_000_000
        )
    }
}

// ---------------------------------------------------------------------------------------------------
// Connections: a listener whose connections can be reset from a handler.

/// Per-connection handle, available to handlers as `ConnectInfo`: setting `kill` resets the connection.
#[derive(Debug, Clone)]
struct ConnHandle {
    kill: Arc<AtomicBool>,
}

struct FaultListener {
    inner: TcpListener,
}

struct FaultStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl Listener for FaultListener {
    type Io = FaultStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) => {
                    let kill = Arc::new(AtomicBool::new(false));
                    return (
                        FaultStream {
                            inner: stream,
                            kill: kill.clone(),
                        },
                        ConnHandle { kill },
                    );
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()?;
        Ok(ConnHandle {
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Connected<IncomingStream<'_, FaultListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> Self {
        stream.remote_addr().clone()
    }
}

impl FaultStream {
    fn killed(&self) -> Option<io::Error> {
        if self.kill.load(Ordering::SeqCst) {
            // Closing with a zero linger sends RST instead of FIN.
            let _ = self.inner.set_zero_linger();
            Some(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset (fault injected)",
            ))
        } else {
            None
        }
    }
}

impl AsyncRead for FaultStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------------------
// Envelope and errors.

/// An error answer: `{"success":false,"errors":[{"code","message"}],"messages":[],"result":null}`.
#[derive(Debug, Clone)]
struct CfError {
    status: StatusCode,
    code: i64,
    message: String,
}

impl CfError {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(code: i64, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn invalid_body() -> Self {
        // Code chosen for the fake.
        Self::bad_request(9207, "Request body is invalid.")
    }

    fn no_record() -> Self {
        Self::new(StatusCode::NOT_FOUND, 81044, "Record does not exist.")
    }
}

impl IntoResponse for CfError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "errors": [{"code": self.code, "message": self.message}],
            "messages": [],
            "result": null,
        });
        (self.status, axum::Json(body)).into_response()
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"success": true, "errors": [], "messages": [], "result": result}))
        .into_response()
}

type Answer = Result<Response, CfError>;

// ---------------------------------------------------------------------------------------------------
// Routes.

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/user/tokens/verify", get(verify_user_token))
        .route(
            "/accounts/{account_id}/tokens/verify",
            get(verify_account_token),
        )
        .route("/zones/{zone_id}", get(get_zone))
        .route(
            "/zones/{zone_id}/dns_records",
            get(list_records).post(create_record),
        )
        .route("/zones/{zone_id}/dns_records/batch", post(batch))
        .route(
            "/zones/{zone_id}/dns_records/{record_id}",
            get(get_record)
                .put(put_record)
                .patch(patch_record)
                .delete(delete_record),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(no_route);
    Router::new()
        .nest("/client/v4", api)
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

async fn no_route() -> CfError {
    no_route_error()
}

fn no_route_error() -> CfError {
    CfError::new(StatusCode::NOT_FOUND, 7000, "No route for that URI")
}

/// Logs every request, then plays injected faults and the rate limit before the real handler.
async fn gate(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request,
    next: Next,
) -> Response {
    let (fault, limited) = {
        let mut st = shared.lock();
        let path = req
            .uri()
            .path()
            .strip_prefix("/client/v4")
            .unwrap_or(req.uri().path())
            .to_string();
        let zone_id = path
            .strip_prefix("/zones/")
            .map(|rest| rest.split('/').next().unwrap_or_default().to_string())
            .filter(|z| !z.is_empty());
        st.log.push(FakeRequest {
            method: req.method().to_string(),
            path,
            query: req.uri().query().map(str::to_string),
            zone_id,
        });
        let fault = st.faults.pop_front();
        let limited = match (&fault, st.rate.as_mut()) {
            (None, Some(b)) => {
                let now = Instant::now();
                if now.duration_since(b.started) >= b.window {
                    b.started = now;
                    b.used = 0;
                }
                b.used += 1;
                (b.used > b.limit).then(|| {
                    let left = b.window.saturating_sub(now.duration_since(b.started));
                    left.as_secs() + u64::from(left.subsec_nanos() > 0)
                })
            }
            _ => None,
        };
        (fault, limited)
    };
    match fault {
        Some(Fault::ServerError(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            let page = format!(
                "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center><hr><center>cloudflare</center></body></html>"
            );
            (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
        }
        Some(Fault::Hang) => {
            tokio::time::sleep(HANG).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Fault::Reset) => {
            conn.kill.store(true, Ordering::SeqCst);
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Some(Fault::RateLimited { retry_after_secs }) => too_many(retry_after_secs),
        Some(Fault::Malformed) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"success":true,"errors":[],"messages":[],"result":{"id":"#,
        )
            .into_response(),
        None => match limited {
            Some(secs) => too_many(secs),
            None => next.run(req).await,
        },
    }
}

fn too_many(retry_after_secs: u64) -> Response {
    let mut resp = CfError::new(
        StatusCode::TOO_MANY_REQUESTS,
        971,
        "Please wait and consider throttling your request speed",
    )
    .into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        h.insert(header::RETRY_AFTER, v);
    }
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
    resp
}

/// The bearer token of a request, or Cloudflare's answer to its absence.
fn bearer(headers: &HeaderMap) -> Result<String, CfError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(CfError::bad_request(
            9106,
            "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
        ));
    };
    let value = value.to_str().unwrap_or_default();
    match value.strip_prefix("Bearer ") {
        Some(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => Err(CfError::bad_request(6003, "Invalid request headers")),
    }
}

impl FakeState {
    /// Token valid, zone exists, token may use it: the zone's index.
    fn authorize(&self, headers: &HeaderMap, zone_id: &str) -> Result<usize, CfError> {
        let token = bearer(headers)?;
        let Some(token) = self.tokens.get(&token) else {
            return Err(CfError::new(
                StatusCode::FORBIDDEN,
                9109,
                "Invalid access token",
            ));
        };
        let Some(index) = self.zones.iter().position(|z| z.id == zone_id) else {
            return Err(CfError::new(
                StatusCode::NOT_FOUND,
                7003,
                format!(
                    "Could not route to /zones/{zone_id}, perhaps your object identifier is invalid?"
                ),
            ));
        };
        let allowed = match &token.owner {
            Owner::User(zones) => zones.contains(zone_id),
            Owner::Account(account) => self.zones[index].account_id == *account,
        };
        if !allowed {
            return Err(CfError::new(
                StatusCode::FORBIDDEN,
                10000,
                "Authentication error",
            ));
        }
        Ok(index)
    }
}

fn token_answer(token: &Token) -> Response {
    axum::Json(json!({
        "success": true,
        "errors": [],
        "messages": [{"code": 10000, "message": "This API Token is valid and active", "type": null}],
        "result": {"id": token.id, "status": "active"},
    }))
    .into_response()
}

fn invalid_token() -> CfError {
    CfError::new(StatusCode::UNAUTHORIZED, 1000, "Invalid API Token")
}

async fn verify_user_token(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Answer {
    let token = bearer(&headers)?;
    let st = shared.lock();
    match st.tokens.get(&token) {
        Some(t) if matches!(t.owner, Owner::User(_)) => Ok(token_answer(t)),
        _ => Err(invalid_token()),
    }
}

async fn verify_account_token(
    State(shared): State<Arc<Shared>>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let token = bearer(&headers)?;
    let st = shared.lock();
    match st.tokens.get(&token) {
        Some(t) if matches!(&t.owner, Owner::Account(a) if *a == account_id) => Ok(token_answer(t)),
        _ => Err(invalid_token()),
    }
}

async fn get_zone(
    State(shared): State<Arc<Shared>>,
    Path(zone_id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let st = shared.lock();
    let zone = &st.zones[st.authorize(&headers, &zone_id)?];
    Ok(ok(json!({
        "id": zone.id,
        "name": zone.name,
        "status": "active",
        "paused": false,
        "type": "full",
        "development_mode": 0,
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "original_name_servers": null,
        "original_registrar": null,
        "original_dnshost": null,
        "created_on": zone.created_on,
        "modified_on": zone.created_on,
        "activated_on": zone.created_on,
        "meta": {"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3, "phishing_detected": false},
        "owner": {"id": null, "type": "user", "email": null},
        "account": {"id": zone.account_id, "name": format!("{}'s Account", zone.account_id)},
        "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
        "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "legacy_id": "free"},
    })))
}

fn record_json(zone: &Zone, r: &FakeRecord) -> Value {
    json!({
        "id": r.id,
        "zone_id": zone.id,
        "zone_name": zone.name,
        "name": r.name,
        "type": r.rtype,
        "content": r.content,
        "proxiable": matches!(r.rtype.as_str(), "A" | "AAAA" | "CNAME"),
        "proxied": r.proxied,
        "ttl": r.ttl,
        "locked": false,
        "meta": {"auto_added": false, "managed_by_apps": false, "managed_by_argo_tunnel": false, "source": "primary"},
        "comment": r.comment,
        "tags": [],
        "created_on": r.created_on,
        "modified_on": r.modified_on,
    })
}

async fn list_records(
    State(shared): State<Arc<Shared>>,
    Path(zone_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Answer {
    let st = shared.lock();
    let zone = &st.zones[st.authorize(&headers, &zone_id)?];
    let number =
        |key: &str, default: usize| -> Result<usize, CfError> {
            match q.get(key) {
                None => Ok(default),
                // Code chosen for the fake.
                Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    CfError::bad_request(1004, format!("Invalid '{key}' parameter"))
                }),
            }
        };
    let page = number("page", 1)?;
    let per_page = number("per_page", DEFAULT_PER_PAGE)?.min(st.max_per_page);
    let name = q
        .get("name")
        .or_else(|| q.get("name.exact"))
        .map(|n| normalize_name(n));
    let rtype = q.get("type").map(|t| t.to_ascii_uppercase());
    let content = q.get("content").map(|c| c.trim().to_ascii_lowercase());
    let mut matching: Vec<&FakeRecord> = zone
        .records
        .iter()
        .filter(|r| name.as_ref().is_none_or(|n| &r.name == n))
        .filter(|r| rtype.as_ref().is_none_or(|t| &r.rtype == t))
        .filter(|r| {
            content
                .as_ref()
                .is_none_or(|c| r.content.to_ascii_lowercase() == *c)
        })
        .collect();
    // Cloudflare's default order is by type.
    matching.sort_by(|a, b| a.rtype.cmp(&b.rtype));
    let total = matching.len();
    let result: Vec<Value> = matching
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|r| record_json(zone, r))
        .collect();
    Ok(axum::Json(json!({
        "success": true,
        "errors": [],
        "messages": [],
        "result": result,
        "result_info": {
            "page": page,
            "per_page": per_page,
            "count": result.len(),
            "total_count": total,
            "total_pages": total.div_ceil(per_page),
        },
    }))
    .into_response())
}

fn parse_body(body: &Bytes) -> Result<Value, CfError> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(CfError::invalid_body)
}

async fn create_record(
    State(shared): State<Arc<Shared>>,
    Path(zone_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let mut st = shared.lock();
    let index = st.authorize(&headers, &zone_id)?;
    let input = parse_body(&body)?;
    let id = st.new_id();
    let now = st.timestamp();
    let zone = &mut st.zones[index];
    let rec = op_post(zone, &input, id, &now)?;
    Ok(ok(record_json(zone, &rec)))
}

async fn get_record(
    State(shared): State<Arc<Shared>>,
    Path((zone_id, record_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let st = shared.lock();
    let zone = &st.zones[st.authorize(&headers, &zone_id)?];
    let rec = zone
        .records
        .iter()
        .find(|r| r.id == record_id)
        .ok_or_else(CfError::no_record)?;
    Ok(ok(record_json(zone, rec)))
}

async fn put_record(
    State(shared): State<Arc<Shared>>,
    Path((zone_id, record_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    update_record(&shared, &zone_id, &record_id, &headers, &body, false)
}

async fn patch_record(
    State(shared): State<Arc<Shared>>,
    Path((zone_id, record_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    update_record(&shared, &zone_id, &record_id, &headers, &body, true)
}

fn update_record(
    shared: &Shared,
    zone_id: &str,
    record_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
    partial: bool,
) -> Answer {
    let mut st = shared.lock();
    let index = st.authorize(headers, zone_id)?;
    let input = parse_body(body)?;
    let now = st.timestamp();
    let zone = &mut st.zones[index];
    let rec = op_update(zone, record_id, &input, partial, &now)?;
    Ok(ok(record_json(zone, &rec)))
}

async fn delete_record(
    State(shared): State<Arc<Shared>>,
    Path((zone_id, record_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let mut st = shared.lock();
    let index = st.authorize(&headers, &zone_id)?;
    let zone = &mut st.zones[index];
    let rec = op_delete(zone, &record_id)?;
    Ok(ok(json!({"id": rec.id})))
}

/// `POST /dns_records/batch`: deletes → patches → puts → posts on a copy of the zone, which replaces
/// the zone only when every operation worked. The first error is the answer.
async fn batch(
    State(shared): State<Arc<Shared>>,
    Path(zone_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let mut st = shared.lock();
    if !st.batch_available {
        return Err(no_route_error());
    }
    let index = st.authorize(&headers, &zone_id)?;
    let input = parse_body(&body)?;
    let list = |key: &str| -> Result<Vec<Value>, CfError> {
        match input.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(_) => Err(CfError::invalid_body()),
        }
    };
    let (deletes, patches, puts, posts) = (
        list("deletes")?,
        list("patches")?,
        list("puts")?,
        list("posts")?,
    );
    let total = deletes.len() + patches.len() + puts.len() + posts.len();
    if total > st.batch_limit {
        // Code chosen for the fake.
        return Err(CfError::bad_request(
            81062,
            format!(
                "Batch request exceeds the maximum of {} record operations.",
                st.batch_limit
            ),
        ));
    }
    let now = st.timestamp();
    let new_ids: Vec<String> = (0..posts.len()).map(|_| st.new_id()).collect();
    let mut work = st.zones[index].clone();
    let id_of = |v: &Value| -> Result<String, CfError> {
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(CfError::invalid_body)
    };
    let mut done = json!({"deletes": [], "patches": [], "puts": [], "posts": []});
    let mut push = |key: &str, zone: &Zone, r: &FakeRecord| {
        if let Some(Value::Array(a)) = done.get_mut(key) {
            a.push(record_json(zone, r));
        }
    };
    for d in &deletes {
        let r = op_delete(&mut work, &id_of(d)?)?;
        push("deletes", &work, &r);
    }
    for p in &patches {
        let r = op_update(&mut work, &id_of(p)?, p, true, &now)?;
        push("patches", &work, &r);
    }
    for p in &puts {
        let r = op_update(&mut work, &id_of(p)?, p, false, &now)?;
        push("puts", &work, &r);
    }
    for (p, id) in posts.iter().zip(new_ids) {
        if !p.is_object() {
            return Err(CfError::invalid_body());
        }
        let r = op_post(&mut work, p, id, &now)?;
        push("posts", &work, &r);
    }
    st.zones[index] = work;
    Ok(ok(done))
}

// ---------------------------------------------------------------------------------------------------
// Record operations and validation.

fn op_post(zone: &mut Zone, input: &Value, id: String, now: &str) -> Result<FakeRecord, CfError> {
    let mut rec = build_record(zone, input, None)?;
    check_conflicts(&zone.records, &rec, None)?;
    rec.id = id;
    rec.created_on = now.to_string();
    rec.modified_on = now.to_string();
    zone.records.push(rec.clone());
    Ok(rec)
}

fn op_update(
    zone: &mut Zone,
    id: &str,
    input: &Value,
    partial: bool,
    now: &str,
) -> Result<FakeRecord, CfError> {
    let pos = zone
        .records
        .iter()
        .position(|r| r.id == id)
        .ok_or_else(CfError::no_record)?;
    let old = zone.records[pos].clone();
    let mut rec = build_record(zone, input, partial.then_some(&old))?;
    check_conflicts(&zone.records, &rec, Some(id))?;
    rec.id = old.id;
    rec.created_on = old.created_on;
    rec.modified_on = now.to_string();
    zone.records[pos] = rec.clone();
    Ok(rec)
}

fn op_delete(zone: &mut Zone, id: &str) -> Result<FakeRecord, CfError> {
    let pos = zone
        .records
        .iter()
        .position(|r| r.id == id)
        .ok_or_else(CfError::no_record)?;
    Ok(zone.records.remove(pos))
}

/// Reads a record from a request body; with `base` (PATCH), missing fields keep their values.
fn build_record(
    zone: &Zone,
    input: &Value,
    base: Option<&FakeRecord>,
) -> Result<FakeRecord, CfError> {
    if !input.is_object() {
        return Err(CfError::invalid_body());
    }
    let text = |key: &str| -> Result<Option<String>, CfError> {
        match input.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(CfError::invalid_body()),
        }
    };
    // Codes 9000/9004 are chosen for the fake.
    let rtype = match (text("type")?, base) {
        (Some(t), _) => t.to_ascii_uppercase(),
        (None, Some(b)) => b.rtype.clone(),
        (None, None) => return Err(CfError::bad_request(9004, "DNS record type is invalid.")),
    };
    if !matches!(
        rtype.as_str(),
        "A" | "AAAA" | "CNAME" | "PTR" | "TXT" | "MX" | "NS"
    ) {
        return Err(CfError::bad_request(9004, "DNS record type is invalid."));
    }
    let name = match (text("name")?, base) {
        (Some(n), _) => full_name(&n, &zone.name)
            .ok_or_else(|| CfError::bad_request(9000, "DNS name is invalid."))?,
        (None, Some(b)) => b.name.clone(),
        (None, None) => return Err(CfError::bad_request(9000, "DNS name is invalid.")),
    };
    let raw_content = match (text("content")?, base) {
        (Some(c), _) => c,
        (None, Some(b)) => b.content.clone(),
        (None, None) => String::new(),
    };
    let content = valid_content(&rtype, &raw_content)?;
    let ttl = match input.get("ttl") {
        None | Some(Value::Null) => base.map_or(1, |b| b.ttl),
        Some(v) => v
            .as_u64()
            .and_then(|t| u32::try_from(t).ok())
            .filter(|t| *t == 1 || (30..=86400).contains(t))
            .ok_or_else(|| {
                CfError::bad_request(
                    9021,
                    "Invalid TTL. Must be between 30 and 86400 seconds, or 1 for Automatic.",
                )
            })?,
    };
    let proxied = match input.get("proxied") {
        None | Some(Value::Null) => base.is_some_and(|b| b.proxied),
        Some(Value::Bool(p)) => *p,
        Some(_) => return Err(CfError::invalid_body()),
    };
    if proxied && !matches!(rtype.as_str(), "A" | "AAAA" | "CNAME") {
        return Err(CfError::bad_request(
            9004,
            "This record type cannot be proxied.",
        ));
    }
    let comment = match text("comment")? {
        Some(c) => Some(c),
        None => base.and_then(|b| b.comment.clone()),
    };
    Ok(FakeRecord {
        id: String::new(),
        name,
        rtype,
        content,
        ttl,
        proxied,
        comment,
        created_on: String::new(),
        modified_on: String::new(),
    })
}

/// Cloudflare's reading of a record name: `@` is the apex, a name not ending in the zone gets the zone
/// appended (`www` → `www.example.com`, `vm.example.org` → `vm.example.org.example.com`).
fn full_name(name: &str, zone: &str) -> Option<String> {
    let n = normalize_name(name);
    let full = if n == "@" || n == zone {
        zone.to_string()
    } else if n.ends_with(&format!(".{zone}")) {
        n
    } else {
        format!("{n}.{zone}")
    };
    DnsName::parse(&full).ok().map(|d| d.as_str().to_string())
}

fn valid_content(rtype: &str, content: &str) -> Result<String, CfError> {
    let c = content.trim();
    let invalid = |code: i64, message: &str| Err(CfError::bad_request(code, message));
    match rtype {
        "A" => match c.parse::<Ipv4Addr>() {
            Ok(ip) => Ok(ip.to_string()),
            Err(_) => invalid(9005, "Content for A record must be a valid IPv4 address."),
        },
        "AAAA" => match c.parse::<Ipv6Addr>() {
            Ok(ip) => Ok(ip.to_string()),
            Err(_) => invalid(
                9006,
                "Content for AAAA record must be a valid IPv6 address.",
            ),
        },
        "CNAME" | "PTR" | "NS" | "MX" => {
            let is_ip = c.parse::<std::net::IpAddr>().is_ok();
            match DnsName::parse(c) {
                Ok(n) if !is_ip => Ok(n.as_str().to_string()),
                _ => invalid(9007, &format!("Content for {rtype} record is invalid.")),
            }
        }
        _ if c.is_empty() => invalid(9007, &format!("Content for {rtype} record is invalid.")),
        _ => Ok(c.to_string()),
    }
}

/// Duplicates (81057/81058) and CNAME exclusivity (81053/81054), against every record but `ignore`.
fn check_conflicts(
    records: &[FakeRecord],
    new: &FakeRecord,
    ignore: Option<&str>,
) -> Result<(), CfError> {
    let same_name = records
        .iter()
        .filter(|r| Some(r.id.as_str()) != ignore && r.name == new.name);
    for r in same_name {
        if r.rtype == new.rtype && r.content.eq_ignore_ascii_case(&new.content) {
            return Err(if r.ttl == new.ttl && r.proxied == new.proxied {
                CfError::bad_request(81058, "An identical record already exists.")
            } else {
                CfError::bad_request(81057, "Record already exists.")
            });
        }
        if new.rtype == "CNAME" {
            return Err(CfError::bad_request(
                81053,
                "An A, AAAA, or CNAME record with that host already exists.",
            ));
        }
        if r.rtype == "CNAME" {
            return Err(CfError::bad_request(
                81054,
                "A CNAME record with that host already exists.",
            ));
        }
    }
    Ok(())
}

fn normalize_name(name: &str) -> String {
    let n = name.trim();
    n.strip_suffix('.').unwrap_or(n).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> Zone {
        Zone {
            id: "z".into(),
            name: name.into(),
            account_id: "a".into(),
            created_on: String::new(),
            records: Vec::new(),
        }
    }

    #[test]
    fn names_are_read_as_cloudflare_does() {
        let cases = [
            ("@", Some("example.com")),
            ("www", Some("www.example.com")),
            ("WWW.Example.com.", Some("www.example.com")),
            ("vm.example.org", Some("vm.example.org.example.com")),
            ("bad name", None),
        ];
        for (input, want) in cases {
            assert_eq!(full_name(input, "example.com").as_deref(), want, "{input}");
        }
    }

    #[test]
    fn contents_are_validated() {
        let cases = [
            ("A", "192.0.2.1", Ok("192.0.2.1".to_string())),
            ("A", "192.0.2.999", Err(9005)),
            ("AAAA", "2001:DB8::0001", Ok("2001:db8::1".to_string())),
            ("AAAA", "192.0.2.1", Err(9006)),
            ("PTR", "VM.example.com.", Ok("vm.example.com".to_string())),
            ("PTR", "not a name", Err(9007)),
            ("CNAME", "192.0.2.1", Err(9007)),
        ];
        for (t, c, want) in cases {
            assert_eq!(valid_content(t, c).map_err(|e| e.code), want, "{t} {c}");
        }
    }

    #[test]
    fn conflicts() {
        let mut z = zone("example.com");
        let now = "t";
        op_post(
            &mut z,
            &json!({"type":"A","name":"vm","content":"192.0.2.1","ttl":300}),
            "1".into(),
            now,
        )
        .expect("first");
        let code = |r: Result<FakeRecord, CfError>| r.map(|_| ()).map_err(|e| e.code);
        assert_eq!(
            code(op_post(
                &mut z,
                &json!({"type":"A","name":"vm","content":"192.0.2.1","ttl":300}),
                "2".into(),
                now
            )),
            Err(81058)
        );
        assert_eq!(
            code(op_post(
                &mut z,
                &json!({"type":"A","name":"vm","content":"192.0.2.1","ttl":60}),
                "2".into(),
                now
            )),
            Err(81057)
        );
        assert_eq!(
            code(op_post(
                &mut z,
                &json!({"type":"CNAME","name":"vm","content":"x.example.com"}),
                "2".into(),
                now
            )),
            Err(81053)
        );
        op_post(
            &mut z,
            &json!({"type":"CNAME","name":"www","content":"vm.example.com"}),
            "3".into(),
            now,
        )
        .expect("cname");
        assert_eq!(
            code(op_post(
                &mut z,
                &json!({"type":"AAAA","name":"www","content":"2001:db8::1"}),
                "4".into(),
                now
            )),
            Err(81054)
        );
        assert_eq!(code(op_delete(&mut z, "nope")), Err(81044));
        // PATCH keeps what it does not name.
        let r = op_update(&mut z, "1", &json!({"ttl": 120}), true, now).expect("patch");
        assert_eq!((r.content.as_str(), r.ttl), ("192.0.2.1", 120));
    }
}
