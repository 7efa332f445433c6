//! The command line: one subcommand per job, parsed by clap, dispatched here. Errors become a message on
//! stderr and a non-zero exit code: 2 for bad input, 1 for everything else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::admin::AdminError;
use crate::app::App;
use crate::config::Config;

mod admin;
mod dns;
mod run;
mod table;
mod user;

/// Keeps forward and reverse DNS of hosted VMs in step with the VMs.
#[derive(Debug, Parser)]
#[command(name = "vmdns", version, about)]
pub struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the state lives (every command that touches the store).
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Data directory: the SQLite database and the master key file live here.
    #[arg(
        long,
        env = "VMDNS_DATA_DIR",
        default_value = "./vmdns-data",
        global = true
    )]
    data_dir: PathBuf,
    /// Database URL (sqlite://... or postgres://...); default: SQLite in the data directory.
    #[arg(
        long,
        env = "VMDNS_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API, the web UI and the job worker.
    Serve(run::ServeArgs),
    /// Run the job worker alone.
    Worker(run::WorkerArgs),
    /// Run every due job once, with live output, and exit (for cron-driven setups).
    Cron,
    /// Apply the database migrations and exit.
    Migrate,
    /// Converge every service at once, batched per zone.
    Resync(run::ResyncArgs),
    /// Manage DNS zones.
    #[command(subcommand)]
    Zone(admin::ZoneCmd),
    /// Manage IP pools.
    #[command(subcommand)]
    Pool(admin::PoolCmd),
    /// Manage services (VMs) and queue their lifecycle jobs.
    #[command(subcommand)]
    Service(admin::ServiceCmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(admin::TokenCmd),
    /// Manage web UI accounts.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Print the reverse (PTR) name of an address.
    PtrName(dns::PtrNameArgs),
    /// Print the reverse zone an IP pool needs (exact zone, spans, or classless delegation).
    RdnsZone(dns::RdnsZoneArgs),
    /// Print the records each zone would get for a VM, without touching any DNS server.
    Records(dns::RecordsArgs),
}

/// A failure the CLI reports: the message goes to stderr, the code is the exit status.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl CliError {
    /// Bad input: exit code 2.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    pub(crate) fn fail(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        Self::fail(format!("{e:#}"))
    }
}

impl From<AdminError> for CliError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid { .. } => Self::usage(e.to_string()),
            AdminError::Internal(cause) => Self::fail(format!("{cause:#}")),
            other => Self::fail(other.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        AdminError::from(e).into()
    }
}

pub(crate) type CliResult = Result<(), CliError>;

impl StoreArgs {
    pub(crate) fn config(&self) -> Config {
        Config {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            master_key: std::env::var("VMDNS_MASTER_KEY").ok(),
            ..Config::default()
        }
    }

    pub(crate) async fn open(&self) -> Result<App, CliError> {
        Ok(App::open(self.config()).await?)
    }
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VMDNS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::PtrName(a) => dns::ptr_name(&a),
        Command::RdnsZone(a) => dns::rdns_zone(&a),
        Command::Records(a) => dns::records(&a),
        command => {
            let long_running = matches!(
                command,
                Command::Serve(_) | Command::Worker(_) | Command::Cron | Command::Resync(_)
            );
            init_tracing(if long_running { "info" } else { "warn" });
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(dispatch(cli.store, command)),
                Err(e) => Err(CliError::fail(format!("cannot start the runtime: {e}"))),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

async fn dispatch(store: StoreArgs, command: Command) -> CliResult {
    match command {
        Command::Serve(a) => run::serve(&store, a).await,
        Command::Worker(a) => run::worker(&store, a).await,
        Command::Cron => run::cron(&store).await,
        Command::Migrate => {
            store.open().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Resync(a) => run::resync(&store, a).await,
        Command::Zone(c) => admin::zone(&store, c).await,
        Command::Pool(c) => admin::pool(&store, c).await,
        Command::Service(c) => admin::service(&store, c).await,
        Command::Token(c) => admin::token(&store, c).await,
        Command::User(c) => user::user(&store, c).await,
        Command::PtrName(_) | Command::RdnsZone(_) | Command::Records(_) => Ok(()),
    }
}
