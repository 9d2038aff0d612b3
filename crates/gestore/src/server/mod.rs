//! The running provider: the access point behind the SMTP submission listeners, the delivery
//! point as a queue worker, and the store that makes both durable.
//!
//! Invariants:
//! * SMTP answers 250 only after the decision's outputs (signed receipt, envelope, queue
//!   items, log events) are committed together (`submit.rs`).
//! * Every worker step is idempotent: messages are stored under keys derived from the PEC
//!   msgid, the recipient and the kind, so a step replayed after a crash stores nothing twice
//!   (`delivery.rs`).
//! * Signing runs on the blocking pool, never on the async threads.
//! * With `[antivirus]`, nothing passes a scanning point unscanned: a scanner that does not
//!   answer is a 4xx, never a pass (`antivirus.rs`).

mod accessi;
pub mod admin;
mod antivirus;
mod boxes;
pub mod clock;
mod delivery;
mod ids;
pub mod index;
mod quarantena;
pub mod relay;
mod ricezione;
pub mod route;
pub mod sigillo;
mod start;
mod submit;

pub use ids::Ids;
pub use start::{existing_signer, open_store, signer, start, Running};

use crate::config::Config;
use anyhow::{Context, Result};
use pec_core::daticert::TipoDestinatario;
use pec_core::{Provider, UnsignedMessage};
use pec_smime::Signer;
use pec_store::{Address, SqliteStore};
use std::sync::Arc;
use tokio::sync::Notify;

/// Everything the access and delivery points share.
pub struct Gestore {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The durable store.
    pub store: SqliteStore,
    /// Our signing identity.
    pub signer: Arc<Signer>,
    /// Who we are, as the builders need it.
    pub provider: Provider,
    /// PEC msgids and receipt Message-IDs.
    pub ids: Ids,
    /// Wakes the delivery worker when new work is queued.
    pub work: Arc<Notify>,
    /// Print each committed legal event on standard output (`serve` does; the demo does not).
    pub trail: std::sync::atomic::AtomicBool,
    /// Delivery steps committed since start (receipt or notice stored): the bench's finish line.
    pub delivered: std::sync::atomic::AtomicU64,
    /// Final receipts (delivery or non-delivery) received from other providers since start:
    /// the finish line of the bench across two providers.
    pub closed_remote: std::sync::atomic::AtomicU64,
    /// The provider's clock (adjustable in tests of the 12 h / 24 h deadlines).
    pub clock: Arc<clock::Clock>,
    /// The providers' index in force.
    pub directory: index::Directory,
    /// The SMTP client towards other providers.
    pub relay: relay::Relay,
    /// clamd, when `[antivirus]` names one (PEC-SPEC §9.3); which points scan is in
    /// `config.antivirus`.
    pub scanner: Option<pec_antivirus::Scanner>,
    /// Failed logins across SMTP, IMAP and POP3 (`accessi.rs`).
    pub accessi: pec_listen::Throttle,
}

impl Gestore {
    /// Wires a provider from its configuration, store and signer.
    pub fn new(config: Arc<Config>, store: SqliteStore, signer: Arc<Signer>) -> Result<Arc<Self>> {
        let provider = signer.provider().context("the signing certificate")?;
        let domain = provider.dominio().to_string();
        let clock = Arc::new(if config.adjustable_clock {
            clock::Clock::adjustable(&config.data_dir)?
        } else {
            clock::Clock::system()
        });
        let directory = index::Directory::open(&config)?;
        let relay = relay::Relay::new(&config)?;
        let scanner = antivirus::scanner(&config);
        let accessi = pec_listen::Throttle::new(accessi::limiti(&config));
        Ok(Arc::new(Gestore {
            config,
            store,
            signer,
            provider,
            ids: Ids::new(&domain),
            work: Arc::new(Notify::new()),
            trail: std::sync::atomic::AtomicBool::new(true),
            delivered: std::sync::atomic::AtomicU64::new(0),
            closed_remote: std::sync::atomic::AtomicU64::new(0),
            clock,
            directory,
            relay,
            scanner,
            accessi,
        }))
    }

    /// certificato for our own PEC domains and those of the providers' index; esterno
    /// otherwise (PEC-SPEC §7.3).
    pub fn classifica(&self, address: &str) -> TipoDestinatario {
        if self.config.is_local(address) || self.directory.indice().is_certificato(address) {
            TipoDestinatario::Certificato
        } else {
            TipoDestinatario::Esterno
        }
    }

    /// Prints committed events when the trail is on.
    pub fn announce(&self, eventi: &[pec_core::registro::Evento]) {
        if self.trail.load(std::sync::atomic::Ordering::Relaxed) {
            submit::announce(eventi);
        }
    }

    /// Commits `batch` and prints `eventi` unless the batch was a replay (its key committed
    /// before: the log holds those events once already). Whether it was new.
    pub async fn commit_announcing(
        &self,
        batch: pec_store::Batch,
        eventi: &[&[pec_core::registro::Evento]],
    ) -> Result<bool> {
        let fresh = !pec_store::Store::commit(&self.store, batch)
            .await
            .context("commit")?
            .replayed;
        if fresh {
            for e in eventi {
                self.announce(e);
            }
        }
        Ok(fresh)
    }

    /// Signs one message on the blocking pool.
    pub async fn sign_one(&self, message: UnsignedMessage) -> Result<Vec<u8>> {
        self.sign_all(vec![message])
            .await?
            .pop()
            .context("signing returned nothing")
    }

    /// Signs several messages on the blocking pool.
    pub async fn sign_all(&self, messages: Vec<UnsignedMessage>) -> Result<Vec<Vec<u8>>> {
        let signer = self.signer.clone();
        tokio::task::spawn_blocking(move || {
            messages
                .iter()
                .map(|m| signer.sign(m).map_err(anyhow::Error::from))
                .collect::<Result<Vec<_>>>()
        })
        .await
        .context("signing task")?
    }
}

/// A mailbox address, for the store.
pub fn address(s: &str) -> Result<Address> {
    Address::parse(s).map_err(|e| anyhow::anyhow!("{s:?}: {e}"))
}
