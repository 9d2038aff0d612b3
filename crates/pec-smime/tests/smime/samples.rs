//! Genuine Aruba messages (2014, SHA-1, certificates long expired) and a tampered one.

use chrono::{TimeZone, Utc};
use pec_smime::{verify, SignedForm, TrustStore, Verification};

use super::util::sample;

fn check(name: &str) -> Verification {
    verify(&sample(name), &TrustStore::new(), Utc::now()).expect(name)
}

fn assert_genuine(name: &str) {
    let v = check(name);
    assert!(v.intact, "{name}: {:?}", v.integrity_error);
    assert_eq!(v.digest_algorithm, "sha1", "{name}");
    assert_eq!(v.form, SignedForm::Detached);
    let signer = v.signer.as_ref().expect("signer certificate");
    assert!(
        signer
            .emails
            .iter()
            .any(|e| e == "posta-certificata@pec.aruba.it"),
        "{name}: {:?}",
        signer.emails
    );
    assert!(!v.valid_now, "{name}: expired certificate is not valid now");
    // Nothing trusted: the chain cannot be valid, whatever the dates.
    assert!(!v.trusted && !v.chain_valid, "{name}");
    assert!(v.chain_error.is_some());
    let t = v.signing_time.expect("signing time");
    assert!(
        t > Utc.with_ymd_and_hms(2014, 1, 1, 0, 0, 0).unwrap()
            && t < Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap(),
        "{name}: {t}"
    );
    assert_eq!(v.valid_at_signing, Some(true), "{name}");
    assert_eq!(signer.sha1_fingerprint.len(), 40);
    assert!(signer
        .sha1_fingerprint
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
    // The returned content is the signed entity, canonical CRLF.
    assert!(v.content.windows(12).any(|w| w == b"daticert.xml"));
    assert!(!v.content.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
}

#[test]
fn busta_1_is_intact() {
    assert_genuine("aruba-2014-busta-1.eml");
}

#[test]
fn busta_2_is_intact() {
    assert_genuine("aruba-2014-busta-2.eml");
}

#[test]
fn accettazione_is_intact() {
    assert_genuine("aruba-2014-accettazione.eml");
}

#[test]
fn consegna_is_intact_and_carries_postacert() {
    assert_genuine("aruba-2014-consegna.eml");
    let v = check("aruba-2014-consegna.eml");
    assert!(v.content.windows(13).any(|w| w == b"postacert.eml"));
}

#[test]
fn tampered_busta_is_not_intact() {
    let v = check("tampered-busta.eml");
    assert!(!v.intact);
    assert!(v.integrity_error.is_some());
    // The signer is still reported: the caller may log who the message claims to be from.
    assert!(v.signer.is_some());
}

#[test]
fn crlf_and_lf_copies_of_a_sample_agree() {
    // busta-1 is stored with LF; a CRLF copy must verify the same way.
    let lf = sample("aruba-2014-busta-1.eml");
    let mut crlf = Vec::with_capacity(lf.len() * 2);
    for &b in &lf {
        if b == b'\n' {
            crlf.push(b'\r');
        }
        crlf.push(b);
    }
    let a = verify(&lf, &TrustStore::new(), Utc::now()).unwrap();
    let b = verify(&crlf, &TrustStore::new(), Utc::now()).unwrap();
    assert!(a.intact && b.intact);
    assert_eq!(a.content, b.content);
    assert_eq!(a.signer, b.signer);
}

#[test]
fn trusting_the_embedded_intermediate_validates_the_chain_at_signing_time() {
    // The 2014 signatures embed "DigitPA CA1", the authority's intermediate. With it as the
    // anchor the chain is checked at the signing time: valid then, although expired now.
    let raw = sample("aruba-2014-accettazione.eml");
    let v = verify(&raw, &TrustStore::new(), Utc::now()).unwrap();
    let signer_der = &v.signer.as_ref().unwrap().der;
    let intermediate = v
        .certificates
        .iter()
        .find(|c| *c != signer_der)
        .expect("intermediate embedded");
    let mut trust = TrustStore::new();
    trust.add_bytes(intermediate).unwrap();
    let again = verify(&raw, &trust, Utc::now()).unwrap();
    assert!(again.intact);
    assert!(again.trusted, "{:?}", again.chain_error);
    assert!(again.chain_valid, "{:?}", again.chain_error);
    assert_eq!(again.valid_at_signing, Some(true));
    assert!(!again.valid_now);
}
