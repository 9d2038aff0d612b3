//! One provider record of the index (PEC-SPEC §7.1), its validation and its LDIF form.

use sha1::{Digest, Sha1};

use crate::error::Error;
use crate::ldif::{escape_dn_value, LdifWriter};

/// A provider's record in the index: one per operating environment (PEC-SPEC §7.1).
///
/// Invariants, held by every constructor: `nome` and `mail_receipt` are valid, `domini` are
/// lower-case and unique, there is at least one certificate and one domain, every entry of
/// `hash` is the lower-case hex SHA-1 of one of `certificati`, and a secondary environment
/// (`unit`) has no `ldif_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gestore {
    pub(crate) nome: String,
    pub(crate) unit: Option<String>,
    pub(crate) mail_receipt: String,
    pub(crate) domini: Vec<String>,
    pub(crate) certificati: Vec<Vec<u8>>,
    pub(crate) hash: Vec<String>,
    pub(crate) ldif_url: Option<String>,
}

impl Gestore {
    /// Builds a main-environment record from its mandatory parts; the certificate hash is
    /// computed. Fails when a value breaks §7.1 (see [`Error::InvalidRecord`]).
    pub fn new<D: AsRef<str>>(
        nome: &str,
        mail_receipt: &str,
        domini: impl IntoIterator<Item = D>,
        certificato_der: Vec<u8>,
    ) -> Result<Gestore, Error> {
        check_nome("providerName", nome)?;
        check_mail_receipt(mail_receipt)?;
        let mut gestore = Gestore {
            nome: nome.to_string(),
            unit: None,
            mail_receipt: mail_receipt.to_string(),
            domini: Vec::new(),
            certificati: Vec::new(),
            hash: Vec::new(),
            ldif_url: None,
        };
        for dominio in domini {
            gestore = gestore.with_dominio(dominio.as_ref())?;
        }
        if gestore.domini.is_empty() {
            return Err(invalid(
                "managedDomains",
                "at least one domain is mandatory",
            ));
        }
        gestore.with_certificato(certificato_der)
    }

    /// Adds a managed domain (lower-cased; a repeat is ignored).
    pub fn with_dominio(mut self, dominio: &str) -> Result<Gestore, Error> {
        let dominio = normalize_domain(dominio)
            .ok_or_else(|| invalid("managedDomains", format!("not a domain: {dominio:?}")))?;
        if !self.domini.contains(&dominio) {
            self.domini.push(dominio);
        }
        Ok(self)
    }

    /// Adds a signing certificate (DER) and its hash, e.g. the new one of a rollover
    /// (PEC-SPEC §7.2: publish the new certificate alongside the old one). A repeat is ignored.
    pub fn with_certificato(mut self, der: Vec<u8>) -> Result<Gestore, Error> {
        if der.is_empty() {
            return Err(invalid("providerCertificate", "empty certificate"));
        }
        if !self.certificati.contains(&der) {
            self.hash.push(sha1_hex(&der));
            self.certificati.push(der);
        }
        Ok(self)
    }

    /// Makes this the record of secondary environment `unit`. Fails if the record has an
    /// `LDIFLocationURL`, which §7.1 forbids on secondary environments.
    pub fn with_unit(mut self, unit: &str) -> Result<Gestore, Error> {
        check_nome("providerUnit", unit)?;
        if self.ldif_url.is_some() {
            return Err(invalid(
                "providerUnit",
                "a secondary environment has no LDIFLocationURL",
            ));
        }
        self.unit = Some(unit.to_string());
        Ok(self)
    }

    /// Sets the URL where the provider publishes its own LDIF (main environment only).
    pub fn with_ldif_url(mut self, url: &str) -> Result<Gestore, Error> {
        if self.unit.is_some() {
            return Err(invalid(
                "LDIFLocationURL",
                "forbidden on a secondary environment",
            ));
        }
        check_nome("LDIFLocationURL", url)?;
        self.ldif_url = Some(url.to_string());
        Ok(self)
    }

    /// The provider's name (`providerName`), as written.
    pub fn nome(&self) -> &str {
        &self.nome
    }

    /// The secondary environment (`providerUnit`), `None` for the main one.
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }

    /// The service mailbox for *presa in carico* and *rilevazione virus* (`mailReceipt`).
    pub fn mail_receipt(&self) -> &str {
        &self.mail_receipt
    }

    /// The PEC domains this record manages (`managedDomains`), lower-case.
    pub fn domini(&self) -> &[String] {
        &self.domini
    }

    /// The signing certificates (`providerCertificate;binary`), DER.
    pub fn certificati(&self) -> &[Vec<u8>] {
        &self.certificati
    }

    /// The certificate hashes (`providerCertificateHash`), lower-case hex SHA-1.
    pub fn hash(&self) -> &[String] {
        &self.hash
    }

    /// Where the provider publishes its LDIF (`LDIFLocationURL`), if stated.
    pub fn ldif_url(&self) -> Option<&str> {
        self.ldif_url.as_deref()
    }

    /// Whether this record manages the domain of `dominio_o_indirizzo` (an address or a bare
    /// domain), ignoring case. PEC-SPEC §7.2: a signature is accepted only if the `From`
    /// domain is among the signer's `managedDomains`.
    pub fn gestisce(&self, dominio_o_indirizzo: &str) -> bool {
        let dominio = domain_of(dominio_o_indirizzo).to_lowercase();
        self.domini.contains(&dominio)
    }

    /// The record's DN: `providerName=<nome>,o=postacert`, or with `providerUnit=<unit>,` first.
    pub fn dn(&self) -> String {
        let name = escape_dn_value(&self.nome);
        match &self.unit {
            Some(unit) => {
                format!(
                    "providerUnit={},providerName={name},o=postacert",
                    escape_dn_value(unit)
                )
            }
            None => format!("providerName={name},o=postacert"),
        }
    }

    /// The record as LDIF (RFC 2849), ending with the blank line that closes it. The hashes are
    /// recomputed from the certificates, so they always match.
    pub fn to_ldif(&self) -> String {
        let mut w = LdifWriter::default();
        self.write(&mut w);
        w.finish()
    }

    pub(crate) fn write(&self, w: &mut LdifWriter) {
        w.text("dn", &self.dn());
        w.text("objectclass", "top");
        w.text("objectclass", "provider");
        w.text("providerName", &self.nome);
        if let Some(unit) = &self.unit {
            w.text("providerUnit", unit);
        }
        w.text("mailReceipt", &self.mail_receipt);
        for dominio in &self.domini {
            w.text("managedDomains", dominio);
        }
        for der in &self.certificati {
            w.text("providerCertificateHash", &sha1_hex(der));
        }
        for der in &self.certificati {
            w.binary("providerCertificate;binary", der);
        }
        if let Some(url) = &self.ldif_url {
            w.text("LDIFLocationURL", url);
        }
        w.end_record();
    }
}

/// The root entry `o=postacert` (PEC-SPEC §7.1) as LDIF, with the URL of the whole directory
/// when given (§7.2), ending with the blank line that closes it.
pub fn ldif_root(directory_url: Option<&str>) -> String {
    let mut w = LdifWriter::default();
    write_root(&mut w, directory_url);
    w.finish()
}

pub(crate) fn write_root(w: &mut LdifWriter, directory_url: Option<&str>) {
    w.text("dn", "o=postacert");
    w.text("objectclass", "top");
    w.text("objectclass", "organization");
    w.text("objectclass", "LDIFLocationURLObject");
    w.text("o", "postacert");
    if let Some(url) = directory_url {
        w.text("LDIFLocationURL", url);
    }
    w.end_record();
}

/// Lower-case hex SHA-1 of `der`: the form of `providerCertificateHash` (§7.1, §7.3).
pub fn sha1_hex(der: &[u8]) -> String {
    hex::encode(Sha1::digest(der))
}

/// The domain part of an address (after the last `@`), or the input itself.
pub(crate) fn domain_of(dominio_o_indirizzo: &str) -> &str {
    let s = dominio_o_indirizzo.trim();
    s.rsplit_once('@').map_or(s, |(_, domain)| domain)
}

/// A `managedDomains` value, lower-cased; `None` if it cannot be a domain name.
pub(crate) fn normalize_domain(value: &str) -> Option<String> {
    let domain = value.trim().trim_end_matches('.').to_lowercase();
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        });
    ok.then_some(domain)
}

/// A `providerCertificateHash` value in our form (lower-case, 40 hex digits). Colons and
/// spaces between byte pairs (`06:B2:…`, as openssl prints fingerprints) are tolerated.
pub(crate) fn normalize_hash(value: &str) -> Option<String> {
    let hash: String = value
        .chars()
        .filter(|c| *c != ':' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hash)
}

/// `mailReceipt`: a dot-atom `addr-spec` without angle brackets (§7.1). Checked loosely: one
/// `@`, non-empty parts, no spaces, brackets or control characters.
pub(crate) fn check_mail_receipt(value: &str) -> Result<(), Error> {
    let ok = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && normalize_domain(domain).is_some()
            && !domain.ends_with('.')
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:@\"".contains(c))
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "mailReceipt",
            format!("not an addr-spec: {value:?}"),
        ))
    }
}

/// A name-like value (`providerName`, `providerUnit`, URL): non-empty, no surrounding
/// whitespace (the reader trims it), no control characters.
pub(crate) fn check_nome(attribute: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(invalid(attribute, "empty"));
    }
    if value.trim() != value {
        return Err(invalid(attribute, "leading or trailing whitespace"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(attribute, "contains control characters"));
    }
    Ok(())
}

fn invalid(attribute: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidRecord {
        attribute,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
