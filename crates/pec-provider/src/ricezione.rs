//! The receiving point (PEC-SPEC §2.3 "Incoming point"): other providers' envelopes and
//! receipts, and ordinary Internet mail, for our domains.
//!
//! For each message: the signature is checked (`ricezione/firma.rs`, against the providers'
//! index); `pec_core::ricezione` decides; this point signs and commits what it decided in one
//! transaction before SMTP answers 250 (`ricezione/deposito.rs`):
//! * a valid busta di trasporto: the presa in carico, queued for the sending provider's
//!   `mailReceipt`, and the delivery to each local recipient with its delivery receipt or
//!   notice (queued back to the sender's provider), as the access point does for its own;
//! * a valid receipt about one of our envelopes: delivered unchanged to our user (or our
//!   service box), and the 12 h / 24 h checks it answers cancelled (PEC-SPEC §4.9); a receipt
//!   about a message we never sent becomes an anomaly (pec-core, `smista_ricevuta`);
//! * anything else: a busta di anomalia for each local box, or a 5xx (`[receiving]
//!   ordinary_mail = "refuse"`);
//! * with `[antivirus] receiving`, everything is scanned first: an infected valid envelope
//!   gets the presa in carico and an avviso di rilevazione virus per local recipient instead
//!   of delivery, anything else infected a 554, and a rilevazione virus about one of our
//!   envelopes also gives our user the avviso di mancata consegna per virus
//!   (`ricezione/virus.rs`).
//!
//! Every outcome is keyed by the message it is about, so a replayed envelope stores and sends
//! nothing twice.

mod deposito;
mod firma;
mod virus;

use crate::clock::Clock;
use crate::comune::{registra, Contatori, Firmatario, Parti, Registro};
use crate::consegna::PuntoConsegna;
use crate::domini::Domini;
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use crate::ids::Ids;
use crate::indice::Directory;
use crate::quarantena::Quarantena;
use crate::scadenze::Scadenze;
use crate::virus::{Punto, Scansione};
use pec_core::chiave::{self, Arrivo, Chiave, Cosa};
use pec_core::ricezione::{
    self, Arrivo as ArrivoCore, Contesto, EsitoRicezione, IdRicezione, Politica, Rifiuto,
};
use pec_core::{scadenze, Provider, RiferimentoTemporale};
use pec_store::{Batch, SqliteStore};
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::Instrument as _;

/// A message as the inbound SMTP listener received it.
#[derive(Debug)]
pub struct Messaggio {
    /// MAIL FROM, without angle brackets.
    pub mail_from: String,
    /// RCPT TO, all in our domains (see [`PuntoRicezione::accetta_destinatario`]).
    pub rcpt_to: Vec<String>,
    /// The message as received.
    pub data: Vec<u8>,
    /// Who sent it, for the operator's lines.
    pub peer: std::net::SocketAddr,
}

/// A permanent SMTP refusal the receiving point decided (policy, virus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RifiutoSmtp {
    /// Reply code.
    pub codice: u16,
    /// Enhanced status code.
    pub enhanced: &'static str,
    /// Reply text.
    pub testo: String,
}

/// The receiving point.
pub struct PuntoRicezione {
    store: SqliteStore,
    registro: Registro,
    firma: Firmatario,
    ids: Arc<Ids>,
    provider: Provider,
    domini: Domini,
    indice: Arc<Directory>,
    clock: Arc<Clock>,
    contatori: Arc<Contatori>,
    lavoro: Arc<Notify>,
    politica: Politica,
    scansione: Arc<Scansione>,
    quarantena: Arc<Quarantena>,
    consegna: Arc<PuntoConsegna>,
    scadenze: Arc<Scadenze>,
}

impl PuntoRicezione {
    /// Takes what it uses from the shared parts, and the points it hands work to.
    pub(crate) fn new(
        p: &Parti,
        politica: Politica,
        scansione: Arc<Scansione>,
        quarantena: Arc<Quarantena>,
        consegna: Arc<PuntoConsegna>,
        scadenze: Arc<Scadenze>,
    ) -> Self {
        Self {
            store: p.store.clone(),
            registro: p.registro.clone(),
            firma: p.firma.clone(),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            domini: p.domini.clone(),
            indice: p.indice.clone(),
            clock: p.clock.clone(),
            contatori: p.contatori.clone(),
            lavoro: p.lavoro.clone(),
            politica,
            scansione,
            quarantena,
            consegna,
            scadenze,
        }
    }

    /// Whether RCPT TO `rcpt` is taken: only addresses of our domains (no open relay).
    pub fn accetta_destinatario(&self, rcpt: &str) -> bool {
        self.domini.locale(rcpt)
    }

    /// Receives one message; `Some(refusal)` when it is refused. `Err` is temporary (4xx):
    /// nothing was stored.
    pub async fn ricevi(&self, s: Messaggio) -> Result<Option<RifiutoSmtp>> {
        let span = tracing::info_span!(
            "ricezione",
            mail_from = %s.mail_from,
            msgid = tracing::field::Empty
        );
        self.ricevi_in(s).instrument(span).await
    }

    async fn ricevi_in(&self, s: Messaggio) -> Result<Option<RifiutoSmtp>> {
        let now = self.clock.now();
        let data = RiferimentoTemporale::from_utc(now);
        // Scanned first: a scanner that gives no verdict stores nothing (4xx).
        let virus = self.scansione.scansiona(&s.data, Punto::Ricezione).await?;
        let raw = Arc::new(s.data);
        let (firma, firmato) = {
            let (indice, raw) = (self.indice.clone(), raw.clone());
            tokio::task::spawn_blocking(move || firma::verifica(&indice, &raw, now))
                .await
                .ctx("signature check")?
        };
        if let Some(problema) = firma.problema() {
            tracing::info!("inbound from {} ({}): {problema}", s.mail_from, s.peer);
        }
        let destinatari: Vec<String> = s.rcpt_to.iter().map(|r| r.to_ascii_lowercase()).collect();
        let arrivo = ArrivoCore {
            raw: &raw,
            firmato: &firmato,
            mail_from: &s.mail_from,
            destinatari: &destinatari,
            firma,
            virus: virus.as_deref(),
        };
        let (presa_id, anomalia_id) = (self.ids.next(now), self.ids.next(now));
        // One avviso di rilevazione virus per local recipient, drawn only when infected.
        let rilevazioni: Vec<String> = match virus {
            Some(_) => destinatari.iter().map(|_| self.ids.next(now)).collect(),
            None => Vec::new(),
        };
        let ids = IdRicezione {
            presa_in_carico: &presa_id,
            anomalia: &anomalia_id,
            rilevazioni: &rilevazioni,
        };
        let contesto = Contesto {
            provider: &self.provider,
            data,
            ids: &ids,
            politica: self.politica,
        };
        let esito = ricezione::punto_ricezione(&arrivo, &contesto).ctx("receiving point")?;
        if let Some(id) = esito.identificativo() {
            tracing::Span::current().record("msgid", id);
        }
        let esito = match esito {
            EsitoRicezione::RicevutaDaSmistare(r) => {
                // Is it about an envelope of ours, and whose? Our 24 h check of each
                // certified recipient we sent it to keeps the sender.
                let mut mittente = None;
                for dest in &r.riguarda {
                    if let Some(m) = self.scadenze.mittente_di(&r.identificativo, dest).await? {
                        mittente = Some(m);
                        break;
                    }
                }
                if mittente.is_none() {
                    tracing::info!(
                        "inbound {} about {}: not a message we sent, anomaly",
                        r.kind.name(),
                        r.identificativo
                    );
                }
                ricezione::smista_ricevuta(&arrivo, *r, mittente.as_deref(), &contesto)
                    .ctx("receiving point")?
            }
            other => other,
        };
        match esito {
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
                let presa = self.firma.uno(presa_in_carico).await?;
                let consegnata: Arc<[u8]> = consegnata.into();
                let b = deposito::Ricevuta {
                    busta: &busta,
                    presa: &presa,
                    mail_receipt: &mail_receipt,
                    destinatari: &destinatari,
                    eventi: &eventi,
                };
                self.busta(&b, &consegnata, now).await?;
                let arrivo_busta = Arrivo::Busta(busta.daticert.dati.identificativo.trim().into());
                self.commit_estranei(estranei, arrivo_busta, arrivo.mail_from, now)
                    .await?;
                Ok(None)
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
                // Once per receipt: a copy (new outer Message-ID, other bytes) logs nothing.
                let mut batch = Batch::once(Chiave::Ricevuta {
                    casella: casella.clone(),
                    identificativo: identificativo.clone(),
                    cosa: cosa.clone(),
                });
                for r in &riguarda {
                    self.scadenze
                        .annulla(&mut batch, &identificativo, r, scadenze::annullate(kind))
                        .await?;
                }
                let avvisi = if kind == pec_core::MessageKind::RilevazioneVirus {
                    self.mancata_consegna_virus(&mut batch, &daticert, now)
                        .await?
                } else {
                    Vec::new()
                };
                let r = deposito::RicevutaNostra {
                    kind,
                    identificativo: &identificativo,
                    cosa: &cosa,
                    casella: &casella,
                    bytes: consegnata,
                    eventi: &eventi,
                };
                if self.ricevuta(batch, r, now).await? {
                    self.registro.annuncia(&avvisi);
                }
                let arrivo_ricevuta = Arrivo::Ricevuta(identificativo, cosa);
                self.commit_estranei(estranei, arrivo_ricevuta, arrivo.mail_from, now)
                    .await?;
                Ok(None)
            }
            EsitoRicezione::Infetta {
                presa_in_carico,
                mail_receipt,
                rilevazioni,
                busta,
                destinatari,
                virus,
                eventi,
                estranei,
            } => {
                let arrivo_infetta =
                    Arrivo::Infetta(busta.daticert.dati.identificativo.trim().into());
                let infetta = EsitoRicezione::Infetta {
                    presa_in_carico,
                    mail_receipt,
                    rilevazioni,
                    busta,
                    destinatari,
                    virus,
                    eventi,
                    estranei: None,
                };
                self.busta_infetta(infetta, &raw, now).await?;
                self.commit_estranei(estranei, arrivo_infetta, arrivo.mail_from, now)
                    .await?;
                Ok(None)
            }
            EsitoRicezione::Anomalia {
                busta,
                motivo,
                destinatari,
                eventi,
            } => {
                tracing::info!(
                    "inbound from {} ({}): busta di anomalia: {motivo}",
                    s.mail_from,
                    s.peer
                );
                // The same bytes to the same boxes again are the same arrival: stored and
                // logged once.
                let tag = chiave::tag(&raw);
                let once = Chiave::ArrivoAnomalo {
                    tag: tag.clone(),
                    destinatari: chiave::digest(&destinatari),
                };
                let signed = self.firma.uno(busta).await?;
                let anomalia = Some((signed.as_slice(), destinatari.as_slice()));
                self.commit_anomalia(once, &tag, anomalia, &eventi, &s.mail_from, now)
                    .await?;
                Ok(None)
            }
            EsitoRicezione::Rifiutata {
                perche,
                motivo,
                eventi,
            } => {
                tracing::warn!(
                    "inbound from {} ({}): {motivo}, refused",
                    s.mail_from,
                    s.peer
                );
                let mut batch = Batch::new();
                registra(&mut batch, &eventi, &s.mail_from);
                self.registro.commit(batch, &[&eventi]).await?;
                // PEC-SPEC §2.3: ordinary mail refused by policy; anything infected but a
                // valid envelope dropped before it enters the PEC system.
                let (codice, enhanced) = match perche {
                    Rifiuto::Politica => (550, "5.7.1"),
                    Rifiuto::Virus(_) => (554, "5.7.0"),
                };
                Ok(Some(RifiutoSmtp {
                    codice,
                    enhanced,
                    testo: motivo,
                }))
            }
            EsitoRicezione::RicevutaDaSmistare(_) => {
                Err(Errore::Regola("receipt placed above".into()))
            }
        }
    }
}
