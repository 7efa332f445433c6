//! A stateful fake of the HestiaCP API (`web/api/index.php` and the `v-*` DNS commands behind it) on
//! 127.0.0.1, for tests: both login dialects, the API allow-list, Hestia's habits (no duplicate check on
//! add, trailing dots appended to names, refusal to delete the last A/NS record), counters, direct access to
//! the state, and fault injection (5xx, hangs, dropped connections, garbage, a command failing or dying
//! half way through an apply).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use vmdns_providers::testing::hestia_fake::HestiaFake;
//! let fake = HestiaFake::start().await?;
//! fake.add_domain("alice", "example.com").expect("valid domain");
//! let settings = fake.access_key_settings("alice"); // server_url, user, access_key, secret_key
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use crate::settings::Settings;

/// The admin login of the legacy API (`user` + `password`).
pub const ADMIN_USER: &str = "admin";
/// The admin password the fake accepts.
pub const ADMIN_PASSWORD: &str = "fake-Hestia-admin-pw-7Qx";
/// The access key id the fake accepts (20 characters, like Hestia's).
pub const ACCESS_KEY: &str = "FAKEHESTIAACCESSKEY1";
/// The secret belonging to [`ACCESS_KEY`] (40 characters).
pub const SECRET_KEY: &str = "fakeHestiaSecretKey000000000000000000040";
/// The address of the apex A record that [`HestiaFake::add_domain`]'s template creates.
pub const TEMPLATE_IP: &str = "198.51.100.1";
/// TTL of records added without one, and of the template's records.
pub const DEFAULT_TTL: u32 = 14400;

const E_ARGS: u16 = 1;
const E_INVALID: u16 = 2;
const E_NOTEXIST: u16 = 3;
const E_EXISTS: u16 = 4;
const E_PASSWORD: u16 = 9;
const E_FORBIDEN: u16 = 10;

/// One record of a domain, as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRecord {
    pub id: u32,
    /// Relative to the domain, `@` = apex, as given to `v-add-dns-record`.
    pub record: String,
    /// `A`, `AAAA`, `NS`, ... (upper case).
    pub rtype: String,
    /// As stored: names (NS, CNAME, PTR, MX, SRV) end with a dot.
    pub value: String,
    pub priority: String,
    pub ttl: u32,
    pub suspended: bool,
}

/// One command that got past authentication, with its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCall {
    pub cmd: String,
    /// `arg1..argN`, trimmed as Hestia's PHP does.
    pub args: Vec<String>,
    pub code: u16,
}

/// Something going wrong on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `502 Bad Gateway` (php-fpm down); nothing runs.
    ServerError,
    /// No answer for an hour: the client's timeout fires. Nothing runs.
    Hang,
    /// The connection is closed without an answer; nothing runs.
    Reset,
    /// HTTP 200 with a body that is neither JSON nor an exit code; nothing runs.
    Malformed,
    /// The command runs, then the connection is closed before the answer: the write happened and the
    /// client cannot know.
    RunThenReset,
    /// The command fails with this exit code and `message` as its output (write it as `Error: ...`),
    /// without running.
    Exit { code: u16, message: String },
}

#[derive(Debug, Default)]
struct Domain {
    ttl: u32,
    serial: u64,
    records: BTreeMap<u32, FakeRecord>,
}

/// Faults for the next requests: `skip` pass, then `count` get `fault`.
#[derive(Debug)]
struct Scheduled {
    skip: usize,
    count: usize,
    fault: Fault,
}

/// A fault for one command: after `skip` calls of `cmd` pass, the next one gets `fault`.
#[derive(Debug)]
struct OnCommand {
    cmd: String,
    skip: usize,
    fault: Fault,
}

#[derive(Debug, Default)]
struct FakeState {
    /// user → domain → records.
    users: BTreeMap<String, BTreeMap<String, Domain>>,
    allowed_ips: Option<Vec<IpAddr>>,
    requests: u64,
    restarts: u64,
    calls: Vec<FakeCall>,
    scheduled: Option<Scheduled>,
    on_command: Vec<OnCommand>,
}

impl FakeState {
    fn take_scheduled(&mut self) -> Option<Fault> {
        let s = self.scheduled.as_mut()?;
        if s.skip > 0 {
            s.skip -= 1;
            return None;
        }
        let fault = s.fault.clone();
        s.count = s.count.saturating_sub(1);
        if s.count == 0 {
            self.scheduled = None;
        }
        Some(fault)
    }

    fn take_on_command(&mut self, cmd: &str) -> Option<Fault> {
        let i = self.on_command.iter().position(|f| f.cmd == cmd)?;
        if self.on_command[i].skip > 0 {
            self.on_command[i].skip -= 1;
            return None;
        }
        Some(self.on_command.remove(i).fault)
    }
}

type Shared = Arc<Mutex<FakeState>>;

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fake HestiaCP server. Stops when dropped.
#[derive(Debug)]
pub struct HestiaFake {
    state: Shared,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for HestiaFake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl HestiaFake {
    /// Starts the fake on 127.0.0.1 on a free port. No users or domains yet; every address may use the API.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/api/", post(api))
            .fallback(not_found)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            {
                tracing::warn!(error = %e, "fake HestiaCP server stopped");
            }
        });
        Ok(Self {
            state,
            addr,
            server,
        })
    }

    /// The panel URL for the `server_url` setting: `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Settings for the legacy login ([`ADMIN_USER`] / [`ADMIN_PASSWORD`]) acting for `user`.
    pub fn legacy_settings(&self, user: &str) -> Settings {
        [
            ("server_url", self.url()),
            ("admin_user", ADMIN_USER.to_string()),
            ("admin_password", ADMIN_PASSWORD.to_string()),
            ("user", user.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Settings for the access-key login ([`ACCESS_KEY`] / [`SECRET_KEY`]) acting for `user`.
    pub fn access_key_settings(&self, user: &str) -> Settings {
        [
            ("server_url", self.url()),
            ("access_key", ACCESS_KEY.to_string()),
            ("secret_key", SECRET_KEY.to_string()),
            ("user", user.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Creates DNS domain `domain` for `user` (the user too, if new) from Hestia's default template as far
    /// as vmdns cares: `NS ns1.DOMAIN.`, `NS ns2.DOMAIN.` and `A @ TEMPLATE_IP`. Reverse zones such as
    /// `130.168.192.in-addr.arpa` are fine; names with `/` (RFC 2317) are refused, as Hestia does.
    pub fn add_domain(&self, user: &str, domain: &str) -> Result<(), String> {
        let d = domain.trim().to_ascii_lowercase();
        self.create_domain(
            user,
            &d,
            &[
                ("@", "NS", &format!("ns1.{d}.")),
                ("@", "NS", &format!("ns2.{d}.")),
                ("@", "A", TEMPLATE_IP),
            ],
        )
    }

    /// Creates DNS domain `domain` for `user` with one NS record and nothing else (no A record at all).
    pub fn add_bare_domain(&self, user: &str, domain: &str) -> Result<(), String> {
        let d = domain.trim().to_ascii_lowercase();
        self.create_domain(user, &d, &[("@", "NS", &format!("ns1.{d}."))])
    }

    fn create_domain(
        &self,
        user: &str,
        domain: &str,
        template: &[(&str, &str, &str)],
    ) -> Result<(), String> {
        if !valid_domain(domain) {
            return Err(format!("Error: invalid domain format :: {domain}"));
        }
        let mut st = lock(&self.state);
        let domains = st.users.entry(user.to_string()).or_default();
        if domains.contains_key(domain) {
            return Err(format!("Error: dns domain {domain} exists"));
        }
        let mut dom = Domain {
            ttl: DEFAULT_TTL,
            serial: 2026010101,
            records: BTreeMap::new(),
        };
        for (i, (record, rtype, value)) in template.iter().enumerate() {
            let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
            dom.records.insert(
                id,
                FakeRecord {
                    id,
                    record: (*record).to_string(),
                    rtype: (*rtype).to_string(),
                    value: (*value).to_string(),
                    priority: String::new(),
                    ttl: DEFAULT_TTL,
                    suspended: false,
                },
            );
        }
        domains.insert(domain.to_string(), dom);
        Ok(())
    }

    /// Removes a domain with all its records; false when there was none.
    pub fn remove_domain(&self, user: &str, domain: &str) -> bool {
        let mut st = lock(&self.state);
        st.users
            .get_mut(user)
            .is_some_and(|d| d.remove(&domain.to_ascii_lowercase()).is_some())
    }

    /// The domain's records by ID; empty when the domain does not exist.
    pub fn records(&self, user: &str, domain: &str) -> Vec<FakeRecord> {
        let st = lock(&self.state);
        st.users
            .get(user)
            .and_then(|d| d.get(&domain.to_ascii_lowercase()))
            .map(|d| d.records.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Inserts a record straight into the state, without any check (to set up duplicates, odd names,
    /// records left by a crashed apply). Returns its ID, or `None` when the domain does not exist.
    pub fn insert_record(
        &self,
        user: &str,
        domain: &str,
        record: &str,
        rtype: &str,
        value: &str,
        ttl: u32,
    ) -> Option<u32> {
        let mut st = lock(&self.state);
        let dom = st
            .users
            .get_mut(user)?
            .get_mut(&domain.to_ascii_lowercase())?;
        let id = dom.records.keys().next_back().map_or(1, |max| max + 1);
        dom.records.insert(
            id,
            FakeRecord {
                id,
                record: record.to_string(),
                rtype: rtype.to_string(),
                value: value.to_string(),
                priority: String::new(),
                ttl,
                suspended: false,
            },
        );
        Some(id)
    }

    /// Marks a record suspended (Hestia keeps it but does not serve it). False when there is no such record.
    pub fn suspend_record(&self, user: &str, domain: &str, id: u32) -> bool {
        let mut st = lock(&self.state);
        let rec = st
            .users
            .get_mut(user)
            .and_then(|d| d.get_mut(&domain.to_ascii_lowercase()))
            .and_then(|d| d.records.get_mut(&id));
        match rec {
            Some(r) => {
                r.suspended = true;
                true
            }
            None => false,
        }
    }

    /// HTTP requests received (faulted ones included).
    pub fn requests(&self) -> u64 {
        lock(&self.state).requests
    }

    /// DNS server restarts: `v-restart-dns` calls plus every write whose RESTART argument was not `no`.
    pub fn restarts(&self) -> u64 {
        lock(&self.state).restarts
    }

    /// Every command that got past authentication, in order, with its exit code.
    pub fn calls(&self) -> Vec<FakeCall> {
        lock(&self.state).calls.clone()
    }

    /// The next `count` requests get `fault` (replacing any schedule).
    pub fn inject(&self, fault: Fault, count: usize) {
        self.inject_after(0, fault, count);
    }

    /// `skip` requests pass, then `count` get `fault` (`usize::MAX`: until [`Self::clear_faults`]); this
    /// is how an apply "dies half way". Replaces any schedule.
    pub fn inject_after(&self, skip: usize, fault: Fault, count: usize) {
        let mut st = lock(&self.state);
        st.scheduled = (count > 0).then_some(Scheduled { skip, count, fault });
    }

    /// `skip` calls of command `cmd` pass, then the next one gets `fault` (once).
    pub fn inject_on(&self, cmd: &str, skip: usize, fault: Fault) {
        lock(&self.state).on_command.push(OnCommand {
            cmd: cmd.to_string(),
            skip,
            fault,
        });
    }

    /// Drops every scheduled fault.
    pub fn clear_faults(&self) {
        let mut st = lock(&self.state);
        st.scheduled = None;
        st.on_command.clear();
    }

    /// `API_ALLOWED_IP`: `None` = allow-all (the default); otherwise only these addresses may connect.
    pub fn set_allowed_ips(&self, ips: Option<Vec<IpAddr>>) {
        lock(&self.state).allowed_ips = ips;
    }
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && !d.starts_with('.')
        && !d.ends_with('.')
        && !d.contains("..")
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, "text/html")],
        "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center></body></html>",
    )
        .into_response()
}

/// Which of index.php's two paths a request takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `api_legacy`: `user` + `password` (or an old `hash`).
    Legacy,
    /// `api_connection`: `access_key` + `secret_key`, or `hash=ACCESS:SECRET`.
    Keys,
}

/// `exit_code_to_http_code` of index.php.
fn http_status(code: u16) -> StatusCode {
    let n = match code {
        0 => 200,
        E_ARGS => 400,
        E_INVALID => 422,
        E_PASSWORD | E_FORBIDEN => 401,
        c if (100..600).contains(&c) => c,
        _ => 400,
    };
    StatusCode::from_u16(n).unwrap_or(StatusCode::BAD_REQUEST)
}

/// `api_error` of index.php: status from the exit code, `Hestia-Exit-Code` header, and the exit code or the
/// message as the body.
fn api_error(code: u16, message: &str, returncode: bool) -> Response {
    let body = if returncode {
        code.to_string()
    } else {
        message.to_string()
    };
    let mut resp = (http_status(code), body).into_response();
    resp.headers_mut()
        .insert("Hestia-Exit-Code", HeaderValue::from(code));
    resp
}

/// Closes the connection without an answer: the handler's task unwinds (without the panic hook, so no
/// noise) and hyper drops the connection.
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("fake HestiaCP: connection dropped on purpose"))
}

/// A fault that acts before anything runs, or `None` for the ones that need the command.
async fn early_fault(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::ServerError => Some(
            (
                StatusCode::BAD_GATEWAY,
                [(CONTENT_TYPE, "text/html")],
                "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
            )
                .into_response(),
        ),
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Some(StatusCode::GATEWAY_TIMEOUT.into_response())
        }
        Fault::Reset => drop_connection(),
        Fault::Malformed => Some(
            (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json")],
                "{\"1\": {\"RECORD\": \"@\", \"TYPE\": <br />\n<b>Warning</b>",
            )
                .into_response(),
        ),
        Fault::RunThenReset | Fault::Exit { .. } => None,
    }
}

async fn api(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scheduled = {
        let mut st = lock(&state);
        st.requests += 1;
        st.take_scheduled()
    };
    let mut late_fault = None;
    if let Some(fault) = scheduled {
        match early_fault(&fault).await {
            Some(resp) => return resp,
            None => late_fault = Some(fault),
        }
    }

    // PHP fills $_POST only for form bodies.
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: BTreeMap<String, String> = if is_form {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        BTreeMap::new()
    };
    let field = |k: &str| form.get(k).map(String::as_str);
    let returncode = field("returncode") == Some("yes");

    let hash_keys = field("hash").and_then(|h| h.split_once(':'));
    let dialect = if field("access_key").is_some() || hash_keys.is_some() {
        Dialect::Keys
    } else if field("user").is_some() || field("hash").is_some() {
        Dialect::Legacy
    } else {
        return api_error(405, "Error: only POST method with params is allowed", false);
    };

    let allowed = lock(&state).allowed_ips.clone();
    if let Some(ips) = allowed {
        if !ips.contains(&peer.ip()) {
            return api_error(
                E_FORBIDEN,
                "Error: IP is not allowed to connect with API",
                returncode,
            );
        }
    }

    let authenticated = match dialect {
        Dialect::Legacy => {
            field("hash").is_none()
                && field("user") == Some(ADMIN_USER)
                && field("password") == Some(ADMIN_PASSWORD)
        }
        Dialect::Keys => {
            let (access, secret) = match hash_keys {
                Some((a, s)) => (Some(a), Some(s)),
                None => (field("access_key"), field("secret_key")),
            };
            access == Some(ACCESS_KEY) && secret == Some(SECRET_KEY)
        }
    };
    if !authenticated {
        return api_error(E_PASSWORD, "Error: authentication failed", returncode);
    }

    let cmd = field("cmd").unwrap_or("").trim().to_string();
    if cmd.is_empty() {
        return api_error(E_INVALID, "No command specified", returncode);
    }
    if !cmd
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return api_error(E_INVALID, &format!("{cmd} command invalid"), returncode);
    }
    let args: Vec<String> = (1..=9)
        .filter_map(|i| form.get(&format!("arg{i}")).map(|a| a.trim().to_string()))
        .collect();

    let command_fault = lock(&state).take_on_command(&cmd);
    let fault = late_fault.or(command_fault);
    let mut reset_after_run = false;
    let (code, output) = match fault {
        Some(Fault::Exit { code, message }) => (code, message),
        Some(Fault::RunThenReset) => {
            reset_after_run = true;
            run(&mut lock(&state), &cmd, &args)
        }
        Some(other) => match early_fault(&other).await {
            Some(resp) => return resp,
            None => run(&mut lock(&state), &cmd, &args),
        },
        None => run(&mut lock(&state), &cmd, &args),
    };
    lock(&state).calls.push(FakeCall {
        cmd: cmd.clone(),
        args,
        code,
    });
    if reset_after_run {
        drop_connection();
    }

    match dialect {
        // api_legacy: HTTP 200 whatever the command did; no exit-code header.
        Dialect::Legacy => {
            let body = if returncode {
                code.to_string()
            } else if output.is_empty() {
                // index.php tests the login's status here, not the command's: an empty failure reads OK too.
                "OK".to_string()
            } else {
                format!("{output}\n")
            };
            (StatusCode::OK, body).into_response()
        }
        // api_connection: exit-code header, mapped status, 204 for an empty success.
        Dialect::Keys => {
            if code > 0 {
                let message = if output.is_empty() {
                    "Unknown error".to_string()
                } else {
                    output
                };
                return api_error(code, &message, returncode);
            }
            let mut resp = if returncode {
                (StatusCode::OK, "0".to_string()).into_response()
            } else if output.is_empty() {
                StatusCode::NO_CONTENT.into_response()
            } else if output.starts_with('{') {
                (StatusCode::OK, [(CONTENT_TYPE, "application/json")], output).into_response()
            } else {
                (StatusCode::OK, output).into_response()
            };
            resp.headers_mut()
                .insert("Hestia-Exit-Code", HeaderValue::from(0u16));
            resp
        }
    }
}

/// Runs one `v-*` command: exit code and output (`Error: ...` on failure).
fn run(st: &mut FakeState, cmd: &str, args: &[String]) -> (u16, String) {
    let result = match cmd {
        "v-list-dns-domain" => list_domain(st, args),
        "v-list-dns-records" => list_records(st, args),
        "v-add-dns-record" => add_record(st, args),
        "v-delete-dns-record" => delete_record(st, args),
        "v-change-dns-record" => change_record(st, args),
        "v-restart-dns" => {
            st.restarts += 1;
            Ok(String::new())
        }
        _ => Err((127, String::new())),
    };
    match result {
        Ok(out) => (0, out),
        Err((code, out)) => (code, out),
    }
}

type CmdResult = Result<String, (u16, String)>;

fn check_args(cmd: &str, args: &[String], n: usize, usage: &str) -> Result<(), (u16, String)> {
    if args.len() < n {
        Err((E_ARGS, format!("Usage: {cmd} {usage}")))
    } else {
        Ok(())
    }
}

fn arg(args: &[String], i: usize) -> &str {
    args.get(i).map_or("", String::as_str)
}

fn domain_mut<'a>(
    st: &'a mut FakeState,
    user: &str,
    domain: &str,
) -> Result<&'a mut Domain, (u16, String)> {
    let domains = st
        .users
        .get_mut(user)
        .ok_or_else(|| (E_NOTEXIST, format!("Error: user {user} doesn't exist")))?;
    domains.get_mut(domain).ok_or_else(|| {
        (
            E_NOTEXIST,
            format!("Error: dns domain {domain} doesn't exist"),
        )
    })
}

fn list_domain(st: &mut FakeState, args: &[String]) -> CmdResult {
    check_args("v-list-dns-domain", args, 2, "USER DOMAIN [FORMAT]")?;
    let (user, domain) = (arg(args, 0), arg(args, 1));
    let dom = domain_mut(st, user, domain)?;
    let apex_ip = dom
        .records
        .values()
        .find(|r| r.record == "@" && r.rtype == "A")
        .map_or(String::new(), |r| r.value.clone());
    let info = json!({
        "IP": apex_ip,
        "TPL": "default",
        "TTL": dom.ttl.to_string(),
        "EXP": "2027-01-01",
        "SOA": format!("ns1.{domain}"),
        "SERIAL": dom.serial.to_string(),
        "SRC": "",
        "RECORDS": dom.records.len().to_string(),
        "DNSSEC": "no",
        "KEY": "",
        "SLAVE": "no",
        "MASTER": "",
        "SUSPENDED": "no",
        "TIME": "12:00:00",
        "DATE": "2026-01-01",
    });
    if arg(args, 2) == "json" {
        let mut map = Map::new();
        map.insert(domain.to_string(), info);
        Ok(serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default())
    } else {
        Ok(format!(
            "DOMAIN: {domain}\nSERIAL: {}\nRECORDS: {}",
            dom.serial,
            dom.records.len()
        ))
    }
}

fn list_records(st: &mut FakeState, args: &[String]) -> CmdResult {
    check_args("v-list-dns-records", args, 2, "USER DOMAIN [FORMAT]")?;
    let dom = domain_mut(st, arg(args, 0), arg(args, 1))?;
    if arg(args, 2) == "json" {
        let mut map = Map::new();
        for r in dom.records.values() {
            map.insert(
                r.id.to_string(),
                json!({
                    "RECORD": r.record,
                    "TYPE": r.rtype,
                    "PRIORITY": r.priority,
                    "VALUE": r.value,
                    "ID": r.id.to_string(),
                    "SUSPENDED": if r.suspended { "yes" } else { "no" },
                    "TIME": "12:00:00",
                    "DATE": "2026-01-01",
                    "TTL": r.ttl.to_string(),
                }),
            );
        }
        Ok(serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default())
    } else {
        Ok(dom
            .records
            .values()
            .map(|r| {
                format!(
                    "{}\t{}\t{}\t{}\t{}",
                    r.id, r.record, r.rtype, r.value, r.ttl
                )
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

const TYPES: &[&str] = &[
    "A", "AAAA", "CAA", "CNAME", "DNSKEY", "DS", "IPSECKEY", "KEY", "MX", "NS", "PTR", "SPF",
    "SRV", "TLSA", "TXT",
];

/// Checks a record as `v-add-dns-record` / `v-change-dns-record` do and returns (record, TYPE, value as
/// stored).
fn valid_record(
    record: &str,
    rtype: &str,
    value: &str,
) -> Result<(String, String, String), (u16, String)> {
    let record_ok = !record.is_empty()
        && record
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*' | '@'));
    if !record_ok {
        return Err((
            E_INVALID,
            format!("Error: invalid record format :: {record}"),
        ));
    }
    let rtype = rtype.to_ascii_uppercase();
    if !TYPES.contains(&rtype.as_str()) {
        return Err((E_INVALID, format!("Error: invalid type format :: {rtype}")));
    }
    if value.is_empty() {
        return Err((E_ARGS, "Error: invalid value format :: ".to_string()));
    }
    let value = match rtype.as_str() {
        "A" if value.parse::<Ipv4Addr>().is_err() => {
            return Err((E_INVALID, format!("Error: invalid ip format :: {value}")));
        }
        "AAAA" if value.parse::<Ipv6Addr>().is_err() => {
            return Err((E_INVALID, format!("Error: invalid ipv6 format :: {value}")));
        }
        "NS" | "CNAME" | "MX" | "PTR" | "SRV" if !value.ends_with('.') => format!("{value}."),
        _ => value.to_string(),
    };
    Ok((record.to_string(), rtype, value))
}

fn parse_ttl(ttl: &str, default: u32) -> Result<u32, (u16, String)> {
    if ttl.is_empty() {
        return Ok(default);
    }
    ttl.parse()
        .map_err(|_| (E_INVALID, format!("Error: invalid ttl format :: {ttl}")))
}

/// `v-add-dns-record USER DOMAIN RECORD TYPE VALUE [PRIORITY] [ID] [RESTART] [TTL]`. No duplicate check.
fn add_record(st: &mut FakeState, args: &[String]) -> CmdResult {
    check_args(
        "v-add-dns-record",
        args,
        5,
        "USER DOMAIN RECORD TYPE VALUE [PRIORITY] [ID] [RESTART] [TTL]",
    )?;
    let (record, rtype, value) = valid_record(arg(args, 2), arg(args, 3), arg(args, 4))?;
    let (priority, id_arg, restart, ttl_arg) =
        (arg(args, 5), arg(args, 6), arg(args, 7), arg(args, 8));
    let dom = domain_mut(st, arg(args, 0), arg(args, 1))?;
    let id = if id_arg.is_empty() {
        dom.records.keys().next_back().map_or(1, |max| max + 1)
    } else {
        let id: u32 = id_arg
            .parse()
            .map_err(|_| (E_INVALID, format!("Error: invalid id format :: {id_arg}")))?;
        if dom.records.contains_key(&id) {
            return Err((E_EXISTS, format!("Error: ID={id} is already exists")));
        }
        id
    };
    let ttl = parse_ttl(ttl_arg, DEFAULT_TTL)?;
    dom.records.insert(
        id,
        FakeRecord {
            id,
            record,
            rtype,
            value,
            priority: priority.to_string(),
            ttl,
            suspended: false,
        },
    );
    dom.serial += 1;
    if restart != "no" {
        st.restarts += 1;
    }
    Ok(String::new())
}

/// `v-delete-dns-record USER DOMAIN ID [RESTART]`. Refuses to delete the last A or NS record.
fn delete_record(st: &mut FakeState, args: &[String]) -> CmdResult {
    check_args("v-delete-dns-record", args, 3, "USER DOMAIN ID [RESTART]")?;
    let (domain, id_arg, restart) = (arg(args, 1), arg(args, 2), arg(args, 3));
    let dom = domain_mut(st, arg(args, 0), domain)?;
    let id: u32 = id_arg
        .parse()
        .map_err(|_| (E_INVALID, format!("Error: invalid id format :: {id_arg}")))?;
    let Some(rec) = dom.records.get(&id) else {
        return Err((
            E_NOTEXIST,
            format!("Error: dns/{domain} ID={id} doesn't exist"),
        ));
    };
    if rec.rtype == "A" || rec.rtype == "NS" {
        let same_type = dom
            .records
            .values()
            .filter(|r| r.rtype == rec.rtype)
            .count();
        if same_type <= 1 {
            return Err((
                E_INVALID,
                format!(
                    "Error: at least one {} record should remain active",
                    rec.rtype
                ),
            ));
        }
    }
    dom.records.remove(&id);
    dom.serial += 1;
    if restart != "no" {
        st.restarts += 1;
    }
    Ok(String::new())
}

/// `v-change-dns-record USER DOMAIN ID RECORD TYPE VALUE [PRIORITY] [RESTART] [TTL]`; no change → E_EXISTS.
fn change_record(st: &mut FakeState, args: &[String]) -> CmdResult {
    check_args(
        "v-change-dns-record",
        args,
        6,
        "USER DOMAIN ID RECORD TYPE VALUE [PRIORITY] [RESTART] [TTL]",
    )?;
    let (domain, id_arg) = (arg(args, 1), arg(args, 2));
    let (record, rtype, value) = valid_record(arg(args, 3), arg(args, 4), arg(args, 5))?;
    let (priority, restart, ttl_arg) = (arg(args, 6), arg(args, 7), arg(args, 8));
    let dom = domain_mut(st, arg(args, 0), domain)?;
    let id: u32 = id_arg
        .parse()
        .map_err(|_| (E_INVALID, format!("Error: invalid id format :: {id_arg}")))?;
    let dom_ttl = dom.ttl;
    let Some(rec) = dom.records.get_mut(&id) else {
        return Err((
            E_NOTEXIST,
            format!("Error: dns/{domain} ID={id} doesn't exist"),
        ));
    };
    let ttl = parse_ttl(ttl_arg, if rec.ttl == 0 { dom_ttl } else { rec.ttl })?;
    let new = FakeRecord {
        id,
        record,
        rtype,
        value,
        priority: priority.to_string(),
        ttl,
        suspended: rec.suspended,
    };
    if *rec == new {
        return Err((E_EXISTS, "Error: record has not been changed".to_string()));
    }
    *rec = new;
    dom.serial += 1;
    if restart != "no" {
        st.restarts += 1;
    }
    Ok(String::new())
}
