//! Busta di trasporto: the signed envelope that carries the original to every recipient
//! (PEC-SPEC §4.1).

use super::grezzo::Blocco;
use super::intestazioni;
use super::{componi, daticert_base, testo, BuildError, DatiMessaggio, Emissione, Originale};
use crate::daticert::{Daticert, Destinatario, Errore, Tipo};
use crate::kind::MessageKind;
use crate::message::UnsignedMessage;

/// Trace fields the envelope inherits unchanged from the original, first (PEC-SPEC §4.1); To
/// and Cc follow in [`intestazioni::busta`].
const TRACCIA: [&str; 2] = ["Return-Path", "Received"];

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
    Ok(busta_trasporto_con_parti(e, originale, destinatari)?.0)
}

/// [`busta_trasporto`], also handing back the daticert it carries and its `postacert.eml`,
/// so whoever built it need not parse it again to read them.
pub fn busta_trasporto_con_parti(
    e: &Emissione<'_>,
    originale: &Originale,
    destinatari: &[Destinatario],
) -> Result<(UnsignedMessage, Daticert, Vec<u8>), BuildError> {
    let kind = MessageKind::BustaTrasporto;
    let dati = DatiMessaggio::da_originale(originale, e.id(), destinatari.to_vec());
    let blocco = Blocco::leggi(&originale.raw);

    let mut h: Vec<(String, String)> = Vec::new();
    for nome in TRACCIA {
        for c in blocco.tutti(nome) {
            h.push((nome.to_string(), c.valore_crlf())); // PEC-SPEC §4.1: inherited unchanged
        }
    }
    h.extend(intestazioni::busta(e, &blocco, &dati));

    let mut daticert = daticert_base(Tipo::PostaCertificata, Errore::Nessuno, e, &dati);
    daticert.dati.ricevuta = Some(dati.tipo_ricevuta.clone()); // PEC-SPEC §5.2
    let postacert = originale.postacert(e.id()); // PEC-SPEC §3.3
    let messaggio = componi(
        kind,
        e,
        h,
        &testo::busta(e, &dati),
        Some(&daticert),
        Some(&postacert),
    )?;
    Ok((messaggio, daticert, postacert))
}
