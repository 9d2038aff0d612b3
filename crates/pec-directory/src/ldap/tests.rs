//! Decoding of search result entries, without a server (the slapd tests are in tests/ldap.rs).

use ldap3::asn1::{StructureTag, TagClass, PL};

use super::{dn_sort_key, entry_from_ber};
use crate::ldif::Limits;
use crate::{sha1_hex, Indice, WarningKind};

fn octets(bytes: &[u8]) -> StructureTag {
    StructureTag {
        class: TagClass::Universal,
        id: 4,
        payload: PL::P(bytes.to_vec()),
    }
}

fn sequence(id: u64, children: Vec<StructureTag>) -> StructureTag {
    StructureTag {
        class: TagClass::Universal,
        id,
        payload: PL::C(children),
    }
}

/// A SearchResultEntry as the server sends it.
fn search_entry(dn: &str, attributes: &[(&str, &[&[u8]])]) -> StructureTag {
    let list = attributes
        .iter()
        .map(|(name, values)| {
            let vals = values.iter().map(|v| octets(v)).collect();
            sequence(16, vec![octets(name.as_bytes()), sequence(17, vals)])
        })
        .collect();
    StructureTag {
        class: TagClass::Application,
        id: 4,
        payload: PL::C(vec![octets(dn.as_bytes()), sequence(16, list)]),
    }
}

const CERT: &[u8] = &[0x30, 0x82, 0xff, 0x00, 0x80, 0xfe];

fn provider(dn: &str, name: &str, mail_receipt: Option<&str>, hash: &str) -> StructureTag {
    let mut attributes: Vec<(&str, Vec<&[u8]>)> = vec![
        ("objectClass", vec![b"top", b"provider"]),
        ("providerName", vec![name.as_bytes()]),
        (
            "managedDomains",
            vec![b"pec.acme.example", b"PEC.acme2.example"],
        ),
        ("providerCertificateHash", vec![hash.as_bytes()]),
        ("providerCertificate;binary", vec![CERT]),
    ];
    if let Some(m) = mail_receipt {
        attributes.push(("mailReceipt", vec![m.as_bytes()]));
    }
    let borrowed: Vec<(&str, &[&[u8]])> =
        attributes.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    search_entry(dn, &borrowed)
}

#[test]
fn binary_certificate_comes_through_as_der_bytes() {
    let tag = provider(
        "providerName=Acme,o=postacert",
        "Acme",
        Some("ricevute@pec.acme.example"),
        &sha1_hex(CERT),
    );
    let entry = entry_from_ber(tag, &Limits::default()).unwrap();
    let cert = entry.values("providerCertificate").next().unwrap();
    assert_eq!(cert.options, ["binary"]);
    assert_eq!(cert.value, CERT);
    let indice = Indice::from_entries(&[entry]);
    assert!(indice.warnings().is_empty(), "{:?}", indice.warnings());
    assert_eq!(indice.per_certificato(CERT).map(|g| g.nome()), Some("Acme"));
    assert!(indice.is_certificato("x@pec.acme2.example"));
}

#[test]
fn entry_missing_mail_receipt_is_skipped_with_warning() {
    let tag = provider(
        "providerName=Acme,o=postacert",
        "Acme",
        None,
        &sha1_hex(CERT),
    );
    let indice = Indice::from_entries(&[entry_from_ber(tag, &Limits::default()).unwrap()]);
    assert!(indice.gestori().is_empty());
    assert_eq!(
        indice.warnings()[0].kind,
        WarningKind::MissingAttribute("mailReceipt")
    );
}

#[test]
fn malformed_entries_are_errors_not_panics() {
    let limits = Limits::default();
    let wrong_tag = StructureTag {
        class: TagClass::Application,
        id: 5,
        payload: PL::C(vec![]),
    };
    assert!(entry_from_ber(wrong_tag, &limits).is_err());
    let empty = sequence(4, vec![]);
    assert!(entry_from_ber(empty, &limits).is_err());
    let primitive_list = StructureTag {
        class: TagClass::Application,
        id: 4,
        payload: PL::C(vec![octets(b"o=postacert"), octets(b"not a list")]),
    };
    assert!(entry_from_ber(primitive_list, &limits).is_err());
    let bad_dn = search_entry("x", &[]);
    let StructureTag {
        payload: PL::C(mut parts),
        ..
    } = bad_dn
    else {
        unreachable!()
    };
    parts[0] = octets(&[0xff, 0xfe]);
    let bad_dn = StructureTag {
        class: TagClass::Application,
        id: 4,
        payload: PL::C(parts),
    };
    assert!(entry_from_ber(bad_dn, &limits).is_err());
}

#[test]
fn too_many_values_is_an_error() {
    let limits = Limits {
        max_attributes: 3,
        ..Limits::default()
    };
    let tag = provider(
        "providerName=Acme,o=postacert",
        "Acme",
        Some("ricevute@pec.acme.example"),
        &sha1_hex(CERT),
    );
    assert!(entry_from_ber(tag, &limits).is_err());
}

#[test]
fn sort_puts_main_record_before_its_environments() {
    let mut dns = [
        "providerUnit=B,providerName=Acme,o=postacert",
        "providerName=Zeta,o=postacert",
        "providerName=acme,o=postacert",
    ];
    dns.sort_by_key(|d| dn_sort_key(d));
    assert_eq!(
        dns,
        [
            "providerName=acme,o=postacert",
            "providerUnit=B,providerName=Acme,o=postacert",
            "providerName=Zeta,o=postacert",
        ]
    );
}
