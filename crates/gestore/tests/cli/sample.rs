//! `gestore sample` output checked by outside verifiers: openssl, NSS cmsutil, xmllint.

use crate::support::*;
use serde_json::Value;

fn verify_json(args: &[&str]) -> (i32, Value) {
    let out = gestore(args, None);
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json: {e}: {}", text(&out.stdout)));
    (code(&out), json)
}

#[test]
fn openssl_accepts_every_kind_and_rejects_a_tampered_copy() {
    if !have("openssl") {
        return;
    }
    let pki = Pki::new();
    for kind in KINDS {
        let file = pki.sample(kind);
        let ok = run(
            "openssl",
            &[
                "smime",
                "-verify",
                "-CAfile",
                &pki.ca(),
                "-in",
                &path(&file),
                "-out",
                "/dev/null",
            ],
        );
        assert!(
            ok.status.success(),
            "openssl rejects {kind}: {}",
            text(&ok.stderr)
        );

        let bad = file.with_extension("tampered.eml");
        std::fs::write(&bad, tamper(&std::fs::read(&file).unwrap())).unwrap();
        let ko = run(
            "openssl",
            &[
                "smime",
                "-verify",
                "-CAfile",
                &pki.ca(),
                "-in",
                &path(&bad),
                "-out",
                "/dev/null",
            ],
        );
        assert!(!ko.status.success(), "openssl accepts tampered {kind}");
        let out = gestore(&["verify", &path(&bad)], None);
        assert_eq!(
            code(&out),
            1,
            "gestore verify of tampered {kind}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn nss_cmsutil_accepts_every_kind_and_rejects_a_tampered_copy() {
    if !have("cmsutil") || !have("certutil") || !have("openssl") {
        return;
    }
    let pki = Pki::new();
    let db = pki.dir.path().join("nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db = format!("sql:{}", path(&db));
    assert!(run("certutil", &["-N", "-d", &db, "--empty-password"])
        .status
        .success());
    let add = run(
        "certutil",
        &["-A", "-n", "ca", "-t", "C,C,C", "-i", &pki.ca(), "-d", &db],
    );
    assert!(add.status.success(), "certutil -A: {}", text(&add.stderr));
    for kind in KINDS {
        let file = pki.sample(kind);
        let signed = std::fs::read(&file).unwrap();
        let (content, sig) = split_signed(&pki, &file);
        let c = run(
            "cmsutil",
            &["-D", "-i", &path(&sig), "-c", &path(&content), "-d", &db],
        );
        assert!(
            c.status.success(),
            "cmsutil rejects {kind}: {}",
            text(&c.stderr)
        );

        let tampered_file = file.with_extension("tampered.eml");
        std::fs::write(&tampered_file, tamper(&signed)).unwrap();
        let (content, sig) = split_signed(&pki, &tampered_file);
        let c = run(
            "cmsutil",
            &["-D", "-i", &path(&sig), "-c", &path(&content), "-d", &db],
        );
        assert!(!c.status.success(), "cmsutil accepts tampered {kind}");
    }
}

/// The signed content (canonical CRLF) and the DER signature of a multipart/signed file,
/// cut out with openssl so the test does not depend on our own parser.
fn split_signed(pki: &Pki, file: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    let dir = pki.dir.path();
    let pem = dir.join(format!("{stem}.p7.pem"));
    let der = dir.join(format!("{stem}.p7.der"));
    let content = dir.join(format!("{stem}.content"));
    assert!(run(
        "openssl",
        &["smime", "-pk7out", "-in", &path(file), "-out", &path(&pem)]
    )
    .status
    .success());
    assert!(run(
        "openssl",
        &[
            "pkcs7",
            "-in",
            &path(&pem),
            "-outform",
            "DER",
            "-out",
            &path(&der)
        ]
    )
    .status
    .success());
    // -noverify skips the chain but still writes the signed content, in binary form.
    let _ = run(
        "openssl",
        &[
            "smime",
            "-verify",
            "-noverify",
            "-binary",
            "-in",
            &path(file),
            "-out",
            &path(&content),
        ],
    );
    if std::fs::metadata(&content)
        .map(|m| m.len() == 0)
        .unwrap_or(true)
    {
        // openssl writes nothing on a digest mismatch: cut the part out by hand.
        std::fs::write(&content, first_part(&std::fs::read(file).unwrap())).unwrap();
    }
    (content, der)
}

/// The first body part of a multipart/signed message, by its boundary.
fn first_part(raw: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(raw);
    let b = s
        .split("boundary=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("boundary");
    let delim = format!("\r\n--{b}\r\n");
    let start = s.find(&delim).expect("first delimiter") + delim.len();
    let end = s[start..]
        .find(&format!("\r\n--{b}"))
        .expect("second delimiter")
        + start;
    raw[start..end].to_vec()
}

#[test]
fn xmllint_accepts_every_daticert_written() {
    if !have("xmllint") {
        return;
    }
    let pki = Pki::new();
    let dtd = concat!(env!("CARGO_MANIFEST_DIR"), "/../pec-core/daticert.dtd");
    for kind in KINDS {
        let file = pki.sample(kind);
        let dir = pki.dir.path().join(format!("x-{kind}"));
        let out = gestore(&["verify", "--extract", &path(&dir), &path(&file)], None);
        assert_eq!(code(&out), 0, "{}", text(&out.stdout));
        let daticert = dir.join("daticert.xml");
        if kind == "anomalia" {
            assert!(
                !daticert.exists(),
                "the anomaly envelope carries no daticert"
            );
            continue;
        }
        let lint = run("xmllint", &["--noout", "--dtdvalid", dtd, &path(&daticert)]);
        assert!(
            lint.status.success(),
            "xmllint rejects the daticert of {kind}: {}",
            text(&lint.stderr)
        );
    }
}

#[test]
fn verify_reads_back_every_kind_as_written() {
    let pki = Pki::new();
    let trust = pki.trust_dir();
    for kind in KINDS {
        let file = pki.sample(kind);
        let (code, json) = verify_json(&[
            "verify",
            "--json",
            "--strict",
            "--trust",
            &trust,
            &path(&file),
        ]);
        assert_eq!(code, 0, "{kind}: {json}");
        let r = &json[0];
        assert_eq!(r["kind"], kind, "{r}");
        assert_eq!(r["signature"]["intact"], true);
        assert_eq!(r["signature"]["trusted"], true);
        assert_eq!(r["signature"]["chain_valid"], true);
        assert_eq!(r["signature"]["valid_now"], true);
        assert_eq!(r["signature"]["digest_algorithm"], "sha256");
        assert_eq!(r["daticert"].is_null(), kind == "anomalia", "{r}");
    }
}

#[test]
fn strict_exits_4_when_the_signer_is_not_trusted() {
    let pki = Pki::new();
    let other = Pki::new();
    let file = pki.sample("accettazione");
    let (code, json) = verify_json(&[
        "verify",
        "--json",
        "--strict",
        "--trust",
        &other.trust_dir(),
        &path(&file),
    ]);
    assert_eq!(code, 4, "{json}");
    assert_eq!(json[0]["signature"]["trusted"], false);
    // Without --strict the same intact signature exits 0 and the report says untrusted.
    let (code, json) = verify_json(&[
        "verify",
        "--json",
        "--trust",
        &other.trust_dir(),
        &path(&file),
    ]);
    assert_eq!(code, 0);
    assert_eq!(json[0]["signature"]["trusted"], false);
}
