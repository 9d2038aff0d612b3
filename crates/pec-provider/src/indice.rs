//! The providers' index as the running provider uses it (PEC-SPEC §7.3): which recipients
//! are certified, who signed an incoming message, where presa in carico goes.
//!
//! The index file of `[index] file` is re-read when it changes ([`Directory::refresh`], every
//! few seconds from a task of `start.rs`); a file that does not load leaves the last good
//! copy in force, with one line on standard error. Trust for signatures: the certificates the
//! index lists are pinned (each is an anchor of its own), plus the CAs of
//! `[index] trust_anchors` (AgID's in production).

use crate::domini::Domini;
use crate::errore::{Errore, Risultato as Result};
use crate::impostazioni::FonteIndice;
use pec_core::daticert::TipoDestinatario;
use pec_directory::{Indice, IndiceFile};
use pec_smime::{TrustStore, Verifier};
use std::sync::{Arc, Mutex, RwLock};

/// The index in force and the trust it implies.
pub struct Directory {
    file: Mutex<Option<IndiceFile>>,
    anchors: TrustStore,
    current: RwLock<(Arc<Indice>, Arc<Verifier>)>,
}

impl Directory {
    /// Loads the configured index (an empty one when none is configured). A configured file
    /// that does not load at start is an error: there is no last good copy yet.
    pub fn open(fonte: &FonteIndice) -> Result<Self> {
        let mut anchors = TrustStore::new();
        for path in &fonte.trust_anchors {
            let pem = std::fs::read(path).map_err(|e| {
                Errore::Sistema(format!("cannot read trust anchor {}: {e}", path.display()))
            })?;
            anchors.add_bytes(&pem).map_err(|e| {
                Errore::Sistema(format!("{}: not a certificate: {e}", path.display()))
            })?;
        }
        let file = match &fonte.file {
            Some(path) => Some(IndiceFile::open(path).map_err(|e| {
                Errore::Sistema(format!("the providers' index {}: {e}", path.display()))
            })?),
            None => None,
        };
        let indice = file
            .as_ref()
            .map(IndiceFile::indice)
            .unwrap_or_else(|| Arc::new(Indice::from_gestori([])));
        for w in indice.warnings() {
            tracing::info!("index: {w}");
        }
        let trust = Arc::new(Verifier::new(trust_of(&anchors, &indice)));
        Ok(Directory {
            file: Mutex::new(file),
            anchors,
            current: RwLock::new((indice, trust)),
        })
    }

    /// certificato for our own PEC domains and those of the providers' index; esterno
    /// otherwise (PEC-SPEC §7.3).
    pub fn classifica(&self, domini: &Domini, address: &str) -> TipoDestinatario {
        if domini.locale(address) || self.indice().is_certificato(address) {
            TipoDestinatario::Certificato
        } else {
            TipoDestinatario::Esterno
        }
    }

    /// The index in force.
    pub fn indice(&self) -> Arc<Indice> {
        self.read().0
    }

    /// The signature verifier in force: trust in the anchors plus the index's certificates,
    /// with its cache of chain verdicts (a new one at each reload of the index).
    pub fn verifier(&self) -> Arc<Verifier> {
        self.read().1
    }

    fn read(&self) -> (Arc<Indice>, Arc<Verifier>) {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the file if it changed; keeps the last good copy when it does not load.
    /// Blocking (file I/O): call it from a blocking task.
    pub fn refresh(&self) {
        let mut guard = match self.file.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(file) = guard.as_mut() else { return };
        match file.refresh() {
            Ok(false) => {}
            Ok(true) => {
                let indice = file.indice();
                for w in indice.warnings() {
                    tracing::info!("index: {w}");
                }
                tracing::info!(
                    "index: {} reloaded, {} providers",
                    file.path().display(),
                    indice.gestori().len()
                );
                let trust = Arc::new(Verifier::new(trust_of(&self.anchors, &indice)));
                match self.current.write() {
                    Ok(mut g) => *g = (indice, trust),
                    Err(poisoned) => *poisoned.into_inner() = (indice, trust),
                }
            }
            Err(e) => tracing::warn!(
                "index: {} not reloaded, the previous copy stays in force: {e}",
                file.path().display()
            ),
        }
    }
}

/// How often the index file is checked for changes.
const INDEX_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// Re-reads the providers' index when its file changes, until shutdown.
pub(crate) async fn aggiorna(d: Arc<Directory>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(INDEX_REFRESH) => {}
        }
        let d = d.clone();
        let _ = tokio::task::spawn_blocking(move || d.refresh()).await;
    }
}

/// The configured anchors plus every certificate of the index.
fn trust_of(anchors: &TrustStore, indice: &Indice) -> TrustStore {
    let mut trust = anchors.clone();
    for g in indice.gestori() {
        for der in g.certificati() {
            if let Err(e) = trust.add_bytes(der) {
                tracing::warn!("index: a certificate of {} is unreadable: {e}", g.nome());
            }
        }
    }
    trust
}
