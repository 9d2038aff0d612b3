//! What a verifier reports about a signing certificate, and the conversions it needs.

use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::hash::MessageDigest;
use openssl::x509::{X509NameRef, X509Ref};

/// The signer's certificate as a PEC provider needs it: identity, validity and the hashes
/// the provider index (IGPEC, PEC-SPEC §7) is keyed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    /// Subject DN, e.g. `C=IT, O=Aruba PEC S.p.A., CN=Posta Certificata ARUBA PEC`.
    pub subject: String,
    /// Issuer DN in the same form.
    pub issuer: String,
    /// Serial number, upper-case hex.
    pub serial_hex: String,
    /// The rfc822Name entries of subjectAltName (the provider's service address, PEC-SPEC §7.4).
    pub emails: Vec<String>,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// SHA-1 of the DER, upper-case hex without separators: IGPEC `providerCertificateHash`.
    pub sha1_fingerprint: String,
    /// SHA-256 of the DER, upper-case hex without separators.
    pub sha256_fingerprint: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

impl SignerInfo {
    /// Describes `cert`.
    pub(crate) fn from_x509(cert: &X509Ref) -> Result<Self, openssl::error::ErrorStack> {
        let emails = cert
            .subject_alt_names()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.email().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(SignerInfo {
            subject: name_to_string(cert.subject_name()),
            issuer: name_to_string(cert.issuer_name()),
            serial_hex: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
            emails,
            not_before: asn1_to_utc(cert.not_before())?,
            not_after: asn1_to_utc(cert.not_after())?,
            sha1_fingerprint: hex::encode_upper(cert.digest(MessageDigest::sha1())?),
            sha256_fingerprint: hex::encode_upper(cert.digest(MessageDigest::sha256())?),
            der: cert.to_der()?,
        })
    }

    /// Whether `t` falls inside the validity period.
    pub fn valid_at(&self, t: DateTime<Utc>) -> bool {
        self.not_before <= t && t <= self.not_after
    }
}

/// `C=IT, O=…, CN=…`: short attribute names in certificate order.
pub(crate) fn name_to_string(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = e
                .object()
                .nid()
                .short_name()
                .map_or_else(|_| e.object().to_string(), str::to_string);
            let value = e.data().to_string().unwrap_or_else(|_| "?".to_string());
            format!("{key}={value}")
        })
        .collect();
    parts.join(", ")
}

/// An openssl time as a chrono time.
pub(crate) fn asn1_to_utc(t: &Asn1TimeRef) -> Result<DateTime<Utc>, openssl::error::ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let diff = epoch.diff(t)?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    Ok(DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC))
}
