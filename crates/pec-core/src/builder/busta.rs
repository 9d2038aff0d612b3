//! Busta di trasporto: the signed envelope that carries the original to every recipient
//! (PEC-SPEC §4.1).

use super::grezzo::Blocco;
use super::intestazioni::{codifica_oggetto, oggetto_con_prefisso, per_conto_di, tra_parentesi};
use super::{componi, daticert_base, testo, BuildError, DatiMessaggio, Emissione, Originale};
use crate::daticert::{Destinatario, Errore, Tipo};
use crate::kind::MessageKind;
use crate::message::UnsignedMessage;

/// Headers the envelope inherits unchanged from the original, in this order (PEC-SPEC §4.1).
const EREDITATE: [&str; 4] = ["Return-Path", "Received", "To", "Cc"];

/// The busta di trasporto of `originale`.
///
/// `e.message_id` is the PEC msgid: the envelope's `Message-ID`, daticert `<identificativo>`
/// and the `Message-ID` of the attached `postacert.eml` (PEC-SPEC §3.3). `destinatari` is the
/// To + Cc list classified certificato / esterno (see [`Originale::destinatari`]); build the
/// ricevuta di accettazione from the same data with [`DatiMessaggio::da_originale`].
pub fn busta_trasporto(
    e: &Emissione<'_>,
    originale: &Originale,
    destinatari: &[Destinatario],
) -> Result<UnsignedMessage, BuildError> {
    let kind = MessageKind::BustaTrasporto;
    let dati = DatiMessaggio::da_originale(originale, e.id(), destinatari.to_vec());
    let blocco = Blocco::leggi(&originale.raw);

    let mut h: Vec<(String, String)> = Vec::new();
    for nome in EREDITATE {
        for c in blocco.tutti(nome) {
            h.push((nome.to_string(), c.valore_crlf())); // PEC-SPEC §4.1: inherited unchanged
        }
    }
    h.push(("Date".into(), e.data.rfc5322())); // PEC-SPEC §4.1: acceptance date
    let from = per_conto_di(&originale.mittente, &e.provider.indirizzo_servizio);
    h.push(("From".into(), from)); // PEC-SPEC §3.2
    let reply_to = match blocco.primo("Reply-To") {
        Some(c) => c.valore_crlf(), // PEC-SPEC §3.2: original Reply-To unchanged
        None => originale.mittente.clone(), // PEC-SPEC §3.2: else the original From
    };
    h.push(("Reply-To".into(), reply_to));
    let oggetto = oggetto_con_prefisso(kind, originale.oggetto.as_deref());
    h.push(("Subject".into(), codifica_oggetto(&oggetto))); // PEC-SPEC §3.5
    h.push(("Message-ID".into(), tra_parentesi(e.id()))); // PEC-SPEC §3.3
    if let Some(m) = &originale.msgid {
        h.push(("X-Riferimento-Message-ID".into(), m.clone())); // PEC-SPEC §3.3
    }
    h.push(("X-Trasporto".into(), "posta-certificata".into())); // PEC-SPEC §3.4
    h.push(("X-TipoRicevuta".into(), dati.tipo_ricevuta.to_string())); // PEC-SPEC §4.1

    let mut daticert = daticert_base(Tipo::PostaCertificata, Errore::Nessuno, e, &dati);
    daticert.dati.ricevuta = Some(dati.tipo_ricevuta.clone()); // PEC-SPEC §5.2
    let postacert = originale.postacert(e.id()); // PEC-SPEC §3.3
    componi(
        kind,
        e,
        h,
        &testo::busta(e, &dati),
        Some(&daticert),
        Some(&postacert),
    )
}
