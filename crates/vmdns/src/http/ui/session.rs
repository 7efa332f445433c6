//! Who is logged in: the login page, the session cookie (HttpOnly, SameSite=Strict, Secure when the
//! request came over TLS), logout, and the CSRF checks.
//!
//! - [`Authed`] is taken by every page: no session → a redirect to `/login` (pages) or 401 (`/ui/` JSON).
//! - [`Posted`] is taken by every state-changing request: a session, a same-origin request, and the
//!   session's CSRF token in the `_csrf` field of an urlencoded body; otherwise 403 and nothing happens.
//! - The login form, which has no session yet, carries a token that must match a cookie set with the page
//!   (double submit), so no other site can log a browser in.

use std::net::SocketAddr;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::Deserialize;

use super::{UiError, UiResult, render, when};
use crate::app::App;
use crate::http::MAX_BODY;
use crate::store::{LoginOutcome, Session};

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "vmdns_session";
/// The login form's double-submit cookie.
const LOGIN_COOKIE: &str = "vmdns_login";
/// The form field (and only place) a CSRF token is taken from.
pub(crate) const CSRF_FIELD: &str = "_csrf";

/// The value of cookie `name` in the request, if sent.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over TLS: directly (a TLS front that sets the scheme), or through a
/// trusted proxy that says so in `X-Forwarded-Proto`.
fn over_tls(parts: &Parts, app: &App) -> bool {
    if parts.uri.scheme_str() == Some("https") {
        return true;
    }
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return false;
    };
    let peer = peer.ip().to_canonical();
    app.config.trusted_proxies.iter().any(|n| n.contains(&peer))
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1; Max-Age=0"))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Compares two tokens in time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Where a page asked for without a session sends the browser back to after login: a local path only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.starts_with("/login")
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Answers a request without a (valid) session: pages go to the login page, scripts get 401.
fn unauthenticated(parts: &Parts) -> Response {
    let path = parts.uri.path();
    if path.starts_with("/ui/") || parts.method != Method::GET {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "not logged in (or the session expired)"})),
        )
            .into_response();
    }
    let next = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let target = if next == "/" {
        "/login".to_string()
    } else {
        format!("/login?next={}", urlencode(&next))
    };
    Redirect::to(&target).into_response()
}

/// Percent-encodes everything but unreserved characters and `/`.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A logged-in request (any method). Pages take this.
#[derive(Debug, Clone)]
pub(crate) struct Authed(pub(crate) Session);

impl FromRequestParts<App> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(unauthenticated(parts));
        };
        match app.store.session(token).await {
            Ok(Some(s)) => Ok(Self(s)),
            Ok(None) => Err(unauthenticated(parts)),
            Err(e) => Err(UiError::from(e).into_response()),
        }
    }
}

fn forbidden(parts: &Parts, message: &str) -> Response {
    if parts.uri.path().starts_with("/ui/") {
        (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({"error": message})),
        )
            .into_response()
    } else {
        UiError::Forbidden(message.to_string()).into_response()
    }
}

/// A request from another site: a browser says so in `Sec-Fetch-Site` or `Origin`.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(o), Some(h)) => {
            let o = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .unwrap_or(o);
            !o.eq_ignore_ascii_case(h)
        }
        (Some(_), None) => true,
        _ => false,
    }
}

/// A state-changing request: logged in, same origin, with the session's CSRF token in the urlencoded
/// body's `_csrf` field. The other fields, in order.
#[derive(Debug, Clone)]
pub(crate) struct Posted {
    pub(crate) session: Authed,
    pub(crate) fields: Vec<(String, String)>,
}

impl Posted {
    /// The first value of `name` (trimmed), if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    /// The first value of `name`, or empty.
    pub(crate) fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }
}

fn parse_form(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(bytes).ok()?;
    Some(
        url::form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

impl FromRequest<App> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Authed::from_request_parts(&mut parts, app).await?;
        if cross_site(&parts.headers) {
            return Err(forbidden(&parts, "cross-site request refused"));
        }
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(forbidden(
                &parts,
                "expected a form (application/x-www-form-urlencoded) with its CSRF token",
            ));
        }
        let bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
        let mut fields = parse_form(&bytes)
            .ok_or_else(|| (StatusCode::BAD_REQUEST, "form is not UTF-8").into_response())?;
        let token = fields
            .iter()
            .position(|(k, _)| k == CSRF_FIELD)
            .map(|i| fields.remove(i).1);
        match token {
            Some(t) if same_token(&t, &session.0.csrf) => Ok(Self { session, fields }),
            _ => Err(forbidden(
                &parts,
                "the form's security token is missing or stale: reload the page and try again",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------- login

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    user: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

fn login_response(status: StatusCode, page: &LoginPage, secure: bool) -> UiResult {
    let mut res = render(page)?;
    *res.status_mut() = status;
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &page.csrf, "/login", 3600, secure),
    );
    Ok(res)
}

pub(crate) async fn login_page(
    State(app): State<App>,
    Query(q): Query<NextQuery>,
    req: Request,
) -> UiResult {
    let (mut parts, _) = req.into_parts();
    if Authed::from_request_parts(&mut parts, &app).await.is_ok() {
        return Ok(Redirect::to(&safe_next(q.next.as_deref())).into_response());
    }
    let page = LoginPage {
        csrf: random_token(),
        next: safe_next(q.next.as_deref()),
        user: String::new(),
        error: None,
    };
    login_response(StatusCode::OK, &page, over_tls(&parts, &app))
}

pub(crate) async fn login_submit(State(app): State<App>, req: Request) -> UiResult {
    let (parts, body) = req.into_parts();
    let secure = over_tls(&parts, &app);
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), &app)
        .await
        .map_err(|_| UiError::BadRequest("the login form could not be read".into()))?;
    let fields = parse_form(&bytes).unwrap_or_default();
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let user = get("username").trim().to_string();
    let next = safe_next(Some(get("next")));
    let mut page = LoginPage {
        csrf: random_token(),
        next: next.clone(),
        user: user.clone(),
        error: None,
    };
    let cookie_token = cookie(&parts.headers, LOGIN_COOKIE);
    if cross_site(&parts.headers) || !cookie_token.is_some_and(|c| same_token(c, get(CSRF_FIELD))) {
        page.error = Some("The login form expired (or cookies are off): please try again.".into());
        return login_response(StatusCode::FORBIDDEN, &page, secure);
    }
    let outcome = if user.is_empty() {
        LoginOutcome::BadCredentials
    } else {
        app.store.login(&user, get("password")).await?
    };
    match outcome {
        LoginOutcome::Ok(u) => {
            let (token, _) = app.store.create_session(&u).await?;
            tracing::info!(user = %u.name, "logged in");
            let mut res = Redirect::to(&next).into_response();
            let h = res.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(
                    SESSION_COOKIE,
                    &token,
                    "/",
                    crate::store::SESSION_TTL_MS / 1000,
                    secure,
                ),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(LOGIN_COOKIE, "", "/login", 0, secure),
            );
            Ok(res)
        }
        LoginOutcome::BadCredentials => {
            page.error = Some("Wrong user name or password.".into());
            login_response(StatusCode::UNAUTHORIZED, &page, secure)
        }
        LoginOutcome::LockedOut { until } => {
            let secs = ((until - crate::store::now_ms()).max(0) + 999) / 1000;
            page.error = Some(format!(
                "Too many failed logins: this account is locked until {} (another {secs} s).",
                when(until)
            ));
            login_response(StatusCode::TOO_MANY_REQUESTS, &page, secure)
        }
    }
}

pub(crate) async fn logout(State(app): State<App>, req: Request) -> UiResult {
    let (parts, body) = req.into_parts();
    let secure = over_tls(&parts, &app);
    let token = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string);
    // Logging out changes state: it takes the CSRF token like every other form.
    if let Err(res) = Posted::from_request(Request::from_parts(parts, body), &app).await {
        return Ok(res);
    }
    if let Some(token) = token {
        app.store.delete_session(&token).await?;
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "/", 0, secure),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_local_only() {
        let cases = [
            (None, "/"),
            (Some("/services/3"), "/services/3"),
            (Some("/log?level=error"), "/log?level=error"),
            (Some("//evil.example"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("/login"), "/"),
            (Some(""), "/"),
        ];
        for (given, want) in cases {
            assert_eq!(safe_next(given), want, "{given:?}");
        }
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vmdns_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "vmdns"), None);
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
    }

    #[test]
    fn cross_site_is_told_by_the_browser() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h));
    }
}
