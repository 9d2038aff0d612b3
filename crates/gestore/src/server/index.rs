//! The providers' index as the running provider uses it (PEC-SPEC §7.3): which recipients
//! are certified, who signed an incoming message, where presa in carico goes.
//!
//! The index file of `[index] file` is re-read when it changes ([`Directory::refresh`], every
//! few seconds from a task of `start.rs`); a file that does not load leaves the last good
//! copy in force, with one line on standard error. Trust for signatures: the certificates the
//! index lists are pinned (each is an anchor of its own), plus the CAs of
//! `[index] trust_anchors` (AgID's in production).

use crate::config::Config;
use anyhow::{Context, Result};
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
    pub fn open(config: &Config) -> Result<Self> {
        let mut anchors = TrustStore::new();
        for path in &config.trust_anchors {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read trust anchor {}", path.display()))?;
            anchors
                .add_bytes(&pem)
                .with_context(|| format!("{}: not a certificate", path.display()))?;
        }
        let file = match &config.index_file {
            Some(path) => Some(
                IndiceFile::open(path)
                    .with_context(|| format!("the providers' index {}", path.display()))?,
            ),
            None => None,
        };
        let indice = file
            .as_ref()
            .map(IndiceFile::indice)
            .unwrap_or_else(|| Arc::new(Indice::from_gestori([])));
        for w in indice.warnings() {
            super::submit::tracing_line(&format!("index: {w}"));
        }
        let trust = Arc::new(Verifier::new(trust_of(&anchors, &indice)));
        Ok(Directory {
            file: Mutex::new(file),
            anchors,
            current: RwLock::new((indice, trust)),
        })
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
                    super::submit::tracing_line(&format!("index: {w}"));
                }
                super::submit::tracing_line(&format!(
                    "index: {} reloaded, {} providers",
                    file.path().display(),
                    indice.gestori().len()
                ));
                let trust = Arc::new(Verifier::new(trust_of(&self.anchors, &indice)));
                match self.current.write() {
                    Ok(mut g) => *g = (indice, trust),
                    Err(poisoned) => *poisoned.into_inner() = (indice, trust),
                }
            }
            Err(e) => super::submit::tracing_line(&format!(
                "index: {} not reloaded, the previous copy stays in force: {e}",
                file.path().display()
            )),
        }
    }
}

/// The configured anchors plus every certificate of the index.
fn trust_of(anchors: &TrustStore, indice: &Indice) -> TrustStore {
    let mut trust = anchors.clone();
    for g in indice.gestori() {
        for der in g.certificati() {
            if let Err(e) = trust.add_bytes(der) {
                super::submit::tracing_line(&format!(
                    "index: a certificate of {} is unreadable: {e}",
                    g.nome()
                ));
            }
        }
    }
    trust
}
