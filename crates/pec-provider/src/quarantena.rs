//! The quarantine of infected messages (PEC-SPEC §4.5, §4.10, §9.3; DPR 68/2005 art. 12).
//!
//! The folder `Quarantena` of the service box: each infected message stored as it arrived
//! (never altered), keyed by the SHA-256 of its bytes so a retried message is kept once. It
//! lives in the store, so it survives restarts and backups like every box, and the operator
//! reads it over IMAP with the service box's credentials (PEC-SPEC §9.3: the sender's
//! provider "analyses why its scanner missed it"). The virus name and the message's PEC msgid
//! are in the `virus-rilevato` event of the same transaction.
//!
//! * **Kept**: `[antivirus] quarantine_months` (30 by default, never fewer: the law's
//!   minimum, `pec_core::virus::fine_conservazione`), counted from when it was stored.
//! * **Read-only over IMAP**: expunging, appending, copying into, deleting or renaming the
//!   folder is refused (tagged NO), so no mail client of the service box can shorten the
//!   retention; flags (`\Seen`) may change.
//! * **Removed after**: [`run`] checks at start, every hour, and whenever the (adjustable)
//!   clock jumps; it expunges what is past its date and logs one line.

use crate::clock::Clock;
use crate::comune::indirizzo;
use crate::errore::{Contesto as _, Risultato as Result};
use pec_core::effetti::Cartella;
use pec_core::virus::fine_conservazione;
use pec_store::{Address, Batch, Operation, SqliteStore, Store};
use std::sync::Arc;
use tokio::sync::watch;

/// The service box's folder of infected messages.
pub const QUARANTENA: &str = Cartella::Quarantena.nome();

/// How often the purge looks for messages past their retention.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The quarantine: the service box's folder of infected messages and its retention.
pub struct Quarantena {
    store: SqliteStore,
    clock: Arc<Clock>,
    servizio: Address,
    mesi: u32,
}

impl Quarantena {
    /// The quarantine of the service box `servizio`, keeping messages `mesi` months.
    pub(crate) fn new(
        store: SqliteStore,
        clock: Arc<Clock>,
        servizio: &str,
        mesi: u32,
    ) -> Result<Self> {
        Ok(Self {
            store,
            clock,
            servizio: indirizzo(servizio)?,
            mesi,
        })
    }

    /// `Some(why)` when a mail client of `mailbox` would change `folder` and that folder is
    /// the quarantine (module docs): the client gets a NO with that text.
    pub fn sola_lettura(&self, mailbox: &str, folder: &str) -> Option<String> {
        (folder == QUARANTENA && mailbox.eq_ignore_ascii_case(self.servizio.as_str())).then(|| {
            format!(
                "the quarantine is read-only: infected messages are kept {} months \
                 (DPR 68/2005 art. 12)",
                self.mesi
            )
        })
    }

    /// Removes the quarantined messages past their retention; returns how many.
    pub async fn purga(&self) -> Result<usize> {
        let service = self.servizio.clone();
        let Some(snapshot) = self.store.snapshot(&service, QUARANTENA).await? else {
            return Ok(0); // no quarantine yet
        };
        let (now, mesi) = (self.clock.now(), self.mesi);
        let scaduti: Vec<u32> = snapshot
            .messages
            .iter()
            .filter(|m| fine_conservazione(m.internal_date, mesi) <= now)
            .map(|m| m.uid)
            .collect();
        if scaduti.is_empty() {
            return Ok(0);
        }
        let batch = Batch::new().with(Operation::Expunge {
            address: service,
            folder: QUARANTENA.to_string(),
            uids: scaduti.clone(),
        });
        self.store.commit(batch).await.ctx("quarantine purge")?;
        tracing::info!(
            "quarantine: {} message(s) kept {mesi} months removed",
            scaduti.len()
        );
        Ok(scaduti.len())
    }
}

/// Purges the quarantine at start, every [`PURGE_EVERY`] and when the clock jumps, until
/// shutdown. A failed purge is logged and tried again at the next turn.
pub(crate) async fn run(q: Arc<Quarantena>, mut stop: watch::Receiver<bool>) {
    let mut moves = q.clock.moves();
    loop {
        if let Err(e) = q.purga().await {
            tracing::warn!("quarantine purge failed: {e:#}");
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(PURGE_EVERY) => {}
            _ = moves.changed() => {}
        }
    }
}
