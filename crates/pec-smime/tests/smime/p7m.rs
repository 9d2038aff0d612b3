//! The `.p7m` form (CMS SignedData carrying its content): how a provider publishes its own
//! index record (PEC-SPEC §7.2).

use super::util::*;
use chrono::Utc;

const LDIF: &[u8] = b"dn: providerName=Example PEC S.p.A.,o=postacert\nobjectclass: top\n";

#[test]
fn a_signed_record_verifies_and_gives_its_content_back() {
    let pki = DevPki::shared();
    let der = pki.signer.sign_opaque(LDIF).unwrap();
    let v = pec_smime::verify_p7m(&der, &pki.trust, Utc::now()).unwrap();
    assert!(v.is_valid_now(), "{v:?}");
    assert_eq!(v.content, LDIF);
    assert_eq!(v.form, pec_smime::SignedForm::Opaque);
    // openssl reads it too.
    if tool("openssl") {
        let file = pki.write("record.p7m", &der);
        let (ok, out) = run(std::process::Command::new("openssl").args([
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            file.to_str().unwrap(),
            "-CAfile",
            pki.paths.ca_cert.to_str().unwrap(),
        ]));
        assert!(ok, "{out}");
        assert!(out.contains("providerName=Example PEC"), "{out}");
    }
}

#[test]
fn a_changed_record_or_an_unknown_signer_is_refused() {
    let pki = DevPki::shared();
    let der = pki.signer.sign_opaque(LDIF).unwrap();
    // Change one byte of the record inside the signature.
    let at = find(&der, b"objectclass").unwrap();
    let mut bad = der.clone();
    bad[at] = b'O';
    // Either unreadable or not intact; never valid.
    if let Ok(v) = pec_smime::verify_p7m(&bad, &pki.trust, Utc::now()) {
        assert!(!v.intact);
    }
    // Signed by a key nobody trusts.
    let v = pec_smime::verify_p7m(&der, &pec_smime::TrustStore::new(), Utc::now()).unwrap();
    assert!(v.intact && !v.chain_valid);
    assert!(pec_smime::verify_p7m(b"not DER", &pki.trust, Utc::now()).is_err());
}
