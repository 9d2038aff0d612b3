//! The index itself: provider records plus the maps that make every lookup O(1).
//!
//! Invariant: a domain and a certificate hash each point at exactly one record. When two
//! providers claim the same one, the first record in file order keeps it and the later claim
//! is dropped with a [`Warning`]; main and secondary environments of one provider may share.

use std::collections::{HashMap, HashSet};

use crate::gestore::{domain_of, normalize_hash, sha1_hex, write_root, Gestore};
use crate::ldif::{self, Entry, LdifWriter, Limits};
use crate::record::{self, Record};
use crate::warning::{Warning, WarningKind};
use crate::Error;

/// The providers' index (IGPEC, PEC-SPEC §7): every provider record, looked up by domain,
/// certificate hash or certificate.
#[derive(Debug, Clone, Default)]
pub struct Indice {
    gestori: Vec<Gestore>,
    /// Lower-case domain → index in `gestori`.
    per_dominio: HashMap<String, usize>,
    /// Lower-case hex SHA-1 → index in `gestori`.
    per_hash: HashMap<String, usize>,
    warnings: Vec<Warning>,
}

impl Indice {
    /// Builds the index from an LDIF text, with the default [`Limits`]. A syntax error refuses
    /// the whole text; a bad record is skipped and noted in [`Indice::warnings`].
    pub fn from_ldif(input: &[u8]) -> Result<Indice, Error> {
        Indice::from_ldif_with_limits(input, &Limits::default())
    }

    /// As [`Indice::from_ldif`], with explicit bounds.
    pub fn from_ldif_with_limits(input: &[u8], limits: &Limits) -> Result<Indice, Error> {
        let entries = ldif::parse_with_limits(input, limits)?;
        Ok(Indice::from_entries(&entries))
    }

    /// Builds the index from parsed LDIF entries. Entries that are not `provider` entries (the
    /// root `o=postacert`, anything else) are ignored.
    pub fn from_entries(entries: &[Entry]) -> Indice {
        let mut builder = Builder::default();
        for entry in entries {
            match record::read(entry) {
                Record::NotProvider => {}
                Record::Skipped(kind) => builder.warn(entry.line, &entry.dn, kind),
                Record::Gestore(gestore, warnings) => {
                    for kind in warnings {
                        builder.warn(entry.line, &entry.dn, kind);
                    }
                    builder.add(gestore, entry.line, &entry.dn);
                }
            }
        }
        builder.finish()
    }

    /// Builds the index from records made in code (tests, a configured local directory).
    /// Conflicts are resolved as for LDIF (first record wins), with warnings at line 0.
    pub fn from_gestori(gestori: impl IntoIterator<Item = Gestore>) -> Indice {
        let mut builder = Builder::default();
        for gestore in gestori {
            let dn = gestore.dn();
            builder.add(gestore, 0, &dn);
        }
        builder.finish()
    }

    /// Every record, in file order.
    pub fn gestori(&self) -> &[Gestore] {
        &self.gestori
    }

    /// What was skipped or dropped while building the index; log these.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The record managing a domain: `dominio_o_indirizzo` is a bare domain or an address (its
    /// part after the last `@` is used). Exact, case-insensitive match, no sub-domain
    /// wildcarding (PEC-SPEC §7.3).
    pub fn per_dominio(&self, dominio_o_indirizzo: &str) -> Option<&Gestore> {
        let dominio = domain_of(dominio_o_indirizzo)
            .trim_end_matches('.')
            .to_lowercase();
        self.per_dominio.get(&dominio).map(|&i| &self.gestori[i])
    }

    /// The record managing the domain of address `indirizzo` (`local@domain`); `None` when the
    /// address has no `@` or its domain is not in the index.
    pub fn per_indirizzo(&self, indirizzo: &str) -> Option<&Gestore> {
        indirizzo
            .contains('@')
            .then(|| self.per_dominio(indirizzo))
            .flatten()
    }

    /// The record listing certificate hash `hash` (hex SHA-1, any case; `:` separators
    /// tolerated), PEC-SPEC §7.3.
    pub fn per_hash(&self, hash: &str) -> Option<&Gestore> {
        let hash = normalize_hash(hash)?;
        self.per_hash.get(&hash).map(|&i| &self.gestori[i])
    }

    /// The record whose signing certificate is exactly `der`: SHA-1 → hash lookup → byte
    /// comparison with one of the record's certificates (the "same certificate" check of
    /// PEC-SPEC §2.3 and §7.3). Chain, CRL and validity checks are the caller's.
    pub fn per_certificato(&self, der: &[u8]) -> Option<&Gestore> {
        let gestore = self
            .per_hash
            .get(&sha1_hex(der))
            .map(|&i| &self.gestori[i])?;
        gestore
            .certificati
            .iter()
            .any(|c| c == der)
            .then_some(gestore)
    }

    /// Whether the domain of `indirizzo` (or a bare domain) is managed by a PEC provider: the
    /// *certificato* / *esterno* decision of PEC-SPEC §7.3.
    pub fn is_certificato(&self, indirizzo: &str) -> bool {
        self.per_dominio(indirizzo).is_some()
    }

    /// The whole index as LDIF: `version: 1`, the root entry (with the directory URL when
    /// given), then every record.
    pub fn to_ldif(&self, directory_url: Option<&str>) -> String {
        let mut w = LdifWriter::default();
        w.raw("version: 1");
        w.end_record();
        write_root(&mut w, directory_url);
        for gestore in &self.gestori {
            gestore.write(&mut w);
        }
        w.finish()
    }
}

#[derive(Default)]
struct Builder {
    indice: Indice,
    /// (lower-case name, lower-case unit) of the records kept.
    seen: HashSet<(String, Option<String>)>,
    /// LDIF line of each record kept, parallel to `indice.gestori`, for late warnings.
    lines: Vec<usize>,
}

impl Builder {
    fn warn(&mut self, line: usize, dn: &str, kind: WarningKind) {
        self.indice.warnings.push(Warning {
            line,
            dn: dn.to_string(),
            kind,
        });
    }

    fn add(&mut self, mut gestore: Gestore, line: usize, dn: &str) {
        let key = (
            gestore.nome.to_lowercase(),
            gestore.unit.as_ref().map(|u| u.to_lowercase()),
        );
        if !self.seen.insert(key) {
            return self.warn(line, dn, WarningKind::DuplicateRecord);
        }
        let slot = self.indice.gestori.len();
        let mut conflicts = Vec::new();
        gestore.domini.retain(|domain| {
            match claim(
                &mut self.indice.per_dominio,
                &self.indice.gestori,
                domain,
                slot,
                &gestore.nome,
            ) {
                Ok(()) => true,
                Err(owner) => {
                    conflicts.push(WarningKind::DomainConflict {
                        domain: domain.clone(),
                        owner,
                    });
                    false
                }
            }
        });
        gestore.hash.retain(|hash| {
            match claim(
                &mut self.indice.per_hash,
                &self.indice.gestori,
                hash,
                slot,
                &gestore.nome,
            ) {
                Ok(()) => true,
                Err(owner) => {
                    conflicts.push(WarningKind::HashConflict {
                        hash: hash.clone(),
                        owner,
                    });
                    false
                }
            }
        });
        for kind in conflicts {
            self.warn(line, dn, kind);
        }
        self.indice.gestori.push(gestore);
        self.lines.push(line);
    }

    fn finish(mut self) -> Indice {
        let mains: HashSet<String> = self
            .indice
            .gestori
            .iter()
            .filter(|g| g.unit.is_none())
            .map(|g| g.nome.to_lowercase())
            .collect();
        let orphans: Vec<(usize, String)> = self
            .indice
            .gestori
            .iter()
            .zip(&self.lines)
            .filter(|(g, _)| !mains.contains(&g.nome.to_lowercase()))
            .map(|(g, &line)| (line, g.dn()))
            .collect();
        for (line, dn) in orphans {
            self.warn(line, &dn, WarningKind::MissingMainRecord);
        }
        self.indice
    }
}

/// Points `key` at record `slot` unless another provider holds it (`Err(owner)`). A key held
/// by another environment of the same provider stays with the first one, silently.
fn claim(
    map: &mut HashMap<String, usize>,
    gestori: &[Gestore],
    key: &str,
    slot: usize,
    nome: &str,
) -> Result<(), String> {
    match map.get(key) {
        None => {
            map.insert(key.to_string(), slot);
            Ok(())
        }
        Some(&holder) => match gestori.get(holder) {
            Some(owner) if owner.nome.to_lowercase() != nome.to_lowercase() => {
                Err(owner.nome.clone())
            }
            // The same provider, or this very record (a repeated value): keep, no warning.
            _ => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests;
