//! The crate's one error type, and the LDIF syntax error it wraps.
//!
//! Who is at fault: a malformed directory file comes from the central index (or whoever wrote
//! the local copy), never from a PEC user. The caller keeps serving its last good index and
//! logs the error; no message is refused because of it.

use std::path::PathBuf;

/// Everything that can fail while reading, building or loading the providers' index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The LDIF text is malformed: the whole file is refused (a half-read index would
    /// silently turn PEC recipients into *esterni*).
    #[error(transparent)]
    Ldif(#[from] LdifError),
    /// The index file could not be opened, inspected or read.
    #[error("cannot read the providers' index {path}: {source}")]
    Io {
        /// The file we tried to read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A value given to build a [`crate::Gestore`] record breaks the rules of PEC-SPEC §7.1.
    #[error("invalid {attribute}: {reason}")]
    InvalidRecord {
        /// The LDAP attribute the value is for (`providerName`, `mailReceipt`, …).
        attribute: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

/// A malformed LDIF text (RFC 2849), with the line where the problem starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("LDIF line {line}: {kind}")]
pub struct LdifError {
    /// 1-based physical line where the offending (logical) line or record starts; `0` when the
    /// error concerns the input as a whole (its size).
    pub line: usize,
    /// What is wrong.
    pub kind: LdifErrorKind,
}

/// The kinds of LDIF syntax error; see [`LdifError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LdifErrorKind {
    /// The input is larger than [`crate::ldif::Limits::max_input`].
    #[error("input is {size} bytes, more than the limit of {limit}")]
    InputTooLarge {
        /// Size of the input, in bytes.
        size: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// More physical lines than [`crate::ldif::Limits::max_lines`].
    #[error("more than {limit} lines")]
    TooManyLines {
        /// The limit.
        limit: usize,
    },
    /// More records than [`crate::ldif::Limits::max_records`].
    #[error("more than {limit} records")]
    TooManyRecords {
        /// The limit.
        limit: usize,
    },
    /// A record with more attribute values than [`crate::ldif::Limits::max_attributes`].
    #[error("record has more than {limit} attribute values")]
    TooManyAttributes {
        /// The limit.
        limit: usize,
    },
    /// A logical (unfolded) line longer than [`crate::ldif::Limits::max_line`].
    #[error("unfolded line longer than {limit} bytes")]
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// `version:` with a number other than 1.
    #[error("unsupported LDIF version {0:?} (only 1 is defined)")]
    UnsupportedVersion(String),
    /// `version:` after the first record.
    #[error("version: must come before the first record")]
    MisplacedVersion,
    /// A line starting with a space where there is no previous line to continue.
    #[error("continuation line (starting with a space) with no line to continue")]
    OrphanContinuation,
    /// A record whose first line is not `dn:`.
    #[error("record does not start with dn:")]
    MissingDn,
    /// A second `dn:` inside one record (usually a missing blank line).
    #[error("dn: repeated inside a record (missing blank line between records?)")]
    RepeatedDn,
    /// A record with a `dn:` and nothing else.
    #[error("record has a dn but no attributes")]
    EmptyRecord,
    /// A line without the `:` that separates the attribute from its value.
    #[error("line has no ':' after the attribute name")]
    MissingColon,
    /// An attribute name or option outside RFC 2849's `AttributeDescription` grammar.
    #[error("invalid attribute description {0:?}")]
    InvalidAttributeDescription(String),
    /// `attr:< URL`: refused, the index must be self-contained and we fetch nothing.
    #[error("'attr:< URL' values are not supported: the index must be self-contained")]
    UrlValue,
    /// A change record (`changetype:` or `control:`): refused, the index is a content LDIF.
    #[error("change records (changetype:/control:) are refused: the index must be a content LDIF")]
    ChangeRecord,
    /// `attr:: value` whose value is not valid base64.
    #[error("invalid base64 value")]
    InvalidBase64,
    /// A plain value containing NUL or CR (those must be written base64).
    #[error("plain value contains NUL or CR (such values must be base64-encoded)")]
    UnsafeValue,
    /// A `dn:` that is not UTF-8.
    #[error("dn is not valid UTF-8")]
    DnNotUtf8,
}
