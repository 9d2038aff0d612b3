//! # pec-directory — the providers' index (IGPEC, PEC-SPEC §7)
//!
//! The index (*Indice dei gestori di posta elettronica certificata*) says which domains are
//! PEC domains, which provider manages each, where that provider wants *presa in carico* and
//! *rilevazione virus* receipts (`mailReceipt`) and which certificates it signs with. This
//! crate reads the index's LDIF (with its own small RFC 2849 reader, [`ldif`]), builds an
//! [`Indice`] of [`Gestore`] records with O(1) lookups by domain, address, certificate hash and
//! certificate, writes records and the whole index back as LDIF, and keeps a local copy loaded
//! from disk, reloaded when the file changes ([`IndiceFile`]).
//!
//! ```
//! use pec_directory::{Gestore, Indice};
//!
//! let gestore = Gestore::new("Acme PEC", "ricevute@pec.acme.example", ["pec.acme.example"], vec![0x30, 1, 2])?;
//! let indice = Indice::from_ldif(gestore.to_ldif().as_bytes())?;
//! assert!(indice.is_certificato("Mario.Rossi@PEC.acme.example"));
//! assert_eq!(indice.per_certificato(&[0x30, 1, 2]).map(|g| g.nome()), Some("Acme PEC"));
//! # Ok::<(), pec_directory::Error>(())
//! ```
//!
//! ## What it does not do
//!
//! * No schedule for the live index ([`ldap`]): it reads the index from an LDAP server with
//!   ldap3 (plain, `ldaps://` or StartTLS, with a client certificate as the real index
//!   requires, §7.2) and keeps the last good copy ([`ldap::IndiceLdap`]); the caller calls
//!   `sync` on a timer.
//! * No signed `.p7m` (§7.2): verifying the PKCS#7 wrapper of a downloaded index belongs with
//!   the S/MIME code; this crate reads the LDIF inside.
//! * No certificate validation: it answers "is this the certificate the index lists for that
//!   provider" (byte equality); chain, CRL and validity checks are the caller's.
//! * No change records (`changetype:`), no `attr:< URL` values: refused (see [`ldif`]).
//!
//! ## The hard choice: syntax errors refuse the file, bad records are skipped
//!
//! A file that is not valid LDIF is refused as a whole, and [`IndiceFile`] keeps serving the
//! last good copy: reading "as much as parses" could silently lose providers and turn their
//! users into *esterni*. A syntactically valid record that breaks §7.1 (a missing mandatory
//! attribute, a certificate hash that does not match its certificate) is skipped with a
//! [`Warning`] instead, and the other providers stay usable. The cost: one broken record makes
//! its provider's mail look non-PEC until it is fixed, so the warnings must reach an operator.
#![deny(missing_docs)]

mod dn;
mod error;
mod file;
mod gestore;
mod indice;
pub mod ldap;
pub mod ldif;
mod record;
mod warning;

pub use error::{Error, LdifError, LdifErrorKind};
pub use file::IndiceFile;
pub use gestore::{ldif_root, sha1_hex, Gestore};
pub use indice::Indice;
pub use warning::{Warning, WarningKind};
