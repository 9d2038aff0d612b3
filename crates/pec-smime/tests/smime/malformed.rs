//! Inputs that are not (well-formed) signed messages: the right error, never a panic.

use chrono::Utc;
use pec_smime::{verify, TrustStore, VerifyError};

use super::util::{find, sample, DevPki};

fn check(raw: &[u8]) -> Result<pec_smime::Verification, VerifyError> {
    verify(raw, &TrustStore::new(), Utc::now())
}

fn assert_unreadable(raw: &[u8]) {
    match check(raw) {
        Err(VerifyError::Unreadable(msg)) => assert!(!msg.contains('\n'), "one line: {msg}"),
        other => panic!("expected Unreadable, got {other:?}"),
    }
}

#[test]
fn plain_message_is_unsigned() {
    let raw = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n";
    assert_eq!(check(raw).unwrap_err(), VerifyError::Unsigned);
    let mixed = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\na\r\n--x--\r\n";
    assert_eq!(check(mixed).unwrap_err(), VerifyError::Unsigned);
    assert_eq!(check(b"").unwrap_err(), VerifyError::Unsigned);
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for len in [1usize, 7, 100, 4096, 70_000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(check(&bytes).is_err());
        let mut with_header = b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n".to_vec();
        with_header.extend_from_slice(&bytes);
        assert_unreadable(&with_header);
    }
}

#[test]
fn truncated_message_is_unreadable() {
    let pki = DevPki::shared();
    let signed = pki.signed();
    assert_unreadable(&signed[..signed.len() / 2]);
    // Cut inside the signature part: the closing delimiter is missing.
    assert_unreadable(&signed[..signed.len() - 200]);
}

#[test]
fn every_truncation_and_flip_is_handled() {
    let pki = DevPki::shared();
    let signed = pki.signed();
    for cut in (0..signed.len()).step_by(37) {
        let _ = pki.verify(&signed[..cut]);
    }
    for at in (0..signed.len()).step_by(29) {
        for x in [0x01u8, 0x80, 0xff] {
            let mut t = signed.clone();
            t[at] ^= x;
            let _ = pki.verify(&t);
        }
    }
    let tampered = sample("tampered-busta.eml");
    for cut in (0..tampered.len()).step_by(997) {
        let _ = check(&tampered[..cut]);
    }
}

#[test]
fn bad_base64_is_unreadable() {
    let pki = DevPki::shared();
    let signed = pki.signed();
    let at = find(&signed, b"filename=\"smime.p7s\"\r\n\r\n").unwrap() + 30;
    let mut bad = signed.clone();
    bad[at] = b'*';
    assert_unreadable(&bad);
}

#[test]
fn signature_that_is_not_cms_is_unreadable() {
    let raw = b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n--b--\r\n";
    assert_unreadable(raw);
}

#[test]
fn wrong_structures_are_unreadable() {
    // Missing boundary, one part only, three parts, second part of another type, PGP.
    let cases: [&[u8]; 5] = [
        b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"\r\n\r\nx",
        b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n\r\na\r\n--b--\r\n",
        b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n\r\na\r\n--b\r\n\r\nb\r\n--b\r\n\r\nc\r\n--b--\r\n",
        b"Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\n\r\na\r\n--b\r\nContent-Type: text/plain\r\n\r\nb\r\n--b--\r\n",
        b"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n--b\r\n\r\na\r\n--b\r\n\r\nb\r\n--b--\r\n",
    ];
    for raw in cases {
        assert_unreadable(raw);
    }
}

#[test]
fn oversized_signature_part_is_refused() {
    let mut raw = b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n\r\na\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    for _ in 0..(1 << 20) / 76 + 10 {
        raw.extend_from_slice(&[b'A'; 76]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    match check(&raw) {
        Err(VerifyError::Unreadable(msg)) => assert!(msg.contains("larger"), "{msg}"),
        other => panic!("{other:?}"),
    }
}
