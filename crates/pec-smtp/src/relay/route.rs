//! Where to send mail for a domain: a static route from `[relay] routes`, else the domain's
//! MX hosts in preference order (RFC 5321 §5.1), else the domain itself (implicit MX).
//!
//! A domain that does not exist or publishes a null MX (RFC 7505) is a permanent failure:
//! the sender gets an avviso di mancata consegna (`no-dominio`). A DNS server that does not
//! answer is temporary: the relay retries.
//!
//! DNS is the system's (resolv.conf for MX, getaddrinfo for host addresses) unless
//! `[relay] dns` names servers: then both the MX records and the MX hosts' addresses come
//! from those servers only (no hosts file), which is how the tests point us at a private
//! dnsmasq. Static routes always resolve through the system.

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{Resolver, TokioResolver};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// One static relay route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Host name (also the TLS server name) or IP address.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// How to reach other domains: `[relay]` of the configuration.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Destination domain (lower case) → route.
    pub routes: std::collections::BTreeMap<String, Route>,
    /// MX lookups for other domains.
    pub mx: bool,
    /// Port of MX hosts.
    pub mx_port: u16,
    /// Name servers for MX lookups and MX host addresses; empty = the system resolver.
    pub dns: Vec<SocketAddr>,
    /// Extra TLS roots.
    pub tls_roots: Vec<PathBuf>,
    /// Connect and reply timeout.
    pub timeout: std::time::Duration,
}

/// Why a domain cannot be reached at all (no route, before any SMTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// The domain does not exist (NXDOMAIN).
    NoSuchDomain,
    /// The domain says it accepts no mail (null MX, RFC 7505).
    NullMx,
    /// We have no route to it and do not look MX records up.
    NoRoute,
}

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
    #[error("{0:?}")]
    Permanent(Unreachable),
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
        let resolver = if config.mx && !config.dns.is_empty() {
            Some(own_servers(&config.dns, config.timeout))
        } else if config.mx {
            match Resolver::builder_tokio() {
                Ok(b) => Some(b.build()),
                Err(e) => {
                    tracing::warn!(
                        "relay: system DNS configuration unreadable ({e}); using defaults"
                    );
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
            // No route in relay.routes and MX lookups are off.
            return Err(RouteError::Permanent(Unreachable::NoRoute));
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
                    return Err(RouteError::Permanent(Unreachable::NoSuchDomain));
                }
                Vec::new()
            }
            Err(e) => return Err(RouteError::Temporary(format!("MX lookup of {domain}: {e}"))),
        };
        if hosts.len() == 1 && hosts[0].1.is_empty() {
            return Err(RouteError::Permanent(Unreachable::NullMx));
        }
        hosts.sort();
        if hosts.is_empty() {
            hosts.push((0, domain.clone())); // RFC 5321 §5.1: implicit MX
        }
        let mut hops = Vec::new();
        let mut last = None;
        for (_, host) in hosts {
            let addrs = if self.config.dns.is_empty() {
                resolve(&host, port).await
            } else {
                resolve_with(resolver, &host, port).await
            };
            match addrs {
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

/// A resolver that asks only `servers`, each over UDP and TCP, waiting at most `timeout`
/// (the relay's own connect and reply timeout) for each answer.
fn own_servers(servers: &[SocketAddr], timeout: std::time::Duration) -> TokioResolver {
    let group: Vec<NameServerConfig> = servers
        .iter()
        .flat_map(|a| {
            [
                NameServerConfig::new(*a, Protocol::Udp),
                NameServerConfig::new(*a, Protocol::Tcp),
            ]
        })
        .collect();
    let mut builder = Resolver::builder_with_config(
        ResolverConfig::from_parts(None, Vec::new(), group),
        TokioConnectionProvider::default(),
    );
    let options = builder.options_mut();
    options.use_hosts_file = ResolveHosts::Never;
    options.timeout = timeout;
    builder.build()
}

/// The addresses of an MX host from our own name servers (A, then AAAA if there is none).
/// Like getaddrinfo's failures, every failure here is temporary.
async fn resolve_with(
    resolver: &TokioResolver,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, RouteError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match resolver.lookup_ip(format!("{host}.")).await {
        Ok(ips) => {
            let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(ip, port)).collect();
            if addrs.is_empty() {
                Err(RouteError::Temporary(format!("no address for {host}")))
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(RouteError::Temporary(format!("cannot resolve {host}: {e}"))),
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
            dns: Vec::new(),
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

/// [`Router::hops`] against a real name server: a private dnsmasq (`scripts/dnsmasq`).
#[cfg(test)]
mod dns {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dnsmasq")
    }

    /// A private dnsmasq, stopped when dropped (also when a test fails).
    struct Dnsmasq {
        dir: tempfile::TempDir,
        addr: SocketAddr,
    }

    impl Dnsmasq {
        /// `None` (the test skips) when dnsmasq is missing, unless GESTORE_REQUIRE_TOOLS=1.
        fn start(records: &[&str]) -> Option<Dnsmasq> {
            let installed = ["/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq"]
                .iter()
                .any(|p| Path::new(p).exists());
            if !installed {
                if std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() == Ok("1") {
                    panic!(
                        "dnsmasq is required (GESTORE_REQUIRE_TOOLS=1): scripts/dnsmasq install"
                    );
                }
                eprintln!("skipping: dnsmasq not installed (scripts/dnsmasq install)");
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let out = Command::new(script())
                .arg("start")
                .arg(dir.path())
                .args(records)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            let addr = stdout.lines().find_map(|l| l.strip_prefix("dns="));
            let d = Dnsmasq {
                addr: addr
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(([0, 0, 0, 0], 0).into()),
                dir,
            };
            assert!(
                out.status.success() && d.addr.port() != 0,
                "dnsmasq: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(d)
        }
    }

    impl Drop for Dnsmasq {
        fn drop(&mut self) {
            let _ = Command::new(script())
                .arg("stop")
                .arg(self.dir.path())
                .status();
        }
    }

    fn router(dns: SocketAddr) -> Router {
        Router::new(RelayConfig {
            routes: Default::default(),
            mx: true,
            mx_port: 2525,
            dns: vec![dns],
            tls_roots: Vec::new(),
            // Also each DNS query's limit: the silent server below is given up sooner.
            timeout: std::time::Duration::from_secs(1),
        })
    }

    const ZONE: &[&str] = &[
        "--local=/test/",
        "--mx-host=pec.b.test,late.pec.b.test,20",
        "--mx-host=pec.b.test,mx.pec.b.test,10",
        "--mx-host=pec.b.test,gone.pec.b.test,7",
        "--mx-host=pec.b.test,dead.pec.b.test,5",
        "--host-record=late.pec.b.test,127.0.0.3",
        "--host-record=mx.pec.b.test,127.0.0.1",
        "--host-record=dead.pec.b.test,127.0.0.2,::2",
        "--host-record=implicit.test,127.0.0.4",
        "--mx-host=nomail.test,.,0",
    ];

    fn hop(host: &str, addrs: &[&str]) -> Hop {
        Hop {
            host: host.into(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    #[tokio::test]
    async fn mx_hosts_come_in_preference_order_with_their_addresses_from_our_server() {
        let Some(d) = Dnsmasq::start(ZONE) else {
            return;
        };
        let hops = router(d.addr).hops("PEC.B.test.").await.unwrap();
        // gone.pec.b.test has no address: skipped. dead has IPv4 only in the answer
        // (IPv4 first, IPv6 only when there is no IPv4).
        assert_eq!(
            hops,
            [
                hop("dead.pec.b.test", &["127.0.0.2:2525"]),
                hop("mx.pec.b.test", &["127.0.0.1:2525"]),
                hop("late.pec.b.test", &["127.0.0.3:2525"]),
            ]
        );
    }

    #[tokio::test]
    async fn a_domain_without_mx_is_its_own_mx() {
        let Some(d) = Dnsmasq::start(ZONE) else {
            return;
        };
        let hops = router(d.addr).hops("implicit.test").await.unwrap();
        assert_eq!(hops, [hop("implicit.test", &["127.0.0.4:2525"])]);
    }

    #[tokio::test]
    async fn nxdomain_and_null_mx_are_permanent() {
        let Some(d) = Dnsmasq::start(ZONE) else {
            return;
        };
        let r = router(d.addr);
        match r.hops("inesistente.test").await {
            Err(RouteError::Permanent(e)) => {
                assert_eq!(e, Unreachable::NoSuchDomain)
            }
            other => panic!("{other:?}"),
        }
        match r.hops("nomail.test").await {
            Err(RouteError::Permanent(e)) => {
                assert_eq!(e, Unreachable::NullMx)
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_name_server_that_does_not_answer_is_temporary() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .unwrap();
        let r = router(([127, 0, 0, 1], port).into());
        assert!(matches!(
            r.hops("pec.b.test").await,
            Err(RouteError::Temporary(_))
        ));
    }
}
