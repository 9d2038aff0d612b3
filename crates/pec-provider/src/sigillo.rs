//! The seal of `log.head` (issue 12, item 5): the provider signs the recorded log head with its
//! own key, so someone who can write the data folder but not read the key cannot rewrite the
//! head to match a truncated or older database.
//!
//! A seal is accepted when the signature is intact and made with the key of our signing
//! certificate. After the key changes, the old seal no longer verifies and the store refuses
//! to open: `gestore store check`, then `gestore store adopt` (offline) seals the head again
//! with the new key once the whole chain has verified.

use chrono::Utc;
use pec_smime::{Signer, TrustStore};
use pec_store::Sigillo;
use std::sync::Arc;

/// The provider's signer as `log.head`'s sealer.
pub struct SigilloFirma(pub Arc<Signer>);

impl Sigillo for SigilloFirma {
    fn sigilla(&self, corpo: &[u8]) -> Result<Vec<u8>, String> {
        self.0.sign_detached(corpo).map_err(|e| e.to_string())
    }

    fn verifica(&self, corpo: &[u8], sigillo: &[u8]) -> Result<(), String> {
        let v = pec_smime::verify_detached(sigillo, corpo, &TrustStore::new(), Utc::now())
            .map_err(|e| e.to_string())?;
        if !v.intact {
            return Err(v
                .integrity_error
                .unwrap_or_else(|| "the signature does not match".into()));
        }
        let signer = v.signer.ok_or("the seal names no certificate")?;
        let cert = openssl::x509::X509::from_der(&signer.der).map_err(|e| e.to_string())?;
        let ours = self
            .0
            .certificate()
            .public_key()
            .map_err(|e| e.to_string())?;
        let theirs = cert.public_key().map_err(|e| e.to_string())?;
        if theirs.public_eq(&ours) {
            Ok(())
        } else {
            Err(format!(
                "sealed by another key ({}, serial {}); after a change of signing key run \
                 `gestore store check` and then `gestore store adopt`",
                signer.subject, signer.serial_hex
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pec_smime::pki::{self, PkiOptions};

    fn signer(dir: &std::path::Path, name: &str) -> Arc<Signer> {
        pki::init(dir, &PkiOptions::new(name, format!("posta@{name}.example"))).unwrap();
        Arc::new(Signer::from_pki_dir(dir).unwrap())
    }

    #[test]
    fn our_seal_verifies_and_anothers_does_not() {
        let d = tempfile::tempdir().unwrap();
        let a = SigilloFirma(signer(&d.path().join("a"), "alfa"));
        let b = SigilloFirma(signer(&d.path().join("b"), "beta"));
        let corpo = b"gestore log head v1\nseq 7\nhash 00\n";
        let seal = a.sigilla(corpo).unwrap();
        a.verifica(corpo, &seal).unwrap();
        // Another line: the signature no longer matches.
        let altro = b"gestore log head v1\nseq 6\nhash 00\n";
        assert!(a.verifica(altro, &seal).is_err());
        // Another key's intact seal: refused, naming the signer.
        let theirs = b.sigilla(altro).unwrap();
        let e = a.verifica(altro, &theirs).unwrap_err();
        assert!(e.contains("another key"), "{e}");
        assert!(a.verifica(corpo, b"rubbish").is_err());
    }
}
