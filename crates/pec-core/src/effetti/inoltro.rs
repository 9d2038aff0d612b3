//! Where a send to another provider ends (PEC-SPEC §4.8, §9.2): the log of our envelope's
//! fate, and when the other side refused it for good the avviso di mancata consegna to our
//! sender with the recipient's 12 h / 24 h checks closed. Receipts we send get no notice
//! whatever happens to them.

use super::{Decisione, EffettiError, Effetto, Instradamento};
use crate::builder::DatiMessaggio;
use crate::chiave::{Chiave, Cosa};
use crate::consegna::BustaRicevuta;
use crate::inoltro::{rifiutata, RifiutoRemoto};
use crate::lavoro::Spedizione;
use crate::registro::{Evento, TipoEvento};
use crate::{Emissione, Provider, RiferimentoTemporale};

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EsitoInoltro {
    /// The other provider took it; `gestore` is its name in the providers' index.
    Accettato {
        /// The receiving provider, when the index knows it.
        gestore: Option<String>,
    },
    /// Refused for good (5xx, unknown domain).
    Rifiutato(RifiutoRemoto),
    /// Temporary failures until the rules said to give up (24 h after acceptance).
    Abbandonato(String),
}

/// The effects of what became of sending `messaggio` as `s` says.
pub fn inoltro(
    s: &Spedizione,
    esito: EsitoInoltro,
    messaggio: &[u8],
    provider: &Provider,
    nuovo_id: &mut dyn FnMut() -> String,
    r: &Instradamento<'_>,
) -> Result<Decisione, EffettiError> {
    let mut d = Decisione::new(None);
    if !s.busta {
        return Ok(d);
    }
    let data = RiferimentoTemporale::from_utc(r.ora);
    let tipo = match esito {
        EsitoInoltro::Accettato { gestore } => TipoEvento::BustaInoltrata {
            destinatario: s.destinatario.clone(),
            gestore,
        },
        EsitoInoltro::Abbandonato(errore) => TipoEvento::InoltroFallito {
            destinatario: s.destinatario.clone(),
            errore,
        },
        EsitoInoltro::Rifiutato(rifiuto) => {
            let letta = BustaRicevuta::leggi(messaggio)?;
            let dati = DatiMessaggio::da_daticert(&letta.daticert);
            let id = nuovo_id();
            let e = Emissione {
                provider,
                data,
                message_id: &id,
            };
            let x = rifiutata(&rifiuto, &e, &dati, &s.destinatario)?;
            let avviso = d.firma(x.avviso);
            if (r.locale)(&dati.mittente) {
                let cosa = Cosa::MancataConsegna(s.destinatario.clone());
                d.piano
                    .al_mittente(&dati.mittente, &s.identificativo, cosa, avviso);
            }
            for scadenza in x.annullate {
                d.piano.effetti.push(Effetto::Chiudi {
                    chiave: Chiave::Scadenza {
                        scadenza: *scadenza,
                        identificativo: s.identificativo.clone(),
                        destinatario: s.destinatario.to_ascii_lowercase(),
                    },
                });
            }
            d.piano
                .registra(std::slice::from_ref(&x.evento), &dati.mittente);
            return Ok(d);
        }
    };
    // From the item's model event when it has one (same message data), else from the
    // envelope read again.
    let e = match &s.modello {
        Some(m) => Evento {
            data,
            evento: tipo,
            generati: Vec::new(),
            ..(**m).clone()
        },
        None => {
            let letta = BustaRicevuta::leggi(messaggio)?;
            let dati = DatiMessaggio::da_daticert(&letta.daticert);
            Evento::di(tipo, data, &dati, &provider.nome, Vec::new())
        }
    };
    d.piano.registra(std::slice::from_ref(&e), &e.mittente);
    Ok(d)
}
