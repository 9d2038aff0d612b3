//! The sender side's 12 h / 24 h checks (PEC-SPEC §4.9; the rules are `pec_core::scadenze`).
//!
//! Each certified recipient at another provider gets two queue items when its envelope is
//! accepted (`pec_core::effetti::controlli`), due 12 h and 23 h 30 min later. A receipt about
//! that recipient closes the checks it answers in the same transaction that files it
//! (`pec_core::effetti::ricezione`); a check that comes due was therefore not answered, and
//! [`Scadenze::esegui`] sends its notice to the sender. After the 24 h one the relay of that
//! envelope stops.
//!
//! The 24 h item is kept whatever its state: it is how the receiving point knows that a
//! receipt is about an envelope we sent, and whose ([`Scadenze::mittente_di`]).

use crate::clock::Clock;
use crate::comune::Parti;
use crate::domini::Domini;
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use crate::esecutore::{Esecutore, Fine};
use crate::ids::Ids;
use pec_core::builder::Scadenza;
use pec_core::chiave::Chiave;
use pec_core::effetti;
use pec_core::lavoro::{Compito, Controllo, Lavoro};
use pec_core::Provider;
use pec_store::{SqliteStore, Store};
use std::sync::Arc;

/// The 12 h / 24 h checks.
pub struct Scadenze {
    store: SqliteStore,
    esecutore: Esecutore,
    ids: Arc<Ids>,
    provider: Provider,
    domini: Domini,
    clock: Arc<Clock>,
}

impl Scadenze {
    /// Takes what it uses from the shared parts.
    pub(crate) fn new(p: &Parti) -> Self {
        Self {
            store: p.store.clone(),
            esecutore: Esecutore::new(p),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            domini: p.domini.clone(),
            clock: p.clock.clone(),
        }
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
        match Lavoro::leggi(&item.kind, &item.payload, None)?.compito {
            Compito::Controllo(controllo) => Ok(Some(controllo.mittente)),
            other => Err(Errore::Regola(format!("{key} is a {} item", other.tipo()))),
        }
    }

    /// A check came due and was not closed: the notice to the sender (pec-core's
    /// `effetti::avviso_scadenza`), with the item done, in one transaction.
    pub(crate) async fn esegui(&self, chiave: &str, c: &Controllo, daticert: &[u8]) -> Result<()> {
        let now = self.clock.now();
        let id = self.ids.next(now);
        let d = self
            .domini
            .instrada(now, |r| {
                effetti::avviso_scadenza(c, daticert, &id, &self.provider, r)
            })
            .ctx("the 12 h / 24 h notice")?;
        let fine = Fine::Fatto(chiave.to_string());
        self.esecutore.esegui_tutto(d, now, Some(&fine)).await?;
        Ok(())
    }
}
