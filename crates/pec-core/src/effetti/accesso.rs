//! Where the access point's outcome goes (PEC-SPEC §2.3, §4.1–§4.3).
//!
//! Accepted: the ricevuta di accettazione to the sender, the envelope in the sender's Sent
//! folder, the log events, and for each recipient either its delivery in the same
//! transaction when the box is ours (presumed active; the alternative queues it), or a relay
//! item with the 12 h / 24 h checks of a certified remote recipient. Not accepted: the avviso
//! di non accettazione, and the quarantine copy when infected.

use super::consegna::{consegna, Busta};
use super::scadenze::controlli;
use super::{Ammissione, Cartella, Contenuto, Decisione, EffettiError, Instradamento, Piano};
use crate::accesso::{Accettazione, Motivo, NonAccettazione};
use crate::chiave::{Chiave, Cosa};
use crate::consegna::StatoCasella;
use crate::daticert::TipoDestinatario;
use crate::lavoro::{Compito, Recapito, Spedizione};
use crate::registro::TipoEvento;
use crate::Provider;
use std::sync::Arc;

/// An accepted message and what its effects need besides it.
pub struct Accettata<'a, 'b> {
    /// pec-core's decision.
    pub accettazione: Accettazione,
    /// The envelope's PEC msgid.
    pub identificativo: &'a str,
    /// Draws the Message-ID of each local recipient's delivery receipt (they are delivered
    /// in the same transaction).
    pub nuovo_id: &'b mut dyn FnMut() -> String,
    /// Us, the provider that signs the delivery receipts.
    pub provider: &'a Provider,
}

/// The effects of an accepted message: signs the receipt (position 0) and the envelope (1).
pub fn accettata(a: Accettata<'_, '_>, r: &Instradamento<'_>) -> Result<Decisione, EffettiError> {
    let Accettata {
        accettazione,
        identificativo,
        nuovo_id,
        provider,
    } = a;
    let Accettazione {
        ricevuta,
        busta,
        letta,
        destinatari,
        mittente,
        eventi,
    } = accettazione;
    let mut d = Decisione::new(None);
    let ricevuta = d.firma(ricevuta);
    let busta = d.firma(busta);
    let locali: Vec<(String, StatoCasella)> = destinatari
        .iter()
        .map(|x| x.indirizzo.to_ascii_lowercase())
        .filter(|x| (r.locale)(x))
        .map(|x| (x, StatoCasella::Attiva))
        .collect();
    // The 12 h / 24 h checks of a certified remote recipient keep the envelope's daticert
    // to build their notices.
    let remoto_certificato = destinatari
        .iter()
        .any(|x| x.tipo == TipoDestinatario::Certificato && !(r.locale)(&x.indirizzo));
    let daticert: Option<Arc<[u8]>> = match remoto_certificato {
        true => Some(letta.daticert.to_xml()?.into_bytes().into()),
        false => None,
    };
    let modello = eventi
        .iter()
        .find(|e| matches!(e.evento, TipoEvento::BustaEmessa))
        .map(|e| Box::new(e.clone()));
    let proprio = |accoda_locali: bool| {
        let mut p = Piano::new(None);
        p.al_mittente(
            &mittente,
            identificativo,
            Cosa::Accettazione,
            ricevuta.clone(),
        );
        for x in &destinatari {
            let destinatario = x.indirizzo.to_ascii_lowercase();
            if !(r.locale)(&destinatario) {
                let spedizione = Spedizione {
                    destinatario: destinatario.clone(),
                    mail_from: mittente.clone(),
                    identificativo: identificativo.to_string(),
                    busta: true,
                    accepted_ms: r.ora.timestamp_millis(),
                    modello: modello.clone(),
                };
                p.inoltra(spedizione, None, busta.clone(), r.ora);
                if let (TipoDestinatario::Certificato, Some(xml)) = (&x.tipo, &daticert) {
                    let xml = Contenuto::Dati(xml.clone());
                    controlli(&mut p, &destinatario, &mittente, identificativo, xml, r.ora);
                }
            } else if accoda_locali {
                let recapito = Recapito {
                    destinatario,
                    mittente: mittente.clone(),
                    identificativo: identificativo.to_string(),
                };
                p.accoda(
                    recapito.chiave(),
                    Compito::Consegna(recapito),
                    busta.clone(),
                    r.ora,
                );
            }
        }
        // The box's own copy of what it sent (IMAP "Sent").
        let chiave = Chiave::Casella {
            casella: mittente.to_ascii_lowercase(),
            identificativo: identificativo.to_string(),
            cosa: Cosa::Inviata,
        };
        p.deposita(
            &mittente,
            Cartella::Inviata,
            chiave,
            busta.clone(),
            Ammissione::Forzata,
        );
        p.registra(&eventi, &mittente);
        p
    };
    if locali.is_empty() {
        d.piano = proprio(true);
        return Ok(d);
    }
    // Our own boxes are delivered in the same transaction: no queue round trip, and "taken"
    // means "delivered" in the common case. If a box refuses, the alternative queues every
    // local recipient so the worker answers each with its own outcome.
    d.piano = proprio(false);
    let b = Busta {
        letta: &letta,
        contenuto: busta.clone(),
        mittente: &mittente,
        identificativo,
    };
    consegna(&mut d, &b, &locali, nuovo_id, provider, r)?;
    d.altrimenti = Some(proprio(true));
    Ok(d)
}

/// The effects of a message not accepted: the notice to the sender (position 0), the
/// quarantine copy of `originale` when it is infected, the log.
pub fn non_accettata(
    n: NonAccettazione,
    identificativo: &str,
    originale: &[u8],
    r: &Instradamento<'_>,
) -> Decisione {
    let mut d = Decisione::new(None);
    let avviso = d.firma(n.avviso);
    let cosa = match &n.motivo {
        Motivo::Virus(_) => Cosa::NonAccettazioneVirus,
        _ => Cosa::NonAccettazione,
    };
    d.piano
        .al_mittente(&n.mittente, identificativo, cosa, avviso);
    if n.quarantena {
        d.piano.quarantena(r, originale.into());
    }
    d.piano.registra(&n.eventi, &n.mittente);
    d
}
