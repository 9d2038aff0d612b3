//! Signing: an [`UnsignedMessage`] becomes a complete `multipart/signed` message (PEC-SPEC §3.1).
//!
//! Invariants:
//! * the signature covers `msg.content` byte for byte, which must already be canonical CRLF
//!   (checked, never rewritten: rewriting would sign something the builder did not produce);
//! * the output uses CRLF throughout and its boundary never occurs in the content;
//! * the key and certificates are parsed once, in the constructor; `sign` only borrows them.

use std::path::Path;

use base64::Engine as _;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::{X509Ref, X509};
use pec_core::{Provider, UnsignedMessage};

use crate::asn1;
use crate::Error;

/// Base64 line length of the signature part (RFC 2045 §6.8 maximum).
const BASE64_LINE: usize = 76;
/// The preamble text of the multipart/signed body, as every sample has it.
const PREAMBLE: &[u8] = b"This is an S/MIME signed message";

/// The provider's signing identity: certificate, private key and chain, parsed once.
///
/// `Signer` is `Send + Sync`: share one behind an `Arc` and call [`Signer::sign`] from a
/// blocking pool.
pub struct Signer {
    cert: X509,
    key: PKey<Private>,
    /// Certificates embedded besides the signer's (intermediates, PEC-SPEC §3.1 "leaf + CA1").
    chain: Stack<X509>,
    /// `micalg` value, from the digest the key actually produces (checked at construction).
    micalg: &'static str,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Signer")
            .field(
                "subject",
                &crate::cert::name_to_string(self.cert.subject_name()),
            )
            .field("chain", &self.chain.len())
            .field("micalg", &self.micalg)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from PEM texts: the certificate, its private key (PKCS#8 or traditional) and
    /// any intermediate certificates to embed. Fails if the key does not match the
    /// certificate or does not sign with SHA-256.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8], chain_pems: &[&[u8]]) -> Result<Self, Error> {
        let cert = X509::from_pem(cert_pem).map_err(|e| Error::parse("certificate", e))?;
        let key =
            PKey::private_key_from_pem(key_pem).map_err(|e| Error::parse("private key", e))?;
        let mut chain = Vec::new();
        for pem in chain_pems {
            chain.extend(X509::stack_from_pem(pem).map_err(|e| Error::parse("chain", e))?);
        }
        Self::new(cert, key, chain)
    }

    /// A signer from a certificate file (PEM; certificates after the first are embedded as
    /// the chain) and a private-key file (PEM).
    pub fn from_files(cert_path: &Path, key_path: &Path) -> Result<Self, Error> {
        let certs = std::fs::read(cert_path).map_err(|e| Error::io(cert_path, e))?;
        let key = std::fs::read(key_path).map_err(|e| Error::io(key_path, e))?;
        let mut certs = X509::stack_from_pem(&certs)
            .map_err(|e| Error::parse(cert_path.display().to_string(), e))?
            .into_iter();
        let cert = certs.next().ok_or_else(|| Error::Parse {
            what: cert_path.display().to_string(),
            detail: "no certificate in the file".into(),
        })?;
        let key = PKey::private_key_from_pem(&key)
            .map_err(|e| Error::parse(key_path.display().to_string(), e))?;
        Self::new(cert, key, certs.collect())
    }

    /// The signer of a directory made by [`crate::pki::init`] (`provider.pem`, `provider.key`).
    pub fn from_pki_dir(dir: &Path) -> Result<Self, Error> {
        let paths = crate::pki::PkiPaths::in_dir(dir);
        Self::from_files(&paths.provider_cert, &paths.provider_key)
    }

    /// A signer from parsed parts; checks the key pair and the digest with one probe signature.
    pub fn new(cert: X509, key: PKey<Private>, chain: Vec<X509>) -> Result<Self, Error> {
        if !cert.public_key()?.public_eq(&key) {
            return Err(Error::KeyMismatch);
        }
        let mut stack = Stack::new()?;
        for c in chain {
            stack.push(c)?;
        }
        let signer = Signer {
            cert,
            key,
            chain: stack,
            micalg: "sha-256",
        };
        // CMS_sign picks the key's default digest (SHA-256 for RSA and EC keys since
        // OpenSSL 1.1); the probe makes sure the micalg we announce is the digest we use.
        let probe = signer.cms_der(b"")?;
        let digest = asn1::parse_signed_data(&probe)
            .map(|info| asn1::digest_name(info.digest_oid))
            .unwrap_or_else(|e| e.0.to_string());
        if digest != "sha256" {
            return Err(Error::UnexpectedDigest(digest));
        }
        Ok(signer)
    }

    /// The private key, for benchmarks that compare with a bare signature.
    pub fn private_key(&self) -> &PKey<Private> {
        &self.key
    }

    /// The signing certificate.
    pub fn certificate(&self) -> &X509Ref {
        &self.cert
    }

    /// SHA-1 of the signing certificate, upper-case hex: IGPEC `providerCertificateHash`.
    pub fn certificate_sha1(&self) -> Result<String, Error> {
        Ok(hex::encode_upper(self.cert.digest(MessageDigest::sha1())?))
    }

    /// The provider this certificate stands for (PEC-SPEC §7.4): its name from the Subject O
    /// (daticert `gestore-emittente`), its service address from the subjectAltName rfc822Name.
    pub fn provider(&self) -> Result<Provider, Error> {
        let nome = self
            .cert
            .subject_name()
            .entries_by_nid(Nid::ORGANIZATIONNAME)
            .next()
            .and_then(|e| e.data().to_string().ok())
            .ok_or(Error::Profile("no Subject O (the provider name)"))?;
        let indirizzo_servizio = self
            .cert
            .subject_alt_names()
            .and_then(|names| names.iter().find_map(|n| n.email().map(str::to_string)))
            .ok_or(Error::Profile(
                "no subjectAltName e-mail (the service address)",
            ))?;
        Ok(Provider {
            nome,
            indirizzo_servizio,
        })
    }

    /// The detached CMS signature (DER, SHA-256, certificate embedded) of `content`, read
    /// with CRLF line ends as [`crate::verify_detached`] reads it: how a provider seals a file
    /// of its own (gestore's log head).
    pub fn sign_detached(&self, content: &[u8]) -> Result<Vec<u8>, Error> {
        self.cms_der(&crate::mime::to_crlf(content))
    }

    /// The detached CMS signature (DER) of `content`.
    fn cms_der(&self, content: &[u8]) -> Result<Vec<u8>, Error> {
        let certs = (!self.chain.is_empty()).then_some(&*self.chain);
        let cms = CmsContentInfo::sign(
            Some(&self.cert),
            Some(&self.key),
            certs,
            Some(content),
            CMSOptions::DETACHED | CMSOptions::BINARY,
        )?;
        Ok(cms.to_der()?)
    }

    /// Signs `content` into a CMS SignedData that carries it (DER, the `.p7m` form): how a
    /// provider publishes its own index record (PEC-SPEC §7.2, "UTF-8 LDIF wrapped in PKCS#7
    /// SignedData, DER"). Read it back with [`crate::verify_p7m`].
    pub fn sign_opaque(&self, content: &[u8]) -> Result<Vec<u8>, Error> {
        let certs = (!self.chain.is_empty()).then_some(&*self.chain);
        let cms = CmsContentInfo::sign(
            Some(&self.cert),
            Some(&self.key),
            certs,
            Some(content),
            CMSOptions::BINARY,
        )?;
        Ok(cms.to_der()?)
    }

    /// Signs `msg` and returns the complete message, CRLF throughout: `msg.headers`,
    /// `MIME-Version`, the `multipart/signed` `Content-Type`, a preamble, `msg.content`
    /// byte for byte, and the `smime.p7s` part (detached CMS, SHA-256, certificate embedded).
    pub fn sign(&self, msg: &UnsignedMessage) -> Result<Vec<u8>, Error> {
        check_headers(&msg.headers)?;
        let bare = crate::mime::bare_lf_count(&msg.content);
        if bare > 0 {
            return Err(Error::NotCanonical(bare));
        }
        let der = self.cms_der(&msg.content)?;
        let boundary = boundary_for(&der, &msg.content);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);

        let headers_len: usize = msg.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        let mut out = Vec::with_capacity(
            headers_len + msg.content.len() + b64.len() * 78 / 76 + 512 + boundary.len() * 3,
        );
        for (name, value) in &msg.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
        // PEC-SPEC §3.1: multipart/signed, protocol application/pkcs7-signature, micalg.
        out.extend_from_slice(
            b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n micalg=",
        );
        out.extend_from_slice(self.micalg.as_bytes());
        out.extend_from_slice(b"; boundary=\"");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\"\r\n\r\n");
        out.extend_from_slice(PREAMBLE);
        out.extend_from_slice(b"\r\n\r\n--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&msg.content);
        out.extend_from_slice(b"\r\n--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(
            b"\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
              Content-Transfer-Encoding: base64\r\n\
              Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n",
        );
        for line in b64.as_bytes().chunks(BASE64_LINE) {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        Ok(out)
    }
}

/// Rejects header names that are empty or not RFC 5322 field names, values with a bare CR
/// or LF outside a fold (header injection), and the two headers the signer writes itself.
fn check_headers(headers: &[(String, String)]) -> Result<(), Error> {
    for (name, value) in headers {
        let bad = |reason| Error::Header {
            name: name.clone(),
            reason,
        };
        if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
            return Err(bad("not a valid field name"));
        }
        if name.eq_ignore_ascii_case("MIME-Version") || name.eq_ignore_ascii_case("Content-Type") {
            return Err(bad("written by the signer, must not be given"));
        }
        let v = value.as_bytes();
        for (i, &b) in v.iter().enumerate() {
            let folded = match b {
                b'\r' => v.get(i + 1) == Some(&b'\n') && matches!(v.get(i + 2), Some(b' ' | b'\t')),
                b'\n' => i > 0 && v[i - 1] == b'\r' && matches!(v.get(i + 1), Some(b' ' | b'\t')),
                _ => true,
            };
            if !folded {
                return Err(bad("line break outside a fold"));
            }
        }
    }
    Ok(())
}

/// A boundary derived from the signature value (itself a function of the content's digest),
/// so no extra pass over a large content is needed to make one. In the astronomically
/// unlikely case that it occurs in the content, the SHA-256 of the content is used instead:
/// a text cannot contain its own digest.
fn boundary_for(der: &[u8], content: &[u8]) -> String {
    // The RSA signature value closes the DER: its last bytes look random.
    let tail = &der[der.len().saturating_sub(12)..];
    let boundary = format!("----=_PEC_{}", hex::encode_upper(tail));
    if memchr::memmem::find(content, boundary.as_bytes()).is_none() {
        return boundary;
    }
    let digest = openssl::sha::sha256(content);
    format!("----=_PEC_{}", hex::encode_upper(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_checked() {
        let ok = vec![("Subject".to_string(), "a\r\n b".to_string())];
        assert!(check_headers(&ok).is_ok());
        for (n, v) in [
            ("Subject", "a\r\nBcc: x"),
            ("Subject", "a\nb"),
            ("Subject", "a\r"),
            ("Bad Name", "x"),
            ("", "x"),
            ("content-type", "text/plain"),
        ] {
            assert!(check_headers(&[(n.into(), v.into())]).is_err(), "{n}: {v}");
        }
    }

    #[test]
    fn boundary_avoids_content() {
        let der = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let first = boundary_for(&der, b"");
        let content = format!("x{first}y");
        let second = boundary_for(&der, content.as_bytes());
        assert_ne!(first, second);
        assert!(!content.contains(&second));
    }
}
