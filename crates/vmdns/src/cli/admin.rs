//! Admin commands on the store, without the server running: zones, pools, services (and their jobs),
//! tokens. Human tables by default, `--json` for scripts (the API's shapes, secrets masked).

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;
use vmdns_core::Policy;

use super::{CliError, CliResult, StoreArgs, table};
use crate::admin::{self, AddressBody, PoolBody, ServiceBody, ZoneBody};
use crate::engine::converge::{Sink, converge_service};
use crate::store::{JobKind, format_ms};
use crate::views::{JobView, PoolView, ServiceView, ZoneView};

fn print_json<T: Serialize>(v: &T) -> CliResult {
    let text = serde_json::to_string_pretty(v).map_err(|e| CliError::fail(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn parse_id(raw: &str) -> Result<i64, CliError> {
    raw.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| CliError::usage(format!("id: {raw:?} is not a positive whole number")))
}

fn parse_sets(sets: &[String]) -> Result<BTreeMap<String, Value>, CliError> {
    sets.iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| CliError::usage(format!("--set {s:?}: expected KEY=VALUE")))?;
            Ok((k.trim().to_string(), Value::String(v.to_string())))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------- zones

#[derive(Debug, Subcommand)]
pub(crate) enum ZoneCmd {
    /// Add a zone: --name example.com --provider powerdns --set server_url=... --set api_key=...
    Add(ZoneAddArgs),
    /// List zones.
    List(JsonFlag),
    /// Show one zone.
    Show(IdArgs),
    /// Change a zone; settings not given stay as they are (secrets too).
    Update(ZoneUpdateArgs),
    /// Delete a zone (its records stay in DNS).
    Delete(IdArgs),
    /// Test connection: exit 0 with "OK: ..." when the zone works, 1 with the provider's error otherwise.
    Test(IdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct JsonFlag {
    /// Print JSON (the API's shapes).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    id: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ZoneAddArgs {
    #[arg(long)]
    name: String,
    /// cloudflare, hestiacp or powerdns.
    #[arg(long)]
    provider: String,
    /// A provider setting, KEY=VALUE (repeat).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ZoneUpdateArgs {
    id: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    provider: Option<String>,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    #[arg(long)]
    json: bool,
}

fn show_zones(zones: &[ZoneView], json: bool) -> CliResult {
    if json {
        return print_json(&zones);
    }
    let rows: Vec<Vec<String>> = zones
        .iter()
        .map(|z| {
            let settings: Vec<String> =
                z.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
            vec![
                z.id.to_string(),
                z.name.clone(),
                z.provider.clone(),
                settings.join(" "),
            ]
        })
        .collect();
    table::print(&["ID", "ZONE", "PROVIDER", "SETTINGS"], &rows);
    Ok(())
}

pub(crate) async fn zone(store: &StoreArgs, cmd: ZoneCmd) -> CliResult {
    let app = store.open().await?;
    match cmd {
        ZoneCmd::Add(a) => {
            let body = ZoneBody {
                name: Some(a.name),
                provider: Some(a.provider),
                settings: Some(parse_sets(&a.sets)?),
            };
            let z = admin::create_zone(&app, body).await?;
            if a.json {
                print_json(&ZoneView::from(&z))
            } else {
                show_zones(&[ZoneView::from(&z)], false)
            }
        }
        ZoneCmd::List(f) => {
            let zones: Vec<ZoneView> = app
                .store
                .list_zones()
                .await?
                .iter()
                .map(ZoneView::from)
                .collect();
            show_zones(&zones, f.json)
        }
        ZoneCmd::Show(a) => {
            let z = app.store.get_zone(parse_id(&a.id)?).await?;
            if a.json {
                print_json(&ZoneView::from(&z))
            } else {
                show_zones(&[ZoneView::from(&z)], false)
            }
        }
        ZoneCmd::Update(a) => {
            let id = parse_id(&a.id)?;
            let stored = app.store.get_zone(id).await?;
            let settings = if a.sets.is_empty() {
                None
            } else {
                // Start from what is stored (secrets as __KEEP__), change what was given.
                let mut s: BTreeMap<String, Value> = stored
                    .masked_settings()
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                s.extend(parse_sets(&a.sets)?);
                Some(s)
            };
            let body = ZoneBody {
                name: a.name,
                provider: a.provider,
                settings,
            };
            let z = admin::update_zone(&app, id, body).await?;
            if a.json {
                print_json(&ZoneView::from(&z))
            } else {
                show_zones(&[ZoneView::from(&z)], false)
            }
        }
        ZoneCmd::Delete(a) => {
            let id = parse_id(&a.id)?;
            app.store.delete_zone(id).await?;
            println!("zone {id} deleted");
            Ok(())
        }
        ZoneCmd::Test(a) => {
            let z = app.store.get_zone(parse_id(&a.id)?).await?;
            let (ok, message) = admin::test_zone(&app, &z).await;
            if a.json {
                print_json(&serde_json::json!({"ok": ok, "message": message}))?;
                return if ok {
                    Ok(())
                } else {
                    Err(CliError::fail(message))
                };
            }
            if ok {
                println!("OK: {message}");
                Ok(())
            } else {
                Err(CliError::fail(message))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------- pools

#[derive(Debug, Subcommand)]
pub(crate) enum PoolCmd {
    /// Add a pool: --name --first-ip --last-ip [--gateway] --prefix-len
    Add(PoolAddArgs),
    /// List pools with the reverse zone each needs.
    List(JsonFlag),
    /// Delete a pool.
    Delete(IdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PoolAddArgs {
    #[arg(long)]
    name: String,
    #[arg(long)]
    first_ip: String,
    #[arg(long)]
    last_ip: String,
    #[arg(long)]
    gateway: Option<String>,
    #[arg(long)]
    prefix_len: String,
    #[arg(long)]
    json: bool,
}

fn show_pools(pools: &[PoolView], json: bool) -> CliResult {
    if json {
        return print_json(&pools);
    }
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                p.name.clone(),
                format!("{} - {} /{}", p.first_ip, p.last_ip, p.prefix_len),
                p.gateway.clone().unwrap_or_default(),
                p.rdns_zone.summary.clone(),
            ]
        })
        .collect();
    table::print(&["ID", "NAME", "ADDRESSES", "GATEWAY", "RDNS ZONE"], &rows);
    Ok(())
}

pub(crate) async fn pool(store: &StoreArgs, cmd: PoolCmd) -> CliResult {
    let app = store.open().await?;
    match cmd {
        PoolCmd::Add(a) => {
            let body = PoolBody {
                name: Some(a.name),
                first_ip: Some(a.first_ip),
                last_ip: Some(a.last_ip),
                gateway: a.gateway,
                prefix_len: Some(Value::String(a.prefix_len)),
            };
            let p = admin::create_pool(&app, &body).await?;
            show_pools(&[PoolView::from(&p)], a.json)
        }
        PoolCmd::List(f) => {
            let pools: Vec<PoolView> = app
                .store
                .list_pools()
                .await?
                .iter()
                .map(PoolView::from)
                .collect();
            show_pools(&pools, f.json)
        }
        PoolCmd::Delete(a) => {
            let id = parse_id(&a.id)?;
            app.store.delete_pool(id).await?;
            println!("pool {id} deleted");
            Ok(())
        }
    }
}

// ------------------------------------------------------------------------------------------- services

#[derive(Debug, Subcommand)]
pub(crate) enum ServiceCmd {
    /// Add a service: --name VM --domain example.com --ip 192.0.2.10[=mail.example.com]...
    Add(ServiceArgs),
    /// List services.
    List(JsonFlag),
    /// Show one service.
    Show(IdArgs),
    /// Replace a service's name, domain, addresses and TTL (then queue change-package).
    Update(ServiceUpdateArgs),
    /// Delete a service (refused while vmdns owns records for it, unless --force).
    Delete(DeleteArgs),
    /// Queue a deploy job.
    Deploy(IdArgs),
    /// Queue a change-package job.
    ChangePackage(IdArgs),
    /// Queue a terminate job.
    Terminate(IdArgs),
    /// Queue a full resync ("Set DNS records").
    SetDnsRecords(IdArgs),
    /// Show what a resync would change, zone by zone, without changing anything.
    Plan(IdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServiceArgs {
    #[arg(long)]
    name: String,
    #[arg(long)]
    domain: String,
    /// An address, optionally with the customer's reverse hostname: 192.0.2.10=mail.example.com
    #[arg(long = "ip", value_name = "IP[=REVERSE-HOSTNAME]")]
    ips: Vec<String>,
    #[arg(long)]
    ttl: Option<u32>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ServiceUpdateArgs {
    id: String,
    #[command(flatten)]
    service: ServiceArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    id: String,
    /// Delete even though vmdns still owns records written for it (they stay in DNS).
    #[arg(long)]
    force: bool,
}

impl ServiceArgs {
    fn body(&self) -> ServiceBody {
        ServiceBody {
            name: Some(self.name.clone()),
            domain: Some(self.domain.clone()),
            addresses: self
                .ips
                .iter()
                .map(|s| match s.split_once('=') {
                    Some((ip, ptr)) => AddressBody {
                        ip: Some(ip.to_string()),
                        ptr: Some(ptr.to_string()),
                    },
                    None => AddressBody {
                        ip: Some(s.clone()),
                        ptr: None,
                    },
                })
                .collect(),
            ttl: self.ttl.map(Value::from),
        }
    }
}

fn show_services(services: &[ServiceView], json: bool) -> CliResult {
    if json {
        return print_json(&services);
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let addrs: Vec<String> = s
                .addresses
                .iter()
                .map(|a| match &a.ptr {
                    Some(p) => format!("{}={p}", a.ip),
                    None => a.ip.clone(),
                })
                .collect();
            vec![
                s.id.to_string(),
                s.fqdn.clone(),
                s.status.clone(),
                s.ttl.to_string(),
                addrs.join(" "),
            ]
        })
        .collect();
    table::print(&["ID", "FQDN", "STATUS", "TTL", "ADDRESSES"], &rows);
    Ok(())
}

async fn queue(app: &crate::app::App, id: &IdArgs, kind: JobKind) -> CliResult {
    let job = crate::engine::enqueue(app, parse_id(&id.id)?, kind).await?;
    if id.json {
        print_json(&JobView::new(&job, None))
    } else {
        println!(
            "job {} queued ({kind} for service {})",
            job.id, job.service_id
        );
        Ok(())
    }
}

pub(crate) async fn service(store: &StoreArgs, cmd: ServiceCmd) -> CliResult {
    let app = store.open().await?;
    match cmd {
        ServiceCmd::Add(a) => {
            let s = admin::create_service(&app, &a.body()).await?;
            show_services(&[ServiceView::from(&s)], a.json)
        }
        ServiceCmd::List(f) => {
            let all: Vec<ServiceView> = app
                .store
                .list_services()
                .await?
                .iter()
                .map(ServiceView::from)
                .collect();
            show_services(&all, f.json)
        }
        ServiceCmd::Show(a) => {
            let s = app.store.get_service(parse_id(&a.id)?).await?;
            show_services(&[ServiceView::from(&s)], a.json)
        }
        ServiceCmd::Update(a) => {
            let s = admin::update_service(&app, parse_id(&a.id)?, &a.service.body()).await?;
            show_services(&[ServiceView::from(&s)], a.service.json)
        }
        ServiceCmd::Delete(a) => {
            let id = parse_id(&a.id)?;
            app.store.delete_service(id, a.force).await?;
            println!("service {id} deleted");
            Ok(())
        }
        ServiceCmd::Deploy(a) => queue(&app, &a, JobKind::Deploy).await,
        ServiceCmd::ChangePackage(a) => queue(&app, &a, JobKind::ChangePackage).await,
        ServiceCmd::Terminate(a) => queue(&app, &a, JobKind::Terminate).await,
        ServiceCmd::SetDnsRecords(a) => queue(&app, &a, JobKind::SetDnsRecords).await,
        ServiceCmd::Plan(a) => {
            let service = app.store.get_service(parse_id(&a.id)?).await?;
            let report =
                converge_service(&app, &service, &Sink::none(), Policy::Sync, true).await?;
            if a.json {
                return print_json(&report.plans);
            }
            for zp in &report.plans {
                println!("zone {} #{} ({}):", zp.zone, zp.zone_id, zp.provider);
                if let Some(e) = &zp.error {
                    println!("  cannot plan: {e}");
                }
                for item in &zp.items {
                    println!("  {}", describe(&item.action));
                }
            }
            if report.plans.is_empty() {
                println!("no configured zone matches this service's records");
            }
            Ok(())
        }
    }
}

/// One plan item in words.
pub(crate) fn describe(a: &vmdns_core::Action) -> String {
    use vmdns_core::Action;
    match a {
        Action::Apply { change } => change.to_string(),
        Action::Unchanged { rrset } => format!("unchanged {rrset}"),
        Action::Conflict {
            current, foreign, ..
        } => format!(
            "conflict {current}: {} not written by vmdns, left untouched",
            foreign.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        Action::LeftAlone { current } => format!("left alone {current} (points elsewhere)"),
        Action::Suppressed { change, policy } => format!("skipped by policy {policy:?}: {change}"),
    }
}

// --------------------------------------------------------------------------------------------- tokens

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCmd {
    /// Create an API token and print it (only the token, once: it is not stored).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List(JsonFlag),
    /// Revoke a token.
    Revoke(IdArgs),
}

pub(crate) async fn token(store: &StoreArgs, cmd: TokenCmd) -> CliResult {
    let app = store.open().await?;
    match cmd {
        TokenCmd::Create { name } => {
            if name.trim().is_empty() {
                return Err(CliError::usage("name: is required"));
            }
            let (_, token) = app.store.create_token(name.trim()).await?;
            println!("{token}");
            Ok(())
        }
        TokenCmd::List(f) => {
            let tokens = app.store.list_tokens().await?;
            if f.json {
                return print_json(&tokens);
            }
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    vec![
                        t.id.to_string(),
                        t.name.clone(),
                        format_ms(t.created_at),
                        t.revoked_at
                            .map(format_ms)
                            .unwrap_or_else(|| "active".into()),
                    ]
                })
                .collect();
            table::print(&["ID", "NAME", "CREATED", "REVOKED"], &rows);
            Ok(())
        }
        TokenCmd::Revoke(a) => {
            let id = parse_id(&a.id)?;
            app.store.revoke_token(id).await?;
            println!("token {id} revoked");
            Ok(())
        }
    }
}
