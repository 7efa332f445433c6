//! IP Pools: the list, whose Addresses column shows the range on its first line and the reverse zone the
//! pool needs on its second; the add/edit form, which shows that hint live as the prefix is typed (from
//! `/ui/rdns-zone`, the same computation as the CLI's `rdns-zone`).

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use serde_json::Value;
use vmdns_core::ReverseZoneHint;

use super::session::{Authed, Posted};
use super::zones::NoticeQuery;
use super::{Chrome, Field, FieldErrors, UiResult, notice_text, parse_id, render, render_invalid};
use crate::admin::{self, AdminError, PoolBody};
use crate::app::App;
use crate::store::Pool;
use crate::views::HintView;

pub(crate) struct PoolRow {
    id: i64,
    name: String,
    range: String,
    prefix_len: u8,
    gateway: String,
    hint: String,
    /// The hint's further lines (the zones of a span, the CNAMEs of a classless delegation).
    more: Vec<String>,
    /// The exact reverse zone exists among the DNS zones (None: not an exact zone).
    zone_configured: Option<bool>,
}

impl PoolRow {
    fn new(p: &Pool, zones: &BTreeSet<String>) -> Self {
        let hint = p.hint();
        let zone_configured = match &hint {
            ReverseZoneHint::Exact { zone } => Some(zones.contains(zone.as_str())),
            _ => None,
        };
        Self {
            id: p.id,
            name: p.name.clone(),
            range: format!("{} – {}", p.first_ip, p.last_ip),
            prefix_len: p.prefix_len,
            gateway: p.gateway.map(|g| g.to_string()).unwrap_or_default(),
            hint: hint.summary(),
            more: hint.lines().into_iter().skip(1).collect(),
            zone_configured,
        }
    }
}

#[derive(Template)]
#[template(path = "pools.html")]
struct PoolsPage {
    chrome: Chrome,
    pools: Vec<PoolRow>,
    notice: Option<String>,
}

pub(crate) async fn list(
    State(app): State<App>,
    s: Authed,
    Query(q): Query<NoticeQuery>,
) -> UiResult {
    let pools = app.store.list_pools().await?;
    let zones: BTreeSet<String> = app
        .store
        .list_zones()
        .await?
        .iter()
        .map(|z| z.name.to_string())
        .collect();
    render(&PoolsPage {
        chrome: Chrome::new(&s, "pools", "IP Pools"),
        pools: pools.iter().map(|p| PoolRow::new(p, &zones)).collect(),
        notice: notice_text(q.notice.as_deref(), q.id),
    })
}

#[derive(Template)]
#[template(path = "pool_form.html")]
struct PoolForm {
    chrome: Chrome,
    pool_id: Option<i64>,
    fields: Vec<Field>,
    /// The hint for the values shown (none when they do not make a prefix yet).
    hint_first: Option<String>,
    hint_more: Vec<String>,
    errors: FieldErrors,
}

struct PoolValues {
    name: String,
    first_ip: String,
    last_ip: String,
    gateway: String,
    prefix_len: String,
}

fn hint_lines(first_ip: &str, prefix_len: &str) -> Vec<String> {
    admin::parse_prefix(&format!("{}/{}", first_ip.trim(), prefix_len.trim()))
        .map(|net| vmdns_core::reverse_zone(net).lines())
        .unwrap_or_default()
}

fn pool_form(chrome: Chrome, pool_id: Option<i64>, v: PoolValues, errors: FieldErrors) -> PoolForm {
    let mut hint = hint_lines(&v.first_ip, &v.prefix_len).into_iter();
    let hint_first = hint.next();
    let hint_more = hint.collect();
    let fields = vec![
        Field::text("name", "Name", v.name)
            .required()
            .help("A name for people, e.g. the VLAN or the site.")
            .error_from(&errors, "name"),
        Field::text("first_ip", "First address", v.first_ip)
            .required()
            .placeholder("192.168.130.2")
            .error_from(&errors, "first_ip"),
        Field::text("last_ip", "Last address", v.last_ip)
            .required()
            .placeholder("192.168.130.30")
            .error_from(&errors, "last_ip"),
        Field::text("gateway", "Gateway", v.gateway)
            .placeholder("192.168.130.1")
            .help("Optional.")
            .error_from(&errors, "gateway"),
        Field::text("prefix_len", "Prefix length (mask)", v.prefix_len)
            .kind("number")
            .required()
            .placeholder("24")
            .help("0–32 for IPv4, 0–128 for IPv6. The reverse zone the pool needs is shown below as you type.")
            .error_from(&errors, "prefix_len"),
    ];
    PoolForm {
        chrome,
        pool_id,
        fields,
        hint_first,
        hint_more,
        errors,
    }
}

fn posted_values(p: &Posted) -> PoolValues {
    PoolValues {
        name: p.text("name"),
        first_ip: p.text("first_ip"),
        last_ip: p.text("last_ip"),
        gateway: p.text("gateway"),
        prefix_len: p.text("prefix_len").trim_start_matches('/').to_string(),
    }
}

fn body_of(p: &Posted) -> PoolBody {
    let v = posted_values(p);
    PoolBody {
        name: Some(v.name),
        first_ip: Some(v.first_ip),
        last_ip: Some(v.last_ip),
        gateway: Some(v.gateway),
        prefix_len: Some(Value::String(v.prefix_len)).filter(|v| v.as_str() != Some("")),
    }
}

const POOL_FIELDS: [&str; 5] = ["name", "first_ip", "last_ip", "gateway", "prefix_len"];

fn rename(f: &str) -> Option<String> {
    POOL_FIELDS.contains(&f).then(|| f.to_string())
}

pub(crate) async fn new_form(s: Authed) -> UiResult {
    render(&pool_form(
        Chrome::new(&s, "pools", "Add IP Pool"),
        None,
        PoolValues {
            name: String::new(),
            first_ip: String::new(),
            last_ip: String::new(),
            gateway: String::new(),
            prefix_len: String::new(),
        },
        FieldErrors::default(),
    ))
}

pub(crate) async fn edit_form(
    State(app): State<App>,
    s: Authed,
    Path(id): Path<String>,
) -> UiResult {
    let id = parse_id("pool", &id)?;
    let p = app.store.get_pool(id).await?;
    render(&pool_form(
        Chrome::new(&s, "pools", format!("Edit IP Pool #{id}")),
        Some(id),
        PoolValues {
            name: p.name.clone(),
            first_ip: p.first_ip.to_string(),
            last_ip: p.last_ip.to_string(),
            gateway: p.gateway.map(|g| g.to_string()).unwrap_or_default(),
            prefix_len: p.prefix_len.to_string(),
        },
        FieldErrors::default(),
    ))
}

pub(crate) async fn create(State(app): State<App>, posted: Posted) -> UiResult {
    match admin::create_pool(&app, &body_of(&posted)).await {
        Ok(pool) => {
            Ok(Redirect::to(&format!("/pools?notice=pool-created&id={}", pool.id)).into_response())
        }
        Err(e) => render_invalid(&pool_form(
            Chrome::new(&posted.session, "pools", "Add IP Pool"),
            None,
            posted_values(&posted),
            FieldErrors::from_admin(e, rename)?,
        )),
    }
}

pub(crate) async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_id("pool", &id)?;
    match admin::update_pool(&app, id, &body_of(&posted)).await {
        Ok(_) => Ok(Redirect::to(&format!("/pools?notice=pool-saved&id={id}")).into_response()),
        Err(e) => render_invalid(&pool_form(
            Chrome::new(&posted.session, "pools", format!("Edit IP Pool #{id}")),
            Some(id),
            posted_values(&posted),
            FieldErrors::from_admin(e, rename)?,
        )),
    }
}

pub(crate) async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    _posted: Posted,
) -> UiResult {
    let id = parse_id("pool", &id)?;
    app.store.delete_pool(id).await?;
    Ok(Redirect::to(&format!("/pools?notice=pool-deleted&id={id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct HintQuery {
    prefix: Option<String>,
}

/// The live hint of the pool form: `{summary, lines, ...}`, or `{error, field}` with 422.
pub(crate) async fn hint(_s: Authed, Query(q): Query<HintQuery>) -> UiResult {
    let prefix = q.prefix.unwrap_or_default();
    match admin::parse_prefix(&prefix) {
        Ok(net) => Ok(axum::Json(HintView::from(vmdns_core::reverse_zone(net))).into_response()),
        Err(AdminError::Invalid { field, message }) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(serde_json::json!({"error": message, "field": field})),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
