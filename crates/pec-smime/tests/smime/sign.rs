//! Signer::sign: wire format, round trip through verify, trust and time outcomes.

use chrono::Utc;
use pec_smime::{verify, Error, SignedForm, Signer, TrustStore};

use super::util::{find, in_ten_years, message, to_lf, DevPki, SERVICE};

#[test]
fn sign_then_verify_round_trip() {
    let pki = DevPki::shared();
    let msg = message(4);
    let signed = pki.signer.sign(&msg).unwrap();
    let v = pki.verify(&signed).unwrap();
    assert!(v.intact, "{:?}", v.integrity_error);
    assert!(v.trusted, "{:?}", v.chain_error);
    assert!(v.chain_valid, "{:?}", v.chain_error);
    assert!(v.valid_now);
    assert_eq!(v.valid_at_signing, Some(true));
    assert!(v.is_valid() && v.is_valid_now());
    assert_eq!(v.digest_algorithm, "sha256");
    assert_eq!(v.form, SignedForm::Detached);
    assert_eq!(
        v.content, msg.content,
        "the signed bytes are the content, exactly"
    );
    let signer = v.signer.unwrap();
    assert_eq!(signer.emails, vec![SERVICE.to_string()]);
    assert_eq!(
        signer.sha1_fingerprint,
        pki.signer.certificate_sha1().unwrap()
    );
    let t = v.signing_time.expect("signing time attribute");
    assert!((Utc::now() - t).num_seconds().abs() < 120, "{t}");
}

#[test]
fn output_is_crlf_multipart_signed_with_headers_first() {
    let pki = DevPki::shared();
    let msg = message(2);
    let signed = pki.signer.sign(&msg).unwrap();
    // CRLF throughout.
    for (i, w) in signed.windows(2).enumerate() {
        assert!(!(w[1] == b'\n' && w[0] != b'\r'), "bare LF at {}", i + 1);
    }
    let text = String::from_utf8(signed.clone()).unwrap();
    assert!(text.starts_with("Date: Fri, 14 Nov 2014 18:26:32 +0100\r\nFrom: "));
    // Header folds given by the builder are kept.
    assert!(
        text.contains("Subject: ACCETTAZIONE: prova con un oggetto lungo\r\n che va a capo\r\n")
    );
    assert!(text.contains("\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n micalg=sha-256; boundary=\""));
    assert!(text.contains("\r\n\r\nThis is an S/MIME signed message\r\n\r\n--"));
    assert!(text.contains("Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n"));
    // The content appears byte for byte, between the first two delimiters.
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(find(&msg.content, boundary.as_bytes()).is_none());
    let first = format!("\r\n--{boundary}\r\n");
    let start = text.find(&first).unwrap() + first.len();
    assert_eq!(&signed[start..start + msg.content.len()], &msg.content[..]);
    assert!(text[start + msg.content.len()..].starts_with(&format!("\r\n--{boundary}\r\n")));
    assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
    // Base64 lines of at most 76 columns.
    let sig = text.split("filename=\"smime.p7s\"\r\n\r\n").nth(1).unwrap();
    for line in sig.split("\r\n").take_while(|l| !l.is_empty()) {
        assert!(line.len() <= 76, "{line}");
    }
}

#[test]
fn boundary_is_deterministic_for_a_given_signature() {
    let pki = DevPki::shared();
    let a = pki.signed();
    let b = pki.signed();
    // Same key, same content: the boundary follows the signature, never a random source.
    let boundary = |m: &[u8]| {
        let t = String::from_utf8_lossy(m).to_string();
        t.split("boundary=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    assert!(boundary(&a).starts_with("----=_PEC_"));
    if a == b {
        assert_eq!(boundary(&a), boundary(&b));
    }
}

#[test]
fn lf_converted_copy_still_verifies() {
    let pki = DevPki::shared();
    let lf = to_lf(&pki.signed());
    assert!(!lf.contains(&b'\r'));
    let v = pki.verify(&lf).unwrap();
    assert!(v.intact, "{:?}", v.integrity_error);
    assert!(v.chain_valid);
    assert_eq!(v.content, message(2).content);
}

#[test]
fn untrusted_ca_is_intact_but_not_trusted() {
    let pki = DevPki::shared();
    let other = DevPki::new();
    let v = verify(&pki.signed(), &other.trust, Utc::now()).unwrap();
    assert!(v.intact);
    assert!(!v.trusted);
    assert!(!v.chain_valid);
    assert!(v.chain_error.is_some());
    assert!(v.valid_now, "the certificate's own dates are fine");
    let empty = verify(&pki.signed(), &TrustStore::new(), Utc::now()).unwrap();
    assert!(empty.intact && !empty.trusted);
}

#[test]
fn expired_later_still_valid_at_signing_time() {
    let pki = DevPki::shared();
    let v = verify(&pki.signed(), &pki.trust, in_ten_years()).unwrap();
    assert!(v.intact);
    assert!(v.trusted);
    assert!(
        v.chain_valid,
        "chain checked at the signing time: {:?}",
        v.chain_error
    );
    assert_eq!(v.valid_at_signing, Some(true));
    assert!(!v.valid_now);
    assert!(v.is_valid() && !v.is_valid_now());
}

#[test]
fn content_with_bare_lf_is_refused() {
    let pki = DevPki::shared();
    let mut msg = message(1);
    msg.content.extend_from_slice(b"tail\n");
    assert!(matches!(pki.signer.sign(&msg), Err(Error::NotCanonical(1))));
}

#[test]
fn reserved_or_injected_headers_are_refused() {
    let pki = DevPki::shared();
    let mut msg = message(1);
    msg.headers
        .push(("Content-Type".into(), "text/plain".into()));
    assert!(matches!(pki.signer.sign(&msg), Err(Error::Header { .. })));
    let mut msg = message(1);
    msg.headers
        .push(("Subject".into(), "x\r\nBcc: victim@example.org".into()));
    assert!(matches!(pki.signer.sign(&msg), Err(Error::Header { .. })));
}

#[test]
fn mismatched_key_is_refused() {
    let a = DevPki::shared();
    let b = DevPki::new();
    let cert = std::fs::read(&a.paths.provider_cert).unwrap();
    let key = std::fs::read(&b.paths.provider_key).unwrap();
    assert!(matches!(
        Signer::from_pem(&cert, &key, &[]),
        Err(Error::KeyMismatch)
    ));
}

#[test]
fn chain_certificates_are_embedded() {
    let pki = DevPki::shared();
    let cert = std::fs::read(&pki.paths.provider_cert).unwrap();
    let key = std::fs::read(&pki.paths.provider_key).unwrap();
    let ca = std::fs::read(&pki.paths.ca_cert).unwrap();
    let signer = Signer::from_pem(&cert, &key, &[&ca]).unwrap();
    let v = pki.verify(&signer.sign(&message(1)).unwrap()).unwrap();
    assert!(v.intact && v.chain_valid);
    assert_eq!(v.certificates.len(), 2);
}

#[test]
fn signer_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Signer>();
    assert_send_sync::<TrustStore>();
    let pki = DevPki::shared();
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || pki.verify(&pki.signed()).unwrap().is_valid()))
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}
