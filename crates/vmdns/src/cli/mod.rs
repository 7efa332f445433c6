//! The command line: one subcommand per job, parsed by clap, dispatched here. Library errors become a
//! message on stderr and a non-zero exit code: 2 for bad input, 1 for everything else.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod dns;

/// Keeps forward and reverse DNS of hosted VMs in step with the VMs.
#[derive(Debug, Parser)]
#[command(name = "vmdns", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        Self {
            code: 1,
            message: format!("{e:#}"),
        }
    }
}

pub(crate) type CliResult = Result<(), CliError>;

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::PtrName(a) => dns::ptr_name(&a),
        Command::RdnsZone(a) => dns::rdns_zone(&a),
        Command::Records(a) => dns::records(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
