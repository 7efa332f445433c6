//! The core's commands: `ptr-name`, `rdns-zone`, `records`. Pure: they touch no store and no DNS server.

use std::io::Write;
use std::net::IpAddr;

use clap::Args;
use ipnet::IpNet;
use vmdns_core::{
    AddressSpec, DnsName, VmSpec, assign_to_zones, ptr_name as core_ptr_name, reverse_zone,
};

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub(crate) struct PtrNameArgs {
    /// An IPv4 or IPv6 address.
    ip: String,
}

#[derive(Debug, Args)]
pub(crate) struct RdnsZoneArgs {
    /// Any address of the pool with its prefix length, e.g. 192.168.130.2/24.
    prefix: String,
    /// Print the hint as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RecordsArgs {
    /// The VM's internal name (first label of its FQDN).
    #[arg(long)]
    name: String,
    /// The main domain.
    #[arg(long)]
    domain: String,
    /// An address, optionally with the customer's reverse hostname: 192.0.2.10=mail.example.com.
    #[arg(long = "ip", value_name = "IP[=REVERSE-HOSTNAME]")]
    ips: Vec<String>,
    /// A configured zone (repeat for several).
    #[arg(long = "zone", value_name = "ZONE")]
    zones: Vec<String>,
    /// TTL of the records.
    #[arg(long, default_value_t = 300)]
    ttl: u32,
}

pub(crate) fn parse_ip(field: &str, s: &str) -> Result<IpAddr, CliError> {
    s.trim()
        .parse()
        .map_err(|_| CliError::usage(format!("{field}: {s:?} is not an IPv4 or IPv6 address")))
}

pub(crate) fn parse_prefix(s: &str) -> Result<IpNet, CliError> {
    let (addr, len) = s.trim().split_once('/').ok_or_else(|| {
        CliError::usage(format!(
            "prefix: {s:?} must be ADDRESS/LENGTH, e.g. 192.0.2.1/24"
        ))
    })?;
    let ip = parse_ip("prefix", addr)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 = len.parse().ok().filter(|l| *l <= max).ok_or_else(|| {
        CliError::usage(format!(
            "prefix: length {len:?} is out of range (0 to {max})"
        ))
    })?;
    IpNet::new(ip, len).map_err(|e| CliError::usage(format!("prefix: {e}")))
}

fn parse_name(field: &str, s: &str) -> Result<DnsName, CliError> {
    DnsName::parse(s).map_err(|e| CliError::usage(format!("{field}: {s:?}: {e}")))
}

pub(crate) fn ptr_name(args: &PtrNameArgs) -> CliResult {
    let ip = parse_ip("ip", &args.ip)?;
    println!("{}", core_ptr_name(ip));
    Ok(())
}

pub(crate) fn rdns_zone(args: &RdnsZoneArgs) -> CliResult {
    let net = parse_prefix(&args.prefix)?;
    let hint = reverse_zone(net);
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&hint)
            .map_err(|e| CliError::from(anyhow::Error::from(e)))?;
        let _ = writeln!(out, "{json}");
    } else {
        for line in hint.lines() {
            let _ = writeln!(out, "{line}");
        }
    }
    Ok(())
}

pub(crate) fn records(args: &RecordsArgs) -> CliResult {
    let domain = parse_name("domain", &args.domain)?;
    let mut addresses = Vec::new();
    for spec in &args.ips {
        let (ip, ptr) = match spec.split_once('=') {
            Some((ip, host)) => (ip, Some(parse_name("ip", host)?)),
            None => (spec.as_str(), None),
        };
        addresses.push(AddressSpec {
            ip: parse_ip("ip", ip)?,
            ptr,
        });
    }
    let zones = args
        .zones
        .iter()
        .map(|z| parse_name("zone", z))
        .collect::<Result<Vec<_>, _>>()?;
    let vm = VmSpec {
        name: args.name.clone(),
        domain,
        addresses,
        ttl: args.ttl,
    };
    let assigned = assign_to_zones(&vm, &zones).map_err(|e| CliError::usage(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    for (zone, rrsets) in zones.iter().zip(&assigned) {
        for rrset in rrsets {
            for content in &rrset.records {
                let _ = writeln!(
                    out,
                    "{zone} {} {} {} {content}",
                    rrset.name, rrset.rtype, rrset.ttl
                );
            }
        }
    }
    Ok(())
}
