//! Busta di anomalia: the wrapper a recipient's provider puts around mail it cannot certify
//! (PEC-SPEC §4.2).

use super::grezzo::Blocco;
use super::intestazioni::{codifica_oggetto, oggetto_con_prefisso, per_conto_di, tra_parentesi};
use super::{componi, testo, BuildError, Emissione, Originale};
use crate::kind::MessageKind;
use crate::message::UnsignedMessage;

/// Headers the anomaly envelope inherits unchanged, in this order (PEC-SPEC §4.2).
const EREDITATE: [&str; 4] = ["Return-Path", "Received", "To", "Cc"];

/// The busta di anomalia of `ricevuto`, the message as it arrived; `motivo` is the short
/// error shown in the text ("data not certified because of …").
///
/// No daticert: origin and conformity are uncertain, so the RFC allows no part but the text
/// and the whole received message, attached unmodified as `postacert.eml` (PEC-SPEC §4.2).
/// The envelope inherits the received `Message-ID`; `e.message_id` is used only when the
/// received message had none. No receipt is ever produced for it. Read inbound mail with
/// [`Originale::parse_ricevuto`], which accepts a message without a usable `From:`.
pub fn busta_anomalia(
    e: &Emissione<'_>,
    ricevuto: &Originale,
    motivo: &str,
) -> Result<UnsignedMessage, BuildError> {
    let kind = MessageKind::BustaAnomalia;
    let blocco = Blocco::leggi(&ricevuto.raw);
    let mut h: Vec<(String, String)> = Vec::new();
    for nome in EREDITATE {
        for c in blocco.tutti(nome) {
            h.push((nome.to_string(), c.valore_crlf())); // PEC-SPEC §4.2: inherited unchanged
        }
    }
    h.push(("Date".into(), e.data.rfc5322())); // PEC-SPEC §4.2: arrival date
    let from = per_conto_di(&ricevuto.mittente, &e.provider.indirizzo_servizio);
    h.push(("From".into(), from)); // PEC-SPEC §4.2
    let reply_to = match blocco.primo("Reply-To") {
        Some(c) => c.valore_crlf(),
        None => ricevuto.mittente.clone(), // PEC-SPEC §4.2: only if absent
    };
    h.push(("Reply-To".into(), reply_to));
    let oggetto = oggetto_con_prefisso(kind, ricevuto.oggetto.as_deref());
    h.push(("Subject".into(), codifica_oggetto(&oggetto))); // PEC-SPEC §3.5
    let message_id = match blocco.primo("Message-ID") {
        Some(c) => c.valore_crlf(), // PEC-SPEC §4.2: inherited
        None => tra_parentesi(e.id()),
    };
    h.push(("Message-ID".into(), message_id));
    h.push(("X-Trasporto".into(), "errore".into())); // PEC-SPEC §3.4

    let destinatari: Vec<String> = ricevuto.to.iter().chain(&ricevuto.cc).cloned().collect();
    let oggetto_originale = ricevuto.oggetto.as_deref().unwrap_or_default();
    let t = testo::anomalia(
        e,
        &ricevuto.mittente,
        oggetto_originale,
        &destinatari,
        motivo,
    );
    componi(kind, e, h, &t, None, Some(&ricevuto.raw)) // PEC-SPEC §4.2: no daticert
}
