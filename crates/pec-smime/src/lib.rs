//! # pec-smime — S/MIME signatures for PEC messages
//!
//! What it does:
//! * [`Signer::sign`] turns a `pec_core::UnsignedMessage` into the complete wire message,
//!   `multipart/signed` with a detached CMS signature (SHA-256, RSA, signer certificate and
//!   chain embedded, signed attributes as openssl writes them), CRLF throughout
//!   (PEC-SPEC §3.1).
//! * [`verify`] checks a received message — detached `multipart/signed` or opaque
//!   `pkcs7-mime`, LF or CRLF, DER or BER signature, SHA-1 or SHA-256 — and answers
//!   separately whether the content is intact, who signed and when, whether the chain leads
//!   to a [`TrustStore`] anchor, and whether the certificate was valid at signing time and now.
//!   It returns the canonical bytes the signature covers.
//! * [`Verifier`] does the same for a long-running receiving point: it keeps the trust
//!   anchors in a prebuilt openssl store and, per signer (signer identifier plus the exact
//!   embedded certificates, at most [`MAX_CACHED_SIGNERS`]), the parsed description and the
//!   time-independent chain verdict with the dates the chain is valid, so a known signer
//!   costs the CMS signature check and little else. Its answers equal [`verify`]'s bit for
//!   bit; at the edges of validity periods, or when the chain built could depend on the
//!   time, it asks openssl in full.
//! * [`pki::init`] makes a dev CA and a provider certificate with the PEC profile (PEC-SPEC §7.4).
//!
//! What it does not do: build message content (pec-core does), parse `daticert.xml`, check
//! revocation (no CRL/OCSP yet), map a certificate to a provider (the IGPEC directory does,
//! keyed by [`SignerInfo::sha1_fingerprint`]), encrypt, or hold keys in an HSM.
//!
//! The hard choice: integrity is checked by openssl (CMS), but the facts openssl's Rust
//! binding does not expose — signing time, digest algorithm, which embedded certificate
//! signed — are read by a small bounded ASN.1 walker of our own (the private `asn1`
//! module) instead of unsafe FFI. The cost is a second, partial parse of every signature
//! and code that must stay in step with RFC 5652; the gain is no `unsafe` in this crate.
//! Likewise the digest: `CmsContentInfo::sign` cannot be told which digest to use, so the
//! signer relies on openssl's default for RSA keys (SHA-256) and proves it with a probe
//! signature when it is built, refusing keys that would sign otherwise.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod asn1;
mod cert;
mod chain;
mod error;
mod mime;
pub mod pki;
mod sign;
mod trust;
mod verifier;
mod verify;

pub use cert::SignerInfo;
pub use error::{Error, VerifyError};
pub use pki::{PkiOptions, PkiPaths};
pub use sign::Signer;
pub use trust::TrustStore;
pub use verifier::{Verifier, MAX_CACHED_SIGNERS};
pub use verify::{
    verify, verify_detached, verify_p7m, SignedForm, Verification, MAX_MESSAGE_BYTES,
    MAX_SIGNATURE_BYTES,
};
