//! The web admin UI: DNS zones, IP pools, services (with live job logs) and the module log, as server-side
//! pages rendered by askama templates (auto-escaped) with a little hand-written JS and CSS embedded in the
//! binary. No CDN, no third-party front-end code.
//!
//! # Layout
//! - `session`: login, logout, the session cookie, CSRF tokens; the `Authed` and `Posted` extractors
//!   every page and every state-changing request goes through.
//! - `assets`: the embedded CSS, JS and icon.
//! - `zones`, `pools`, `services`, `jobs`, `log`: the pages.
//!
//! Pages live at `/`, `/zones`, `/pools`, `/services`, `/jobs/{id}`, `/log`; the JSON and SSE endpoints the
//! pages' scripts call live under `/ui/`. Every route except `/login` and `/assets/*` needs a session.
//! Every POST carries the session's CSRF token in its `_csrf` form field; the pages' scripts send
//! `application/x-www-form-urlencoded` bodies too, so one check covers forms and scripts alike.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::admin::AdminError;
use crate::app::App;
use crate::store::StoreError;

pub(crate) mod assets;
pub(crate) mod jobs;
pub(crate) mod log;
pub(crate) mod pools;
pub(crate) mod services;
pub(crate) mod session;
pub(crate) mod zones;

/// Every route of the UI.
pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/",
            get(|_: session::Authed| async { Redirect::to("/zones") }),
        )
        .route(
            "/login",
            get(session::login_page).post(session::login_submit),
        )
        .route("/logout", post(session::logout))
        .route("/assets/{file}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .route("/zones", get(zones::list).post(zones::create))
        .route("/zones/new", get(zones::new_form))
        .route("/zones/{id}/edit", get(zones::edit_form))
        .route("/zones/{id}", post(zones::update))
        .route("/zones/{id}/delete", post(zones::delete))
        .route("/ui/zones/{id}/test", post(zones::test))
        .route("/pools", get(pools::list).post(pools::create))
        .route("/pools/new", get(pools::new_form))
        .route("/pools/{id}/edit", get(pools::edit_form))
        .route("/pools/{id}", post(pools::update))
        .route("/pools/{id}/delete", post(pools::delete))
        .route("/ui/rdns-zone", get(pools::hint))
        .route("/services", get(services::list).post(services::create))
        .route("/services/new", get(services::new_form))
        .route("/services/{id}", get(services::show).post(services::update))
        .route("/services/{id}/edit", get(services::edit_form))
        .route("/services/{id}/delete", post(services::delete))
        .route("/services/{id}/jobs", post(services::enqueue))
        .route("/services/{id}/plan", get(services::plan))
        .route("/jobs/{id}", get(jobs::show))
        .route("/ui/jobs/{id}/events", get(jobs::events))
        .route("/log", get(log::page))
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers on every UI answer: a strict content security policy (scripts and styles from this server
/// only, no inline code), no framing, no sniffing, no caching of pages.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// What every page shows around its content: the navigation, who is logged in, the CSRF token for forms.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    pub(crate) title: String,
    pub(crate) active: &'static str,
    pub(crate) user: String,
    pub(crate) csrf: String,
}

impl Chrome {
    pub(crate) fn new(s: &session::Authed, active: &'static str, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            active,
            user: s.0.user_name.clone(),
            csrf: s.0.csrf.clone(),
        }
    }
}

/// One input of a form, as `field.html` renders it: label, help, the error next to it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Field {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) input_type: &'static str,
    pub(crate) value: String,
    pub(crate) placeholder: String,
    pub(crate) help: String,
    pub(crate) error: Option<String>,
    pub(crate) required: bool,
    pub(crate) autocomplete: &'static str,
}

impl Field {
    pub(crate) fn text(name: &str, label: &str, value: impl Into<String>) -> Self {
        Self {
            id: name.to_string(),
            name: name.to_string(),
            label: label.to_string(),
            input_type: "text",
            value: value.into(),
            autocomplete: "off",
            ..Self::default()
        }
    }

    pub(crate) fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    pub(crate) fn kind(mut self, input_type: &'static str) -> Self {
        self.input_type = input_type;
        self
    }

    pub(crate) fn placeholder(mut self, p: impl Into<String>) -> Self {
        self.placeholder = p.into();
        self
    }

    pub(crate) fn error_from(mut self, errors: &FieldErrors, key: &str) -> Self {
        self.error = errors.get(key).map(str::to_string);
        self
    }
}

/// Errors of a submitted form, by field name, plus one for the form as a whole.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldErrors {
    by_field: BTreeMap<String, String>,
    pub(crate) general: Option<String>,
}

impl FieldErrors {
    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.by_field.get(field).map(String::as_str)
    }

    pub(crate) fn set(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.by_field.insert(field.into(), message.into());
    }

    /// Sorts an [`AdminError`] into a field error (renamed by `rename`, which returns `None` for fields
    /// the form does not show) or a general one. Internal errors are not form errors: they come back.
    pub(crate) fn from_admin(
        e: AdminError,
        rename: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, UiError> {
        let mut out = Self::default();
        match e {
            AdminError::Invalid {
                field: Some(f),
                message,
            }
            | AdminError::Conflict { field: f, message } => match rename(&f) {
                Some(name) => out.set(name, message),
                None => out.general = Some(format!("{f}: {message}")),
            },
            AdminError::Invalid {
                field: None,
                message,
            } => out.general = Some(message),
            AdminError::NotFound(m) => return Err(UiError::NotFound(m)),
            AdminError::Internal(cause) => return Err(UiError::Internal(cause)),
        }
        Ok(out)
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum UiError {
    NotFound(String),
    BadRequest(String),
    Forbidden(String),
    /// Logged, never shown.
    Internal(anyhow::Error),
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        AdminError::from(e).into()
    }
}

impl From<AdminError> for UiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound(m) => Self::NotFound(m),
            AdminError::Internal(cause) => Self::Internal(cause),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(anyhow::anyhow!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    reason: String,
    message: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Self::BadRequest(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error in the UI");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on the server; the cause is in its log.".to_string(),
                )
            }
        };
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error").to_string(),
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => status.into_response(),
        }
    }
}

pub(crate) type UiResult<T = Response> = Result<T, UiError>;

/// Renders a page.
pub(crate) fn render(t: &impl Template) -> UiResult {
    Ok(Html(t.render()?).into_response())
}

/// Renders a form page again after a failed submit, with 422 so scripts and tests can tell.
pub(crate) fn render_invalid(t: &impl Template) -> UiResult {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(t.render()?)).into_response())
}

/// Parses a path id; anything but a positive whole number is a 404.
pub(crate) fn parse_id(what: &str, raw: &str) -> UiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| UiError::NotFound(format!("{what} {raw} not found")))
}

/// A time for people: `2026-01-02 03:04:05 UTC`.
pub(crate) fn when(ms: i64) -> String {
    let text = crate::store::format_ms(ms);
    let base = text
        .split('.')
        .next()
        .unwrap_or(&text)
        .trim_end_matches('Z');
    format!("{} UTC", base.replacen('T', " ", 1))
}

/// A one-line notice after a redirect (`?notice=...`): only known codes, never text from the query.
pub(crate) fn notice_text(code: Option<&str>, id: Option<i64>) -> Option<String> {
    let id = id.map(|i| format!(" #{i}")).unwrap_or_default();
    Some(match code? {
        "zone-created" => format!("DNS zone{id} added."),
        "zone-saved" => format!("DNS zone{id} saved."),
        "zone-deleted" => format!("DNS zone{id} deleted."),
        "pool-created" => format!("IP pool{id} added."),
        "pool-saved" => format!("IP pool{id} saved."),
        "pool-deleted" => format!("IP pool{id} deleted."),
        "service-created" => format!("Service{id} added."),
        "service-saved" => format!("Service{id} saved."),
        "service-deleted" => format!("Service{id} deleted."),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_for_people() {
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(when(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
    }

    #[test]
    fn notices_are_known_codes_only() {
        assert_eq!(
            notice_text(Some("zone-saved"), Some(3)).as_deref(),
            Some("DNS zone #3 saved.")
        );
        assert_eq!(notice_text(Some("<script>"), Some(3)), None);
        assert_eq!(notice_text(None, None), None);
    }
}
