//! Real peers: the openssl CLI and NSS verify what we sign; we verify what openssl signs
//! (BER streaming, opaque, SHA-1). Each test skips when its tool is missing, unless
//! GESTORE_REQUIRE_TOOLS=1.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use pec_smime::SignedForm;

use super::util::{find, message, run, signed_part_range, tool, DevPki};

/// The DER of the `smime.p7s` part of a message written by `Signer::sign`.
fn signature_der(signed: &[u8]) -> Vec<u8> {
    let start = find(signed, b"filename=\"smime.p7s\"\r\n\r\n").unwrap() + 24;
    let end = start + find(&signed[start..], b"\r\n\r\n").unwrap();
    let b64: Vec<u8> = signed[start..end]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn tampered(signed: &[u8]) -> Vec<u8> {
    let range = signed_part_range(signed);
    let at = range.start + find(&signed[range], b"accettato").unwrap();
    let mut t = signed.to_vec();
    t[at] ^= 0x01;
    t
}

fn openssl_smime_verify(pki: &DevPki, file: &Path) -> (bool, String) {
    run(Command::new("openssl")
        .args(["smime", "-verify", "-CAfile"])
        .arg(&pki.paths.ca_cert)
        .arg("-in")
        .arg(file)
        .args(["-out", "/dev/null"]))
}

#[test]
fn openssl_smime_verify_accepts_our_signature() {
    if !tool("openssl") {
        return;
    }
    let pki = DevPki::shared();
    let signed = pki.signed();
    let good = pki.write("signed.eml", &signed);
    let (ok, out) = openssl_smime_verify(pki, &good);
    assert!(ok, "openssl rejected our signature: {out}");
    let bad = pki.write("tampered.eml", &tampered(&signed));
    let (ok, out) = openssl_smime_verify(pki, &bad);
    assert!(!ok, "openssl accepted a tampered message: {out}");
}

#[test]
fn openssl_reports_sha256_in_our_signature() {
    if !tool("openssl") {
        return;
    }
    let pki = DevPki::shared();
    let der = pki.write("sig.der", &signature_der(&pki.signed()));
    let (ok, out) = run(Command::new("openssl")
        .args([
            "cms", "-cmsout", "-print", "-inform", "DER", "-noout", "-in",
        ])
        .arg(&der));
    assert!(ok, "{out}");
    assert!(out.contains("algorithm: sha256"), "{out}");
    for attr in [
        "signingTime",
        "contentType",
        "messageDigest",
        "S/MIME Capabilities",
    ] {
        assert!(out.contains(attr), "{attr} missing: {out}");
    }
}

/// Signs `content` with the openssl CLI, extra arguments appended.
fn openssl_cms_sign(pki: &DevPki, content: &[u8], out_name: &str, extra: &[&str]) -> Vec<u8> {
    let input = pki.write("content.eml", content);
    let out = pki.dir.as_path().join(out_name);
    let (ok, text) = run(Command::new("openssl")
        .args(["cms", "-sign", "-binary", "-in"])
        .arg(&input)
        .arg("-signer")
        .arg(&pki.paths.provider_cert)
        .arg("-inkey")
        .arg(&pki.paths.provider_key)
        .args(extra)
        .arg("-out")
        .arg(&out));
    assert!(ok, "openssl cms -sign: {text}");
    std::fs::read(out).unwrap()
}

/// Removes the indefinite-length eContent `[0]` of an openssl-streamed SignedData (SHA-256,
/// one digest algorithm: the element starts at offset 48).
fn strip_econtent(ber: &[u8]) -> Vec<u8> {
    assert_eq!(&ber[48..52], &[0xA0, 0x80, 0x24, 0x80], "unexpected layout");
    let mut pos = 52;
    while ber[pos..pos + 2] != [0, 0] {
        assert_eq!(ber[pos], 0x04, "OCTET STRING chunk expected");
        let first = ber[pos + 1] as usize;
        let (header, len) = if first < 0x80 {
            (2, first)
        } else {
            let n = first & 0x7f;
            let len = ber[pos + 2..pos + 2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (2 + n, len)
        };
        pos += header + len;
    }
    pos += 4; // end-of-contents of the OCTET STRING and of [0]
    [&ber[..48], &ber[pos..]].concat()
}

#[test]
fn ber_streamed_signature_from_openssl_verifies() {
    if !tool("openssl") {
        return;
    }
    let pki = DevPki::shared();
    let content = message(2).content;
    // With DER output openssl streams an opaque, indefinite-length SignedData; cutting its
    // eContent out (no length to fix in BER) leaves a detached BER signature of the content.
    let opaque = openssl_cms_sign(pki, &content, "sig.ber", &["-stream", "-outform", "DER"]);
    assert_eq!(
        opaque[1], 0x80,
        "openssl should have written indefinite lengths"
    );
    let ber = strip_econtent(&opaque);
    let mut raw = b"Subject: ber\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/x-pkcs7-signature\"; micalg=\"sha-256\"; boundary=\"BER\"\r\n\r\n--BER\r\n".to_vec();
    raw.extend_from_slice(&content);
    raw.extend_from_slice(b"\r\n--BER\r\nContent-Type: application/x-pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&ber);
    for line in b64.as_bytes().chunks(64) {
        raw.extend_from_slice(line);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"--BER--\r\n");
    let v = pki.verify(&raw).unwrap();
    assert!(v.intact, "{:?}", v.integrity_error);
    assert!(v.chain_valid, "{:?}", v.chain_error);
    assert_eq!(v.digest_algorithm, "sha256");
    assert!(v.signing_time.is_some());
    assert_eq!(v.content, content);
}

#[test]
fn openssl_smime_output_verifies() {
    if !tool("openssl") {
        return;
    }
    let pki = DevPki::shared();
    let content = message(2).content;
    // openssl's own MIME writer: LF line ends around a CRLF content, quoted micalg.
    let raw = openssl_cms_sign(pki, &content, "signed.eml", &["-stream", "-md", "sha1"]);
    let v = pki.verify(&raw).unwrap();
    assert!(v.intact, "{:?}", v.integrity_error);
    assert!(v.chain_valid, "{:?}", v.chain_error);
    assert_eq!(v.digest_algorithm, "sha1");
    assert_eq!(v.content, content);
}

#[test]
fn opaque_signed_data_verifies() {
    if !tool("openssl") {
        return;
    }
    let pki = DevPki::shared();
    let content = message(2).content;
    for extra in [&["-nodetach"][..], &["-nodetach", "-stream"][..]] {
        let raw = openssl_cms_sign(pki, &content, "opaque.eml", extra);
        assert!(
            find(&raw, b"application/pkcs7-mime").is_some()
                || find(&raw, b"application/x-pkcs7-mime").is_some()
        );
        let v = pki.verify(&raw).unwrap();
        assert_eq!(v.form, SignedForm::Opaque);
        assert!(v.intact, "{extra:?}: {:?}", v.integrity_error);
        assert!(v.chain_valid, "{:?}", v.chain_error);
        assert_eq!(v.content, content);
    }
}

/// An NSS database trusting the dev CA.
fn nss_db(pki: &DevPki) -> std::path::PathBuf {
    let db = pki.dir.as_path().join("nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let (ok, out) = run(Command::new("certutil")
        .args(["-N", "--empty-password", "-d"])
        .arg(&db));
    assert!(ok, "certutil -N: {out}");
    let (ok, out) = run(Command::new("certutil")
        .args(["-A", "-n", "ca", "-t", "C,C,C", "-i"])
        .arg(&pki.paths.ca_cert)
        .arg("-d")
        .arg(&db));
    assert!(ok, "certutil -A: {out}");
    db
}

fn cmsutil_verify(pki: &DevPki, db: &Path, sig: &[u8], content: &[u8]) -> (bool, String) {
    let sig = pki.write("smime.p7s", sig);
    let content = pki.write("signed-content", content);
    run(Command::new("cmsutil")
        .args(["-D", "-n", "-h", "1", "-i"])
        .arg(&sig)
        .arg("-c")
        .arg(&content)
        .arg("-d")
        .arg(db))
}

#[test]
fn nss_cmsutil_accepts_our_signature() {
    if !tool("cmsutil") || !tool("certutil") {
        return;
    }
    let pki = DevPki::shared();
    let db = nss_db(pki);
    let msg = message(2);
    let signed = pki.signer.sign(&msg).unwrap();
    let sig = signature_der(&signed);
    let (ok, out) = cmsutil_verify(pki, &db, &sig, &msg.content);
    assert!(ok, "cmsutil rejected our signature: {out}");
    assert!(out.contains("status=GoodSignature"), "{out}");
    let mut content = msg.content.clone();
    let at = find(&content, b"accettato").unwrap();
    content[at] ^= 0x01;
    let (ok, out) = cmsutil_verify(pki, &db, &sig, &content);
    // With -h cmsutil reports the status and may still exit 0.
    assert!(
        !ok || !out.contains("status=GoodSignature"),
        "cmsutil accepted tampered content: {out}"
    );
    assert!(out.contains("DigestMismatch") || !ok, "{out}");
}
