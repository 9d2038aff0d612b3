//! Tamper tests: change bytes of a signed message and check the right answer.

use super::util::{find, signed_part_range, DevPki};

#[test]
fn one_flipped_byte_in_the_signed_part_breaks_integrity() {
    let pki = DevPki::shared();
    let signed = pki.signed();
    let range = signed_part_range(&signed);
    let at = range.start + find(&signed[range.clone()], b"accettato").unwrap();
    let mut tampered = signed.clone();
    tampered[at] ^= 0x01;
    let v = pki.verify(&tampered).unwrap();
    assert!(!v.intact);
    assert!(v.integrity_error.is_some());
    assert!(!v.is_valid());
    // Still attributed, and the chain is fine: only the content was changed.
    assert!(v.signer.is_some() && v.chain_valid);
}

#[test]
fn every_byte_of_the_signed_part_matters() {
    let pki = DevPki::shared();
    let signed = pki.signed();
    let range = signed_part_range(&signed);
    for at in range.step_by(61) {
        let mut tampered = signed.clone();
        tampered[at] = if tampered[at] == b'x' { b'y' } else { b'x' };
        if let Ok(v) = pki.verify(&tampered) {
            assert!(!v.intact, "byte {at} changed yet intact");
        }
    }
}

#[test]
fn outer_headers_are_not_covered() {
    // S/MIME signs the first part only: a changed outer header leaves the signature intact.
    // Callers must read PEC data from `Verification::content`, never from outer headers.
    let pki = DevPki::shared();
    let signed = pki.signed();
    let at = find(&signed, b"X-Ricevuta: accettazione").unwrap() + 12;
    let mut changed = signed.clone();
    changed[at] = b'A';
    assert!(pki.verify(&changed).unwrap().intact);
}

#[test]
fn altered_signature_value_is_not_intact() {
    let pki = DevPki::shared();
    let signed = pki.signed();
    // The last base64 characters encode the RSA signature value (no unsigned attributes):
    // change the 100th character from the end of the base64 block.
    let close = signed.windows(4).rposition(|w| w == b"\r\n\r\n").unwrap();
    let mut at = close;
    let mut seen = 0;
    while seen < 100 {
        at -= 1;
        if !signed[at].is_ascii_whitespace() {
            seen += 1;
        }
    }
    let mut tampered = signed.clone();
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    match pki.verify(&tampered) {
        Ok(v) => assert!(!v.intact),
        Err(e) => panic!("a changed signature value is readable, got {e}"),
    }
}
