//! Problems with single records: the record (or one of its values) is left out and the rest of
//! the index is kept. A broken record of one provider must not take every other provider down.

use std::fmt;

/// A problem found in one record while building the index; see [`WarningKind::skipped`] for
/// whether the whole record was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line of the record's `dn:` in the LDIF text (`0` for records not read from
    /// LDIF, see [`crate::Indice::from_gestori`]).
    pub line: usize,
    /// The record's DN, as written.
    pub dn: String,
    /// What is wrong.
    pub kind: WarningKind,
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// A `provider` entry whose DN is not one of the §7.1 shapes. Record skipped.
    UnexpectedDn,
    /// A mandatory attribute (§7.1 `MUST`) is absent. Record skipped.
    MissingAttribute(&'static str),
    /// A single-valued attribute appears more than once. Record skipped.
    RepeatedAttribute(&'static str),
    /// A text attribute is not UTF-8. Record skipped.
    NotUtf8(&'static str),
    /// An attribute value breaks §7.1 (bad `mailReceipt`, empty name…). Record skipped.
    InvalidValue {
        /// The attribute.
        attribute: &'static str,
        /// Why.
        reason: String,
    },
    /// `providerName` (or `providerUnit`) differs from the value in the DN. Record skipped.
    DnMismatch {
        /// The attribute.
        attribute: &'static str,
        /// The value of the attribute.
        value: String,
    },
    /// A `providerCertificateHash` that is not the SHA-1 of any of the record's certificates
    /// (or not a SHA-1 at all). Record skipped: its certificates cannot be trusted.
    HashMismatch {
        /// The hash as written.
        hash: String,
    },
    /// A second record for the same provider and environment. This later record is skipped.
    DuplicateRecord,
    /// A `managedDomains` value that is not a domain name. Value dropped, record kept.
    InvalidDomain(String),
    /// A certificate whose hash is not listed: it cannot be found by hash (§7.3), so it
    /// identifies nobody. Record kept.
    CertificateWithoutHash {
        /// Lower-case hex SHA-1 of the certificate.
        sha1: String,
    },
    /// `LDIFLocationURL` on a secondary environment, which §7.1 forbids. Attribute ignored.
    LdifUrlOnSecondary,
    /// A domain already managed by another provider's record. The later claim is dropped.
    DomainConflict {
        /// The domain.
        domain: String,
        /// The provider that keeps it.
        owner: String,
    },
    /// A certificate hash already held by another provider's record. The later claim is
    /// dropped.
    HashConflict {
        /// The hash.
        hash: String,
        /// The provider that keeps it.
        owner: String,
    },
    /// A secondary environment of a provider with no main-environment record (§7.1 requires
    /// one). Record kept.
    MissingMainRecord,
}

impl WarningKind {
    /// Whether the whole record was left out of the index (otherwise one value was dropped or
    /// the record was kept as is).
    pub fn skipped(&self) -> bool {
        matches!(
            self,
            WarningKind::UnexpectedDn
                | WarningKind::MissingAttribute(_)
                | WarningKind::RepeatedAttribute(_)
                | WarningKind::NotUtf8(_)
                | WarningKind::InvalidValue { .. }
                | WarningKind::DnMismatch { .. }
                | WarningKind::HashMismatch { .. }
                | WarningKind::DuplicateRecord
        )
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningKind::UnexpectedDn => write!(f, "provider entry with a DN outside §7.1"),
            WarningKind::MissingAttribute(a) => write!(f, "mandatory attribute {a} missing"),
            WarningKind::RepeatedAttribute(a) => write!(f, "single-valued {a} repeated"),
            WarningKind::NotUtf8(a) => write!(f, "{a} is not UTF-8"),
            WarningKind::InvalidValue { attribute, reason } => {
                write!(f, "invalid {attribute}: {reason}")
            }
            WarningKind::DnMismatch { attribute, value } => {
                write!(f, "{attribute} {value:?} differs from the DN")
            }
            WarningKind::HashMismatch { hash } => {
                write!(
                    f,
                    "providerCertificateHash {hash:?} matches none of the certificates"
                )
            }
            WarningKind::DuplicateRecord => write!(f, "second record for the same provider"),
            WarningKind::InvalidDomain(d) => write!(f, "managedDomains {d:?} is not a domain"),
            WarningKind::CertificateWithoutHash { sha1 } => {
                write!(f, "certificate {sha1} has no providerCertificateHash")
            }
            WarningKind::LdifUrlOnSecondary => {
                write!(f, "LDIFLocationURL on a secondary environment ignored")
            }
            WarningKind::DomainConflict { domain, owner } => {
                write!(f, "domain {domain} already managed by {owner:?}")
            }
            WarningKind::HashConflict { hash, owner } => {
                write!(f, "certificate hash {hash} already held by {owner:?}")
            }
            WarningKind::MissingMainRecord => {
                write!(f, "secondary environment without a main-environment record")
            }
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = if self.kind.skipped() {
            "record skipped"
        } else {
            "record kept"
        };
        write!(
            f,
            "line {} ({}): {} ({action})",
            self.line, self.dn, self.kind
        )
    }
}
