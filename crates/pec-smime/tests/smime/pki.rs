//! The dev PKI: files, permissions, overwrite rules and the provider certificate profile
//! (PEC-SPEC §7.4).

use std::process::Command;

use openssl::nid::Nid;
use openssl::x509::X509;
use pec_smime::{pki, Error, PkiOptions, Signer, TrustStore};

use super::util::{run, tool, DevPki, SERVICE};

fn provider_cert(pki: &DevPki) -> X509 {
    X509::from_pem(&std::fs::read(&pki.paths.provider_cert).unwrap()).unwrap()
}

#[test]
fn provider_certificate_profile() {
    let pki = DevPki::shared();
    let cert = provider_cert(pki);
    let entries = |nid| {
        cert.subject_name()
            .entries_by_nid(nid)
            .map(|e| e.data().to_string().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(entries(Nid::COUNTRYNAME), vec!["IT"]);
    assert_eq!(entries(Nid::ORGANIZATIONNAME), vec!["Example PEC S.p.A."]);
    assert_eq!(
        entries(Nid::COMMONNAME),
        vec!["Posta Certificata Example PEC S.p.A."]
    );
    assert!(
        entries(Nid::PKCS9_EMAILADDRESS).is_empty(),
        "e-mail only in SAN"
    );
    let emails: Vec<String> = cert
        .subject_alt_names()
        .unwrap()
        .iter()
        .filter_map(|n| n.email().map(str::to_string))
        .collect();
    assert_eq!(emails, vec![SERVICE]);
    assert_eq!(cert.public_key().unwrap().bits(), 2048);
    assert_eq!(
        cert.signature_algorithm().object().nid(),
        Nid::SHA256WITHRSAENCRYPTION
    );
    assert!(cert.subject_key_id().is_some());
    assert!(cert.authority_key_id().is_some());
    assert!(cert.pathlen().is_none());
    let ku = cert.key_usage().expect("key usage");
    assert!(ku.contains(openssl::x509::X509KeyUsage::DIGITAL_SIGNATURE));
    assert!(!ku.contains(openssl::x509::X509KeyUsage::KEY_CERT_SIGN));
    let eku = cert.extended_key_usage().expect("extended key usage");
    assert!(eku.contains(openssl::x509::X509ExtendedKeyUsage::SMIME));
    let not_before = cert.not_before();
    let yesterday = openssl::asn1::Asn1Time::days_from_now(0).unwrap();
    assert!(not_before < yesterday);
}

#[test]
fn provider_certificate_criticality_per_openssl_text() {
    if !tool("openssl") {
        return;
    }
    let pki = DevPki::shared();
    let (ok, text) = run(Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&pki.paths.provider_cert));
    assert!(ok, "{text}");
    assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
    assert!(text.contains("Digital Signature"));
    assert!(
        !text.contains("Basic Constraints"),
        "BasicConstraints must be absent"
    );
    assert!(
        text.contains("X509v3 Subject Alternative Name: \n"),
        "SAN non-critical: {text}"
    );
    assert!(text.contains(&format!("email:{SERVICE}")));
    assert!(text.contains("X509v3 Subject Key Identifier: \n"));
    assert!(text.contains("X509v3 Authority Key Identifier: \n"));
    assert!(text.contains("E-mail Protection"));
    let (ok, ca) = run(Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&pki.paths.ca_cert));
    assert!(ok);
    assert!(
        ca.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"),
        "{ca}"
    );
    assert!(ca.contains("Certificate Sign, CRL Sign"));
}

#[test]
fn keys_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let pki = DevPki::shared();
    for key in [&pki.paths.ca_key, &pki.paths.provider_key] {
        let mode = std::fs::metadata(key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", key.display());
    }
}

#[test]
fn existing_files_are_kept_unless_forced() {
    let pki = DevPki::new();
    let before = std::fs::read(&pki.paths.provider_cert).unwrap();
    let mut opts = PkiOptions::new("Example PEC S.p.A.", SERVICE);
    assert!(matches!(
        pki::init(pki.dir.as_path(), &opts),
        Err(Error::Exists(_))
    ));
    assert_eq!(std::fs::read(&pki.paths.provider_cert).unwrap(), before);
    opts.force = true;
    pki::init(pki.dir.as_path(), &opts).unwrap();
    assert_ne!(std::fs::read(&pki.paths.provider_cert).unwrap(), before);
    Signer::from_pki_dir(pki.dir.as_path()).unwrap();
}

#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for opts in [
        PkiOptions::new("", SERVICE),
        PkiOptions::new("Example", "not-an-address"),
        PkiOptions::new("x".repeat(47), SERVICE),
    ] {
        assert!(matches!(
            pki::init(dir.path(), &opts),
            Err(Error::Options(_))
        ));
    }
}

#[test]
fn trust_store_reads_a_directory() {
    let pki = DevPki::shared();
    let anchors = tempfile::tempdir().unwrap();
    std::fs::copy(&pki.paths.ca_cert, anchors.path().join("ca.pem")).unwrap();
    let other = DevPki::new();
    let der = X509::from_pem(&std::fs::read(&other.paths.ca_cert).unwrap())
        .unwrap()
        .to_der()
        .unwrap();
    std::fs::write(anchors.path().join("other.der"), der).unwrap();
    std::fs::write(anchors.path().join("README.txt"), "ignored").unwrap();
    let store = TrustStore::from_dir(anchors.path()).unwrap();
    assert_eq!(store.len(), 2);
    let v = pec_smime::verify(&pki.signed(), &store, chrono::Utc::now()).unwrap();
    assert!(v.is_valid());
    let v = pec_smime::verify(&other.signed(), &store, chrono::Utc::now()).unwrap();
    assert!(v.is_valid());
    std::fs::write(anchors.path().join("broken.crt"), "not a certificate").unwrap();
    assert!(TrustStore::from_dir(anchors.path()).is_err());
}

#[test]
fn signer_names_the_provider_of_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let opts = pec_smime::PkiOptions::new("Prova PEC S.p.A.", "posta-certificata@pec.prova.test");
    pec_smime::pki::init(dir.path(), &opts).unwrap();
    let signer = pec_smime::Signer::from_pki_dir(dir.path()).unwrap();
    let p = signer.provider().unwrap();
    assert_eq!(p.nome, "Prova PEC S.p.A.");
    assert_eq!(p.indirizzo_servizio, "posta-certificata@pec.prova.test");
}
