//! The legacy read-only endpoint (the seed's `dns.php`): `[{forward, ip, reverse}]` for every address of
//! every active service, for existing DNS-sync scripts. No token: access by client address, from an
//! allow-list (default loopback only). `X-Forwarded-For` is believed only from configured trusted proxies.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use serde::Serialize;

use super::error::{ApiError, ApiResult, Json};
use crate::app::App;
use crate::store::ServiceStatus;

#[derive(Debug, Serialize)]
pub struct Mapping {
    pub forward: String,
    pub ip: String,
    pub reverse: String,
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the right-most address of
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.iter().any(|n| n.contains(&peer)) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.iter().any(|n| n.contains(ip)))
        .unwrap_or(peer)
}

/// Allows the request when the client is on the allow-list.
pub fn allowed(app: &App, peer: SocketAddr, headers: &HeaderMap) -> bool {
    let ip = client_ip(peer.ip(), headers, &app.config.trusted_proxies);
    app.config.legacy_allow.iter().any(|n| n.contains(&ip))
}

pub async fn dns_php(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if !allowed(&app, peer, &headers) {
        return Ok(ApiError::new(
            StatusCode::FORBIDDEN,
            "your address is not allowed to read this endpoint",
        )
        .into_response());
    }
    let services = app.store.list_services().await?;
    let mut out = Vec::new();
    for s in services
        .iter()
        .filter(|s| s.status == ServiceStatus::Active)
    {
        let fqdn = s.fqdn();
        for a in &s.addresses {
            out.push(Mapping {
                forward: fqdn.clone(),
                ip: a.ip.to_string(),
                reverse: a
                    .ptr
                    .as_ref()
                    .map_or_else(|| fqdn.clone(), ToString::to_string),
            });
        }
    }
    Ok(Json(out).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 10.0.0.2".parse().expect("header"),
        );
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "203.0.113.9".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(client_ip(proxy, &h, &[]), proxy);
        let stranger: IpAddr = "198.51.100.1".parse().expect("ip");
        assert_eq!(client_ip(stranger, &h, &trusted), stranger);
    }
}
