//! Where to send mail for a domain: a static route from `[relay] routes`, else the domain's
//! MX hosts in preference order (RFC 5321 §5.1), else the domain itself (implicit MX).
//!
//! A domain that does not exist or publishes a null MX (RFC 7505) is a permanent failure:
//! the sender gets an avviso di mancata consegna (`no-dominio`). A DNS server that does not
//! answer is temporary: the relay retries.

use crate::config::RelayConfig;
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{Resolver, TokioResolver};
use std::net::SocketAddr;

/// One host to try, with its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Host name: the TLS server name.
    pub host: String,
    /// Its addresses and port.
    pub addrs: Vec<SocketAddr>,
}

/// Why no host was found.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The domain cannot receive mail, now or later.
    #[error("{0}")]
    Permanent(String),
    /// Ask again later.
    #[error("{0}")]
    Temporary(String),
}

/// Routes from the configuration and DNS.
pub struct Router {
    config: RelayConfig,
    resolver: Option<TokioResolver>,
}

impl Router {
    /// A router; DNS is only set up when MX lookups are on.
    pub fn new(config: RelayConfig) -> Self {
        let resolver = if config.mx {
            match Resolver::builder_tokio() {
                Ok(b) => Some(b.build()),
                Err(e) => {
                    super::submit::tracing_line(&format!(
                        "relay: system DNS configuration unreadable ({e}); using defaults"
                    ));
                    Some(
                        Resolver::builder_with_config(
                            Default::default(),
                            TokioConnectionProvider::default(),
                        )
                        .build(),
                    )
                }
            }
        } else {
            None
        };
        Router { config, resolver }
    }

    /// The hosts for `domain`, best first.
    pub async fn hops(&self, domain: &str) -> Result<Vec<Hop>, RouteError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if let Some(route) = self.config.routes.get(&domain) {
            let addrs = resolve(&route.host, route.port).await?;
            return Ok(vec![Hop {
                host: route.host.clone(),
                addrs,
            }]);
        }
        let Some(resolver) = &self.resolver else {
            return Err(RouteError::Permanent(format!(
                "no route to {domain} (relay.routes) and MX lookups are off"
            )));
        };
        let port = self.config.mx_port;
        let fqdn = format!("{domain}.");
        let mut hosts: Vec<(u16, String)> = match resolver.mx_lookup(fqdn.as_str()).await {
            Ok(mx) => mx
                .iter()
                .map(|m| {
                    let h = m.exchange().to_utf8();
                    (m.preference(), h.trim_end_matches('.').to_string())
                })
                .collect(),
            Err(e) if e.is_no_records_found() => {
                if e.is_nx_domain() {
                    return Err(RouteError::Permanent(format!(
                        "domain {domain} does not exist"
                    )));
                }
                Vec::new()
            }
            Err(e) => return Err(RouteError::Temporary(format!("MX lookup of {domain}: {e}"))),
        };
        if hosts.len() == 1 && hosts[0].1.is_empty() {
            return Err(RouteError::Permanent(format!(
                "{domain} accepts no mail (null MX)"
            )));
        }
        hosts.sort();
        if hosts.is_empty() {
            hosts.push((0, domain.clone())); // RFC 5321 §5.1: implicit MX
        }
        let mut hops = Vec::new();
        let mut last = None;
        for (_, host) in hosts {
            match resolve(&host, port).await {
                Ok(addrs) => hops.push(Hop { host, addrs }),
                Err(e) => last = Some(e),
            }
        }
        match (hops.is_empty(), last) {
            (true, Some(e)) => Err(e),
            (true, None) => Err(RouteError::Temporary(format!("no address for {domain}"))),
            _ => Ok(hops),
        }
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, RouteError> {
    match tokio::net::lookup_host((host, port)).await {
        Ok(a) => {
            let addrs: Vec<SocketAddr> = a.collect();
            if addrs.is_empty() {
                Err(RouteError::Temporary(format!("no address for {host}")))
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(RouteError::Temporary(format!("cannot resolve {host}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Route;

    fn config(mx: bool) -> RelayConfig {
        let mut routes = std::collections::BTreeMap::new();
        routes.insert(
            "pec.b.test".to_string(),
            Route {
                host: "127.0.0.1".into(),
                port: 2525,
            },
        );
        RelayConfig {
            routes,
            mx,
            mx_port: 25,
            tls_roots: Vec::new(),
            timeout: std::time::Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_static_route_wins_and_ignores_case() {
        let r = Router::new(config(false));
        let hops = r.hops("PEC.B.test").await.unwrap();
        assert_eq!(hops[0].addrs, vec!["127.0.0.1:2525".parse().unwrap()]);
    }

    #[tokio::test]
    async fn without_route_or_mx_the_domain_is_unreachable_for_good() {
        let r = Router::new(config(false));
        assert!(matches!(
            r.hops("pec.c.test").await,
            Err(RouteError::Permanent(_))
        ));
    }
}
