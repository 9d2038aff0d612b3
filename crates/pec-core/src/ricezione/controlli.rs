//! The formal checks on a message signed by a PEC provider (PEC-SPEC §2.3 incoming point,
//! step 2 "formal correctness"; §7.2 From domain rule): is it a well-formed envelope, a
//! well-formed receipt, or neither?

use super::GestoreMittente;
use crate::builder::controlla_struttura;
use crate::consegna::{BustaRicevuta, ConsegnaError};
use crate::daticert::{Daticert, Tipo};
use crate::inspect::{inspect_firmato, Inspection};
use crate::kind::MessageKind;

/// What a validly signed message turned out to be.
pub(super) enum Classe {
    /// A well-formed busta di trasporto (PEC-SPEC §4.1), and the signer's service address.
    Busta(Box<BustaRicevuta>, String),
    /// A well-formed receipt or notice.
    Ricevuta(Box<Ricevuta>),
    /// Signed by a PEC provider but malformed: the detail for the anomaly text.
    Malformato(String),
}

/// A well-formed receipt or notice from another provider.
pub(super) struct Ricevuta {
    pub(super) kind: MessageKind,
    pub(super) daticert: Daticert,
    /// `<ricezione>` of a presa in carico, `<consegna>` of the others.
    pub(super) riguarda: Vec<String>,
    /// The signer's service address (`From:`, on one of its domains).
    pub(super) servizio: String,
}

/// Classifies a message whose signature `gestore` made; `firmato` is the entity the
/// signature covers, the only place daticert and postacert are read from.
pub(super) fn classifica(raw: &[u8], firmato: &[u8], gestore: &GestoreMittente) -> Classe {
    if let Err(e) = controlla_struttura(raw) {
        return Classe::Malformato(e.to_string());
    }
    let ins = match inspect_firmato(raw, firmato) {
        Ok(i) => i,
        Err(e) => return Classe::Malformato(format!("messaggio illeggibile ({e})")),
    };
    let servizio = match dominio_from(&ins, gestore) {
        Ok(s) => s,
        Err(d) => return Classe::Malformato(d),
    };
    match ins.kind {
        MessageKind::BustaTrasporto => busta(ins, gestore, servizio),
        // Module docs: anomaly envelopes never travel between providers (PEC-SPEC §4.2).
        MessageKind::BustaAnomalia => {
            Classe::Malformato("busta di anomalia (X-Trasporto: errore) di un altro gestore".into())
        }
        MessageKind::Ordinaria => Classe::Malformato(
            "intestazione X-Trasporto o X-Ricevuta assente o con valore sconosciuto".into(),
        ),
        kind => ricevuta(kind, ins, gestore, servizio),
    }
}

/// A busta di trasporto: readable (daticert, postacert.eml), daticert `tipo` posta-certificata,
/// the certified sender on a domain of the signer (PEC-SPEC §4.1, §5, §7.2).
fn busta(ins: Inspection, gestore: &GestoreMittente, servizio: String) -> Classe {
    let b = match BustaRicevuta::da_ispezione(ins) {
        Ok(b) => b,
        Err(ConsegnaError::PostacertAssente) => {
            return Classe::Malformato("busta di trasporto senza postacert.eml".into())
        }
        Err(ConsegnaError::Daticert(d)) => {
            return Classe::Malformato(format!(
                "busta di trasporto con daticert.xml non valido: {d}"
            ))
        }
        Err(e) => return Classe::Malformato(format!("busta di trasporto illeggibile: {e}")),
    };
    if b.daticert.tipo != Tipo::PostaCertificata {
        return Classe::Malformato(format!(
            "X-Trasporto posta-certificata ma daticert di tipo {}",
            b.daticert.tipo
        )); // PEC-SPEC §4.12
    }
    if b.daticert.dati.identificativo.trim().is_empty() {
        return Classe::Malformato("daticert senza identificativo".into()); // PEC-SPEC §5.2
    }
    if let Err(d) = senza_controlli(&b.daticert) {
        return Classe::Malformato(d);
    }
    let mittente = &b.daticert.intestazione.mittente;
    if !gestore.gestisce(dominio(mittente)) {
        // PEC-SPEC §7.2, §11.2 (UNCONFIRMED, module docs): the certified sender's domain.
        return Classe::Malformato(format!(
            "il mittente certificato {mittente} non appartiene a un dominio del gestore {}",
            gestore.nome
        ));
    }
    Classe::Busta(Box::new(b), servizio)
}

/// A receipt or notice: daticert present and readable, its `tipo` the one of the header,
/// an identificativo, and the recipients it is about (PEC-SPEC §4.6–§4.11).
fn ricevuta(
    kind: MessageKind,
    ins: Inspection,
    gestore: &GestoreMittente,
    servizio: String,
) -> Classe {
    let daticert = match ins.daticert {
        Some(Ok(d)) => d,
        Some(Err(e)) => return Classe::Malformato(format!("{kind}: {e}")),
        None => return Classe::Malformato(format!("{kind} senza daticert.xml")),
    };
    if Some(&daticert.tipo) != kind.daticert_tipo().as_ref() {
        return Classe::Malformato(format!(
            "X-Ricevuta di {kind} ma daticert di tipo {}",
            daticert.tipo
        )); // PEC-SPEC §4.12
    }
    if daticert.dati.identificativo.trim().is_empty() {
        return Classe::Malformato(format!("{kind}: daticert senza identificativo"));
    }
    if let Err(d) = senza_controlli(&daticert) {
        return Classe::Malformato(format!("{kind}: {d}"));
    }
    let riguarda: Vec<String> = match kind {
        MessageKind::PresaInCarico => daticert.dati.ricezione.clone(), // PEC-SPEC §4.6
        _ => daticert.dati.consegna.iter().cloned().collect(),
    };
    let riguarda: Vec<String> = riguarda
        .into_iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    // The sender side needs to know whom it is about to stop the right timers (PEC-SPEC §4.9);
    // accettazione and non accettazione are about the whole message and name nobody.
    let per_destinatario = !matches!(
        kind,
        MessageKind::Accettazione
            | MessageKind::NonAccettazione
            | MessageKind::NonAccettazioneVirus
    );
    if per_destinatario && riguarda.is_empty() {
        let elemento = if kind == MessageKind::PresaInCarico {
            "<ricezione>"
        } else {
            "<consegna>"
        };
        return Classe::Malformato(format!("{kind}: daticert senza {elemento}"));
    }
    // A provider answers for its own recipients: one that is not theirs must not cancel our
    // 12 h / 24 h checks for another provider's (PEC-SPEC §4.6–§4.10).
    if let Some(r) = riguarda.iter().find(|r| !gestore.gestisce(dominio(r))) {
        return Classe::Malformato(format!(
            "{kind} su {r}, destinatario non di un dominio del gestore {}",
            gestore.nome
        ));
    }
    Classe::Ricevuta(Box::new(Ricevuta {
        kind,
        daticert,
        riguarda,
        servizio,
    }))
}

/// The signer's service address, and the From domain rule (PEC-SPEC §3.2, §7.2, §11.2,
/// UNCONFIRMED): it must be on one of the signer's `managedDomains`. The address comes from
/// the signing certificate (its subjectAltName e-mail, which PEC-SPEC §3.2 makes the `From:`
/// of everything a provider signs); only a certificate without any falls back on the outer
/// `From:`, and then it must hold exactly one plain address.
fn dominio_from(ins: &Inspection, gestore: &GestoreMittente) -> Result<String, String> {
    if !gestore.indirizzi.is_empty() {
        return gestore
            .indirizzi
            .iter()
            .map(|a| a.trim())
            .find(|a| gestore.gestisce(dominio(a)) && indirizzo_semplice(a))
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "il certificato di firma non ha un indirizzo su un dominio del gestore {}",
                    gestore.nome
                )
            });
    }
    let Some(from) = ins.from.as_deref() else {
        return Err("intestazione From assente".into());
    };
    let indirizzo = indirizzo(from);
    if !indirizzo_semplice(indirizzo) {
        return Err(format!(
            "intestazione From non valida: {}",
            super::riga(from, 80)
        ));
    }
    if gestore.gestisce(dominio(indirizzo)) {
        Ok(indirizzo.to_string())
    } else {
        Err(format!(
            "il mittente {indirizzo} non appartiene a un dominio del gestore {}",
            gestore.nome
        ))
    }
}

/// `local@domain`, nothing else: no blanks, commas, brackets, quotes or controls.
fn indirizzo_semplice(a: &str) -> bool {
    let ok = |c: char| !c.is_whitespace() && !c.is_control() && !",;<>()\"[]\\:".contains(c);
    match a.split_once('@') {
        Some((l, d)) => !l.is_empty() && !d.is_empty() && !d.contains('@') && a.chars().all(ok),
        None => false,
    }
}

/// The daticert values that become our outer headers (sender, recipients, ids) hold no
/// control characters: one with CR or LF would end the header block early when we rebuild
/// it (builder::ricomposta).
fn senza_controlli(d: &Daticert) -> Result<(), String> {
    let campi = [
        ("mittente", Some(d.intestazione.mittente.as_str())),
        ("risposte", Some(d.intestazione.risposte.as_str())),
        ("identificativo", Some(d.dati.identificativo.as_str())),
        ("msgid", d.dati.msgid.as_deref()),
        ("consegna", d.dati.consegna.as_deref()),
    ];
    let destinatari = d
        .intestazione
        .destinatari
        .iter()
        .map(|x| ("destinatari", Some(x.indirizzo.as_str())));
    let ricezione = d
        .dati
        .ricezione
        .iter()
        .map(|r| ("ricezione", Some(r.as_str())));
    for (nome, valore) in campi.into_iter().chain(destinatari).chain(ricezione) {
        if valore.is_some_and(|v| v.chars().any(char::is_control)) {
            return Err(format!("daticert con caratteri di controllo in <{nome}>"));
        }
    }
    Ok(())
}

/// The address of a `From:` value: inside the last `<…>`, else the whole value.
fn indirizzo(from: &str) -> &str {
    match from.rfind('<') {
        Some(i) => {
            let resto = &from[i + 1..];
            resto.split('>').next().unwrap_or(resto).trim()
        }
        None => from.trim(),
    }
}

/// The domain of an address (after the last `@`), empty when there is none.
fn dominio(indirizzo: &str) -> &str {
    indirizzo
        .rsplit_once('@')
        .map(|(_, d)| d.trim())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_the_angle_brackets() {
        assert_eq!(
            indirizzo("\"Per conto di: a@b.it\" <posta-certificata@pec.x.it>"),
            "posta-certificata@pec.x.it"
        );
        assert_eq!(indirizzo(" a@b.it "), "a@b.it");
        assert_eq!(indirizzo("<a@b.it"), "a@b.it");
        assert_eq!(dominio("a@B.it"), "B.it");
        assert_eq!(dominio("nessuno"), "");
    }
}
