//! Verification of a received S/MIME message: is the content intact, who signed, when, and
//! does the signer's chain lead to a trusted CA.
//!
//! Invariants:
//! * integrity and trust are separate answers: a genuine message whose certificate expired
//!   years ago is `intact` (PEC-SPEC samples README), a tampered one is not, whoever signed it;
//! * the bytes checked are the first part exactly as received, with bare LF turned into CRLF
//!   (PEC-SPEC §3.1, as `openssl smime -verify` does), and they are returned to the caller, so
//!   `daticert.xml` and `postacert.eml` are read from what the signature covers;
//! * no input can make it panic or work long: the message, the signature part and the ASN.1
//!   nesting are bounded, and multipart scanning stops at the third part.

use std::borrow::Cow;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreRef;
use openssl::x509::X509;

use crate::asn1::{self, SignedDataInfo, SignerId};
use crate::cert::SignerInfo;
use crate::chain::ChainVerdict;
use crate::error::one_line;
use crate::mime::{self, MultipartError};
use crate::verifier::SignerCache;
use crate::{TrustStore, VerifyError};

/// Largest message accepted (PEC limits are far lower, PEC-SPEC §9.6).
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;
/// Largest signature part accepted, encoded.
pub const MAX_SIGNATURE_BYTES: usize = 1 << 20;

/// How the signature carries the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedForm {
    /// `multipart/signed`: content in the first part, detached CMS in the second (PEC's form).
    Detached,
    /// `application/pkcs7-mime; smime-type=signed-data`: content inside the CMS.
    Opaque,
}

/// The outcome of checking a signed message. Each flag answers one question; a PEC
/// receiving point needs `intact` (tampering → *busta di anomalia*) and `chain_valid`
/// (a genuine provider) separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The signature matches the content (digest and signature value), whatever the certificate.
    pub intact: bool,
    /// When `intact` is false, openssl's reason (one line).
    pub integrity_error: Option<String>,
    /// The signer's certificate, when the signature embeds it.
    pub signer: Option<SignerInfo>,
    /// Every certificate embedded in the signature (DER, in order): the signer's and its chain.
    pub certificates: Vec<Vec<u8>>,
    /// The `signingTime` signed attribute.
    pub signing_time: Option<DateTime<Utc>>,
    /// The chain leads to a CA of the trust store (validity periods ignored).
    pub trusted: bool,
    /// The chain verifies completely (trust, S/MIME signing purpose, validity) at the signing
    /// time, or at `now` when the signature has no signing time.
    ///
    /// The signing time is the signer's own claim: whoever holds a key whose certificate has
    /// expired can back-date it. For mail arriving now, a receiving point should also require
    /// `valid_now` (or a signing time close to the reception time); `chain_valid` alone is
    /// meant for archived messages, whose signatures were checked when they arrived.
    pub chain_valid: bool,
    /// When `chain_valid` is false, openssl's reason (one line).
    pub chain_error: Option<String>,
    /// The signer's certificate was inside its validity period at the signing time
    /// (`None` without a signing time). Says nothing about trust.
    pub valid_at_signing: Option<bool>,
    /// The signer's certificate is inside its validity period at `now`. Says nothing about trust.
    pub valid_now: bool,
    /// The signer's digest algorithm: `sha1`, `sha256`, … (dotted OID when unknown).
    pub digest_algorithm: String,
    /// Detached or opaque.
    pub form: SignedForm,
    /// The signed content in canonical form (CRLF): a MIME entity, headers first.
    pub content: Vec<u8>,
}

impl Verification {
    /// Intact and signed by a certificate whose chain verifies at the signing time: the
    /// answer for an archived message.
    pub fn is_valid(&self) -> bool {
        self.intact && self.chain_valid
    }

    /// [`Verification::is_valid`] and the signer's certificate is valid now: the answer for
    /// a message arriving now (see the caveat on `chain_valid`).
    pub fn is_valid_now(&self) -> bool {
        self.is_valid() && self.valid_now
    }
}

fn unreadable(msg: impl Into<String>) -> VerifyError {
    VerifyError::Unreadable(msg.into())
}

/// Checks the S/MIME signature of `raw`, a whole message (LF or CRLF line ends), against
/// `trust`, judging certificate validity at the signing time and at `now`.
///
/// `Err` only when there is nothing to check ([`VerifyError::Unsigned`]) or the structure is
/// broken ([`VerifyError::Unreadable`]); a signature that does not match is `intact: false`.
pub fn verify(
    raw: &[u8],
    trust: &TrustStore,
    now: DateTime<Utc>,
) -> Result<Verification, VerifyError> {
    let checker = Checker {
        trust,
        anchors: None,
        cache: None,
    };
    checker.verify(raw, now)
}

/// Checks a DER CMS SignedData that carries its content (a `.p7m` file, PEC-SPEC §7.2); the
/// content is returned in [`Verification::content`]. Same answers as [`verify`].
pub fn verify_p7m(
    der: &[u8],
    trust: &TrustStore,
    now: DateTime<Utc>,
) -> Result<Verification, VerifyError> {
    let mut wrapped = Vec::with_capacity(der.len() + 128);
    wrapped.extend_from_slice(
        b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\
          Content-Transfer-Encoding: binary\r\n\r\n",
    );
    wrapped.extend_from_slice(der);
    verify(&wrapped, trust, now)
}

/// Checks a detached CMS signature (DER) over `content` (bare LF read as CRLF, as for a
/// signed MIME part): the counterpart of [`crate::Signer::sign_detached`]. Same answers as
/// [`verify`].
pub fn verify_detached(
    signature: &[u8],
    content: &[u8],
    trust: &TrustStore,
    now: DateTime<Utc>,
) -> Result<Verification, VerifyError> {
    if signature.len() > MAX_SIGNATURE_BYTES {
        return Err(unreadable("signature too large"));
    }
    let checker = Checker {
        trust,
        anchors: None,
        cache: None,
    };
    checker.check(signature, Some(content), now)
}

/// What a check runs against: the trust store, and what a [`Verifier`](crate::Verifier)
/// keeps from one message to the next.
pub(crate) struct Checker<'a> {
    pub trust: &'a TrustStore,
    /// `trust`'s anchors in a store that ignores validity periods ([`TrustStore::store`]
    /// with `None`); `None`: built for each message.
    pub anchors: Option<&'a X509StoreRef>,
    /// Facts about signers seen before; `None`: worked out for each message.
    pub cache: Option<&'a SignerCache>,
}

impl Checker<'_> {
    /// [`verify`] with this checker's trust store and caches.
    pub(crate) fn verify(
        &self,
        raw: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Verification, VerifyError> {
        if raw.len() > MAX_MESSAGE_BYTES {
            return Err(unreadable(format!(
                "message larger than {MAX_MESSAGE_BYTES} bytes"
            )));
        }
        let top = mime::split_entity(raw);
        let Some(ct) = mime::content_type(top.headers) else {
            return Err(VerifyError::Unsigned);
        };
        match ct.mime.as_str() {
            "multipart/signed" => {
                if let Some(protocol) = ct.param("protocol") {
                    if !is_pkcs7_signature(protocol) {
                        return Err(unreadable(format!(
                            "unsupported signature protocol {protocol:.60}"
                        )));
                    }
                }
                let boundary = ct
                    .param("boundary")
                    .filter(|b| !b.is_empty() && b.len() <= 200)
                    .ok_or_else(|| unreadable("multipart/signed without a usable boundary"))?;
                let parts = match mime::split_multipart(top.body, boundary, 2) {
                    Ok(parts) if parts.len() == 2 => parts,
                    Ok(_) => return Err(unreadable("multipart/signed needs two parts")),
                    Err(MultipartError::NoDelimiter) => {
                        return Err(unreadable("multipart/signed has no parts"))
                    }
                    Err(MultipartError::Unterminated) => {
                        return Err(unreadable(
                            "multipart/signed is truncated (no closing boundary)",
                        ))
                    }
                    Err(MultipartError::TooManyParts) => {
                        return Err(unreadable("multipart/signed has more than two parts"))
                    }
                };
                let der = signature_part(parts[1])?;
                self.check(&der, Some(parts[0]), now)
            }
            "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
                match ct
                    .param("smime-type")
                    .map(str::to_ascii_lowercase)
                    .as_deref()
                {
                    None | Some("signed-data") => {}
                    Some(other) => {
                        return Err(unreadable(format!("unsupported smime-type {other:.40}")))
                    }
                }
                let der = decode_body(top.headers, top.body)?;
                self.check(&der, None, now)
            }
            _ => Err(VerifyError::Unsigned),
        }
    }
}

fn is_pkcs7_signature(mime: &str) -> bool {
    mime.eq_ignore_ascii_case("application/pkcs7-signature")
        || mime.eq_ignore_ascii_case("application/x-pkcs7-signature")
}

/// The DER of the `smime.p7s` part.
fn signature_part(part: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let entity = mime::split_entity(part);
    match mime::content_type(entity.headers) {
        Some(ct) if is_pkcs7_signature(&ct.mime) => {}
        _ => return Err(unreadable("second part is not a PKCS#7 signature")),
    }
    decode_body(entity.headers, entity.body)
}

/// Decodes a signature body by its transfer encoding (base64 unless declared binary).
fn decode_body(headers: &[u8], body: &[u8]) -> Result<Vec<u8>, VerifyError> {
    if body.len() > MAX_SIGNATURE_BYTES {
        return Err(unreadable(format!(
            "signature larger than {MAX_SIGNATURE_BYTES} bytes"
        )));
    }
    let cte = mime::header(headers, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    match cte.as_str() {
        "binary" | "8bit" => Ok(body.to_vec()),
        "" | "base64" => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let engine = base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
                    .with_decode_allow_trailing_bits(true),
            );
            engine
                .decode(&compact)
                .map_err(|e| unreadable(format!("signature base64: {e}")))
        }
        other => Err(unreadable(format!(
            "signature transfer encoding {other:.20} not supported"
        ))),
    }
}

impl Checker<'_> {
    /// Verifies `der` over `detached` (canonicalised here) or over its own encapsulated content.
    fn check(
        &self,
        der: &[u8],
        detached: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<Verification, VerifyError> {
        let info =
            asn1::parse_signed_data(der).map_err(|e| unreadable(format!("signature: {e}")))?;
        let mut cms = CmsContentInfo::from_der(der)
            .map_err(|e| unreadable(format!("signature: {}", one_line(&e))))?;

        let (content, form): (Cow<'_, [u8]>, SignedForm) = match detached {
            Some(raw) => {
                if info.econtent.is_some() {
                    return Err(unreadable("detached signature also carries content"));
                }
                let content = if mime::bare_lf_count(raw) == 0 {
                    Cow::Borrowed(raw)
                } else {
                    Cow::Owned(mime::to_crlf(raw))
                };
                (content, SignedForm::Detached)
            }
            None => {
                let Some(econtent) = info.econtent else {
                    return Err(unreadable("opaque signature without content"));
                };
                let mut out = Vec::new();
                asn1::octets(econtent, MAX_MESSAGE_BYTES, &mut out)
                    .map_err(|e| unreadable(format!("signature: {e}")))?;
                (Cow::Owned(out), SignedForm::Opaque)
            }
        };

        let cached;
        let fresh;
        let facts: &Option<SignerFacts> = match self.cache {
            Some(cache) => {
                cached = cache.get_or_insert_with(&info, || self.signer_facts(&info))?;
                &cached
            }
            None => {
                fresh = self.signer_facts(&info)?;
                &fresh
            }
        };

        // Integrity alone: content digest and signature value, no chain.
        let flags = CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
        let data = (form == SignedForm::Detached).then_some(&*content);
        let integrity = if facts.is_none() {
            Err(NO_SIGNER_CERT.to_string())
        } else {
            cms.verify(None, None, data, None, flags)
                .map_err(|e| one_line(&e))
        };

        let signing_time = info.signing_time;
        let mut v = Verification {
            intact: integrity.is_ok(),
            integrity_error: integrity.err(),
            signer: None,
            certificates: info.certificates.iter().map(|c| c.to_vec()).collect(),
            signing_time,
            trusted: false,
            chain_valid: false,
            chain_error: Some(NO_SIGNER_CERT.into()),
            valid_at_signing: None,
            valid_now: false,
            digest_algorithm: asn1::digest_name(info.digest_oid),
            form,
            content: content.into_owned(),
        };
        let Some(facts) = facts else {
            return Ok(v);
        };
        let at = signing_time.unwrap_or(now);
        let chain = match facts.chain.at(at) {
            Some(verdict) => verdict,
            None => self.check_chain_at(&info, at)?,
        };
        v.trusted = facts.chain.trusted().is_ok();
        v.chain_valid = chain.is_ok();
        v.chain_error = chain.err();
        v.valid_at_signing = signing_time.map(|t| facts.signer.valid_at(t));
        v.valid_now = facts.signer.valid_at(now);
        v.signer = Some(facts.signer.clone());
        Ok(v)
    }

    /// What does not change while the embedded certificates and the signer's identifier do
    /// not: `None` when the signer's certificate is not embedded.
    fn signer_facts(&self, info: &SignedDataInfo<'_>) -> Result<Option<SignerFacts>, VerifyError> {
        let certs = parse_certificates(info)?;
        let Some(cert) = find_signer(info, &certs) else {
            return Ok(None);
        };
        let signer = SignerInfo::from_x509(cert)
            .map_err(|e| unreadable(format!("signer certificate: {}", one_line(&e))))?;
        let untrusted = stack(&certs)?;
        let built;
        let anchors = match self.anchors {
            Some(anchors) => anchors,
            None => match self.trust.store(None) {
                Ok(store) => {
                    built = store;
                    &built
                }
                Err(e) => {
                    return Ok(Some(SignerFacts {
                        signer,
                        chain: ChainVerdict::failed(one_line(&e)),
                    }))
                }
            },
        };
        let chain = ChainVerdict::judge(self.trust, anchors, cert, &untrusted);
        Ok(Some(SignerFacts { signer, chain }))
    }

    /// The full chain check at `at`, for when the cached verdict does not decide it.
    fn check_chain_at(
        &self,
        info: &SignedDataInfo<'_>,
        at: DateTime<Utc>,
    ) -> Result<Result<(), String>, VerifyError> {
        let certs = parse_certificates(info)?;
        let Some(cert) = find_signer(info, &certs) else {
            return Ok(Err(NO_SIGNER_CERT.into()));
        };
        let untrusted = stack(&certs)?;
        Ok(self.trust.check_chain(cert, &untrusted, Some(at)))
    }
}

/// Why nothing about the signer can be said.
const NO_SIGNER_CERT: &str = "signer certificate not in the signature";

/// What verification learns from the embedded certificates and the signer's identifier
/// alone, the same for every message that carries them: kept by a
/// [`Verifier`](crate::Verifier).
#[derive(Debug)]
pub(crate) struct SignerFacts {
    /// The signer's certificate, described.
    pub signer: SignerInfo,
    /// Its chain against the trust store.
    pub chain: ChainVerdict,
}

/// The embedded certificates as an openssl stack (the chain's intermediates).
fn stack(certs: &[X509]) -> Result<Stack<X509>, VerifyError> {
    let mut untrusted =
        Stack::new().map_err(|e| unreadable(format!("openssl: {}", one_line(&e))))?;
    for c in certs {
        untrusted
            .push(c.clone())
            .map_err(|e| unreadable(format!("openssl: {}", one_line(&e))))?;
    }
    Ok(untrusted)
}

fn parse_certificates(info: &SignedDataInfo<'_>) -> Result<Vec<X509>, VerifyError> {
    info.certificates
        .iter()
        .map(|der| {
            X509::from_der(der)
                .map_err(|e| unreadable(format!("embedded certificate: {}", one_line(&e))))
        })
        .collect()
}

/// The embedded certificate the first `SignerInfo` names.
fn find_signer<'c>(info: &SignedDataInfo<'_>, certs: &'c [X509]) -> Option<&'c X509> {
    info.certificates
        .iter()
        .zip(certs)
        .find(|(der, cert)| match info.signer {
            SignerId::IssuerSerial { issuer, serial } => {
                asn1::cert_issuer_serial(der).is_ok_and(|(i, s)| i == issuer && s == serial)
            }
            SignerId::KeyId(id) => cert.subject_key_id().is_some_and(|k| k.as_slice() == id),
        })
        .map(|(_, cert)| cert)
}
