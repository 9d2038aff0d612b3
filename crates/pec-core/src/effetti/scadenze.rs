//! The sender side's 12 h / 24 h checks as effects (PEC-SPEC §4.9; the rules are
//! `crate::scadenze`): two queue items per certified remote recipient when its envelope is
//! accepted, and when one comes due unanswered, the notice to the sender (after 24 h, the
//! relay of that envelope given up).

use super::Instradamento;
use super::{Ammissione, Cartella, Contenuto, Decisione, EffettiError, Effetto, Piano};
use crate::builder::{DatiMessaggio, Scadenza};
use crate::chiave::Chiave;
use crate::daticert::Daticert;
use crate::lavoro::{Compito, Controllo};
use crate::{scadenze, Emissione, Provider, RiferimentoTemporale};
use chrono::{DateTime, Utc};

/// Queues the two checks of a certified remote recipient, due from `inviato`; `daticert` is
/// the envelope's daticert.xml, kept to build the notices.
pub fn controlli(
    p: &mut Piano,
    destinatario: &str,
    mittente: &str,
    identificativo: &str,
    daticert: Contenuto,
    inviato: DateTime<Utc>,
) {
    for (scadenza, quando) in scadenze::scadenze(inviato) {
        let controllo = Controllo {
            destinatario: destinatario.to_string(),
            mittente: mittente.to_string(),
            identificativo: identificativo.to_string(),
            scadenza,
        };
        let chiave = controllo.chiave();
        p.accoda(
            chiave,
            Compito::Controllo(controllo),
            daticert.clone(),
            quando,
        );
    }
}

/// A check came due and was not closed: the notice to the sender, with `id` its Message-ID.
pub fn avviso_scadenza(
    c: &Controllo,
    daticert: &[u8],
    id: &str,
    provider: &Provider,
    r: &Instradamento<'_>,
) -> Result<Decisione, EffettiError> {
    let daticert = Daticert::from_xml(daticert)?;
    let dati = DatiMessaggio::da_daticert(&daticert);
    let e = Emissione {
        provider,
        data: RiferimentoTemporale::from_utc(r.ora),
        message_id: id,
    };
    let avviso = scadenze::avviso(c.scadenza, &e, &dati, &c.destinatario)?;
    let evento = scadenze::evento(c.scadenza, &e, &dati, &c.destinatario);
    let mut d = Decisione::new(None);
    let avviso = d.firma(avviso);
    let mittente = c.mittente.to_ascii_lowercase();
    let chiave = Chiave::Avviso {
        scadenza: c.scadenza,
        identificativo: c.identificativo.clone(),
        destinatario: c.destinatario.clone(),
        mittente: mittente.clone(),
    };
    d.piano.deposita(
        &mittente,
        Cartella::Inbox,
        chiave,
        avviso,
        Ammissione::Forzata,
    );
    if c.scadenza == Scadenza::Ore24 {
        // After 24 h the relay of that envelope stops.
        d.piano.effetti.push(Effetto::Abbandona {
            chiave: Chiave::Inoltro {
                identificativo: c.identificativo.clone(),
                destinatario: c.destinatario.clone(),
                cosa: None,
            },
            motivo: "24 h without delivery (PEC-SPEC §4.9)".into(),
        });
    }
    d.piano.registra(std::slice::from_ref(&evento), &c.mittente);
    Ok(d)
}
