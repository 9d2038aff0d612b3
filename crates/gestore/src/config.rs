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
}

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
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_recipients: MIN_RECIPIENTS,
            max_total_size: MIN_TOTAL_SIZE,
            max_message_size: 50 << 20,
            default_quota: 1 << 30,
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
    /// TLS certificate and key; `None` means the dev certificate in `data_dir/tls`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Host names for the dev TLS certificate.
    pub tls_hostnames: Vec<String>,
    /// Absolute data folder.
    pub data_dir: PathBuf,
    /// Limits.
    pub limits: RawLimits,
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
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Config {
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
        })
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
