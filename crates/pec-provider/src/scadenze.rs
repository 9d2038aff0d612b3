//! The sender side's 12 h / 24 h checks (PEC-SPEC §4.9; the rules are `pec_core::scadenze`).
//!
//! Each certified recipient at another provider gets two queue items when its envelope is
//! accepted ([`controlli`]), due 12 h and 23 h 30 min later. A receipt about that recipient
//! cancels the checks it answers in the same transaction that files it ([`Scadenze::annulla`]);
//! a check that comes due was therefore not answered, and [`Scadenze::esegui`] sends its
//! notice to the sender. After the 24 h one the relay of that envelope stops.
//!
//! The 24 h item is kept whatever its state: it is how the receiving point knows that a
//! receipt is about an envelope we sent, and whose ([`Scadenze::mittente_di`]).

use crate::clock::Clock;
use crate::comune::{accoda, deposita, indirizzo, registra, Firmatario, Parti, Registro};
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use crate::ids::Ids;
use chrono::{DateTime, Utc};
use pec_core::builder::{DatiMessaggio, Scadenza};
use pec_core::chiave::Chiave;
use pec_core::lavoro::{Controllo, Lavoro};
use pec_core::{scadenze, Emissione, Provider, RiferimentoTemporale};
use pec_store::{Batch, Operation, QueueStatus, SqliteStore, Store};
use std::sync::Arc;

/// The two checks of a certified remote recipient, due from `inviato` (PEC-SPEC §4.9).
pub(crate) fn controlli(
    destinatario: &str,
    mittente: &str,
    identificativo: &str,
    daticert_xml: &[u8],
    inviato: DateTime<Utc>,
) -> Result<Vec<Operation>> {
    scadenze::scadenze(inviato)
        .into_iter()
        .map(|(scadenza, due)| {
            let controllo = Controllo {
                destinatario: destinatario.to_string(),
                mittente: mittente.to_string(),
                identificativo: identificativo.to_string(),
                scadenza,
            };
            let chiave = controllo.chiave();
            let l = Lavoro::Controllo {
                controllo,
                daticert: daticert_xml,
            };
            accoda(chiave, &l, due)
        })
        .collect()
}

/// The 12 h / 24 h checks.
pub struct Scadenze {
    store: SqliteStore,
    registro: Registro,
    firma: Firmatario,
    ids: Arc<Ids>,
    provider: Provider,
    clock: Arc<Clock>,
}

impl Scadenze {
    /// Takes what it uses from the shared parts.
    pub(crate) fn new(p: &Parti) -> Self {
        Self {
            store: p.store.clone(),
            registro: p.registro.clone(),
            firma: p.firma.clone(),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            clock: p.clock.clone(),
        }
    }

    /// Cancels the checks `which` of one recipient of one of our envelopes, where they are
    /// still scheduled, in `batch`.
    pub(crate) async fn annulla(
        &self,
        batch: &mut Batch,
        identificativo: &str,
        destinatario: &str,
        which: &[Scadenza],
    ) -> Result<()> {
        for s in which {
            let key: String = Chiave::Scadenza {
                scadenza: *s,
                identificativo: identificativo.to_string(),
                destinatario: destinatario.to_ascii_lowercase(),
            }
            .into();
            let Some(item) = self.store.queue_item(&key).await? else {
                continue;
            };
            if item.status == QueueStatus::Scheduled {
                batch.push(Operation::CompleteQueueItem { key });
            }
        }
        Ok(())
    }

    /// The sender of our envelope `identificativo` to `destinatario`, from its 24 h check
    /// (kept whatever its state); `None` when we never sent it there.
    pub(crate) async fn mittente_di(
        &self,
        identificativo: &str,
        destinatario: &str,
    ) -> Result<Option<String>> {
        let key: String = Chiave::Scadenza {
            scadenza: Scadenza::Ore24,
            identificativo: identificativo.to_string(),
            destinatario: destinatario.to_ascii_lowercase(),
        }
        .into();
        let Some(item) = self.store.queue_item(&key).await? else {
            return Ok(None);
        };
        match Lavoro::leggi(&item.kind, &item.payload)? {
            Lavoro::Controllo { controllo, .. } => Ok(Some(controllo.mittente)),
            other => Err(Errore::Regola(format!("{key} is a {} item", other.tipo()))),
        }
    }

    /// A check came due and was not cancelled: the notice to the sender (PEC-SPEC §4.9).
    /// After the 24 h one we stop trying to relay that envelope.
    pub(crate) async fn esegui(&self, chiave: &str, c: &Controllo, daticert: &[u8]) -> Result<()> {
        let daticert =
            pec_core::daticert::Daticert::from_xml(daticert).ctx("the envelope's daticert")?;
        let dati = DatiMessaggio::da_daticert(&daticert);
        let now = self.clock.now();
        let id = self.ids.next(now);
        let e = Emissione {
            provider: &self.provider,
            data: RiferimentoTemporale::from_utc(now),
            message_id: &id,
        };
        let avviso = scadenze::avviso(c.scadenza, &e, &dati, &c.destinatario)
            .ctx("the 12 h / 24 h notice")?;
        let evento = scadenze::evento(c.scadenza, &e, &dati, &c.destinatario);
        let signed = self.firma.uno(avviso).await?;
        let sender = indirizzo(&c.mittente)?;
        let mut batch = Batch::new();
        let avviso = Chiave::Avviso {
            scadenza: c.scadenza,
            identificativo: c.identificativo.clone(),
            destinatario: c.destinatario.clone(),
            mittente: sender.to_string(),
        };
        batch.push(deposita(&sender, "INBOX", avviso, signed, now));
        if c.scadenza == Scadenza::Ore24 {
            let relay: String = Chiave::Inoltro {
                identificativo: c.identificativo.clone(),
                destinatario: c.destinatario.clone(),
                cosa: None,
            }
            .into();
            if let Some(r) = self.store.queue_item(&relay).await? {
                if r.status == QueueStatus::Scheduled {
                    batch.push(Operation::FailQueueItem {
                        key: relay,
                        error: "24 h without delivery (PEC-SPEC §4.9)".into(),
                    });
                }
            }
        }
        batch.push(Operation::CompleteQueueItem {
            key: chiave.to_string(),
        });
        registra(&mut batch, std::slice::from_ref(&evento), &c.mittente);
        self.registro
            .commit(batch, &[std::slice::from_ref(&evento)])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_due_at_12_and_23_30_hours() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let ops = controlli("r@pec.b.test", "s@pec.a.test", "id@a", b"<x/>", t).unwrap();
        let dues: Vec<_> = ops
            .iter()
            .map(|o| match o {
                Operation::Enqueue(q) => (q.key.clone(), (q.due - t).num_minutes()),
                _ => panic!("not an enqueue"),
            })
            .collect();
        assert_eq!(
            dues,
            vec![
                ("scadenza:12h:id@a:r@pec.b.test".to_string(), 12 * 60),
                ("scadenza:24h:id@a:r@pec.b.test".to_string(), 23 * 60 + 30),
            ]
        );
    }
}
