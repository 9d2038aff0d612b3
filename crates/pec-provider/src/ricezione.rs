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

mod firma;

use crate::clock::Clock;
use crate::comune::Parti;
use crate::domini::Domini;
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use crate::esecutore::{Esecutore, Eseguito};
use crate::ids::Ids;
use crate::indice::Directory;
use crate::scadenze::Scadenze;
use crate::virus::{Punto, Scansione};
use pec_core::effetti::{self, Arrivato};
use pec_core::ricezione::{
    self, Arrivo as ArrivoCore, Contesto, EsitoRicezione, Estranei, IdRicezione, Politica, Rifiuto,
};
use pec_core::{MessageKind, Provider, RiferimentoTemporale};
use std::sync::Arc;
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
    esecutore: Esecutore,
    ids: Arc<Ids>,
    provider: Provider,
    domini: Domini,
    indice: Arc<Directory>,
    clock: Arc<Clock>,
    politica: Politica,
    scansione: Arc<Scansione>,
    scadenze: Arc<Scadenze>,
}

impl PuntoRicezione {
    /// Takes what it uses from the shared parts, the scanner and the checks it asks whose
    /// envelope a receipt is about.
    pub(crate) fn new(
        p: &Parti,
        politica: Politica,
        scansione: Arc<Scansione>,
        scadenze: Arc<Scadenze>,
    ) -> Self {
        Self {
            esecutore: Esecutore::new(p),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            domini: p.domini.clone(),
            indice: p.indice.clone(),
            clock: p.clock.clone(),
            politica,
            scansione,
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
        let rifiuto = self.annota(&esito, &s.mail_from, s.peer);
        let ricevuta = match &esito {
            EsitoRicezione::Ricevuta {
                kind,
                identificativo,
                ..
            } => Some((*kind, identificativo.clone())),
            _ => None,
        };
        let mut nuovo_id = || self.ids.next(now);
        let arrivato = Arrivato {
            raw: &raw,
            mail_from: &s.mail_from,
            provider: &self.provider,
            nuovo_id: &mut nuovo_id,
        };
        let decisioni = self
            .domini
            .instrada(now, |r| effetti::ricezione(esito, arrivato, r))
            .ctx("receiving point")?;
        for (i, d) in decisioni.into_iter().enumerate() {
            match self.esecutore.esegui(d, now, None).await? {
                Eseguito::Fatto { nuovo: false } if i == 0 => {
                    if let Some((kind, id)) = &ricevuta {
                        tracing::info!(
                            "inbound {} about {id}: a copy of one already stored, not stored again",
                            kind.name()
                        );
                    }
                }
                Eseguito::Fatto { .. } => {}
                Eseguito::Rifiutato(stato) => {
                    return Err(Errore::Regola(format!("a box refused ({stato:?})")))
                }
            }
        }
        Ok(rifiuto)
    }

    /// The operator's lines about a decision, and the SMTP refusal it means, if any.
    fn annota(
        &self,
        esito: &EsitoRicezione,
        mail_from: &str,
        peer: std::net::SocketAddr,
    ) -> Option<RifiutoSmtp> {
        let estranei = match esito {
            EsitoRicezione::Anomalia { motivo, .. } => {
                tracing::info!("inbound from {mail_from} ({peer}): busta di anomalia: {motivo}");
                None
            }
            EsitoRicezione::Rifiutata { perche, motivo, .. } => {
                tracing::warn!("inbound from {mail_from} ({peer}): {motivo}, refused");
                // PEC-SPEC §2.3: ordinary mail refused by policy; anything infected but a
                // valid envelope dropped before it enters the PEC system.
                let (codice, enhanced) = match perche {
                    Rifiuto::Politica => (550, "5.7.1"),
                    Rifiuto::Virus(_) => (554, "5.7.0"),
                };
                return Some(RifiutoSmtp {
                    codice,
                    enhanced,
                    testo: motivo.clone(),
                });
            }
            EsitoRicezione::Infetta {
                busta,
                virus,
                estranei,
                ..
            } => {
                let id = &busta.daticert.dati.identificativo;
                tracing::info!("inbound envelope {id}: virus {virus}, quarantined");
                estranei.as_ref()
            }
            EsitoRicezione::Ricevuta {
                kind,
                daticert,
                estranei,
                ..
            } => {
                let mittente = &daticert.intestazione.mittente;
                if *kind == MessageKind::RilevazioneVirus && !self.domini.locale(mittente) {
                    tracing::warn!(
                        "rilevazione virus about {}: sender {mittente} is not ours, no notice",
                        daticert.dati.identificativo
                    );
                }
                estranei.as_ref()
            }
            EsitoRicezione::Busta { estranei, .. } => estranei.as_ref(),
            EsitoRicezione::RicevutaDaSmistare(_) => None,
        };
        match estranei {
            Some(Estranei::Anomalia {
                motivo,
                destinatari,
                ..
            }) => tracing::info!(
                "inbound: {} not certified by the message, busta di anomalia: {motivo}",
                destinatari.join(", ")
            ),
            Some(Estranei::Rifiutati { destinatari, .. }) => tracing::warn!(
                "inbound: {} not certified by the message, refused",
                destinatari.join(", ")
            ),
            None => {}
        }
        None
    }
}
