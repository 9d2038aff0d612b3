use super::*;
use base64::Engine as _;

fn der(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(17).wrapping_add(seed))
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn gestore(nome: &str, dominio: &str, seed: u8) -> Gestore {
    let mail = format!("ricevute@{dominio}");
    Gestore::new(nome, &mail, [dominio], der(seed, 300)).unwrap_or_else(|e| panic!("{e}"))
}

fn indice(text: &str) -> Indice {
    Indice::from_ldif(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A provider record written by hand, so tests can break it one attribute at a time.
fn record(dn: &str, cert: &[u8], extra: &str) -> String {
    format!(
        "dn: {dn}\nobjectclass: top\nobjectclass: provider\nproviderName: Acme\n\
         mailReceipt: r@pec.acme.it\nmanagedDomains: pec.acme.it\n\
         providerCertificateHash: {}\nproviderCertificate;binary:: {}\n{extra}\n",
        sha1_hex(cert),
        b64(cert)
    )
}

const ACME: &str = "providerName=Acme,o=postacert";

fn kinds(indice: &Indice) -> Vec<&WarningKind> {
    indice.warnings().iter().map(|w| &w.kind).collect()
}

#[test]
fn a_whole_directory_round_trips() {
    let original = Indice::from_gestori([
        gestore("Aruba PEC S.p.A.", "pec.aruba.example", 1),
        gestore("Aruba PEC S.p.A.", "dr.aruba.example", 2)
            .with_unit("dr")
            .unwrap_or_else(|e| panic!("{e}")),
        gestore("Poste", "postecert.example", 3),
    ]);
    let text = original.to_ldif(Some("https://igpec.example/igpec.ldif.p7m"));
    assert!(text.starts_with("version: 1\n\ndn: o=postacert\n"));
    let read = indice(&text);
    assert_eq!(read.gestori(), original.gestori());
    assert_eq!(read.warnings(), []);
}

#[test]
fn the_root_and_unknown_entries_are_ignored() {
    let text = format!(
        "version: 1\n\n{}\ndn: cn=admin,o=postacert\nobjectclass: person\ncn: admin\n\n{}",
        crate::ldif_root(None),
        record(ACME, &der(1, 50), "")
    );
    let indice = indice(&text);
    assert_eq!(indice.gestori().len(), 1);
    assert_eq!(indice.warnings(), []);
}

#[test]
fn lookups_by_domain_and_address_ignore_case() {
    let indice = Indice::from_gestori([
        gestore("Acme", "pec.acme.it", 1),
        gestore("Beta", "pec.beta.it", 2),
    ]);
    assert_eq!(
        indice.per_dominio("PEC.Acme.IT").map(Gestore::nome),
        Some("Acme")
    );
    assert_eq!(
        indice.per_dominio("pec.beta.it.").map(Gestore::nome),
        Some("Beta")
    );
    assert_eq!(
        indice
            .per_dominio("mario.rossi@Pec.Beta.it")
            .map(Gestore::nome),
        Some("Beta")
    );
    assert_eq!(
        indice
            .per_indirizzo("mario.rossi@PEC.ACME.IT")
            .map(Gestore::nome),
        Some("Acme")
    );
    assert!(
        indice.per_indirizzo("pec.acme.it").is_none(),
        "a bare domain is not an address"
    );
    assert!(
        indice.per_dominio("acme.it").is_none(),
        "no parent-domain match"
    );
    assert!(
        indice.per_dominio("x.pec.acme.it").is_none(),
        "no sub-domain wildcard"
    );
    assert!(indice.is_certificato("a@PEC.acme.it"));
    assert!(!indice.is_certificato("a@gmail.example"));
}

#[test]
fn lookup_by_hash_ignores_case() {
    let acme = gestore("Acme", "pec.acme.it", 1);
    let hash = acme.hash()[0].clone();
    let indice = Indice::from_gestori([acme, gestore("Beta", "pec.beta.it", 2)]);
    assert_eq!(
        indice.per_hash(&hash.to_uppercase()).map(Gestore::nome),
        Some("Acme")
    );
    assert_eq!(indice.per_hash(&hash).map(Gestore::nome), Some("Acme"));
    assert!(indice.per_hash(&sha1_hex(b"other")).is_none());
    assert!(indice.per_hash("not a hash").is_none());
}

#[test]
fn lookup_by_certificate_requires_the_same_bytes() {
    let indice = Indice::from_gestori([gestore("Acme", "pec.acme.it", 1)]);
    assert_eq!(
        indice.per_certificato(&der(1, 300)).map(Gestore::nome),
        Some("Acme")
    );
    let mut tampered = der(1, 300);
    tampered[100] ^= 1;
    assert!(indice.per_certificato(&tampered).is_none());
    assert!(indice.per_certificato(&[]).is_none());
}

#[test]
fn both_certificates_of_a_rollover_identify_the_provider() {
    let acme = gestore("Acme", "pec.acme.it", 1).with_certificato(der(9, 400));
    let indice = Indice::from_ldif(acme.map(|g| g.to_ldif()).unwrap_or_default().as_bytes());
    let indice = indice.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        indice.per_certificato(&der(1, 300)).map(Gestore::nome),
        Some("Acme")
    );
    assert_eq!(
        indice.per_certificato(&der(9, 400)).map(Gestore::nome),
        Some("Acme")
    );
}

#[test]
fn a_record_missing_a_mandatory_attribute_is_skipped_and_the_rest_kept() {
    let good = record("providerName=Good,o=postacert", &der(2, 50), "")
        .replace("Acme", "Good")
        .replace("acme", "good");
    for attribute in [
        "providerCertificateHash",
        "providerCertificate",
        "providerName",
        "mailReceipt",
        "managedDomains",
    ] {
        let broken: String = record(ACME, &der(1, 50), "")
            .lines()
            .filter(|l| {
                !l.starts_with(&format!("{attribute}:")) && !l.starts_with(&format!("{attribute};"))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let indice = indice(&format!("{broken}\n{good}"));
        assert_eq!(
            indice
                .gestori()
                .iter()
                .map(Gestore::nome)
                .collect::<Vec<_>>(),
            ["Good"],
            "{attribute}"
        );
        let warnings = indice.warnings();
        assert_eq!(warnings.len(), 1, "{attribute}: {warnings:?}");
        assert_eq!(
            warnings[0].kind,
            WarningKind::MissingAttribute(match attribute {
                "providerCertificateHash" => "providerCertificateHash",
                "providerCertificate" => "providerCertificate",
                "providerName" => "providerName",
                "mailReceipt" => "mailReceipt",
                _ => "managedDomains",
            })
        );
        assert!(warnings[0].kind.skipped());
        assert_eq!((warnings[0].line, warnings[0].dn.as_str()), (1, ACME));
        assert!(indice.per_dominio("pec.acme.it").is_none());
    }
}

#[test]
fn a_hash_that_does_not_match_the_certificate_skips_the_record() {
    let text =
        record(ACME, &der(1, 50), "").replace(&sha1_hex(&der(1, 50)), &sha1_hex(&der(2, 50)));
    let indice = indice(&text);
    assert!(indice.gestori().is_empty());
    assert!(matches!(
        kinds(&indice)[..],
        [WarningKind::HashMismatch { .. }]
    ));
    assert!(indice.per_certificato(&der(1, 50)).is_none());
    assert!(!indice.is_certificato("a@pec.acme.it"));
}

#[test]
fn an_extra_hash_matching_no_certificate_skips_the_record() {
    let extra = format!("providerCertificateHash: {}\n", sha1_hex(b"ghost"));
    let indice = indice(&record(ACME, &der(1, 50), &extra));
    assert!(indice.gestori().is_empty());
    assert!(matches!(
        kinds(&indice)[..],
        [WarningKind::HashMismatch { .. }]
    ));
}

#[test]
fn a_certificate_without_its_hash_is_kept_but_not_findable() {
    let extra = format!("providerCertificate;binary:: {}\n", b64(&der(7, 60)));
    let indice = indice(&record(ACME, &der(1, 50), &extra));
    assert_eq!(indice.gestori().len(), 1);
    assert_eq!(
        kinds(&indice),
        [&WarningKind::CertificateWithoutHash {
            sha1: sha1_hex(&der(7, 60))
        }]
    );
    assert!(indice.per_certificato(&der(1, 50)).is_some());
    assert!(indice.per_certificato(&der(7, 60)).is_none());
}

#[test]
fn hash_in_upper_case_and_certificate_without_binary_option_are_accepted() {
    let text = record(ACME, &der(1, 50), "")
        .replace(
            &sha1_hex(&der(1, 50)),
            &sha1_hex(&der(1, 50)).to_uppercase(),
        )
        .replace("providerCertificate;binary::", "PROVIDERCERTIFICATE::");
    let indice = indice(&text);
    assert_eq!(indice.warnings(), []);
    assert_eq!(indice.gestori()[0].hash(), [sha1_hex(&der(1, 50))]);
    assert!(indice.per_certificato(&der(1, 50)).is_some());
}

#[test]
fn broken_records_are_skipped_with_the_reason() {
    let cert = der(1, 50);
    let cases: Vec<(String, WarningKind)> = vec![
        (
            record("providerName=Other,o=postacert", &cert, ""),
            WarningKind::DnMismatch {
                attribute: "providerName",
                value: "Acme".into(),
            },
        ),
        (
            record("providerName=Acme,o=elsewhere", &cert, ""),
            WarningKind::UnexpectedDn,
        ),
        (
            record(
                "providerName=Acme,o=postacert",
                &cert,
                "providerName: Acme\n",
            ),
            WarningKind::RepeatedAttribute("providerName"),
        ),
        (
            record(ACME, &cert, "mailReceipt: s@pec.acme.it\n"),
            WarningKind::RepeatedAttribute("mailReceipt"),
        ),
        (
            record(ACME, &cert, "providerUnit: dr\n"),
            WarningKind::DnMismatch {
                attribute: "providerUnit",
                value: "dr".into(),
            },
        ),
        (
            record(ACME, &cert, "").replace("r@pec.acme.it", "<r@pec.acme.it>"),
            WarningKind::InvalidValue {
                attribute: "mailReceipt",
                reason: "not an addr-spec: \"<r@pec.acme.it>\"".into(),
            },
        ),
        (
            record(ACME, &cert, "").replace("providerName: Acme", "providerName:: /w=="),
            WarningKind::NotUtf8("providerName"),
        ),
    ];
    for (text, kind) in cases {
        let indice = indice(&text);
        assert!(indice.gestori().is_empty(), "{text}");
        assert_eq!(kinds(&indice), [&kind], "{text}");
        assert!(kind.skipped());
    }
}

#[test]
fn a_bad_domain_is_dropped_and_the_record_kept() {
    let indice = indice(&record(
        ACME,
        &der(1, 50),
        "managedDomains: not a domain\nmanagedDomains: Other.Acme.IT\n",
    ));
    assert_eq!(
        indice.gestori()[0].domini(),
        ["pec.acme.it", "other.acme.it"]
    );
    assert_eq!(
        kinds(&indice),
        [&WarningKind::InvalidDomain("not a domain".into())]
    );
    assert!(!kinds(&indice)[0].skipped());
}

#[test]
fn a_secondary_environment_is_its_own_record_and_loses_an_ldif_url() {
    let text = format!(
        "{}\n{}",
        record(
            ACME,
            &der(1, 50),
            "LDIFLocationURL: https://acme.it/acme.ldif.p7m\n"
        ),
        record(
            "providerUnit=dr,providerName=Acme,o=postacert",
            &der(2, 50),
            "LDIFLocationURL: https://x\n"
        )
        .replace("pec.acme.it\n", "dr.acme.it\n")
    );
    let indice = indice(&text);
    let [main, dr] = indice.gestori() else {
        panic!("{:?}", indice.gestori())
    };
    assert_eq!(
        (main.unit(), main.ldif_url()),
        (None, Some("https://acme.it/acme.ldif.p7m"))
    );
    assert_eq!((dr.unit(), dr.ldif_url()), (Some("dr"), None));
    assert_eq!(kinds(&indice), [&WarningKind::LdifUrlOnSecondary]);
    assert_eq!(
        indice.per_certificato(&der(2, 50)).and_then(Gestore::unit),
        Some("dr")
    );
    assert_eq!(
        indice.per_dominio("dr.acme.it").and_then(Gestore::unit),
        Some("dr")
    );
}

#[test]
fn a_secondary_environment_without_its_main_record_is_noted() {
    let dr = gestore("Acme", "dr.acme.it", 2)
        .with_unit("dr")
        .unwrap_or_else(|e| panic!("{e}"));
    let indice = indice(&dr.to_ldif());
    assert_eq!(indice.gestori().len(), 1);
    assert_eq!(kinds(&indice), [&WarningKind::MissingMainRecord]);
    assert_eq!(indice.warnings()[0].line, 1);
}

#[test]
fn a_second_record_for_the_same_provider_is_skipped() {
    let text = format!(
        "{}\n{}",
        gestore("Acme", "pec.acme.it", 1).to_ldif(),
        gestore("ACME", "other.acme.it", 2).to_ldif()
    );
    let indice = indice(&text);
    assert_eq!(indice.gestori().len(), 1);
    assert_eq!(kinds(&indice), [&WarningKind::DuplicateRecord]);
    assert!(!indice.is_certificato("a@other.acme.it"));
}

#[test]
fn a_domain_claimed_by_two_providers_stays_with_the_first() {
    let beta = gestore("Beta", "pec.beta.it", 2)
        .with_dominio("pec.acme.it")
        .unwrap_or_else(|e| panic!("{e}"));
    let indice = Indice::from_gestori([gestore("Acme", "pec.acme.it", 1), beta]);
    assert_eq!(
        indice.per_dominio("pec.acme.it").map(Gestore::nome),
        Some("Acme")
    );
    assert_eq!(
        indice.per_dominio("pec.beta.it").map(Gestore::nome),
        Some("Beta")
    );
    assert_eq!(
        indice.gestori()[1].domini(),
        ["pec.beta.it"],
        "the later claim is dropped from the record too"
    );
    assert_eq!(
        kinds(&indice),
        [&WarningKind::DomainConflict {
            domain: "pec.acme.it".into(),
            owner: "Acme".into()
        }]
    );
}

#[test]
fn a_certificate_claimed_by_two_providers_stays_with_the_first() {
    let beta = Gestore::new("Beta", "r@pec.beta.it", ["pec.beta.it"], der(1, 300))
        .unwrap_or_else(|e| panic!("{e}"));
    let indice = Indice::from_gestori([gestore("Acme", "pec.acme.it", 1), beta]);
    assert_eq!(
        indice.per_certificato(&der(1, 300)).map(Gestore::nome),
        Some("Acme")
    );
    assert!(matches!(
        kinds(&indice)[..],
        [WarningKind::HashConflict { .. }]
    ));
    assert_eq!(indice.gestori()[1].hash(), [] as [String; 0]);
}

#[test]
fn a_syntax_error_refuses_the_whole_file() {
    let text = format!(
        "{}\n{}",
        gestore("Acme", "pec.acme.it", 1).to_ldif(),
        "dn: providerName=B,o=postacert\nbroken line\n"
    );
    let lines = text.lines().count();
    let e = Indice::from_ldif(text.as_bytes()).err();
    assert!(
        matches!(&e, Some(Error::Ldif(e)) if e.line == lines),
        "{e:?} (expected line {lines})"
    );
}

#[test]
fn warnings_read_well_in_a_log() {
    let indice = indice(&record(ACME, &der(1, 50), "").replace("mailReceipt: r@pec.acme.it\n", ""));
    assert_eq!(
        indice.warnings()[0].to_string(),
        "line 1 (providerName=Acme,o=postacert): mandatory attribute mailReceipt missing (record skipped)"
    );
}

#[test]
fn many_domains_are_looked_up_through_the_map() {
    let mut g = gestore("Big", "d0.big.it", 1);
    for i in 1..5_000 {
        g = g
            .with_dominio(&format!("d{i}.big.it"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let indice = indice(&g.to_ldif());
    assert_eq!(indice.gestori()[0].domini().len(), 5_000);
    assert!(indice.is_certificato("x@D4999.big.it"));
    assert!(!indice.is_certificato("x@d5000.big.it"));
}
