//! One LDIF entry → one [`Gestore`] record, or the reason it is left out (PEC-SPEC §7.1).

use std::collections::HashSet;

use crate::dn::{classify, IndexDn};
use crate::gestore::{
    check_mail_receipt, check_nome, normalize_domain, normalize_hash, sha1_hex, Gestore,
};
use crate::ldif::{Attribute, Entry};
use crate::warning::WarningKind;
use crate::Error;

/// What an entry turned out to be.
#[derive(Debug)]
pub(crate) enum Record {
    /// Not a `provider` entry (the root, or anything else): ignored.
    NotProvider,
    /// A `provider` entry left out, and why.
    Skipped(WarningKind),
    /// A usable record, with the values that were dropped or doubtful.
    Gestore(Gestore, Vec<WarningKind>),
}

/// Reads one entry.
pub(crate) fn read(entry: &Entry) -> Record {
    let is_provider = entry
        .values("objectClass")
        .any(|a| a.value.eq_ignore_ascii_case(b"provider"));
    if !is_provider {
        return Record::NotProvider;
    }
    let mut warnings = Vec::new();
    match read_provider(entry, &mut warnings) {
        Ok(gestore) => Record::Gestore(gestore, warnings),
        Err(kind) => Record::Skipped(kind),
    }
}

fn read_provider(entry: &Entry, warnings: &mut Vec<WarningKind>) -> Result<Gestore, WarningKind> {
    let IndexDn::Provider {
        name: dn_name,
        unit: dn_unit,
    } = classify(&entry.dn)
    else {
        return Err(WarningKind::UnexpectedDn);
    };
    let nome =
        single(entry, "providerName")?.ok_or(WarningKind::MissingAttribute("providerName"))?;
    check_nome("providerName", &nome).map_err(invalid)?;
    if nome.to_lowercase() != dn_name.to_lowercase() {
        return Err(WarningKind::DnMismatch {
            attribute: "providerName",
            value: nome,
        });
    }
    if let Some(unit) = single(entry, "providerUnit")? {
        if dn_unit
            .as_ref()
            .is_none_or(|u| u.to_lowercase() != unit.to_lowercase())
        {
            return Err(WarningKind::DnMismatch {
                attribute: "providerUnit",
                value: unit,
            });
        }
    }
    let mail_receipt =
        single(entry, "mailReceipt")?.ok_or(WarningKind::MissingAttribute("mailReceipt"))?;
    check_mail_receipt(&mail_receipt).map_err(invalid)?;

    let listed = texts(entry, "managedDomains")?;
    if listed.is_empty() {
        return Err(WarningKind::MissingAttribute("managedDomains"));
    }
    // Sets alongside the lists: a record may hold many thousands of values, never O(n²).
    let mut domini = Vec::new();
    let mut seen = HashSet::new();
    for value in listed {
        match normalize_domain(&value) {
            Some(d) => {
                if seen.insert(d.clone()) {
                    domini.push(d);
                }
            }
            None => warnings.push(WarningKind::InvalidDomain(value)),
        }
    }

    let certificati = certificates(entry)?;
    let hash = hashes(entry, &certificati, warnings)?;

    let mut ldif_url = single(entry, "LDIFLocationURL")?;
    if ldif_url.is_some() && dn_unit.is_some() {
        warnings.push(WarningKind::LdifUrlOnSecondary);
        ldif_url = None;
    }
    Ok(Gestore {
        nome,
        unit: dn_unit,
        mail_receipt,
        domini,
        certificati,
        hash,
        ldif_url,
    })
}

/// The `providerCertificate` values (with `;binary` or no option), DER, without repeats.
fn certificates(entry: &Entry) -> Result<Vec<Vec<u8>>, WarningKind> {
    let mut certificati: Vec<Vec<u8>> = Vec::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    let binary_or_plain =
        |a: &&Attribute| a.options.iter().all(|o| o.eq_ignore_ascii_case("binary"));
    for value in entry.values("providerCertificate").filter(binary_or_plain) {
        if value.value.is_empty() {
            let reason = "empty certificate".to_string();
            return Err(WarningKind::InvalidValue {
                attribute: "providerCertificate",
                reason,
            });
        }
        if seen.insert(&value.value) {
            certificati.push(value.value.clone());
        }
    }
    if certificati.is_empty() {
        return Err(WarningKind::MissingAttribute("providerCertificate"));
    }
    Ok(certificati)
}

/// The `providerCertificateHash` values, each of which must be the SHA-1 of one certificate
/// (PEC-SPEC: a certificate hash that does not match the certificate is refused).
fn hashes(
    entry: &Entry,
    certificati: &[Vec<u8>],
    warnings: &mut Vec<WarningKind>,
) -> Result<Vec<String>, WarningKind> {
    let computed: Vec<String> = certificati.iter().map(|c| sha1_hex(c)).collect();
    let known: HashSet<&String> = computed.iter().collect();
    let mut seen = HashSet::new();
    let listed = texts(entry, "providerCertificateHash")?;
    if listed.is_empty() {
        return Err(WarningKind::MissingAttribute("providerCertificateHash"));
    }
    let mut hash = Vec::new();
    for value in listed {
        match normalize_hash(&value) {
            Some(h) if known.contains(&h) => {
                if seen.insert(h.clone()) {
                    hash.push(h);
                }
            }
            _ => return Err(WarningKind::HashMismatch { hash: value }),
        }
    }
    for sha1 in computed.iter().filter(|c| !seen.contains(*c)) {
        warnings.push(WarningKind::CertificateWithoutHash { sha1: sha1.clone() });
    }
    Ok(hash)
}

/// All values of a text attribute without options, as UTF-8, without surrounding whitespace.
/// Values with options (`;lang-it`) are not ours to interpret and are ignored.
fn texts(entry: &Entry, name: &'static str) -> Result<Vec<String>, WarningKind> {
    entry
        .values(name)
        .filter(|a| a.options.is_empty())
        .map(|a| match std::str::from_utf8(&a.value) {
            Ok(text) => Ok(text.trim().to_string()),
            Err(_) => Err(WarningKind::NotUtf8(name)),
        })
        .collect()
}

/// The value of a single-valued text attribute, if present.
fn single(entry: &Entry, name: &'static str) -> Result<Option<String>, WarningKind> {
    let mut values = texts(entry, name)?;
    if values.len() > 1 {
        return Err(WarningKind::RepeatedAttribute(name));
    }
    Ok(values.pop())
}

fn invalid(error: Error) -> WarningKind {
    match error {
        Error::InvalidRecord { attribute, reason } => {
            WarningKind::InvalidValue { attribute, reason }
        }
        other => WarningKind::InvalidValue {
            attribute: "?",
            reason: other.to_string(),
        },
    }
}
