//! Our own RFC 2849 LDIF reader and writer, limited to what the index needs.
//!
//! Supported: the optional `version: 1` line, `#` comments, line folding (a physical line
//! starting with one space continues the previous one), records separated by one or more blank
//! lines, `dn:` first in each record, `attr: value`, `attr:: base64`, attribute options
//! (`providerCertificate;binary`), LF or CRLF line ends, a leading UTF-8 byte-order mark.
//!
//! Refused with an error (the whole text is refused, never half-read):
//! * `attr:< URL` values — the index must be self-contained, and a reader that fetches URLs
//!   named by its input is a reader an attacker can point at anything;
//! * change records (`changetype:`, `control:`) — the index is a snapshot (a *content* LDIF);
//!   RFC 2849 forbids mixing the two kinds in one file, and applying "changes" to nothing would
//!   give a wrong index;
//! * anything past the [`Limits`] (input size, lines, records, values per record, line length).
//!
//! Lenient on purpose: plain (`attr: value`) values may hold non-ASCII bytes (RFC 2849 asks for
//! base64 there, some writers don't); the writer always emits strict RFC 2849.
//!
//! Invariant: the reader never panics, whatever the bytes (tested with random input).

mod read;
mod write;

pub use read::{parse, parse_with_limits};
pub(crate) use write::{escape_dn_value, LdifWriter};

/// One attribute value of an LDIF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute type as written (compare with [`Attribute::is`], names are case-insensitive).
    pub name: String,
    /// Options after the type, as written (`binary` in `providerCertificate;binary`).
    pub options: Vec<String>,
    /// The value, base64-decoded when it was written `attr:: …`.
    pub value: Vec<u8>,
}

impl Attribute {
    /// Whether this value's attribute type is `name`, ignoring case (RFC 4512 §2.5).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether the option `option` (e.g. `binary`) is present, ignoring case.
    pub fn has_option(&self, option: &str) -> bool {
        self.options.iter().any(|o| o.eq_ignore_ascii_case(option))
    }
}

/// One content record of an LDIF text: a DN and its attribute values, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line of the record's `dn:`, for warnings.
    pub line: usize,
    /// The distinguished name, as written (not normalised).
    pub dn: String,
    /// All attribute values in file order; a multi-valued attribute appears once per value.
    pub attributes: Vec<Attribute>,
}

impl Entry {
    /// The values of attribute type `name` (case-insensitive), with any options.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Attribute> + 'a {
        self.attributes.iter().filter(move |a| a.is(name))
    }
}

/// Bounds that keep a hostile or broken file from exhausting memory or time.
///
/// The defaults are far above the real index (a few dozen providers, some thousands of domains)
/// and far below what would hurt a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes. Default 64 MiB.
    pub max_input: usize,
    /// Most physical lines. Default 4,000,000.
    pub max_lines: usize,
    /// Most records (entries). Default 100,000.
    pub max_records: usize,
    /// Most attribute values in one record. Default 200,000 (a provider with many domains).
    pub max_attributes: usize,
    /// Longest logical (unfolded) line, in bytes. Default 1 MiB (a certificate is a few KiB).
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input: 64 * 1024 * 1024,
            max_lines: 4_000_000,
            max_records: 100_000,
            max_attributes: 200_000,
            max_line: 1024 * 1024,
        }
    }
}
