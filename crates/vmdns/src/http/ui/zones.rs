//! DNS Zones: the list (ID, zone, provider badge, Test connection / Edit / Delete), and the add/edit form
//! whose fields follow the provider type. Secrets are never sent to the browser: their inputs stay empty,
//! with a placeholder on edit, and an empty input keeps the stored secret (`admin::update_zone`).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vmdns_core::ZoneKind;
use vmdns_providers::ProviderKind;
use vmdns_providers::settings::{SettingFormat, SettingSpec};

use super::session::{Authed, Posted};
use super::{Chrome, Field, FieldErrors, UiResult, notice_text, parse_id, render, render_invalid};
use crate::admin::{self, ZoneBody};
use crate::app::App;
use crate::store::Zone;

/// The placeholder of a stored secret's input.
pub(crate) const SECRET_PLACEHOLDER: &str = "(unchanged — enter new to replace)";

pub(crate) struct ZoneRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) provider: &'static str,
    pub(crate) provider_label: &'static str,
}

pub(crate) fn kind_label(kind: ZoneKind) -> &'static str {
    match kind {
        ZoneKind::Forward => "forward",
        ZoneKind::ReverseV4 => "reverse IPv4",
        ZoneKind::ReverseV6 => "reverse IPv6",
    }
}

impl From<&Zone> for ZoneRow {
    fn from(z: &Zone) -> Self {
        Self {
            id: z.id,
            name: z.name.to_string(),
            kind: kind_label(z.name.zone_kind()),
            provider: z.provider.as_str(),
            provider_label: z.provider.label(),
        }
    }
}

#[derive(Template)]
#[template(path = "zones.html")]
struct ZonesPage {
    chrome: Chrome,
    zones: Vec<ZoneRow>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NoticeQuery {
    pub(crate) notice: Option<String>,
    pub(crate) id: Option<i64>,
}

pub(crate) async fn list(
    State(app): State<App>,
    s: Authed,
    Query(q): Query<NoticeQuery>,
) -> UiResult {
    let zones = app.store.list_zones().await?;
    render(&ZonesPage {
        chrome: Chrome::new(&s, "zones", "DNS Zones"),
        zones: zones.iter().map(ZoneRow::from).collect(),
        notice: notice_text(q.notice.as_deref(), q.id),
    })
}

/// The settings of one provider type in the form: shown when that type is selected.
struct ProviderSection {
    kind: &'static str,
    label: &'static str,
    selected: bool,
    fields: Vec<Field>,
    advanced: Vec<Field>,
    /// Open the advanced settings when one is set or wrong.
    advanced_open: bool,
}

#[derive(Template)]
#[template(path = "zone_form.html")]
struct ZoneForm {
    chrome: Chrome,
    zone_id: Option<i64>,
    name: Field,
    provider: String,
    provider_error: Option<String>,
    providers: Vec<ProviderSection>,
    errors: FieldErrors,
}

/// Where the form's values come from.
enum Values<'a> {
    New,
    Stored(&'a Zone),
    Posted(&'a Posted),
}

fn input_name(kind: ProviderKind, key: &str) -> String {
    format!("{}.{key}", kind.as_str())
}

fn setting_field(
    kind: ProviderKind,
    spec: &SettingSpec,
    values: &Values<'_>,
    errors: &FieldErrors,
) -> Field {
    let name = input_name(kind, spec.key);
    let value = match values {
        _ if spec.secret => String::new(), // never filled in
        Values::New => String::new(),
        Values::Stored(z) if z.provider == kind => {
            z.settings.get(spec.key).cloned().unwrap_or_default()
        }
        Values::Stored(_) => String::new(),
        Values::Posted(p) => p.text(&name),
    };
    let stored_secret = spec.secret
        && match values {
            Values::Stored(z) => {
                z.provider == kind && z.settings.get(spec.key).is_some_and(|v| !v.is_empty())
            }
            Values::Posted(_) | Values::New => false,
        };
    let mut help = spec.help.to_string();
    if let Some(d) = spec.default {
        help = format!("{help} (default: {d})");
    }
    let mut f = Field::text(&name, spec.label, value)
        .help(help)
        .error_from(errors, &name);
    f.id = format!("{}-{}", kind.as_str(), spec.key);
    f.required = spec.required && !stored_secret;
    if spec.secret {
        f.input_type = "password";
        f.autocomplete = "new-password";
        if stored_secret {
            f.placeholder = SECRET_PLACEHOLDER.to_string();
        } else if matches!(values, Values::Posted(_)) {
            f.placeholder = "(enter again: secrets are never sent back)".to_string();
        }
    }
    if spec.format == SettingFormat::Count {
        f.input_type = "number";
    }
    if let Some(d) = spec.default {
        f.placeholder = d.to_string();
    }
    f
}

fn zone_form(
    chrome: Chrome,
    zone_id: Option<i64>,
    values: Values<'_>,
    errors: FieldErrors,
) -> ZoneForm {
    let (name, provider) = match &values {
        Values::New => (String::new(), ProviderKind::Powerdns.as_str().to_string()),
        Values::Stored(z) => (z.name.to_string(), z.provider.as_str().to_string()),
        Values::Posted(p) => (p.text("name"), p.text("provider")),
    };
    let selected: ProviderKind = provider.parse().unwrap_or(ProviderKind::Powerdns);
    let providers = ProviderKind::ALL
        .into_iter()
        .map(|kind| {
            let (advanced, fields): (Vec<_>, Vec<_>) =
                kind.settings().iter().partition(|s| s.advanced);
            let advanced: Vec<Field> = advanced
                .iter()
                .map(|s| setting_field(kind, s, &values, &errors))
                .collect();
            ProviderSection {
                kind: kind.as_str(),
                label: kind.label(),
                selected: kind == selected,
                fields: fields
                    .iter()
                    .map(|s| setting_field(kind, s, &values, &errors))
                    .collect(),
                advanced_open: advanced
                    .iter()
                    .any(|f| f.error.is_some() || !f.value.is_empty()),
                advanced,
            }
        })
        .collect();
    ZoneForm {
        chrome,
        zone_id,
        name: Field::text("name", "Zone", name)
            .required()
            .help("e.g. example.com for forward records, 130.168.192.in-addr.arpa for reverse. Trailing dots are normalized.")
            .error_from(&errors, "name"),
        provider: selected.as_str().to_string(),
        provider_error: errors.get("provider").map(str::to_string),
        providers,
        errors,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewQuery {
    provider: Option<String>,
}

pub(crate) async fn new_form(s: Authed, Query(q): Query<NewQuery>) -> UiResult {
    let mut form = zone_form(
        Chrome::new(&s, "zones", "Add DNS Zone"),
        None,
        Values::New,
        FieldErrors::default(),
    );
    if let Some(kind) = q
        .provider
        .as_deref()
        .and_then(|p| p.parse::<ProviderKind>().ok())
    {
        form.provider = kind.as_str().to_string();
        for p in &mut form.providers {
            p.selected = p.kind == kind.as_str();
        }
    }
    render(&form)
}

pub(crate) async fn edit_form(
    State(app): State<App>,
    s: Authed,
    Path(id): Path<String>,
) -> UiResult {
    let id = parse_id("zone", &id)?;
    let zone = app.store.get_zone(id).await?;
    render(&zone_form(
        Chrome::new(&s, "zones", format!("Edit DNS Zone #{id}")),
        Some(id),
        Values::Stored(&zone),
        FieldErrors::default(),
    ))
}

/// The body the shared admin operations take, from the form: the selected provider's settings only.
fn body_of(p: &Posted) -> ZoneBody {
    let provider = p.text("provider");
    let prefix = format!("{}.", provider.trim().to_ascii_lowercase());
    let settings: BTreeMap<String, Value> = p
        .fields
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(&prefix)
                .map(|key| (key.to_string(), Value::String(v.clone())))
        })
        .collect();
    ZoneBody {
        name: Some(p.text("name")),
        provider: Some(provider),
        settings: Some(settings),
    }
}

fn error_field(posted: &Posted) -> impl Fn(&str) -> Option<String> + '_ {
    move |f: &str| {
        let provider: ProviderKind = posted.text("provider").parse().ok()?;
        match f {
            "name" | "provider" => Some(f.to_string()),
            _ => f
                .strip_prefix("settings.")
                .filter(|k| provider.setting(k).is_some())
                .map(|k| input_name(provider, k)),
        }
    }
}

pub(crate) async fn create(State(app): State<App>, posted: Posted) -> UiResult {
    match admin::create_zone(&app, body_of(&posted)).await {
        Ok(zone) => {
            tracing::info!(zone_id = zone.id, zone = %zone.name, provider = %zone.provider, user = %posted.session.0.user_name, "zone created in the UI");
            Ok(Redirect::to(&format!("/zones?notice=zone-created&id={}", zone.id)).into_response())
        }
        Err(e) => {
            let errors = FieldErrors::from_admin(e, error_field(&posted))?;
            render_invalid(&zone_form(
                Chrome::new(&posted.session, "zones", "Add DNS Zone"),
                None,
                Values::Posted(&posted),
                errors,
            ))
        }
    }
}

pub(crate) async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_id("zone", &id)?;
    match admin::update_zone(&app, id, body_of(&posted)).await {
        Ok(zone) => {
            tracing::info!(zone_id = zone.id, zone = %zone.name, user = %posted.session.0.user_name, "zone updated in the UI");
            Ok(Redirect::to(&format!("/zones?notice=zone-saved&id={id}")).into_response())
        }
        Err(e) => {
            let errors = FieldErrors::from_admin(e, error_field(&posted))?;
            let stored = app.store.get_zone(id).await?;
            let mut form = zone_form(
                Chrome::new(&posted.session, "zones", format!("Edit DNS Zone #{id}")),
                Some(id),
                Values::Posted(&posted),
                errors,
            );
            // Secrets stored for the selected provider are still there: say so.
            for p in form
                .providers
                .iter_mut()
                .filter(|p| p.kind == stored.provider.as_str())
            {
                for f in p.fields.iter_mut().filter(|f| f.input_type == "password") {
                    let key = f.name.split_once('.').map(|(_, k)| k).unwrap_or_default();
                    if stored.settings.get(key).is_some_and(|v| !v.is_empty()) {
                        f.required = false;
                        f.placeholder = SECRET_PLACEHOLDER.to_string();
                    }
                }
            }
            render_invalid(&form)
        }
    }
}

pub(crate) async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_id("zone", &id)?;
    app.store.delete_zone(id).await?;
    tracing::info!(zone_id = id, user = %posted.session.0.user_name, "zone deleted in the UI");
    Ok(Redirect::to(&format!("/zones?notice=zone-deleted&id={id}")).into_response())
}

#[derive(Debug, Serialize)]
pub(crate) struct TestResult {
    ok: bool,
    message: String,
}

/// "Test connection": `{ok, message}` with the provider's exact words.
pub(crate) async fn test(
    State(app): State<App>,
    Path(id): Path<String>,
    _posted: Posted,
) -> UiResult {
    let id = parse_id("zone", &id)?;
    let zone = app.store.get_zone(id).await?;
    let (ok, message) = admin::test_zone(&app, &zone).await;
    Ok(axum::Json(TestResult { ok, message }).into_response())
}
