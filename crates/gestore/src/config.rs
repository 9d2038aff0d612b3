//! The configuration file of `gestore serve` (TOML), in two stages: [`RawConfig`] mirrors the
//! file and refuses unknown keys; [`Config`] is validated, with paths resolved against the
//! data folder and every problem of the file reported in one go.
//!
//! What reloads and what needs a restart: everything here needs a restart today; mailboxes
//! live in the store and change at once (`gestore mailbox …`).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Who we are.
    pub provider: RawProvider,
    /// Where we listen.
    #[serde(default)]
    pub listen: RawListen,
    /// TLS for the listeners.
    #[serde(default)]
    pub tls: RawTls,
    /// Where data lives.
    #[serde(default)]
    pub data: RawData,
    /// Limits of the access point and of the boxes.
    #[serde(default)]
    pub limits: RawLimits,
    /// The providers' index (IGPEC).
    #[serde(default)]
    pub index: RawIndex,
    /// Sending to other providers.
    #[serde(default)]
    pub relay: RawRelay,
    /// The receiving point's policy.
    #[serde(default)]
    pub receiving: RawReceiving,
    /// Development switches.
    #[serde(default)]
    pub dev: RawDev,
    /// Antivirus.
    #[serde(default)]
    pub antivirus: RawAntivirus,
}

/// `[index]`: the providers' index (PEC-SPEC §7).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    /// The index as an LDIF file (IGPEC's download, or a file of our own); re-read when it
    /// changes. Without it only our own domains are certified and no other provider's
    /// signature is recognised.
    pub file: Option<PathBuf>,
    /// CA certificates (PEM) that sign providers' certificates, e.g. AgID CA1. The
    /// certificates listed in the index are always trusted as they are (pinned).
    #[serde(default)]
    pub trust_anchors: Vec<PathBuf>,
    /// The IGPEC LDAP server (`ldaps://host:port`, or `ldap://host:port`) the index is synced
    /// from into `file` (PEC-SPEC §7.2: a local copy refreshed daily). Needs `file`.
    pub ldap_url: Option<String>,
    /// Bind DN for the LDAP server (anonymous without it).
    pub ldap_bind_dn: Option<String>,
    /// Password of `ldap_bind_dn`.
    pub ldap_password: Option<String>,
    /// Seconds between two syncs. Default 86400 (daily).
    pub ldap_sync_seconds: Option<u64>,
    /// Upgrade an `ldap://` `ldap_url` to TLS with StartTLS before binding, for servers that
    /// listen on 389 only. Default false.
    #[serde(default)]
    pub ldap_starttls: bool,
    /// CA certificates (PEM) trusted for the LDAP server's certificate, instead of the public
    /// web roots (the index's server usually has a CA of its own). TLS only.
    pub ldap_ca: Option<PathBuf>,
    /// Our client certificate (PEM, leaf first) for an LDAP server that demands one, as the
    /// real index does (PEC-SPEC §7.2). Goes with `ldap_client_key`. TLS only.
    pub ldap_client_cert: Option<PathBuf>,
    /// The key of `ldap_client_cert` (PEM).
    pub ldap_client_key: Option<PathBuf>,
}

/// `[antivirus]`: ClamAV's clamd (PEC-SPEC §9.3).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAntivirus {
    /// clamd's address: a Unix socket path (`/run/clamav/clamd.ctl`) or `host:port`;
    /// `""` turns scanning off.
    pub clamd: String,
    /// Seconds a scan may take; then the message is not passed but kept for a retry.
    pub timeout_seconds: u64,
    /// Scan at the access point (our users' messages).
    pub access: bool,
    /// Scan at the receiving point (other providers' envelopes).
    pub receiving: bool,
    /// Months an infected message stays in the quarantine before it is removed; at least 30
    /// (DPR 68/2005 art. 12).
    pub quarantine_months: u32,
}

impl Default for RawAntivirus {
    fn default() -> Self {
        Self {
            clamd: String::new(),
            timeout_seconds: 60,
            access: true,
            receiving: true,
            quarantine_months: pec_core::virus::CONSERVAZIONE_MESI,
        }
    }
}

/// The validated `[antivirus]`, when scanning is on.
pub use pec_provider::Antivirus;

/// The validated LDAP sync of the index.
#[derive(Debug, Clone)]
pub struct LdapSync {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// Bind DN and password.
    pub bind: Option<(String, String)>,
    /// StartTLS, the CA file, the client certificate (paths resolved).
    pub tls: pec_directory::ldap::LdapTls,
    /// Between two syncs.
    pub every: std::time::Duration,
}

/// `[relay]`: the SMTP client towards other providers (PEC-SPEC §9.2).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRelay {
    /// Static routes: destination domain → `host:port`. Other domains are looked up by MX.
    pub routes: std::collections::BTreeMap<String, String>,
    /// Look domains without a route up by DNS MX. Default true.
    pub mx: bool,
    /// Port of MX hosts. Default 25.
    pub mx_port: u16,
    /// Name servers (`ip:port`) asked for MX records and the addresses of MX hosts, over UDP
    /// and TCP, instead of the system's. Default empty: the system resolver.
    pub dns: Vec<String>,
    /// CA certificates (PEM) trusted for STARTTLS besides the public web roots.
    pub tls_roots: Vec<PathBuf>,
    /// Seconds to wait for a connection and for each reply. Default 60.
    pub timeout_seconds: u64,
}

impl Default for RawRelay {
    fn default() -> Self {
        Self {
            routes: Default::default(),
            mx: true,
            mx_port: 25,
            dns: Vec::new(),
            tls_roots: Vec::new(),
            timeout_seconds: 60,
        }
    }
}

/// `[receiving]`: what the receiving point does with mail it cannot certify.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawReceiving {
    /// `"anomaly"`: ordinary (unsigned or badly signed) mail reaches the boxes inside a busta
    /// di anomalia; `"refuse"`: it is refused at SMTP level (PEC-SPEC §2.3, a policy choice).
    pub ordinary_mail: String,
}

impl Default for RawReceiving {
    fn default() -> Self {
        Self {
            ordinary_mail: "anomaly".into(),
        }
    }
}

/// `[dev]`: switches for tests and demos, never for production.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDev {
    /// Let `gestore clock advance` move the provider's clock forward (tests of the 12 h /
    /// 24 h deadlines). Default false.
    #[serde(default)]
    pub adjustable_clock: bool,
}

/// What the receiving point does with ordinary mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrdinaryMail {
    /// Wrap it in a busta di anomalia.
    Anomaly,
    /// Refuse it at SMTP level.
    Refuse,
}

pub use pec_smtp::relay::{RelayConfig, Route};

/// `[provider]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// Provider name: daticert `gestore-emittente` and the signing certificate's O.
    pub name: String,
    /// Service address that signs and sends receipts, e.g. `posta-certificata@pec.example.it`.
    pub service_address: String,
    /// The PEC domains whose boxes we keep, e.g. `["pec.example.it"]`.
    pub domains: Vec<String>,
    /// Signing certificate (PEM). Default: the dev PKI in `DATA/pki`, made on first start.
    pub signing_cert: Option<PathBuf>,
    /// Signing key (PEM), with `signing_cert`.
    pub signing_key: Option<PathBuf>,
}

/// `[listen]`: socket addresses; an empty string disables a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawListen {
    /// SMTP submission with STARTTLS (port 587 style). Default `127.0.0.1:10587`.
    pub submission: String,
    /// SMTP submission over implicit TLS (port 465 style). Default `127.0.0.1:10465`.
    pub submissions: String,
    /// IMAP with STARTTLS (port 143 style). Default `127.0.0.1:10143`.
    pub imap: String,
    /// IMAP over implicit TLS (port 993 style). Default `127.0.0.1:10993`.
    pub imaps: String,
    /// POP3 with STLS (port 110 style). Default `127.0.0.1:10110`.
    pub pop3: String,
    /// POP3 over implicit TLS (port 995 style). Default `127.0.0.1:10995`.
    pub pop3s: String,
    /// The receiving point: SMTP from other providers and the Internet, STARTTLS offered
    /// (port 25 style). Default `127.0.0.1:10025`.
    pub inbound: String,
    /// The webmail over HTTPS, with the listeners' TLS certificate. Default: off (the
    /// example configuration and the demo turn it on).
    pub web: String,
    /// The webmail over plain HTTP: loopback addresses only (behind a local TLS proxy, or
    /// for tests). Default: off.
    pub web_http: String,
}

impl Default for RawListen {
    fn default() -> Self {
        Self {
            submission: "127.0.0.1:10587".into(),
            submissions: "127.0.0.1:10465".into(),
            imap: "127.0.0.1:10143".into(),
            imaps: "127.0.0.1:10993".into(),
            pop3: "127.0.0.1:10110".into(),
            pop3s: "127.0.0.1:10995".into(),
            inbound: "127.0.0.1:10025".into(),
            web: String::new(),
            web_http: String::new(),
        }
    }
}

/// `[tls]`: the listeners' certificate. Default: a self-signed dev certificate in
/// `DATA/tls`, made on first start.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// Certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// Private key (PEM).
    pub key: Option<PathBuf>,
    /// Host names of the dev certificate. Default `["localhost"]`.
    pub hostnames: Option<Vec<String>>,
}

/// `[data]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawData {
    /// The data folder: SQLite database, message files, dev PKI and TLS. Relative paths are
    /// resolved against the configuration file's folder. Default `data`.
    pub dir: PathBuf,
}

impl Default for RawData {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("data"),
        }
    }
}

/// `[limits]` (PEC-SPEC §9.6: at least 50 recipients and 30 MB size × recipients).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    /// Most recipients of one message. Default 50, never less.
    pub max_recipients: usize,
    /// Most bytes of message size × recipients. Default 30 MB (31,457,280), never less.
    pub max_total_size: u64,
    /// Largest single message accepted at SMTP level (bytes). Default 50 MB.
    pub max_message_size: u64,
    /// Quota of a new box (bytes). Default 1 GB.
    pub default_quota: u64,
    /// Connections one listener serves at once. Default 1000. Lowered at start when the
    /// open-files limit cannot hold them all (a line says so).
    pub max_connections: usize,
    /// Connections one listener serves at once from one client address. Default 50 (IMAP
    /// twice that: mail clients open several each). An office behind one NAT address may
    /// need more.
    pub max_connections_per_ip: usize,
    /// Seconds a client of SMTP submission, IMAP or POP3 may take to log in. Default 60.
    pub login_timeout_seconds: u64,
    /// Failed logins, counted across SMTP, IMAP and POP3, from one address or on one box
    /// within 15 minutes, that block further attempts. Default 10.
    pub login_failures: u32,
    /// Minutes such a block lasts. Default 15.
    pub login_block_minutes: u64,
    /// MiB of message bodies one IMAP or POP3 listener may hold at once for FETCH or RETR
    /// replies not yet taken by their clients (each costs its size until read, one box at
    /// most a quarter); a session waits for its share, and one whose client stops reading is
    /// dropped after a minute. Default 256.
    pub imap_fetch_memory_mb: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_recipients: MIN_RECIPIENTS,
            max_total_size: MIN_TOTAL_SIZE,
            max_message_size: 50 << 20,
            default_quota: 1 << 30,
            max_connections: 1000,
            max_connections_per_ip: 50,
            login_timeout_seconds: 60,
            login_failures: 10,
            login_block_minutes: 15,
            imap_fetch_memory_mb: 256,
        }
    }
}

/// PEC-SPEC §9.6: a provider must accept at least 50 recipients.
pub const MIN_RECIPIENTS: usize = 50;
/// PEC-SPEC §9.6: a provider must accept size × recipients up to 30 MB.
pub const MIN_TOTAL_SIZE: u64 = 30 << 20;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Provider name.
    pub provider_name: String,
    /// Service address (lower case).
    pub service_address: String,
    /// Our PEC domains (lower case).
    pub domains: Vec<String>,
    /// Signing certificate and key; `None` means the dev PKI in `data_dir/pki`.
    pub signing: Option<(PathBuf, PathBuf)>,
    /// STARTTLS submission listener.
    pub submission: Option<SocketAddr>,
    /// Implicit-TLS submission listener.
    pub submissions: Option<SocketAddr>,
    /// IMAP listener with STARTTLS.
    pub imap: Option<SocketAddr>,
    /// IMAP listener over implicit TLS.
    pub imaps: Option<SocketAddr>,
    /// POP3 listener with STLS.
    pub pop3: Option<SocketAddr>,
    /// POP3 listener over implicit TLS.
    pub pop3s: Option<SocketAddr>,
    /// The receiving point's SMTP listener.
    pub inbound: Option<SocketAddr>,
    /// The webmail over HTTPS.
    pub web: Option<SocketAddr>,
    /// The webmail over plain HTTP (loopback only).
    pub web_http: Option<SocketAddr>,
    /// TLS certificate and key; `None` means the dev certificate in `data_dir/tls`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Host names for the dev TLS certificate.
    pub tls_hostnames: Vec<String>,
    /// Absolute data folder.
    pub data_dir: PathBuf,
    /// Limits.
    pub limits: RawLimits,
    /// The providers' index file.
    pub index_file: Option<PathBuf>,
    /// CAs of providers' certificates.
    pub trust_anchors: Vec<PathBuf>,
    /// Sending to other providers.
    pub relay: RelayConfig,
    /// Ordinary mail at the receiving point.
    pub ordinary_mail: OrdinaryMail,
    /// `gestore clock advance` allowed.
    pub adjustable_clock: bool,
    /// The index's LDAP source, when configured.
    pub ldap: Option<LdapSync>,
    /// Virus scanning, when configured.
    pub antivirus: Option<Antivirus>,
}

/// Every problem found in a configuration file, one per line.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct ConfigErrors(pub Vec<String>);

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors(vec![format!("{}: {e}", path.display())]))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
    }

    /// Validates the text of a configuration; relative paths are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, ConfigErrors> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigErrors(vec![e.to_string().replace('\n', " ")]))?;
        let mut errors = Vec::new();
        let p = &raw.provider;
        if p.name.trim().is_empty() {
            errors.push("provider.name is empty".to_string());
        }
        if !is_address(&p.service_address) {
            errors.push(format!(
                "provider.service_address {:?} is not an e-mail address",
                p.service_address
            ));
        }
        if p.domains.is_empty() {
            errors.push("provider.domains lists no PEC domain".to_string());
        }
        for d in &p.domains {
            if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) {
                errors.push(format!("provider.domains: {d:?} is not a domain"));
            }
        }
        let signing = pair(
            &p.signing_cert,
            &p.signing_key,
            "provider.signing_cert",
            "provider.signing_key",
            base,
            &mut errors,
        );
        let tls = pair(
            &raw.tls.cert,
            &raw.tls.key,
            "tls.cert",
            "tls.key",
            base,
            &mut errors,
        );
        let submission = listen(&raw.listen.submission, "listen.submission", &mut errors);
        let submissions = listen(&raw.listen.submissions, "listen.submissions", &mut errors);
        let imap = listen(&raw.listen.imap, "listen.imap", &mut errors);
        let imaps = listen(&raw.listen.imaps, "listen.imaps", &mut errors);
        let pop3 = listen(&raw.listen.pop3, "listen.pop3", &mut errors);
        let pop3s = listen(&raw.listen.pop3s, "listen.pop3s", &mut errors);
        let inbound = listen(&raw.listen.inbound, "listen.inbound", &mut errors);
        let web = listen(&raw.listen.web, "listen.web", &mut errors);
        let web_http = listen(&raw.listen.web_http, "listen.web_http", &mut errors);
        if let Some(a) = web_http.filter(|a| !a.ip().is_loopback()) {
            errors.push(format!(
                "listen.web_http: {a} is not a loopback address: passwords and session cookies \
                 would cross the network in clear (use listen.web, HTTPS)"
            ));
        }
        let relay = relay(&raw.relay, base, &mut errors);
        let ordinary_mail = match raw.receiving.ordinary_mail.trim() {
            "anomaly" => OrdinaryMail::Anomaly,
            "refuse" => OrdinaryMail::Refuse,
            other => {
                errors.push(format!(
                    "receiving.ordinary_mail: {other:?} is neither \"anomaly\" nor \"refuse\""
                ));
                OrdinaryMail::Anomaly
            }
        };
        let l = &raw.limits;
        if l.max_recipients < MIN_RECIPIENTS {
            errors.push(format!(
                "limits.max_recipients must be at least {MIN_RECIPIENTS} (PEC rules)"
            ));
        }
        if l.max_total_size < MIN_TOTAL_SIZE {
            errors.push(format!(
                "limits.max_total_size must be at least {MIN_TOTAL_SIZE} bytes (PEC rules)"
            ));
        }
        for (name, value) in [
            ("max_connections", l.max_connections as u64),
            ("max_connections_per_ip", l.max_connections_per_ip as u64),
            ("login_timeout_seconds", l.login_timeout_seconds),
            ("login_failures", u64::from(l.login_failures)),
            ("login_block_minutes", l.login_block_minutes),
            ("imap_fetch_memory_mb", l.imap_fetch_memory_mb as u64),
        ] {
            if value == 0 {
                errors.push(format!("limits.{name} must be at least 1"));
            }
        }
        let ix = &raw.index;
        let ldap_tls = ldap_tls(ix, base, &mut errors);
        let ldap = match &ix.ldap_url {
            Some(url) if !url.trim().is_empty() => {
                if ix.file.is_none() {
                    errors.push("index.ldap_url needs index.file (the local copy)".into());
                }
                let url = url.trim();
                let plain = url.starts_with("ldap://");
                if !(plain || url.starts_with("ldaps://")) {
                    errors.push(format!("index.ldap_url: {url:?} is not an ldap:// URL"));
                } else if ldap_tls.starttls && !plain {
                    errors.push(
                        "index.ldap_starttls needs an ldap:// URL (ldaps:// is TLS already)".into(),
                    );
                } else if plain && !ldap_tls.starttls && ldap_tls.is_set() {
                    errors.push(
                        "index.ldap_ca and index.ldap_client_cert need TLS: an ldaps:// URL or ldap_starttls = true".into(),
                    );
                }
                let bind = match (&ix.ldap_bind_dn, &ix.ldap_password) {
                    (Some(d), Some(p)) => Some((d.clone(), p.clone())),
                    (None, None) => None,
                    _ => {
                        errors
                            .push("index.ldap_bind_dn and index.ldap_password go together".into());
                        None
                    }
                };
                Some(LdapSync {
                    url: url.to_string(),
                    bind,
                    tls: ldap_tls,
                    every: std::time::Duration::from_secs(
                        ix.ldap_sync_seconds.unwrap_or(86400).max(1),
                    ),
                })
            }
            _ => {
                if ldap_tls.is_set() {
                    errors.push(
                        "index.ldap_starttls, ldap_ca and ldap_client_cert need index.ldap_url"
                            .into(),
                    );
                }
                None
            }
        };
        let av = &raw.antivirus;
        if av.quarantine_months < pec_core::virus::CONSERVAZIONE_MESI {
            errors.push(format!(
                "antivirus.quarantine_months = {}: the law requires at least {} (DPR 68/2005 art. 12)",
                av.quarantine_months,
                pec_core::virus::CONSERVAZIONE_MESI
            ));
        }
        let antivirus = (!av.clamd.trim().is_empty()).then(|| Antivirus {
            clamd: av.clamd.trim().to_string(),
            timeout: std::time::Duration::from_secs(av.timeout_seconds.max(1)),
            access: av.access,
            receiving: av.receiving,
            quarantine_months: av.quarantine_months,
        });
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Config {
            ldap,
            antivirus,
            provider_name: p.name.trim().to_string(),
            service_address: p.service_address.trim().to_ascii_lowercase(),
            domains: p
                .domains
                .iter()
                .map(|d| d.trim().to_ascii_lowercase())
                .collect(),
            signing,
            submission,
            submissions,
            imap,
            imaps,
            pop3,
            pop3s,
            tls,
            tls_hostnames: raw
                .tls
                .hostnames
                .clone()
                .unwrap_or_else(|| vec!["localhost".into()]),
            data_dir: absolute(base, &raw.data.dir),
            limits: raw.limits,
            inbound,
            web,
            web_http,
            index_file: raw
                .index
                .file
                .as_deref()
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| absolute(base, p)),
            trust_anchors: raw
                .index
                .trust_anchors
                .iter()
                .map(|p| absolute(base, p))
                .collect(),
            relay,
            ordinary_mail,
            adjustable_clock: raw.dev.adjustable_clock,
        })
    }

    /// The settings pec-provider's points run on.
    pub fn impostazioni(&self) -> pec_provider::Impostazioni {
        let l = &self.limits;
        pec_provider::Impostazioni {
            domini: self.domains.clone(),
            servizio: self.service_address.clone(),
            limiti: pec_core::accesso::Limiti {
                max_destinatari: l.max_recipients,
                max_dimensione: l.max_total_size,
            },
            politica: match self.ordinary_mail {
                OrdinaryMail::Anomaly => pec_core::ricezione::Politica::Anomalia,
                OrdinaryMail::Refuse => pec_core::ricezione::Politica::Rifiuta,
            },
            antivirus: self.antivirus.clone(),
            relay: self.relay.clone(),
            helo: self
                .tls_hostnames
                .first()
                .cloned()
                .unwrap_or_else(|| "localhost".into()),
            indice: pec_provider::FonteIndice {
                file: self.index_file.clone(),
                trust_anchors: self.trust_anchors.clone(),
            },
            accessi: pec_listen::ThrottleLimits {
                per_ip: l.login_failures,
                per_box: l.login_failures,
                window: std::time::Duration::from_secs(15 * 60),
                block: std::time::Duration::from_secs(l.login_block_minutes.saturating_mul(60)),
            },
        }
    }

    /// Whether `address` is in one of our PEC domains.
    pub fn is_local(&self, address: &str) -> bool {
        address
            .rsplit_once('@')
            .is_some_and(|(_, d)| self.domains.iter().any(|ours| ours.eq_ignore_ascii_case(d)))
    }

    /// An example configuration, documented, for `gestore config example` and the docs.
    pub fn example() -> &'static str {
        EXAMPLE
    }
}

const EXAMPLE: &str = r#"# gestore configuration (TOML). Relative paths are resolved against this file's folder.

[provider]
# daticert gestore-emittente and the signing certificate's O.
name = "Gestore di prova S.p.A."
# The address that signs and sends envelopes and receipts.
service_address = "posta-certificata@pec.example.test"
# PEC domains whose boxes this provider keeps.
domains = ["pec.example.test"]
# signing_cert = "/etc/gestore/provider.pem"   # default: dev PKI in DATA/pki, made on first start
# signing_key  = "/etc/gestore/provider.key"

[listen]
# "" disables a listener.
submission  = "127.0.0.1:10587"   # SMTP submission, STARTTLS (port 587 style)
submissions = "127.0.0.1:10465"   # SMTP submission, implicit TLS (port 465 style)
imap        = "127.0.0.1:10143"   # IMAP, STARTTLS (port 143 style)
imaps       = "127.0.0.1:10993"   # IMAP, implicit TLS (port 993 style)
pop3        = "127.0.0.1:10110"   # POP3, STLS (port 110 style)
pop3s       = "127.0.0.1:10995"   # POP3, implicit TLS (port 995 style)
inbound     = "127.0.0.1:10025"   # receiving point: other providers and Internet mail (port 25 style)
web         = "127.0.0.1:10443"   # webmail, HTTPS with the [tls] certificate
# web_http  = "127.0.0.1:10080"   # webmail over plain HTTP: loopback only (a local TLS proxy)

[tls]
# cert = "/etc/gestore/tls.pem"   # default: self-signed dev certificate in DATA/tls
# key  = "/etc/gestore/tls.key"
hostnames = ["localhost"]

[data]
dir = "data"

[limits]
max_recipients = 50            # never below 50 (PEC rules)
max_total_size = 31457280      # bytes of size x recipients; never below 30 MB
max_message_size = 52428800    # SMTP SIZE limit
default_quota = 1073741824     # bytes per new box
# One client must not lock the others out: caps per listener and per client address,
# a login deadline, and failed logins counted across SMTP, IMAP and POP3.
max_connections = 1000         # per listener (lowered to fit the open-files limit)
max_connections_per_ip = 50    # per listener and client address (IMAP: twice this)
login_timeout_seconds = 60     # to log in, after connecting
login_failures = 10            # from one address, or on one box, within 15 minutes...
login_block_minutes = 15       # ...block further logins this long (fail2ban-style log lines)
imap_fetch_memory_mb = 256     # message bodies an IMAP or POP3 listener holds for clients at once

[index]
# The providers' index (IGPEC) as LDIF, re-read when it changes; without it only our own
# domains are certified. `gestore index export` writes our own record.
# file = "providers.ldif"
# CAs that sign providers' certificates (e.g. AgID CA1); index certificates are always pinned.
# trust_anchors = ["agid-ca1.pem"]
# Sync `file` from the IGPEC LDAP server (base o=postacert), keeping the last good copy.
# ldap_url = "ldaps://igpec.example:636"   # or "ldap://igpec.example:389"
# ldap_bind_dn = "cn=gestore,o=postacert"
# ldap_password = "..."
# ldap_sync_seconds = 86400
# TLS (ldaps://, or ldap:// with StartTLS): the server's certificate must come from ldap_ca
# (default: the public web roots) and name the URL's host, or the sync fails. The client
# certificate is for servers that demand one, as IGPEC does; cert and key go together.
# ldap_starttls = false
# ldap_ca = "igpec-ca.pem"
# ldap_client_cert = "igpec-client.pem"
# ldap_client_key = "igpec-client.key"

[relay]
# Static routes, domain = "host:port"; other domains are looked up by DNS MX.
# routes = { "pec.other.test" = "localhost:20025" }
mx = true
mx_port = 25
# Name servers (ip:port) for MX lookups and MX host addresses, UDP and TCP; [] = the system's.
# dns = ["127.0.0.1:5353"]
# CA certificates trusted for STARTTLS besides the public web roots.
# tls_roots = ["peer-ca.pem"]
timeout_seconds = 60

[receiving]
# Unsigned or badly signed mail: "anomaly" (busta di anomalia) or "refuse" (SMTP 5xx).
ordinary_mail = "anomaly"

[antivirus]
# clamd's Unix socket or host:port; "" = no scanning. A scanner that is down or too slow
# never lets a message through unscanned: SMTP answers 4xx and the sender retries.
clamd = ""
timeout_seconds = 60
access = true       # scan our users' messages at the access point
receiving = true    # scan other providers' envelopes at the receiving point
# Infected messages are kept in the service box's folder Quarantena (read-only over IMAP)
# this many months, then removed; at least 30 (DPR 68/2005 art. 12).
quarantine_months = 30

[dev]
# Lets `gestore clock advance` move the clock forward (tests of the 12 h / 24 h rules).
adjustable_clock = false
"#;

fn is_address(s: &str) -> bool {
    s.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && !d.is_empty() && !d.contains('@') && !s.contains(char::is_whitespace)
    })
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn pair(
    a: &Option<PathBuf>,
    b: &Option<PathBuf>,
    an: &str,
    bn: &str,
    base: &Path,
    errors: &mut Vec<String>,
) -> Option<(PathBuf, PathBuf)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((absolute(base, a), absolute(base, b))),
        (None, None) => None,
        _ => {
            errors.push(format!("{an} and {bn} go together"));
            None
        }
    }
}

/// The TLS settings of the LDAP sync, paths resolved; the files are read by the sync itself
/// (and once when the server starts).
fn ldap_tls(ix: &RawIndex, base: &Path, errors: &mut Vec<String>) -> pec_directory::ldap::LdapTls {
    let client = pair(
        &ix.ldap_client_cert,
        &ix.ldap_client_key,
        "index.ldap_client_cert",
        "index.ldap_client_key",
        base,
        errors,
    );
    pec_directory::ldap::LdapTls {
        starttls: ix.ldap_starttls,
        ca: ix.ldap_ca.iter().map(|p| absolute(base, p)).collect(),
        client: client.map(|(cert, key)| pec_directory::ldap::ClientIdentity { cert, key }),
    }
}

fn relay(raw: &RawRelay, base: &Path, errors: &mut Vec<String>) -> RelayConfig {
    let mut routes = std::collections::BTreeMap::new();
    for (domain, target) in &raw.routes {
        let parsed = target
            .trim()
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
            .filter(|(h, _)| !h.is_empty());
        match parsed {
            Some((host, port)) => {
                routes.insert(
                    domain.trim().to_ascii_lowercase(),
                    Route {
                        host: host.to_string(),
                        port,
                    },
                );
            }
            None => errors.push(format!(
                "relay.routes.{domain}: {target:?} is not host:port"
            )),
        }
    }
    if raw.timeout_seconds == 0 {
        errors.push("relay.timeout_seconds must be at least 1".into());
    }
    let mut dns = Vec::new();
    for server in &raw.dns {
        match server.trim().parse::<SocketAddr>() {
            Ok(a) => dns.push(a),
            Err(_) => errors.push(format!(
                "relay.dns: {server:?} is not ip:port (e.g. \"127.0.0.1:53\")"
            )),
        }
    }
    if !raw.dns.is_empty() && !raw.mx {
        errors.push("relay.dns is only used with relay.mx = true".into());
    }
    RelayConfig {
        routes,
        mx: raw.mx,
        mx_port: raw.mx_port,
        dns,
        tls_roots: raw.tls_roots.iter().map(|p| absolute(base, p)).collect(),
        timeout: std::time::Duration::from_secs(raw.timeout_seconds.max(1)),
    }
}

fn listen(value: &str, name: &str, errors: &mut Vec<String>) -> Option<SocketAddr> {
    if value.trim().is_empty() {
        return None;
    }
    match value.trim().parse() {
        Ok(a) => Some(a),
        Err(_) => {
            errors.push(format!("{name}: {value:?} is not an address:port"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_valid() {
        let c = Config::parse(Config::example(), Path::new("/etc/gestore")).unwrap();
        assert_eq!(c.domains, vec!["pec.example.test"]);
        assert_eq!(c.data_dir, Path::new("/etc/gestore/data"));
        assert!(c.is_local("Mario@PEC.example.test"));
        assert!(!c.is_local("mario@example.test"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = format!("{}\n[extra]\nx = 1\n", Config::example());
        assert!(Config::parse(&text, Path::new(".")).is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
            [provider]
            name = ""
            service_address = "nope"
            domains = []
            signing_cert = "a.pem"
            [limits]
            max_recipients = 10
        "#;
        let err = Config::parse(text, Path::new(".")).unwrap_err();
        assert_eq!(err.0.len(), 5, "{err}");
    }

    #[test]
    fn the_quarantine_is_kept_at_least_30_months() {
        let with = |months: u32| {
            let text = Config::example().replace(
                "quarantine_months = 30",
                &format!("quarantine_months = {months}\nclamd = \"/run/clamd.sock\""),
            );
            let text = text.replace("clamd = \"\"\n", "");
            Config::parse(&text, Path::new("."))
        };
        let c = with(36).unwrap();
        assert_eq!(c.antivirus.map(|a| a.quarantine_months), Some(36));
        let err = with(29).unwrap_err().to_string();
        assert!(err.contains("quarantine_months = 29"), "{err}");
        assert!(err.contains("at least 30"), "{err}");
    }

    /// The example with `index` lines appended to its `[index]` section.
    fn with_index(lines: &str) -> Result<Config, ConfigErrors> {
        let text = Config::example().replace(
            "[index]\n",
            &format!("[index]\nfile = \"providers.ldif\"\n{lines}\n"),
        );
        Config::parse(&text, Path::new("/etc/gestore"))
    }

    /// The example with `lines` appended to its `[relay]` section.
    fn with_relay(lines: &str) -> Result<Config, ConfigErrors> {
        let text = Config::example().replace("[relay]\n", &format!("[relay]\n{lines}\n"));
        Config::parse(&text, Path::new("/etc/gestore"))
    }

    #[test]
    fn relay_dns_servers_are_socket_addresses() {
        let c = with_relay("dns = [\"127.0.0.1:5353\", \"[::1]:53\"]").unwrap();
        assert_eq!(
            c.relay.dns,
            [
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        assert!(with_relay("").unwrap().relay.dns.is_empty());
        let err = with_relay("dns = [\"127.0.0.1\", \"ns.example:53\"]").unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert!(err.0[0].contains("relay.dns: \"127.0.0.1\""), "{err}");
    }

    #[test]
    fn relay_dns_without_mx_is_refused() {
        let text = Config::example().replace("mx = true", "mx = false\ndns = [\"127.0.0.1:53\"]");
        let err = Config::parse(&text, Path::new(".")).unwrap_err();
        assert_eq!(err.0, ["relay.dns is only used with relay.mx = true"]);
    }

    #[test]
    fn ldap_tls_settings_are_resolved() {
        let c = with_index(
            "ldap_url = \"ldap://igpec.test\"\nldap_starttls = true\nldap_ca = \"ca.pem\"\n\
             ldap_client_cert = \"c.pem\"\nldap_client_key = \"/k/c.key\"",
        )
        .unwrap();
        let tls = c.ldap.unwrap().tls;
        assert!(tls.starttls);
        assert_eq!(tls.ca, [Path::new("/etc/gestore/ca.pem")]);
        let client = tls.client.unwrap();
        assert_eq!(client.cert, Path::new("/etc/gestore/c.pem"));
        assert_eq!(client.key, Path::new("/k/c.key"));
    }

    #[test]
    fn ldap_client_cert_without_key_is_one_error() {
        let err = with_index("ldap_url = \"ldaps://igpec.test\"\nldap_client_cert = \"c.pem\"")
            .unwrap_err();
        assert_eq!(
            err.0,
            ["index.ldap_client_cert and index.ldap_client_key go together"]
        );
        let err = with_index("ldap_url = \"ldaps://igpec.test\"\nldap_client_key = \"c.key\"")
            .unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
    }

    #[test]
    fn ldap_tls_settings_that_would_not_apply_are_refused() {
        for lines in [
            "ldap_url = \"ldap://igpec.test\"\nldap_ca = \"ca.pem\"",
            "ldap_url = \"ldaps://igpec.test\"\nldap_starttls = true",
            "ldap_ca = \"ca.pem\"",
        ] {
            let err = with_index(lines).unwrap_err();
            assert_eq!(err.0.len(), 1, "{lines}: {err}");
        }
    }
}

#[cfg(test)]
mod docs {
    #[test]
    fn the_configuration_page_shows_the_example_verbatim() {
        let page = include_str!("../../../docs/configuration.md");
        let block = format!("```toml\n{}```", super::Config::example());
        assert!(
            page.contains(&block),
            "docs/configuration.md is out of date: regenerate it from `gestore config example`"
        );
    }
}
