//! The long-running commands: `serve` (API + UI + worker), `worker`, `cron`, `resync`.

use std::net::SocketAddr;

use clap::Args;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{CliError, CliResult, StoreArgs};
use crate::app::App;
use crate::engine::bulk::{BulkOptions, resync_all};
use crate::engine::worker;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "VMDNS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Who may read /dns.php and /metrics: CIDRs, comma-separated.
    #[arg(
        long,
        env = "VMDNS_LEGACY_ALLOW",
        value_delimiter = ',',
        default_value = "127.0.0.1/32,::1/128"
    )]
    legacy_allow: Vec<IpNet>,
    /// Proxies whose X-Forwarded-For is believed: CIDRs, comma-separated.
    #[arg(long, env = "VMDNS_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<IpNet>,
    /// Run the HTTP server only, no job worker (run `vmdns worker` elsewhere).
    #[arg(long)]
    no_worker: bool,
    #[command(flatten)]
    worker: WorkerArgs,
}

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Jobs of different services run at once, at most this many.
    #[arg(long, env = "VMDNS_WORKER_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Automatic retries after a job ended with errors that may pass (provider down, rate limited).
    #[arg(long, env = "VMDNS_MAX_RETRIES", default_value_t = 5)]
    max_retries: u32,
    /// Seconds before the first automatic retry (doubles per retry, at most an hour).
    #[arg(long, env = "VMDNS_RETRY_BASE_SECS", default_value_t = 30)]
    retry_base_secs: u64,
    /// Seconds a claimed job's lease lasts before another worker may take it over.
    #[arg(long, env = "VMDNS_LEASE_SECS", default_value_t = 60)]
    lease_secs: u64,
}

impl WorkerArgs {
    fn apply(&self, config: &mut crate::config::Config) {
        config.worker.concurrency = self.concurrency.max(1);
        config.worker.max_retries = self.max_retries;
        config.worker.retry_base = std::time::Duration::from_secs(self.retry_base_secs.max(1));
        config.worker.lease = std::time::Duration::from_secs(self.lease_secs.max(3));
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

fn stop_channel() -> (
    watch::Sender<bool>,
    impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    let (tx, rx) = watch::channel(false);
    let make = move || {
        let mut rx = rx.clone();
        Box::pin(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    };
    (tx, make)
}

pub(crate) async fn serve(store: &StoreArgs, args: ServeArgs) -> CliResult {
    let mut config = store.config();
    config.listen = args.listen;
    config.legacy_allow = args.legacy_allow;
    config.trusted_proxies = args.trusted_proxies;
    args.worker.apply(&mut config);
    let app = App::open(config).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::fail(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::fail(e.to_string()))?;
    tracing::info!(%addr, data_dir = %app.config.data_dir.display(), "vmdns listening on http://{addr}/");
    if app
        .store
        .list_users()
        .await
        .map(|u| u.is_empty())
        .unwrap_or(false)
    {
        tracing::warn!("no account for the web UI yet: create one with `vmdns user add NAME`");
    }
    let (stop, stopped) = stop_channel();
    let http = tokio::spawn(crate::http::run(listener, app.clone(), stopped()));
    let work = (!args.no_worker).then(|| tokio::spawn(worker::run(app.clone(), stopped())));
    shutdown_signal().await;
    let _ = stop.send(true);
    if let Some(w) = work {
        let _ = w.await;
    }
    match http.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(CliError::fail(format!("HTTP server failed: {e}"))),
        Err(e) => return Err(CliError::fail(format!("HTTP server failed: {e}"))),
    }
    app.store.close().await;
    Ok(())
}

pub(crate) async fn worker(store: &StoreArgs, args: WorkerArgs) -> CliResult {
    let mut config = store.config();
    args.apply(&mut config);
    let app = App::open(config).await?;
    worker::run(app.clone(), shutdown_signal()).await;
    app.store.close().await;
    Ok(())
}

pub(crate) async fn cron(store: &StoreArgs) -> CliResult {
    let app = store.open().await?;
    let name = format!("cron:{}", app.config.node_name);
    let n = worker::drain(&app, &name, true).await?;
    println!("cron: {n} job(s) run; queue empty");
    app.store.close().await;
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct ResyncArgs {
    /// Every service (the only mode for now; one service: `vmdns service set-dns-records ID`).
    #[arg(long)]
    all: bool,
    /// Plan only: print what would change.
    #[arg(long)]
    dry_run: bool,
    /// Allow deleting more than --max-delete-percent of what vmdns owns in a zone.
    #[arg(long)]
    force: bool,
    #[arg(long, default_value_t = 30.0)]
    max_delete_percent: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn resync(store: &StoreArgs, args: ResyncArgs) -> CliResult {
    if !args.all {
        return Err(CliError::usage(
            "resync needs --all (for one service: vmdns service set-dns-records ID)",
        ));
    }
    if !(0.0..=100.0).contains(&args.max_delete_percent) {
        return Err(CliError::usage("max-delete-percent: must be from 0 to 100"));
    }
    let app = store.open().await?;
    let opts = BulkOptions {
        dry_run: args.dry_run,
        force: args.force,
        max_delete_share: args.max_delete_percent / 100.0,
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} zones {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |done: usize, total: usize, zone: &str| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(zone.to_string());
    };
    let outcomes = resync_all(&app, &opts, &progress).await?;
    bar.finish_and_clear();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcomes).map_err(|e| CliError::fail(e.to_string()))?
        );
    } else {
        for o in &outcomes {
            let verb = if args.dry_run { "would" } else { "did" };
            println!(
                "{} ({} #{}): {verb} create {}, replace {}, delete {}; {} unchanged, {} conflicts, {} errors",
                o.zone,
                o.provider,
                o.zone_id,
                o.creates,
                o.replaces,
                o.deletes,
                o.unchanged,
                o.conflicts,
                o.errors
            );
            if let Some(r) = &o.refused {
                println!("  not written: {r}");
                for d in &o.would_delete {
                    println!("    would delete {d}");
                }
            }
        }
    }
    app.store.close().await;
    let failed = outcomes.iter().any(|o| o.refused.is_some() || o.errors > 0);
    if failed && !args.dry_run {
        // DNS failures are reported above; the exit status lets scripts notice them.
        return Err(CliError::fail(
            "some zones were not fully converged (see above)",
        ));
    }
    Ok(())
}
