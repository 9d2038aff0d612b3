//! The live index: reading the providers' index from an LDAP server (PEC-SPEC §7.1, §7.2),
//! and keeping the last good copy across syncs ([`IndiceLdap`]).
//!
//! [`fetch`] searches `o=postacert` (whole subtree) for `(objectClass=provider)` and builds an
//! [`Indice`] through **the same validation as an LDIF file**: every LDAP entry becomes an
//! [`ldif::Entry`](crate::ldif::Entry) (`providerCertificate;binary` values as the raw DER
//! bytes the server sent) and goes through [`Indice::from_entries`]. So a record missing a
//! mandatory attribute, or whose `providerCertificateHash` is not the SHA-1 of its
//! certificate, is skipped with a [`Warning`] exactly as from a file.
//!
//! Invariants:
//! * A failed fetch never replaces the index in use: a server that is down, does not answer
//!   within the timeout, refuses the bind, answers with an LDAP error code or with a malformed
//!   protocol message is an [`Error`], and [`IndiceLdap`] keeps its last good index.
//! * **A response with no usable provider is an error** ([`Error::NoProvider`]), not an empty
//!   index: an empty index would turn every PEC domain into *esterno* (PEC-SPEC §7.3) and
//!   make us accept PEC mail as ordinary mail. The real index never is empty; a server that
//!   says so is broken or is not the index. The warnings of the records that were skipped
//!   travel in the error, so the operator sees why.
//! * The index does not depend on the order the server returns entries in: entries are sorted
//!   by DN (parent before child) before the index is built, so the "first record wins" rule of
//!   [`Indice`] picks the same winner at every sync.
//! * The entries are decoded by this module, never by `ldap3::SearchEntry::construct` (which
//!   panics on malformed input): a hostile server can make a fetch fail, not crash the caller.
//!
//! Integration: PEC-SPEC §7.2 wants every provider to query a *local copy* of the index.
//! [`IndiceLdap::sync`] can write each new index to an LDIF file, atomically (temporary file,
//! then rename); the rest of gestore keeps reading that file through
//! [`IndiceFile`](crate::IndiceFile), which reloads it when it changes.
//!
//! TLS ([`LdapTls`], module `tls`): `ldaps://` URLs, or `ldap://` upgraded with StartTLS, with
//! the CA files we trust for the server and our client certificate for mutual TLS, which the
//! real index requires (§7.2). A server whose certificate is not trusted, or that refuses ours,
//! is an [`Error::Tls`], and the last good index stays, like any other failed fetch.
//! Verification cannot be turned off. Scheduling the sync is the caller's (a timer calling
//! [`IndiceLdap::sync`]).
//!
//! Tested against a real OpenLDAP server started by `scripts/slapd` with the §7.1 schema of
//! `crates/pec-directory/schema/postacert.schema` (see `tests/ldap.rs`).

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ldap3::adapters::EntriesOnly;
use ldap3::asn1::{StructureTag, PL};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope};

use crate::ldif::{Attribute, Entry, Limits};
use crate::{Indice, Warning};

mod tls;
use tls::Transport;
pub use tls::{ClientIdentity, LdapTls};

/// The base of the index (PEC-SPEC §7.1).
pub const BASE: &str = "o=postacert";

/// What [`fetch`] searches for under [`BASE`], whole subtree.
pub const FILTER: &str = "(objectClass=provider)";

/// The attributes asked for: the §7.1 ones, the certificate with the `;binary` transfer option.
const ATTRIBUTES: [&str; 8] = [
    "objectClass",
    "providerName",
    "providerUnit",
    "mailReceipt",
    "managedDomains",
    "providerCertificateHash",
    "providerCertificate;binary",
    "LDIFLocationURL",
];

/// Why a fetch from the LDAP server failed. In every case the caller keeps its last good
/// index; the fault is the directory's (or the network's), never a PEC user's, or our
/// configuration's (the TLS files and settings).
///
/// ldap3's errors are boxed: they are 136 bytes, and every `Result` here would carry that.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Could not connect (nothing listening, bad URL, network error) or the connection broke.
    #[error("LDAP {url}: {source}")]
    Connection {
        /// The server's URL.
        url: String,
        /// What ldap3 said.
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// The TLS handshake failed: the server's certificate is not trusted (not from the
    /// configured CAs, or not for the URL's host), or the server refused us (no client
    /// certificate, or one it does not trust).
    #[error("LDAP {url}: TLS: {}: {source}", tls::meaning(source))]
    Tls {
        /// The server's URL.
        url: String,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// The server closed the TLS connection during the handshake or before its first answer,
    /// without a TLS alert. OpenLDAP built with GnuTLS does that to a client without the
    /// certificate it demands (or with one it does not trust). The message leaves out the
    /// source (an end-of-stream error, in the chain): it says nothing more.
    #[error(
        "LDAP {url}: TLS: the server closed the connection before answering (does it demand a \
         client certificate we did not send, or not trust ours?)"
    )]
    TlsClosed {
        /// The server's URL.
        url: String,
        /// What ldap3 said.
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// A CA, certificate or key file of the [`LdapTls`] settings cannot be used.
    #[error("LDAP TLS: cannot use {path}: {reason}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// Why (never the file's content: it may be a key).
        reason: String,
    },
    /// rustls refused to build a client configuration (no usable protocol version).
    #[error("LDAP TLS: {0}")]
    TlsSetup(#[source] rustls::Error),
    /// The URL and the [`LdapTls`] settings contradict each other (StartTLS on `ldaps://`, a
    /// CA file for a plain connection): refused rather than half applied.
    #[error("LDAP {url}: {reason}")]
    Settings {
        /// The server's URL.
        url: String,
        /// What does not fit.
        reason: &'static str,
    },
    /// Connect, bind and search together took longer than the timeout.
    #[error("LDAP {url}: no complete answer within {timeout:?}")]
    Timeout {
        /// The server's URL.
        url: String,
        /// The limit that was hit.
        timeout: Duration,
    },
    /// The server refused the bind (wrong DN or password). The password is never kept here.
    #[error("LDAP {url}: bind as {dn:?} refused: {source}")]
    Bind {
        /// The server's URL.
        url: String,
        /// The bind DN.
        dn: String,
        /// The LDAP result.
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// The search ended with an LDAP error code (no `o=postacert`, size limit, …).
    #[error("LDAP {url}: search of {BASE} failed: {source}")]
    Search {
        /// The server's URL.
        url: String,
        /// The LDAP result.
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// A search result entry that is not the BER shape RFC 4511 §4.5.2 defines.
    #[error("LDAP {url}: malformed search result entry: {reason}")]
    Malformed {
        /// The server's URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// More entries, or more values in one entry, than the [`Limits`] allow.
    #[error("LDAP {url}: answer too large: {reason}")]
    TooLarge {
        /// The server's URL.
        url: String,
        /// Which limit was passed.
        reason: String,
    },
    /// The server returned no usable provider record: refused, see the module documentation.
    #[error("LDAP {url}: the directory returned no usable provider ({entries} entries, {} skipped)", warnings.len())]
    NoProvider {
        /// The server's URL.
        url: String,
        /// How many `provider` entries the server returned.
        entries: usize,
        /// Why each of them was skipped.
        warnings: Vec<Warning>,
    },
    /// The local LDIF copy could not be written; the new index is not in use either (so the
    /// file and the index in memory never disagree).
    #[error("cannot write the local copy of the index {path}: {source}")]
    LocalCopy {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// Reads the whole index from the LDAP server at `url` (`ldap://host:port/`), binding as
/// `bind` = `(dn, password)` or anonymously, within `timeout` for connect, bind and search
/// together. Uses the default [`Limits`] (`max_records` entries, `max_attributes` values per
/// entry) and the default [`LdapTls`] (`ldaps://` trusts the public web roots; CA files, a
/// client certificate and StartTLS need [`LdapSource`]).
///
/// Records that break §7.1 are skipped and listed in [`Indice::warnings`], as for a file; an
/// answer with no usable record is [`Error::NoProvider`]. Needs a Tokio runtime.
pub async fn fetch(
    url: &str,
    bind: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<Indice, Error> {
    fetch_with_limits(url, bind, timeout, &Limits::default()).await
}

/// As [`fetch`], with explicit bounds.
pub async fn fetch_with_limits(
    url: &str,
    bind: Option<(&str, &str)>,
    timeout: Duration,
    limits: &Limits,
) -> Result<Indice, Error> {
    fetch_from(url, bind, &LdapTls::default(), timeout, limits).await
}

/// The one fetch behind [`fetch`], [`fetch_with_limits`] and [`LdapSource::fetch`].
async fn fetch_from(
    url: &str,
    bind: Option<(&str, &str)>,
    tls: &LdapTls,
    timeout: Duration,
    limits: &Limits,
) -> Result<Indice, Error> {
    let mut settings = LdapConnSettings::new().set_conn_timeout(timeout);
    let transport = tls.transport(url)?;
    if transport != Transport::Plain {
        settings = settings
            .set_config(tls.client_config()?)
            .set_starttls(transport == Transport::StartTls);
    }
    let peer = Peer {
        url,
        tls: transport != Transport::Plain,
    };
    let search = search(&peer, settings, bind, limits);
    let entries = match tokio::time::timeout(timeout, search).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(Error::Timeout {
                url: url.to_string(),
                timeout,
            })
        }
    };
    let indice = Indice::from_entries(&entries);
    if indice.gestori().is_empty() {
        return Err(Error::NoProvider {
            url: url.to_string(),
            entries: entries.len(),
            warnings: indice.warnings().to_vec(),
        });
    }
    Ok(indice)
}

/// The server being talked to, for the errors.
struct Peer<'a> {
    url: &'a str,
    /// Whether the connection is TLS (`ldaps://` or StartTLS).
    tls: bool,
}

impl Peer<'_> {
    /// An ldap3 error of the connection, as [`Error::Tls`] or [`Error::TlsClosed`] when TLS
    /// is the cause.
    fn error(&self, source: ldap3::LdapError) -> Error {
        let url = self.url.to_string();
        if let Some(cause) = tls::tls_cause(&source) {
            return Error::Tls {
                url,
                source: cause.clone(),
            };
        }
        if self.tls && tls::closed(&source) {
            return Error::TlsClosed {
                url,
                source: Box::new(source),
            };
        }
        Error::Connection {
            url,
            source: Box::new(source),
        }
    }
}

/// Connect (and TLS), bind, search; the entries sorted by DN.
async fn search(
    peer: &Peer<'_>,
    settings: LdapConnSettings,
    bind: Option<(&str, &str)>,
    limits: &Limits,
) -> Result<Vec<Entry>, Error> {
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, peer.url)
        .await
        .map_err(|e| peer.error(e))?;
    // The connection's reader/writer; it ends when `ldap` is dropped, or with the error that
    // broke the connection.
    let driver = tokio::spawn(conn.drive());
    let result = exchange(peer, &mut ldap, bind, limits).await;
    if result.is_ok() {
        let _ = ldap.unbind().await;
    }
    drop(ldap);
    if let Err(Error::Connection { .. }) = result {
        // An operation failed because the connection broke; the driver saw why. With TLS 1.3
        // a server that refuses our (missing) client certificate says so only after our side
        // of the handshake is over, so this is where that refusal surfaces.
        if let Ok(Ok(Err(cause))) = tokio::time::timeout(DRIVER_GRACE, driver).await {
            return Err(peer.error(cause));
        }
    }
    let mut entries = result?;
    entries.sort_by_cached_key(|e| dn_sort_key(&e.dn));
    Ok(entries)
}

/// How long a broken connection's driver gets to report its error after the handles are gone.
const DRIVER_GRACE: Duration = Duration::from_secs(1);

/// Bind, search: the entries in the server's order.
async fn exchange(
    peer: &Peer<'_>,
    ldap: &mut ldap3::Ldap,
    bind: Option<(&str, &str)>,
    limits: &Limits,
) -> Result<Vec<Entry>, Error> {
    let url = peer.url;
    let connection = |source| peer.error(source);
    if let Some((dn, password)) = bind {
        ldap.simple_bind(dn, password)
            .await
            .map_err(connection)?
            .success()
            .map_err(|source| Error::Bind {
                url: url.to_string(),
                dn: dn.to_string(),
                source: Box::new(source),
            })?;
    }
    let mut stream = ldap
        .streaming_search_with(
            EntriesOnly::new(),
            BASE,
            Scope::Subtree,
            FILTER,
            ATTRIBUTES.to_vec(),
        )
        .await
        .map_err(connection)?;
    let mut entries = Vec::new();
    while let Some(result) = stream.next().await.map_err(connection)? {
        if entries.len() == limits.max_records {
            return Err(Error::TooLarge {
                url: url.to_string(),
                reason: format!("more than {} entries", limits.max_records),
            });
        }
        let entry = entry_from_ber(result.0, limits).map_err(|reason| Error::Malformed {
            url: url.to_string(),
            reason,
        })?;
        if entry.attributes.len() > limits.max_attributes {
            return Err(Error::TooLarge {
                url: url.to_string(),
                reason: format!(
                    "{} has more than {} values",
                    entry.dn, limits.max_attributes
                ),
            });
        }
        entries.push(entry);
    }
    stream
        .finish()
        .await
        .success()
        .map_err(|source| Error::Search {
            url: url.to_string(),
            source: Box::new(source),
        })?;
    Ok(entries)
}

/// A SearchResultEntry (RFC 4511 §4.5.2) as an LDIF [`Entry`] (line 0: not from a file):
///
/// ```text
/// SearchResultEntry ::= [APPLICATION 4] SEQUENCE {
///      objectName      LDAPDN,
///      attributes      PartialAttributeList }
/// PartialAttributeList ::= SEQUENCE OF partialAttribute PartialAttribute
/// PartialAttribute ::= SEQUENCE { type AttributeDescription, vals SET OF value AttributeValue }
/// ```
///
/// The values are kept as the bytes received: binary ones (`providerCertificate;binary`) stay
/// DER, text ones are checked as UTF-8 later by the record reader.
pub(crate) fn entry_from_ber(tag: StructureTag, limits: &Limits) -> Result<Entry, String> {
    if tag.id != 4 {
        return Err(format!("tag {} instead of SearchResultEntry (4)", tag.id));
    }
    let mut parts = constructed(tag, "SearchResultEntry")?.into_iter();
    let dn = parts.next().ok_or("no objectName")?;
    let dn = String::from_utf8(primitive(dn, "objectName")?)
        .map_err(|_| "objectName is not UTF-8".to_string())?;
    let list = parts.next().ok_or("no attribute list")?;
    let mut attributes = Vec::new();
    for partial in constructed(list, "PartialAttributeList")? {
        let mut partial = constructed(partial, "PartialAttribute")?.into_iter();
        let description = partial.next().ok_or("attribute without type")?;
        let description = String::from_utf8(primitive(description, "AttributeDescription")?)
            .map_err(|_| "attribute type is not UTF-8".to_string())?;
        let mut names = description.split(';');
        let name = names.next().unwrap_or_default().to_string();
        let options: Vec<String> = names.map(str::to_string).collect();
        let values = partial.next().ok_or("attribute without values")?;
        for value in constructed(values, "vals")? {
            if attributes.len() == limits.max_attributes {
                return Err(format!(
                    "{dn} has more than {} values",
                    limits.max_attributes
                ));
            }
            attributes.push(Attribute {
                name: name.clone(),
                options: options.clone(),
                value: primitive(value, "AttributeValue")?,
            });
        }
    }
    Ok(Entry {
        line: 0,
        dn,
        attributes,
    })
}

fn constructed(tag: StructureTag, what: &str) -> Result<Vec<StructureTag>, String> {
    match tag.payload {
        PL::C(children) => Ok(children),
        PL::P(_) => Err(format!("{what} is not a constructed value")),
    }
}

fn primitive(tag: StructureTag, what: &str) -> Result<Vec<u8>, String> {
    match tag.payload {
        PL::P(bytes) => Ok(bytes),
        PL::C(_) => Err(format!("{what} is not an octet string")),
    }
}

/// Sort key of a DN: its RDNs from the root, lower-case, so a provider's main record comes
/// before its secondary environments and the order is the same whatever the server's.
fn dn_sort_key(dn: &str) -> Vec<String> {
    dn.split(',')
        .rev()
        .map(|r| r.trim().to_lowercase())
        .collect()
}

/// Where the index comes from: the server, the credentials, TLS, how long to wait.
#[derive(Clone)]
pub struct LdapSource {
    /// `ldaps://host:port/`, `ldap://host:port/` (plain, or StartTLS with `tls.starttls`), or
    /// `ldapi://`.
    pub url: String,
    /// Bind DN and password; `None` binds anonymously. Never printed.
    pub bind: Option<(String, String)>,
    /// The CAs trusted for the server, our client certificate, StartTLS.
    pub tls: LdapTls,
    /// Limit for connect, bind and search together.
    pub timeout: Duration,
}

impl fmt::Debug for LdapSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapSource")
            .field("url", &self.url)
            .field("bind_dn", &self.bind.as_ref().map(|(dn, _)| dn))
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl LdapSource {
    /// An anonymous source with the default [`LdapTls`] and a 30 s timeout.
    pub fn new(url: impl Into<String>) -> LdapSource {
        LdapSource {
            url: url.into(),
            bind: None,
            tls: LdapTls::default(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Reads the index once; see [`fetch`]. The TLS files are read again at each call.
    pub async fn fetch(&self) -> Result<Indice, Error> {
        let bind = self.bind.as_ref().map(|(d, p)| (d.as_str(), p.as_str()));
        fetch_from(&self.url, bind, &self.tls, self.timeout, &Limits::default()).await
    }
}

/// The index read from LDAP and the last copy that was read correctly; the LDAP twin of
/// [`IndiceFile`](crate::IndiceFile).
///
/// Single-owner: call [`IndiceLdap::sync`] from one task (a daily timer, PEC-SPEC §7.2) and
/// hand out [`IndiceLdap::indice`] (a cheap `Arc` clone) to readers.
#[derive(Debug)]
pub struct IndiceLdap {
    source: LdapSource,
    /// Where each new index is written as LDIF, if anywhere.
    local_copy: Option<PathBuf>,
    last_good: Arc<Indice>,
    /// `last_good` as LDIF: what a sync compares with to say "changed".
    last_ldif: String,
}

impl IndiceLdap {
    /// Reads the index for the first time; fails if that fetch fails (there is no previous
    /// copy to fall back on: start from [`IndiceLdap::with_last_good`] instead, e.g. with the
    /// local copy on disk).
    pub async fn open(source: LdapSource) -> Result<IndiceLdap, Error> {
        let indice = source.fetch().await?;
        Ok(IndiceLdap::with_last_good(source, Arc::new(indice)))
    }

    /// Starts from an index already at hand (the local copy loaded at boot), without asking
    /// the server; the first [`IndiceLdap::sync`] replaces it if the server answers.
    pub fn with_last_good(source: LdapSource, indice: Arc<Indice>) -> IndiceLdap {
        let last_ldif = indice.to_ldif(None);
        IndiceLdap {
            source,
            local_copy: None,
            last_good: indice,
            last_ldif,
        }
    }

    /// Writes every new index to `path` as LDIF (atomically: temporary file in the same
    /// directory, then rename), so an [`IndiceFile`](crate::IndiceFile) on that path picks
    /// it up. The file is also written at the next sync if it is missing.
    pub fn with_local_copy(mut self, path: impl Into<PathBuf>) -> IndiceLdap {
        self.local_copy = Some(path.into());
        self
    }

    /// Fetches the index again.
    ///
    /// `Ok(true)`: the server's index differs from the one in use, and is now in use (and
    /// written to the local copy). `Ok(false)`: same index. `Err(_)`: the server is down,
    /// slow, broken, or returned no usable provider, or the local copy could not be written;
    /// the last good index stays in use. Skipped records are in the new index's
    /// [`Indice::warnings`]: log them.
    pub async fn sync(&mut self) -> Result<bool, Error> {
        let indice = self.source.fetch().await?;
        let ldif = indice.to_ldif(None);
        let changed = ldif != self.last_ldif;
        if let Some(path) = &self.local_copy {
            if changed || !path.exists() {
                write_atomically(path, ldif.as_bytes()).map_err(|source| Error::LocalCopy {
                    path: path.clone(),
                    source,
                })?;
            }
        }
        if changed {
            self.last_good = Arc::new(indice);
            self.last_ldif = ldif;
        }
        Ok(changed)
    }

    /// The index in use: the last one fetched correctly.
    pub fn indice(&self) -> Arc<Indice> {
        Arc::clone(&self.last_good)
    }

    /// Where the index comes from.
    pub fn source(&self) -> &LdapSource {
        &self.source
    }
}

/// Writes `bytes` to a temporary file next to `path`, syncs it, and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
