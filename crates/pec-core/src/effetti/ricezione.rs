//! Where the receiving point's outcome goes (PEC-SPEC §2.3 incoming point, §4.6, §4.9–§4.11).
//!
//! * A valid envelope: the presa in carico to the sending provider's `mailReceipt`, and the
//!   delivery to each local recipient in the same transaction (presumed active; the
//!   alternative queues them).
//! * An infected valid envelope: the presa in carico, an avviso di rilevazione virus per
//!   recipient to the sending provider, the quarantine copy; no delivery.
//! * A receipt about one of our envelopes: into its box if that box is still active, the
//!   checks it answers closed, and for a rilevazione virus our user's avviso di mancata
//!   consegna per virus.
//! * Anything else: a busta di anomalia in each active box it names, or just the log.
//!
//! Each arrival is applied once (its key), so a replay stores, logs and sends nothing twice.

use super::consegna::{consegna, Busta};
use super::{Ammissione, Cartella, Contenuto, Decisione, EffettiError, Instradamento, Piano};
use crate::chiave::{self, Arrivo, Chiave, Cosa};
use crate::consegna::{BustaRicevuta, StatoCasella};
use crate::lavoro::{Compito, Recapito};
use crate::registro::Evento;
use crate::ricezione::{EsitoRicezione, Estranei};
use crate::{scadenze, virus, MessageKind, Provider, RiferimentoTemporale, UnsignedMessage};
use std::sync::Arc;

/// What the receiving point's effects need besides its decision.
pub struct Arrivato<'a, 'b> {
    /// The message as received (the quarantine keeps it, an anomaly is keyed by it).
    pub raw: &'a [u8],
    /// Its MAIL FROM.
    pub mail_from: &'a str,
    /// Us.
    pub provider: &'a Provider,
    /// Draws the Message-ID of each receipt or notice the effects build.
    pub nuovo_id: &'b mut dyn FnMut() -> String,
}

/// The effects of what the receiving point decided, in the order to apply them: the arrival's
/// own, then what the recipients the message does not certify get. A receipt still to place
/// (`RicevutaDaSmistare`) must be placed first.
pub fn ricezione(
    esito: EsitoRicezione,
    a: Arrivato<'_, '_>,
    r: &Instradamento<'_>,
) -> Result<Vec<Decisione>, EffettiError> {
    let (d, estranei) = match esito {
        EsitoRicezione::Busta {
            presa_in_carico,
            mail_receipt,
            busta,
            consegnata,
            destinatari,
            eventi,
            estranei,
            ..
        } => {
            let id = senza_parentesi(&busta.daticert.dati.identificativo);
            let mut d = Decisione::new(None);
            let p = Presa {
                contenuto: d.firma(presa_in_carico),
                mail_receipt: &mail_receipt,
                identificativo: &id,
                destinatari: &destinatari,
                eventi: &eventi,
                mittente: &busta.daticert.intestazione.mittente,
            };
            busta_valida(
                &mut d,
                &p,
                &busta,
                consegnata.into(),
                a.provider,
                a.nuovo_id,
                r,
            )?;
            let arrivo = Arrivo::Busta(busta.daticert.dati.identificativo.trim().into());
            (d, estranei.map(|e| (e, arrivo)))
        }
        EsitoRicezione::Infetta {
            presa_in_carico,
            mail_receipt,
            rilevazioni,
            busta,
            destinatari,
            eventi,
            estranei,
            ..
        } => {
            let id = busta.daticert.dati.identificativo.clone();
            let mut d = Decisione::new(None);
            let p = Presa {
                contenuto: d.firma(presa_in_carico),
                mail_receipt: &mail_receipt,
                identificativo: &id,
                destinatari: &destinatari,
                eventi: &eventi,
                mittente: &busta.daticert.intestazione.mittente,
            };
            d.piano = p.piano(r);
            d.piano.quarantena(r, a.raw.into());
            for (x, rilevazione) in destinatari.iter().zip(rilevazioni) {
                let c = d.firma(rilevazione);
                d.piano
                    .ricevuta_verso(r, &mail_receipt, &id, Cosa::Virus(x.clone()), c);
            }
            let arrivo = Arrivo::Infetta(id.trim().into());
            (d, estranei.map(|e| (e, arrivo)))
        }
        EsitoRicezione::Ricevuta {
            kind,
            identificativo,
            daticert,
            riguarda,
            casella,
            consegnata,
            eventi,
            estranei,
        } => {
            let cosa = Cosa::Ricevuta(kind, chiave::digest(&riguarda));
            let casella = casella.to_ascii_lowercase();
            // Once per receipt: a copy (new outer Message-ID, other bytes) logs nothing.
            let mut d = Decisione::new(Some(Chiave::Ricevuta {
                casella: casella.clone(),
                identificativo: identificativo.clone(),
                cosa: cosa.clone(),
            }));
            for x in &riguarda {
                for s in scadenze::annullate(kind) {
                    d.piano.effetti.push(super::Effetto::Chiudi {
                        chiave: Chiave::Scadenza {
                            scadenza: *s,
                            identificativo: identificativo.clone(),
                            destinatario: x.to_ascii_lowercase(),
                        },
                    });
                }
            }
            let mittente = &daticert.intestazione.mittente;
            if kind == MessageKind::RilevazioneVirus && (r.locale)(mittente) {
                // PEC-SPEC §4.11: our user learns the message was not delivered.
                let id = (a.nuovo_id)();
                let data = RiferimentoTemporale::from_utc(r.ora);
                let m = virus::mancata_consegna(&daticert, a.provider, data, &id)?;
                let avviso = d.firma(m.avviso);
                let cosa = Cosa::MancataConsegnaVirus(m.destinatario.to_ascii_lowercase());
                d.piano
                    .al_mittente(&m.mittente, &daticert.dati.identificativo, cosa, avviso);
                d.piano.registra(&m.eventi, &m.mittente);
            }
            // A box deleted since it sent the envelope: the checks are still closed and the
            // receipt logged, or the sending provider would be told 451 for days.
            let chiave = Chiave::Casella {
                casella: casella.clone(),
                identificativo: identificativo.clone(),
                cosa: cosa.clone(),
            };
            d.piano.deposita(
                &casella,
                Cartella::Inbox,
                chiave,
                Contenuto::Dati(consegnata.into()),
                Ammissione::SeAttiva,
            );
            let mittente = eventi.first().map(|e| e.mittente.clone());
            d.piano.registra(&eventi, &mittente.unwrap_or_default());
            if scadenze::annullate(kind).contains(&crate::builder::Scadenza::Ore24) {
                d.piano.chiusi_remoti += 1;
            }
            (
                d,
                estranei.map(|e| (e, Arrivo::Ricevuta(identificativo, cosa))),
            )
        }
        EsitoRicezione::Anomalia {
            busta,
            destinatari,
            eventi,
            ..
        } => {
            // The same bytes to the same boxes again are the same arrival: stored and logged
            // once.
            let tag = chiave::tag(a.raw);
            let una_volta = Chiave::ArrivoAnomalo {
                tag: tag.clone(),
                destinatari: chiave::digest(&destinatari),
            };
            let d = anomalia(
                una_volta,
                &tag,
                Some((busta, &destinatari)),
                &eventi,
                a.mail_from,
            );
            (d, None)
        }
        EsitoRicezione::Rifiutata { eventi, .. } => {
            let mut d = Decisione::new(None);
            d.piano.registra(&eventi, a.mail_from);
            (d, None)
        }
        EsitoRicezione::RicevutaDaSmistare(_) => return Err(EffettiError::DaSmistare),
    };
    let mut out = vec![d];
    if let Some((e, arrivo)) = estranei {
        out.push(estranei_di(e, arrivo, a.mail_from));
    }
    Ok(out)
}

/// The receiving point's own part of a valid envelope.
struct Presa<'a> {
    /// The presa in carico, signed.
    contenuto: Contenuto,
    mail_receipt: &'a str,
    identificativo: &'a str,
    destinatari: &'a [String],
    eventi: &'a [Evento],
    mittente: &'a str,
}

impl Presa<'_> {
    /// The presa in carico on its way to the sending provider's `mailReceipt`, and the log
    /// events; once per envelope and set of recipients.
    fn piano(&self, r: &Instradamento<'_>) -> Piano {
        let cosa = Cosa::Presa(chiave::digest(self.destinatari));
        let mut p = Piano::new(Some(Chiave::Presa {
            identificativo: self.identificativo.to_string(),
            cosa: cosa.clone(),
        }));
        let c = self.contenuto.clone();
        p.ricevuta_verso(r, self.mail_receipt, self.identificativo, cosa, c);
        p.registra(self.eventi, self.mittente);
        p
    }
}

/// A valid envelope: the presa in carico and the delivery to our boxes; if one refuses, the
/// same presa with the deliveries queued.
fn busta_valida(
    d: &mut Decisione,
    p: &Presa<'_>,
    busta: &BustaRicevuta,
    consegnata: Arc<[u8]>,
    provider: &Provider,
    nuovo_id: &mut dyn FnMut() -> String,
    r: &Instradamento<'_>,
) -> Result<(), EffettiError> {
    let locali: Vec<(String, StatoCasella)> = p
        .destinatari
        .iter()
        .map(|x| (x.clone(), StatoCasella::Attiva))
        .collect();
    d.piano = p.piano(r);
    let b = Busta {
        letta: busta,
        contenuto: Contenuto::Dati(consegnata.clone()),
        mittente: p.mittente,
        identificativo: p.identificativo,
    };
    consegna(d, &b, &locali, nuovo_id, provider, r)?;
    let mut altrimenti = p.piano(r);
    for (x, _) in &locali {
        let recapito = Recapito {
            destinatario: x.to_ascii_lowercase(),
            mittente: p.mittente.to_string(),
            identificativo: p.identificativo.to_string(),
        };
        altrimenti.accoda(
            recapito.chiave(),
            Compito::Consegna(recapito),
            Contenuto::Dati(consegnata.clone()),
            r.ora,
        );
    }
    d.altrimenti = Some(altrimenti);
    Ok(())
}

/// A busta di anomalia (signed at position 0) in each active box it names, keyed by `tag`
/// (what it wraps), and the log; once under `una_volta`. Without an envelope, the log only.
fn anomalia(
    una_volta: Chiave,
    tag: &str,
    busta: Option<(UnsignedMessage, &[String])>,
    eventi: &[Evento],
    mail_from: &str,
) -> Decisione {
    let mut d = Decisione::new(Some(una_volta));
    if let Some((busta, destinatari)) = busta {
        let c = d.firma(busta);
        for x in destinatari {
            let chiave = Chiave::Anomalia {
                casella: x.to_ascii_lowercase(),
                tag: tag.to_string(),
            };
            d.piano
                .deposita(x, Cartella::Inbox, chiave, c.clone(), Ammissione::SeAttiva);
        }
    }
    d.piano.registra(eventi, mail_from);
    d
}

/// What the local RCPT TO that a valid message does not certify get, once per arrival and
/// set of such recipients.
fn estranei_di(e: Estranei, arrivo: Arrivo, mail_from: &str) -> Decisione {
    let tag = chiave::tag(arrivo.to_string().as_bytes());
    let una_volta = Chiave::Estranei {
        arrivo,
        destinatari: chiave::digest(e.destinatari()),
    };
    match e {
        Estranei::Anomalia {
            busta,
            destinatari,
            eventi,
            ..
        } => anomalia(
            una_volta,
            &tag,
            Some((busta, &destinatari)),
            &eventi,
            mail_from,
        ),
        Estranei::Rifiutati { eventi, .. } => anomalia(una_volta, &tag, None, &eventi, mail_from),
    }
}

/// `a@b` from ` <a@b> `.
fn senza_parentesi(id: &str) -> String {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id)
        .to_string()
}
