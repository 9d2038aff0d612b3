use super::*;
use crate::ldif::parse;
use crate::record::{read, Record};

/// Arbitrary bytes standing in for a DER certificate: only hashing and equality matter here.
fn der(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn acme() -> Gestore {
    match Gestore::new(
        "Acme PEC S.p.A.",
        "ricevute@pec.acme.example",
        ["PEC.Acme.example", "legal.acme.example"],
        der(1, 1200),
    ) {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    }
}

/// Reads back the single record of an LDIF text.
fn read_back(text: &str) -> Gestore {
    let entries = match parse(text.as_bytes()) {
        Ok(entries) => entries,
        Err(e) => panic!("{e}\n{text}"),
    };
    assert_eq!(entries.len(), 1, "{text}");
    match read(&entries[0]) {
        Record::Gestore(g, warnings) => {
            assert_eq!(warnings, []);
            g
        }
        other => panic!("{other:?}\n{text}"),
    }
}

#[test]
fn new_lowercases_domains_and_computes_the_hash() {
    let g = acme();
    assert_eq!(g.domini(), ["pec.acme.example", "legal.acme.example"]);
    assert_eq!(g.hash(), [sha1_hex(&der(1, 1200))]);
    assert_eq!(g.hash()[0].len(), 40);
    assert_eq!(g.unit(), None);
    assert_eq!(g.dn(), "providerName=Acme PEC S.p.A.,o=postacert");
}

#[test]
fn sha1_hex_is_lower_case_hex_sha1() {
    // SHA-1("abc"), FIPS 180-1 appendix A.
    assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

#[test]
fn new_refuses_values_that_break_the_schema() {
    let cert = || der(1, 10);
    let cases = [
        Gestore::new("", "a@b.it", ["b.it"], cert()),
        Gestore::new(" Acme", "a@b.it", ["b.it"], cert()),
        Gestore::new("Ac\nme", "a@b.it", ["b.it"], cert()),
        Gestore::new("Acme", "<a@b.it>", ["b.it"], cert()),
        Gestore::new("Acme", "a.b.it", ["b.it"], cert()),
        Gestore::new("Acme", "a b@b.it", ["b.it"], cert()),
        Gestore::new("Acme", "a@b..it", ["b.it"], cert()),
        Gestore::new("Acme", "a@b.it", Vec::<&str>::new(), cert()),
        Gestore::new("Acme", "a@b.it", ["b it"], cert()),
        Gestore::new("Acme", "a@b.it", ["a@b.it"], cert()),
        Gestore::new("Acme", "a@b.it", ["-b.it"], cert()),
        Gestore::new("Acme", "a@b.it", ["b.it"], Vec::new()),
    ];
    for (i, case) in cases.into_iter().enumerate() {
        assert!(
            matches!(case, Err(Error::InvalidRecord { .. })),
            "case {i}: {case:?}"
        );
    }
}

#[test]
fn a_secondary_environment_has_no_ldif_url() {
    let with_url = acme().with_ldif_url("https://acme.example/acme.ldif.p7m");
    assert!(matches!(
        with_url.and_then(|g| g.with_unit("dr")),
        Err(Error::InvalidRecord { .. })
    ));
    let unit = acme().with_unit("dr");
    assert!(matches!(
        unit.and_then(|g| g.with_ldif_url("https://x")),
        Err(Error::InvalidRecord { .. })
    ));
}

#[test]
fn the_record_is_written_as_section_7_1_says() {
    let g = acme().with_ldif_url("https://acme.example/acme.ldif.p7m");
    let text = g.map(|g| g.to_ldif()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "dn: providerName=Acme PEC S.p.A.,o=postacert");
    assert_eq!(
        lines[1..5],
        [
            "objectclass: top",
            "objectclass: provider",
            "providerName: Acme PEC S.p.A.",
            "mailReceipt: ricevute@pec.acme.example"
        ]
    );
    assert_eq!(
        lines[5..7],
        [
            "managedDomains: pec.acme.example",
            "managedDomains: legal.acme.example"
        ]
    );
    assert_eq!(
        lines[7],
        format!("providerCertificateHash: {}", sha1_hex(&der(1, 1200)))
    );
    assert!(lines[8].starts_with("providerCertificate;binary:: "));
    assert!(lines.iter().all(|l| l.len() <= 76), "not folded");
    assert!(lines[9].starts_with(' '), "the certificate must be folded");
    assert_eq!(
        lines[lines.len() - 2],
        "LDIFLocationURL: https://acme.example/acme.ldif.p7m"
    );
    assert!(text.ends_with("\n\n"), "a record ends with a blank line");
}

#[test]
fn write_then_read_gives_the_same_record() {
    let main = acme();
    assert_eq!(read_back(&main.to_ldif()), main);
}

#[test]
fn write_then_read_keeps_every_optional_part() {
    let rollover = acme()
        .with_certificato(der(2, 900))
        .and_then(|g| g.with_ldif_url("https://acme.example/a.ldif.p7m"));
    let secondary = acme().with_unit("Disaster Recovery, Milano");
    let odd_name = Gestore::new(
        "Caffè+PEC; \"Società\"",
        "r@caffè.example",
        ["caffè.example"],
        der(3, 64),
    );
    for g in [rollover, secondary, odd_name] {
        let g = match g {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(read_back(&g.to_ldif()), g, "{}", g.to_ldif());
    }
}

#[test]
fn the_rollover_certificate_is_added_with_its_hash() {
    let g = acme()
        .with_certificato(der(2, 900))
        .and_then(|g| g.with_certificato(der(2, 900)));
    let g = g.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(g.certificati().len(), 2, "a repeat is ignored");
    assert_eq!(g.hash(), [sha1_hex(&der(1, 1200)), sha1_hex(&der(2, 900))]);
}

#[test]
fn gestisce_matches_the_domain_of_an_address_ignoring_case() {
    let g = acme();
    assert!(g.gestisce("Mario.Rossi@PEC.ACME.example"));
    assert!(g.gestisce("legal.acme.example"));
    assert!(!g.gestisce("mario@acme.example"));
    assert!(!g.gestisce("mario@sub.pec.acme.example"));
}

#[test]
fn the_root_entry_is_written_as_section_7_1_says() {
    let text = ldif_root(Some("https://igpec.example/igpec.ldif.p7m"));
    assert_eq!(
        text,
        "dn: o=postacert\nobjectclass: top\nobjectclass: organization\n\
         objectclass: LDIFLocationURLObject\no: postacert\n\
         LDIFLocationURL: https://igpec.example/igpec.ldif.p7m\n\n"
    );
    assert!(!ldif_root(None).contains("LDIFLocationURL:"));
    assert!(matches!(parse(text.as_bytes()).map(|e| e.len()), Ok(1)));
}

#[test]
fn normalize_hash_accepts_any_case_and_openssl_colons_only() {
    let h = "06B2539D100FEF15BBCC875739385BCAFB07E85D";
    assert_eq!(
        normalize_hash(h).as_deref(),
        Some("06b2539d100fef15bbcc875739385bcafb07e85d")
    );
    assert_eq!(
        normalize_hash("06:B2:53:9D:10:0F:EF:15:BB:CC:87:57:39:38:5B:CA:FB:07:E8:5D"),
        normalize_hash(h)
    );
    assert_eq!(normalize_hash(&h[..39]), None);
    assert_eq!(normalize_hash(&format!("{}g", &h[..39])), None);
}

/// xorshift64*: deterministic, so a failing case reproduces.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A name made of characters that need DN escaping or LDIF base64 now and then.
    fn name(&mut self) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '0', ' ', ',', '+', ';', '"', '\\', '<', '>', '=', '#', 'è', ':', '.', '-',
        ];
        let len = 1 + self.below(30);
        let name: String = (0..len).map(|_| CHARS[self.below(CHARS.len())]).collect();
        let name = name.trim().to_string();
        if name.is_empty() {
            "x".to_string()
        } else {
            name
        }
    }

    fn label(&mut self) -> String {
        const CHARS: &[char] = &['a', 'b', 'z', '0', '9', 'à'];
        (0..1 + self.below(10))
            .map(|_| CHARS[self.below(CHARS.len())])
            .collect()
    }
}

#[test]
fn random_records_round_trip_through_ldif() {
    let mut rng = Prng(7);
    for case in 0..500 {
        let domain = format!("{}.{}", rng.label(), rng.label());
        let der: Vec<u8> = (0..1 + rng.below(3000)).map(|_| rng.next() as u8).collect();
        let mail = format!("{}@{domain}", rng.label());
        let mut g = Gestore::new(&rng.name(), &mail, [domain.as_str()], der)
            .unwrap_or_else(|e| panic!("case {case}: {e}"));
        for _ in 0..rng.below(4) {
            g = g
                .with_dominio(&format!("{}.IT", rng.label()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for _ in 0..rng.below(3) {
            let der: Vec<u8> = (0..1 + rng.below(500)).map(|_| rng.next() as u8).collect();
            g = g.with_certificato(der).unwrap_or_else(|e| panic!("{e}"));
        }
        g = match rng.below(3) {
            0 => g.with_unit(&rng.name()),
            1 => g.with_ldif_url(&format!("https://{domain}/{}.ldif.p7m", rng.name())),
            _ => Ok(g),
        }
        .unwrap_or_else(|e| panic!("{e}"));
        let text = g.to_ldif();
        assert!(
            text.lines().all(|l| l.len() <= 76 && l.is_ascii()),
            "case {case}:\n{text}"
        );
        assert_eq!(read_back(&text), g, "case {case}:\n{text}");
    }
}
